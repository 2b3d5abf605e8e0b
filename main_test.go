package main

import (
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/config"
)

// TestDependencyGraph fails `go test` rather than boot when a module's
// wiring is broken (a missing provider, a cycle, a wrong fx.As).
func TestDependencyGraph(t *testing.T) {
	if err := fx.ValidateApp(options(config.Config{}, zap.NewNop())...); err != nil {
		t.Fatal(err)
	}
}
