package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsAndExitsCleanly runs the real binary: a request whose body
// is still arriving when SIGTERM lands completes with 201, the process exits
// 0 leaving the projector's checkpoint at the event store's head, and after
// a restart on the same data the invoice is there.
func TestSIGTERMDrainsAndExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	data := filepath.Join(t.TempDir(), "data")
	dataDir := "DATA_DIR=" + data
	p := startService(t, "service", dataDir)

	// Start a create whose body arrives in two parts.
	pr, pw := io.Pipe()
	body := []string{`{"customerId":"sigterm",`, `"amount":42.5}`}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, p.base+"/invoices", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body[0]) + len(body[1]))
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		resp *http.Response
		err  error
	}
	results := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by the receiver of results
		results <- result{resp, err}
	}()
	if _, err := pw.Write([]byte(body[0])); err != nil {
		t.Fatal(err)
	}
	// The server has the request once it reads the first part of the body;
	// give it a moment to, then ask it to stop while the request is open.
	time.Sleep(200 * time.Millisecond)
	p.signal(t, syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	if _, err := pw.Write([]byte(body[1])); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()

	r := <-results
	if r.err != nil {
		t.Fatalf("in-flight request failed during shutdown: %v\nlogs:\n%s", r.err, p.logs)
	}
	defer func() { _ = r.resp.Body.Close() }()
	if r.resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(r.resp.Body)
		t.Fatalf("in-flight create: %d %s", r.resp.StatusCode, b)
	}
	location := r.resp.Header.Get("Location")

	if err := p.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\nlogs:\n%s", err, p.logs)
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopping"`) {
		t.Errorf("no stopping log line:\n%s", p.logs)
	}
	head := queryInt(t, openSQLite(t, filepath.Join(data, "events.db")), `SELECT position FROM event_store_head WHERE id = 1`)
	checkpoint := queryInt(t, openSQLite(t, filepath.Join(data, "read.db")), `SELECT position FROM projection_checkpoints WHERE name = 'invoices'`)
	if head != 1 || checkpoint != head {
		t.Errorf("after the drain: event store head %d, projector checkpoint %d; want both 1", head, checkpoint)
	}

	again := startService(t, "restarted service", dataDir)
	resp, err := http.Get(again.base + location)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var inv struct {
		CustomerID string      `json:"customerId"`
		Amount     json.Number `json:"amount"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inv); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s after restart: %d, %v", location, resp.StatusCode, err)
	}
	if inv.CustomerID != "sigterm" || inv.Amount != "42.50" {
		t.Errorf("invoice after restart = %+v", inv)
	}
}
