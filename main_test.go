package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"invoices/app/projection"
	"invoices/config"
	"invoices/ports"
)

// TestDependencyGraph fails `go test` rather than boot when a module's
// wiring is broken (a missing provider, a cycle, a wrong fx.As).
func TestDependencyGraph(t *testing.T) {
	if err := fx.ValidateApp(options(config.Config{}, zap.NewNop())...); err != nil {
		t.Fatal(err)
	}
}

// TestDependencyGraphWithNATS validates the graph with publication on.
func TestDependencyGraphWithNATS(t *testing.T) {
	cfg := config.Config{NATS: config.NATS{URL: "nats://127.0.0.1:4222", Stream: "INVOICES", PublishBatch: 8}}
	if err := fx.ValidateApp(options(cfg, zap.NewNop())...); err != nil {
		t.Fatal(err)
	}
}

// TestServiceBoots starts the whole fx graph on SQLite, as `go run .` does,
// and checks the wiring end to end: a create is served, counted in /metrics
// (so the appends decorator is applied), and readiness is green.
func TestServiceBoots(t *testing.T) {
	cfg, err := config.FromEnv([]string{"HOST=127.0.0.1", "PORT=1", "DATA_DIR=" + filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	var srv *http.Server
	var events ports.EventStore
	app := fxtest.New(t, append(options(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))), fx.Populate(&srv, &events))...)
	app.RequireStart()
	defer app.RequireStop()
	// The projector is woken by commit notifications only if the event store
	// it is given, decorated for metrics, still offers them.
	if _, ok := events.(ports.CommitNotifier); !ok {
		t.Errorf("the wired event store %T is not a ports.CommitNotifier", events)
	}
	base := "http://" + srv.Addr
	client := &http.Client{Timeout: 10 * time.Second}

	resp, err := client.Post(base+"/invoices", "application/json", strings.NewReader(`{"customerId":"boot","amount":1.23}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d", resp.StatusCode)
	}
	get := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"status":"ready"`) {
		t.Errorf("/readyz: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	code, metrics := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		"invoices_events_appended_total 1",
		`invoices_commands_total{command="CreateInvoice",outcome="ok"} 1`,
		`invoices_http_requests_total{method="POST",route="/invoices",status="201"} 1`,
		`invoices_projector_checkpoint{projector="invoices"} 1`,
		`invoices_projector_lag_events{projector="invoices"} 0`,
		`go_sql_max_open_connections{db_name="event_store"} 16`,
		`go_sql_max_open_connections{db_name="read_db"} 16`,
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestRebuildPrinter checks the rebuild's progress output on a pipe (a line
// a second, none for the last update: the summary follows) and on a
// terminal (a bar redrawn in place, ended by a newline when done).
func TestRebuildPrinter(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	updates := []struct {
		at time.Duration
		pr projection.RebuildProgress
	}{
		{0, projection.RebuildProgress{Head: 1000}},
		{500 * time.Millisecond, projection.RebuildProgress{Position: 300, Head: 1000, Elapsed: 500 * time.Millisecond}},
		{1200 * time.Millisecond, projection.RebuildProgress{Position: 600, Head: 1000, Elapsed: 1200 * time.Millisecond}},
		{2300 * time.Millisecond, projection.RebuildProgress{Position: 1000, Head: 1100, Elapsed: 2300 * time.Millisecond}},
		{2400 * time.Millisecond, projection.RebuildProgress{Position: 1100, Head: 1100, Elapsed: 2400 * time.Millisecond, Done: true}},
	}
	tests := []struct {
		tty  bool
		want string
	}{
		{false, "rebuild: 0/1000 events (0.0%), 0 events/s, ETA --\n" +
			"rebuild: 600/1000 events (60.0%), 500 events/s, ETA 1s\n" +
			"rebuild: 1000/1100 events (90.9%), 435 events/s, ETA 0s\n"},
		{true, "\r[                              ]   0.0%  0/1000 events  0 events/s  ETA --\x1b[K" +
			"\r[========>                     ]  30.0%  300/1000 events  600 events/s  ETA 1s\x1b[K" +
			"\r[=================>            ]  60.0%  600/1000 events  500 events/s  ETA 1s\x1b[K" +
			"\r[==========================>   ]  90.9%  1000/1100 events  435 events/s  ETA 0s\x1b[K" +
			"\r[==============================] 100.0%  1100/1100 events  458 events/s  ETA 0s\x1b[K\n"},
	}
	for _, tt := range tests {
		t.Run("tty="+strconv.FormatBool(tt.tty), func(t *testing.T) {
			var out bytes.Buffer
			p := newRebuildPrinter(&out, tt.tty)
			var now time.Time
			p.now = func() time.Time { return now }
			for _, u := range updates {
				now = start.Add(u.at)
				p.update(u.pr)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
