package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Phases of TestDatabaseOutage, recorded with each request it sends.
const (
	phaseUp         int32 = iota // before the outage
	phaseDown                    // from the moment the server is told to stop
	phaseRecovering              // from the moment it is told to start again
	phaseRecovered               // after /readyz answered 200 again
)

var phaseNames = [...]string{"up", "down", "recovering", "recovered"}

// outcome is one create request of TestDatabaseOutage and the phase it was
// sent in.
type outcome struct {
	phase int32
	reply
}

// retryLog is the start-up warning logged for each failed connection attempt.
const retryLog = `"msg":"database unreachable, retrying"`

// TestDatabaseOutage runs the binary on a private PostgreSQL cluster and
// takes the cluster away under load: at start-up (the service waits for
// it), and while serving (requests get 503 problem documents, never a 500;
// readiness goes red; the service recovers by itself when the cluster is
// back). Then it checks that no acknowledged invoice is lost and nothing
// half-written is visible, in both databases directly, and that the service
// still stops cleanly.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL cluster; skipped with -short")
	}
	pg := startPrivatePostgres(t)
	pg.createDatabases(t, "event_store", "read_db")

	// Start-up with the server down: the service retries until it is back.
	if err := pg.stop("fast"); err != nil {
		t.Fatal(err)
	}
	const downAtBoot = time.Second
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(downAtBoot)
		restarted <- pg.start()
	}()
	// Started after the cluster, so killed before the cluster's cleanup stops it.
	p := startService(t, "service",
		"EVENT_STORE_URL="+pg.url("event_store"),
		"READ_DB_URL="+pg.url("read_db"),
		"DB_CONNECT_TIMEOUT=20s",
		"READ_YOUR_WRITES_TIMEOUT=2s",
		"PROJECTION_POLL_INTERVAL=200ms",
	)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	retries := strings.Count(p.logs.String(), retryLog)
	t.Logf("start-up: served after %s with the server down for the first %s (%d retry warnings)",
		time.Since(p.started).Round(time.Millisecond), downAtBoot, retries)
	if retries == 0 {
		t.Error(`no "database unreachable, retrying" warning while the server was down at start-up`)
	}

	c := newClient()
	ctx := context.Background()

	// Load: a few clients creating invoices until told to stop.
	var phase atomic.Int32
	var (
		mu       sync.Mutex
		outcomes []outcome
	)
	count := func(ph int32, status int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.phase == ph && o.status == status {
				n++
			}
		}
		return n
	}
	tally := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]int{}
		for _, o := range outcomes {
			m[fmt.Sprintf("%s/%d", phaseNames[o.phase], o.status)]++
		}
		return m
	}
	stopLoad := make(chan struct{})
	var workers sync.WaitGroup
	for w := range 4 {
		workers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				rid := fmt.Sprintf("outage-%d-%d", w, i)
				ph := phase.Load()
				o := outcome{phase: ph, reply: c.create(ctx, p, rid, "12.34", rid)}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // keep 503s during the outage from spinning
			}
		})
	}
	stopWorkers := sync.OnceFunc(func() { close(stopLoad); workers.Wait() })
	t.Cleanup(stopWorkers)
	waitFor := func(what string, timeout time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s; outcomes by phase/status so far: %v", timeout, what, tally())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("creates before the outage", 15*time.Second, func() bool { return count(phaseUp, http.StatusCreated) >= 20 })

	// Outage under load.
	phase.Store(phaseDown)
	stopStart := time.Now()
	if err := pg.stop("fast"); err != nil {
		t.Fatal(err)
	}
	t.Logf("outage: pg_ctl stop -m fast took %s", time.Since(stopStart).Round(time.Millisecond))
	// Long enough for pooled connections to go stale and the projector to
	// back off, as in a real outage.
	const minOutage = 3 * time.Second
	waitFor("503s during the outage", 15*time.Second, func() bool {
		return count(phaseDown, http.StatusServiceUnavailable) >= 10 && time.Since(stopStart) >= minOutage
	})
	if code, body := c.fetch(t, p.base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d %s, want 503", code, body)
	}
	if code, _ := c.fetch(t, p.base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz during the outage: %d, want 200 (the process is alive)", code)
	}
	var someID string
	mu.Lock()
	for _, o := range outcomes {
		if o.status == http.StatusCreated {
			someID = strings.TrimPrefix(o.location, "/invoices/")
			break
		}
	}
	mu.Unlock()
	if code, body := c.fetch(t, p.base+"/invoices/"+someID); code != http.StatusServiceUnavailable {
		t.Errorf("GET an invoice during the outage: %d %s, want 503", code, body)
	}

	// Recovery: the same cluster comes back on the same port; nobody
	// restarts the service.
	phase.Store(phaseRecovering)
	startAt := time.Now()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	upAt := time.Now()
	const recoveryDeadline = 30 * time.Second
	waitFor("/readyz to answer 200 after the restart", recoveryDeadline, func() bool {
		code, _ := c.fetch(t, p.base+"/readyz")
		return code == http.StatusOK
	})
	readyAt := time.Now()
	phase.Store(phaseRecovered)
	t.Logf("recovery: pg_ctl start took %s; ready %s after the server accepted connections (%s after pg_ctl start began)",
		upAt.Sub(startAt).Round(time.Millisecond), readyAt.Sub(upAt).Round(time.Millisecond), readyAt.Sub(startAt).Round(time.Millisecond))
	waitFor("creates after recovery", 15*time.Second, func() bool { return count(phaseRecovered, http.StatusCreated) >= 20 })
	stopWorkers()

	// Every answer was a success or a well-formed 503; requests sent before
	// the outage or after readiness came back all succeeded.
	bad := newFailures(t, 20, "answers outside the contract")
	acknowledged := map[string]bool{}
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			bad.add("%s: the HTTP request failed: %v", phaseNames[o.phase], o.err)
		case o.status == http.StatusCreated:
			if !strings.HasPrefix(o.location, "/invoices/") {
				bad.add("201 without a Location: %q", o.location)
			}
			acknowledged[strings.TrimPrefix(o.location, "/invoices/")] = true
		case o.status == http.StatusServiceUnavailable && (o.phase == phaseDown || o.phase == phaseRecovering):
			if o.mediaType != "application/problem+json" || o.retryAfter == "" || o.problem.Type != "/problems/unavailable" {
				bad.add("503 is not an unavailable problem with Retry-After: type %q, Retry-After %q, Content-Type %q",
					o.problem.Type, o.retryAfter, o.mediaType)
			}
		default:
			bad.add("%s: status %d (%s: %s)", phaseNames[o.phase], o.status, o.problem.Type, o.problem.Detail)
		}
	}
	bad.summarize()
	t.Logf("outcomes by phase/status: %v", tally())
	var unreachable int
	for _, o := range outcomes {
		if o.problem.Detail == "a database is unreachable; retry shortly" {
			unreachable++
		}
	}
	if unreachable == 0 {
		t.Error(`no 503 said "a database is unreachable; retry shortly"`)
	}

	// Nothing acknowledged is lost, nothing half-written is visible.
	events, read := pg.open(t, "event_store"), pg.open(t, "read_db")
	waitFor("the projector to catch up", 15*time.Second, func() bool {
		return queryInt(t, events, `SELECT position FROM event_store_head`) ==
			queryInt(t, read, `SELECT position FROM projection_checkpoints WHERE name = 'invoices'`)
	})
	for id := range acknowledged {
		if code, body := c.fetch(t, p.base+"/invoices/"+id); code != http.StatusOK {
			t.Errorf("acknowledged invoice %s: GET %d %s", id, code, body)
		}
	}
	created := queryInt(t, events, `SELECT count(*) FROM events WHERE type = 'invoice.created'`)
	invoices := queryInt(t, read, `SELECT count(*) FROM invoices`)
	if created != invoices {
		t.Errorf("event store holds %d invoice.created events, read model %d invoices", created, invoices)
	}
	if invoices < int64(len(acknowledged)) {
		t.Errorf("read model holds %d invoices, fewer than the %d acknowledged", invoices, len(acknowledged))
	}
	total, maxPos := queryInt(t, events, `SELECT count(*) FROM events`), queryInt(t, events, `SELECT COALESCE(MAX(position), 0) FROM events`)
	minPos := queryInt(t, events, `SELECT COALESCE(MIN(position), 1) FROM events`)
	head := queryInt(t, events, `SELECT position FROM event_store_head`)
	if minPos != 1 || maxPos != total || head != maxPos {
		t.Errorf("event positions have gaps: %d events in positions %d..%d, head %d", total, minPos, maxPos, head)
	}
	// An invoice stored but not acknowledged is allowed: its commit may have
	// succeeded as the server went away, and the client was told to retry.
	t.Logf("%d acknowledged, %d stored (%d committed without a 201)", len(acknowledged), invoices, invoices-int64(len(acknowledged)))
	p.stop(t)
}

// TestStartupGivesUpWhenDatabaseStaysDown runs the binary against a
// PostgreSQL address nothing listens on (as a stopped server): it retries
// with a warning per attempt for DB_CONNECT_TIMEOUT, then exits 1 with one
// "cannot start" line whose cause names the event store, the address and
// the refusal, classified as the port's "store unavailable"; the password
// appears nowhere in its output.
func TestStartupGivesUpWhenDatabaseStaysDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out DB_CONNECT_TIMEOUT; skipped with -short")
	}
	const password = "hunter2"
	down := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/x?sslmode=disable", password, freePort(t))
	stdout, stderr, code := run(t, []string{
		"HOST=127.0.0.1", "PORT=" + strconv.Itoa(freePort(t)),
		"EVENT_STORE_URL=" + down, "READ_DB_URL=" + down,
		"DB_CONNECT_TIMEOUT=2s", "LOG_FORMAT=json",
	})
	out := stdout + stderr
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if strings.Contains(out, password) {
		t.Errorf("the log contains the password:\n%s", out)
	}
	if n := strings.Count(out, retryLog); n < 3 {
		t.Errorf("%d retry warnings in 2s, want at least 3 (250 ms backoff doubling)", n)
	}
	var cannotStart []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, `"cannot start"`) {
			cannotStart = append(cannotStart, line)
		}
	}
	if len(cannotStart) != 1 {
		t.Fatalf(`want one "cannot start" line, got %d:\n%s`, len(cannotStart), out)
	}
	// "store unavailable" is ports.ErrUnavailable's text: the adapter
	// classified the refusal as an outage (errors.Is is checked in the
	// adapter's own test; here only the text crosses the process boundary).
	for _, want := range []string{"event store", "127.0.0.1", "connection refused", "store unavailable"} {
		if !strings.Contains(cannotStart[0], want) {
			t.Errorf("the cannot start line lacks %q: %s", want, cannotStart[0])
		}
	}
}
