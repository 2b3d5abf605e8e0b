package main

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
// 0, and after a restart on the same data the invoice is there and the
// projector's checkpoint has reached the head.
func TestSIGTERMDrainsAndExitsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := "DATA_DIR=" + filepath.Join(t.TempDir(), "data")
	p := startService(t, bin, "service", dataDir)

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
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
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

	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\nlogs:\n%s", p.waitErr, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("process still running 30s after SIGTERM; logs:\n%s", p.logs)
	}
	if !strings.Contains(p.logs.String(), `"msg":"stopping"`) {
		t.Errorf("no stopping log line:\n%s", p.logs)
	}

	again := startService(t, bin, "restarted service", dataDir)
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
