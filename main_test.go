package main

import (
	"testing"

	"go.uber.org/fx"
)

// TestDependencyGraph fails `go test` rather than boot when a module's
// wiring is broken (a missing provider, a cycle, a wrong fx.As).
func TestDependencyGraph(t *testing.T) {
	if err := fx.ValidateApp(options()...); err != nil {
		t.Fatal(err)
	}
}
