package gormstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"gorm.io/gorm"

	"invoices/config"
	"invoices/ports"
)

func TestTranslate(t *testing.T) {
	refused := refusedAddr(t)
	connectErr := realConnectError(t, refused)
	tests := []struct {
		name string
		err  error
		want bool // wraps ports.ErrUnavailable
	}{
		{"connection refused", fmt.Errorf("append: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), true},
		{"connection reset", fmt.Errorf("read events: %w", syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("commit: %w", syscall.EPIPE), true},
		{"pgconn connect error", fmt.Errorf("ping: %w", connectErr), true},
		{"driver.ErrBadConn", fmt.Errorf("query: %w", driver.ErrBadConn), true},
		{"conn closed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"unexpected EOF", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF), true},
		{"EOF", fmt.Errorf("receive message failed: %w", io.EOF), true},
		{"DNS failure", fmt.Errorf("dial: %w", &net.DNSError{Err: "no such host", Name: "db", IsNotFound: true}), true},
		{"store call deadline", fmt.Errorf("read head: %w", context.DeadlineExceeded), true},
		{"admin shutdown 57P01", fmt.Errorf("append: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}), true},
		{"crash shutdown 57P02", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up 57P03", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}), true},
		{"connection failure 08006", &pgconn.PgError{Code: "08006"}, true},
		{"cannot establish 08001", &pgconn.PgError{Code: "08001"}, true},
		{"protocol violation 08P01", &pgconn.PgError{Code: "08P01"}, true},

		{"nil", nil, false},
		{"cancelled by the caller", fmt.Errorf("append: %w", context.Canceled), false},
		{"cancelled, seen as a network timeout", errors.Join(context.Canceled, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}), false},
		{"bad password 28P01", fmt.Errorf("connect: %w", &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}), false},
		{"unknown database 3D000", &pgconn.PgError{Code: "3D000"}, false},
		{"unique violation", fmt.Errorf("%w: %w", gorm.ErrDuplicatedKey, &pgconn.PgError{Code: "23505"}), false},
		{"query canceled 57014", &pgconn.PgError{Code: "57014"}, false},
		{"record not found", gorm.ErrRecordNotFound, false},
		{"not found", fmt.Errorf("invoice 1: %w", ports.ErrNotFound), false},
		{"concurrency conflict", fmt.Errorf("append: %w", ports.ErrConcurrencyConflict), false},
		{"plain error", errors.New("gap in event positions"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translate(context.Background(), tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("translate(nil) = %v, want nil", got)
				}
				return
			}
			if is := errors.Is(got, ports.ErrUnavailable); is != tt.want {
				t.Errorf("errors.Is(translate(err), ErrUnavailable) = %v, want %v (err: %v)", is, tt.want, got)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("translate(err) = %v, no longer wraps the original", got)
			}
			if !strings.Contains(got.Error(), tt.err.Error()) {
				t.Errorf("translate(err) = %q, lost the original text %q", got, tt.err)
			}
			if !tt.want && got != tt.err { //nolint:errorlint // identity: other errors must pass through untouched
				t.Errorf("translate(err) = %v, want the error unchanged", got)
			}
			if again := translate(context.Background(), got); again != got { //nolint:errorlint // identity: translating twice must not wrap twice
				t.Errorf("translate(translate(err)) = %q, want %q", again, got)
			}
		})
	}
}

// TestPortsTranslateEveryMethod calls every port method of both stores on a
// pool whose server refuses connections: each must fail with ErrUnavailable.
func TestPortsTranslateEveryMethod(t *testing.T) {
	cfg := config.Database{
		Name: "event store", Driver: config.Postgres, MaxOpenConns: 2,
		DSN: "postgres://postgres@" + refusedAddr(t) + "/x?sslmode=disable&connect_timeout=2",
	}
	db, err := openPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closePool(db) })
	ctx := context.Background()
	es := newEventStore(db)
	t.Cleanup(es.Close)
	rm, err := newReadModel(db)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"Append": func() error {
			_, err := es.Append(ctx, "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", 0,
				[]ports.NewEvent{{ID: "6f1c2a8e-3b7d-4c5e-9f0a-1b2c3d4e5f60", Type: "t", Data: []byte(`{}`)}}, ports.Metadata{})
			return err
		},
		"LoadStream":   func() error { _, err := es.LoadStream(ctx, "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"); return err },
		"ReadAll":      func() error { _, err := es.ReadAll(ctx, 0, 10); return err },
		"Head":         func() error { _, err := es.Head(ctx); return err },
		"EventPing":    func() error { return es.Ping(ctx) },
		"GetInvoice":   func() error { _, err := rm.GetInvoice(ctx, "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"); return err },
		"ListInvoices": func() error { _, err := rm.ListInvoices(ctx, ports.ListParams{Limit: 10}); return err },
		"ReadPing":     func() error { return rm.Ping(ctx) },
		"Checkpoint":   func() error { _, err := rm.Checkpoint(ctx, "invoices"); return err },
		"Project": func() error {
			return rm.Project(ctx, "invoices", 0, 1, func(ports.InvoiceProjectionTx) error { return nil })
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("%s: got %v, want an error wrapping ErrUnavailable", name, err)
			}
		})
	}
}

func TestOpenWithRetryGivesUpAfterConnectTimeout(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := config.Database{
		Name: "event store", Driver: config.Postgres, MaxOpenConns: 2, ConnectTimeout: 700 * time.Millisecond,
		DSN:      "postgres://postgres:hunter2@" + refusedAddr(t) + "/x?sslmode=disable",
		Redacted: "postgres://postgres:xxxxx@…/x",
	}
	db, err := OpenWithRetry(context.Background(), cfg, zap.New(core))
	if err == nil {
		closePool(db)
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
		name string
		cfg  config.Database
	}{
		// SQLite is local: a failure is a fault, not an outage to wait out.
		{"sqlite", config.Database{Name: "read database", Driver: config.SQLite, DSN: filepath.Join(blocker, "read.db"), MaxOpenConns: 2}},
		// A zero budget means one attempt.
		{"postgres without a budget", config.Database{Name: "read database", Driver: config.Postgres,
			DSN: "postgres://postgres@" + refusedAddr(t) + "/x?sslmode=disable", MaxOpenConns: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Redacted = tt.cfg.DSN
			core, logs := observer.New(zapcore.InfoLevel)
			db, err := OpenWithRetry(context.Background(), tt.cfg, zap.New(core))
			if err == nil {
				closePool(db)
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
			got := redact(tt.err, cfg)
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

// refusedAddr returns a loopback address nothing listens on, so connecting
// is refused at once.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// realConnectError is what pgconn returns when the server refuses.
func realConnectError(t *testing.T, addr string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, "postgres://postgres@"+addr+"/x?sslmode=disable")
	if err == nil {
		_ = conn.Close(ctx)
		t.Fatalf("connected to %s, which should refuse", addr)
	}
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("connect error is %T, want *pgconn.ConnectError", err)
	}
	return err
}

// TestTranslateLeavesTheCallersDeadlineAlone: once the caller's context has
// ended, the error is the caller's timeout, not an outage.
func TestTranslateLeavesTheCallersDeadlineAlone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := fmt.Errorf("query: %w", context.DeadlineExceeded)
	if got := translate(ctx, err); errors.Is(got, ports.ErrUnavailable) {
		t.Errorf("translate with an ended caller context = %v, want it unchanged", got)
	}
	if got := translate(context.Background(), err); !errors.Is(got, ports.ErrUnavailable) {
		t.Errorf("translate of a store-side deadline = %v, want ErrUnavailable", got)
	}
}
