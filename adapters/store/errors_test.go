package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
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
			got := store.Translate(context.Background(), tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("Translate(nil) = %v, want nil", got)
				}
				return
			}
			if is := errors.Is(got, ports.ErrUnavailable); is != tt.want {
				t.Errorf("errors.Is(Translate(err), ErrUnavailable) = %v, want %v (err: %v)", is, tt.want, got)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("Translate(err) = %v, no longer wraps the original", got)
			}
			if !strings.Contains(got.Error(), tt.err.Error()) {
				t.Errorf("Translate(err) = %q, lost the original text %q", got, tt.err)
			}
			if !tt.want && got != tt.err { //nolint:errorlint // identity: other errors must pass through untouched
				t.Errorf("Translate(err) = %v, want the error unchanged", got)
			}
			if again := store.Translate(context.Background(), got); again != got { //nolint:errorlint // identity: translating twice must not wrap twice
				t.Errorf("Translate(Translate(err)) = %q, want %q", again, got)
			}
		})
	}
}

// TestTranslateLeavesTheCallersDeadlineAlone: once the caller's context has
// ended, the error is the caller's timeout, not an outage.
func TestTranslateLeavesTheCallersDeadlineAlone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := fmt.Errorf("query: %w", context.DeadlineExceeded)
	if got := store.Translate(ctx, err); errors.Is(got, ports.ErrUnavailable) {
		t.Errorf("Translate with an ended caller context = %v, want it unchanged", got)
	}
	if got := store.Translate(context.Background(), err); !errors.Is(got, ports.ErrUnavailable) {
		t.Errorf("Translate of a store-side deadline = %v, want ErrUnavailable", got)
	}
}

// TestPortsTranslateEveryMethod calls every port method of both stores
// after their PostgreSQL server went away: each must fail with
// ErrUnavailable. Each method gets stores of its own, open and migrated
// through a TCP proxy that is then stopped, and is called twice, meeting
// both faces of an outage: first its pooled connections, cut, then, with
// the pool emptied, a dial that is refused.
func TestPortsTranslateEveryMethod(t *testing.T) {
	e := storetest.RequirePostgres(t)
	ctx := context.Background()
	direct := e.Database(t, "stores")
	const id = "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"
	calls := []struct {
		name string
		call func(*store.EventStore, *store.ReadModel) error
	}{
		{"Append", func(es *store.EventStore, _ *store.ReadModel) error {
			_, err := es.Append(ctx, id, 0, []ports.NewEvent{{ID: "6f1c2a8e-3b7d-4c5e-9f0a-1b2c3d4e5f60", Type: "t", Data: []byte(`{}`)}}, ports.Metadata{})
			return err
		}},
		{"LoadStream", func(es *store.EventStore, _ *store.ReadModel) error { _, err := es.LoadStream(ctx, id); return err }},
		{"ReadAll", func(es *store.EventStore, _ *store.ReadModel) error { _, err := es.ReadAll(ctx, 0, 10); return err }},
		{"Head", func(es *store.EventStore, _ *store.ReadModel) error { _, err := es.Head(ctx); return err }},
		{"EventPing", func(es *store.EventStore, _ *store.ReadModel) error { return es.Ping(ctx) }},
		{"GetInvoice", func(_ *store.EventStore, rm *store.ReadModel) error { _, err := rm.GetInvoice(ctx, id); return err }},
		{"ListInvoices", func(_ *store.EventStore, rm *store.ReadModel) error {
			_, err := rm.ListInvoices(ctx, ports.ListParams{Limit: 10})
			return err
		}},
		{"ReadPing", func(_ *store.EventStore, rm *store.ReadModel) error { return rm.Ping(ctx) }},
		{"Checkpoint", func(_ *store.EventStore, rm *store.ReadModel) error {
			_, err := rm.Checkpoint(ctx, "invoices")
			return err
		}},
		{"Project", func(_ *store.EventStore, rm *store.ReadModel) error {
			return rm.Project(ctx, "invoices", 0, 1, ports.InvoiceChanges{})
		}},
		{"ReadModelVersion", func(_ *store.EventStore, rm *store.ReadModel) error {
			_, err := rm.ReadModelVersion(ctx)
			return err
		}},
		{"StartRebuild", func(_ *store.EventStore, rm *store.ReadModel) error {
			rb, err := rm.StartRebuild(ctx, "invoices")
			if err == nil {
				_ = rb.Discard(ctx)
			}
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, direct.DSN)
			cfg := direct
			cfg.DSN, cfg.Redacted = p.dsn, p.redacted
			cfg.MaxOpenConns = 2
			db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
			t.Cleanup(func() { _ = store.Close(db) })
			es := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(t)
			t.Cleanup(es.Close)
			rm := storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
			p.stop()
			if err := tt.call(es, rm); !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("%s with its connections cut: got %v, want an error wrapping ErrUnavailable", tt.name, err)
			}
			// With no pooled connection left, the call must dial, and is refused.
			sqlDB := storetest.Must(db.DB())(t)
			sqlDB.SetMaxIdleConns(0)
			if err := tt.call(es, rm); !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("%s with connections refused: got %v, want an error wrapping ErrUnavailable", tt.name, err)
			}
		})
	}
}

// proxy forwards TCP connections to a PostgreSQL server until stop.
type proxy struct {
	dsn      string // the server's DSN, through the proxy
	redacted string // dsn without its password
	ln       net.Listener
	target   string

	mu      sync.Mutex
	conns   []net.Conn
	stopped bool
	wg      sync.WaitGroup
}

// startProxy starts a proxy to the server dsn names, stopped when the test
// ends.
func startProxy(t *testing.T, dsn string) *proxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	p.dsn, p.redacted = u.String(), u.Redacted()
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // stopped
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		if p.stopped {
			p.mu.Unlock()
			_, _ = client.Close(), server.Close()
			return
		}
		p.conns = append(p.conns, client, server)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_, _ = dst.Close(), src.Close()
}

// stop closes the listener, so new connections are refused, and cuts every
// connection made through it.
func (p *proxy) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	conns := p.conns
	p.mu.Unlock()
	_ = p.ln.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	p.wg.Wait()
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
