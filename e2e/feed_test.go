package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEventStreamOverTCP runs the real binary with short server timeouts:
// a stream outlives REQUEST_TIMEOUT and HTTP_READ_TIMEOUT and receives
// every event of a load in order; a client that then asks for the whole
// log and never reads is cut off
// after EVENT_STREAM_WRITE_TIMEOUT while the process's resident memory
// stays bounded; SIGTERM ends the open stream with a final comment and
// the process exits promptly.
func TestEventStreamOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const total = 10_000
	p := startService(t, "service", "DATA_DIR="+filepath.Join(t.TempDir(), "data"),
		"REQUEST_TIMEOUT=1s", "HTTP_READ_TIMEOUT=1s", "HTTP_WRITE_TIMEOUT=1s", "EVENT_STREAM_WRITE_TIMEOUT=1s",
		"EVENT_STREAM_HEARTBEAT=200ms", "LOG_LEVEL=warn")

	// A following client, reading everything.
	req, err := http.NewRequest(http.MethodGet, p.base+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	type outcome struct {
		last     int64
		err      string
		comments []string
	}
	followed := make(chan outcome, 1)
	go func() {
		var o outcome
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				n, _ := strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
				if n != o.last+1 && o.err == "" {
					o.err = fmt.Sprintf("event %d after %d", n, o.last)
				}
				o.last = n
			case strings.HasPrefix(line, ": ") && !strings.Contains(line, "heartbeat"):
				o.comments = append(o.comments, strings.TrimPrefix(line, ": "))
			}
		}
		followed <- o
	}()

	// The load: creates over HTTP, longer than every server timeout.
	c := newClient()
	var wg sync.WaitGroup
	fails := newFailures(t, 5, "failed creates")
	for w := range 32 {
		wg.Go(func() {
			for i := w; i < total; i += 32 {
				if r := c.create(context.Background(), p, "cus_feed", "1", fmt.Sprintf("feed-%d", i)); r.err != nil || r.status != http.StatusCreated {
					fails.add("%s", r)
				}
			}
		})
	}
	wg.Wait()
	fails.summarize()

	// Then a client that asks for the whole log and never reads, with a
	// small receive buffer: the server's buffers fill at once.
	before := rssKiB(t, p)
	// The buffer is set before connecting, so the window it advertises
	// stays small.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(p.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, p, `invoices_feed_streams_open`, 2)

	waitMetric(t, p, `invoices_feed_streams_closed_total{reason="stalled"}`, 1)
	after := rssKiB(t, p)
	t.Logf("resident memory: %d KiB before a stalled client asked for %d events, %d KiB once it was cut off", before, total, after)
	if after > before+64*1024 {
		t.Errorf("resident memory grew from %d KiB to %d KiB", before, after)
	}

	// The follower has everything (a stream's last event may trail the
	// last create's answer by a moment), then SIGTERM ends its stream.
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, p, "invoices_feed_events_streamed_total") < total {
		if time.Now().After(deadline) {
			t.Fatalf("only %v events streamed 10 s after the load", metricValue(t, p, "invoices_feed_events_streamed_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	p.signal(t, syscall.SIGTERM)
	if err := p.wait(10 * time.Second); err != nil {
		t.Fatalf("after SIGTERM with a stream open: %v", err)
	}
	t.Logf("exited %v after SIGTERM with a stream open", time.Since(start).Round(time.Millisecond))
	o := <-followed
	if o.err != "" || o.last != total {
		t.Errorf("the follower received up to %d of %d: %s", o.last, total, o.err)
	}
	if len(o.comments) == 0 || !strings.Contains(o.comments[len(o.comments)-1], "shutting down") {
		t.Errorf("comments %q: want a final one saying the server is shutting down", o.comments)
	}
}

// rssKiB is the service process's resident set size.
func rssKiB(t *testing.T, p *service) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Skipf("no /proc to measure memory: %v", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// metricValue reads one sample from /metrics (0 when absent).
func metricValue(t *testing.T, p *service, name string) float64 {
	t.Helper()
	_, body := newClient().fetch(t, p.base+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// waitMetric waits up to 20 s for a sample to reach want.
func waitMetric(t *testing.T, p *service, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, p, name) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after 20 s, want %v", name, metricValue(t, p, name), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
