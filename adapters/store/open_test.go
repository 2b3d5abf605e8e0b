package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"invoices/adapters/store"
	"invoices/adapters/store/postgres"
	"invoices/adapters/store/sqlite"
	"invoices/config"
	"invoices/ports"
)

func TestOpenWithRetryGivesUpAfterConnectTimeout(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := config.Database{
		Name: "event store", Driver: config.Postgres, MaxOpenConns: 2, ConnectTimeout: 700 * time.Millisecond,
		DSN:      "postgres://postgres:hunter2@" + refusedAddr(t) + "/x?sslmode=disable",
		Redacted: "postgres://postgres:xxxxx@…/x",
	}
	db, err := store.OpenWithRetry(context.Background(), postgres.Engine{}, cfg, zap.New(core))
	if err == nil {
		_ = store.Close(db)
		t.Fatal("OpenWithRetry succeeded against a refusing port")
	}
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("error %v does not wrap ErrUnavailable", err)
	}
	for _, want := range []string{"event store", cfg.Redacted, "attempts", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q contains the password", err)
	}
	// 0, 250 ms, 700 ms (capped at the deadline): two retries, each logged.
	retries := logs.FilterMessage("database unreachable, retrying").All()
	if len(retries) < 2 {
		t.Fatalf("logged %d retries, want at least 2", len(retries))
	}
	for i, e := range retries {
		f := e.ContextMap()
		if f["store"] != "event store" || f["dsn"] != cfg.Redacted || f["attempt"] != int64(i+1) || f["next_delay"] == nil || f["error"] == nil {
			t.Errorf("retry log %d has fields %v", i, f)
		}
		if strings.Contains(fmt.Sprint(f), "hunter2") {
			t.Errorf("retry log %d contains the password: %v", i, f)
		}
	}
}

func TestOpenWithRetryDoesNotRetry(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		engine store.Engine
		cfg    config.Database
	}{
		// SQLite is local: a failure is a fault, not an outage to wait out.
		{"sqlite", sqlite.Engine{}, config.Database{Name: "read database", Driver: config.SQLite, DSN: filepath.Join(blocker, "read.db"), MaxOpenConns: 2}},
		// A zero budget means one attempt.
		{"postgres without a budget", postgres.Engine{}, config.Database{Name: "read database", Driver: config.Postgres,
			DSN: "postgres://postgres@" + refusedAddr(t) + "/x?sslmode=disable", MaxOpenConns: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Redacted = tt.cfg.DSN
			core, logs := observer.New(zapcore.InfoLevel)
			db, err := store.OpenWithRetry(context.Background(), tt.engine, tt.cfg, zap.New(core))
			if err == nil {
				_ = store.Close(db)
				t.Fatal("OpenWithRetry succeeded")
			}
			if n := logs.FilterMessage("database unreachable, retrying").Len(); n != 0 {
				t.Errorf("logged %d retries, want none (error: %v)", n, err)
			}
		})
	}
}

func TestRedactKeepsPasswordsOut(t *testing.T) {
	cfg := config.Database{DSN: "postgres://app:s3cr%2Ft@db:5432/x", Redacted: "postgres://app:xxxxx@db:5432/x"}
	tests := []struct {
		name            string
		err             error
		withheld, avail bool
	}{
		{"clean", errors.New("dial tcp: connection refused"), false, false},
		{"echoes the DSN", errors.New("cannot parse `" + cfg.DSN + "`"), true, false},
		{"echoes the password", errors.New("bad password s3cr/t"), true, false},
		{"echoes the encoded password", fmt.Errorf("dial s3cr%%2Ft: %w", syscall.ECONNREFUSED), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := store.Redact(tt.err, cfg)
			if strings.Contains(got.Error(), "s3cr") {
				t.Errorf("redact = %q, still holds the password", got)
			}
			if withheld := got != tt.err; withheld != tt.withheld { //nolint:errorlint // identity
				t.Errorf("withheld = %v, want %v (%q)", withheld, tt.withheld, got)
			}
			if avail := errors.Is(got, ports.ErrUnavailable); avail != tt.avail {
				t.Errorf("wraps ErrUnavailable = %v, want %v", avail, tt.avail)
			}
		})
	}
}
