package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"invoices/config"
	"invoices/ports"
)

// Phases of TestDatabaseOutage, recorded with each request it sends.
const (
	phaseUp         int32 = iota // before the outage
	phaseDown                    // from the moment the server is told to stop
	phaseRecovering              // from the moment it is told to start again
	phaseRecovered               // after /readyz answered 200 again
)

var phaseNames = [...]string{"up", "down", "recovering", "recovered"}

// outcome is one create request as the client saw it.
type outcome struct {
	phase      int32
	status     int
	err        error // transport failure: the HTTP server itself failed
	location   string
	retryAfter string
	mediaType  string
	problem    struct{ Type, Detail string }
}

// TestDatabaseOutage runs the whole service in-process on a private
// PostgreSQL cluster and takes the cluster away under load: at start-up
// (the service waits for it), and while serving (requests get 503 problem
// documents, never a 500; readiness goes red; the service recovers by itself
// when the cluster is back). Then it checks that no acknowledged invoice is
// lost and nothing half-written is visible, in both databases directly.
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
	cfg, err := config.FromEnv([]string{
		"HOST=127.0.0.1", "PORT=1",
		"EVENT_STORE_URL=" + pg.url("event_store"),
		"READ_DB_URL=" + pg.url("read_db"),
		"DB_CONNECT_TIMEOUT=20s",
		"READ_YOUR_WRITES_TIMEOUT=2s",
		"PROJECTION_POLL_INTERVAL=200ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	obsCore, logs := observer.New(zapcore.WarnLevel)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel),
		zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, obsCore) })))
	var srv *http.Server
	bootStart := time.Now()
	app := fxtest.New(t, append(options(cfg, log), fx.Populate(&srv))...)
	app.RequireStart()
	t.Cleanup(app.RequireStop) // before the cluster's cleanup: stop the service first
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	retries := logs.FilterMessage("database unreachable, retrying").Len()
	t.Logf("start-up: served after %s with the server down for the first %s (%d retry warnings)",
		time.Since(bootStart).Round(time.Millisecond), downAtBoot, retries)
	if retries == 0 {
		t.Error(`no "database unreachable, retrying" warning while the server was down at start-up`)
	}

	base := "http://" + srv.Addr
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}

	// Load: a few clients creating invoices until told to stop.
	var phase atomic.Int32
	var (
		mu       sync.Mutex
		outcomes []outcome
	)
	count := func(p int32, status int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.phase == p && o.status == status {
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
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				o := create(client, base, phase.Load(), fmt.Sprintf("outage-%d-%d", w, i))
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // keep 503s during the outage from spinning
			}
		}()
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
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d %s, want 503", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
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
	if code, body := get("/invoices/" + someID); code != http.StatusServiceUnavailable {
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
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	readyAt := time.Now()
	phase.Store(phaseRecovered)
	t.Logf("recovery: pg_ctl start took %s; ready %s after the server accepted connections (%s after pg_ctl start began)",
		upAt.Sub(startAt).Round(time.Millisecond), readyAt.Sub(upAt).Round(time.Millisecond), readyAt.Sub(startAt).Round(time.Millisecond))
	waitFor("creates after recovery", 15*time.Second, func() bool { return count(phaseRecovered, http.StatusCreated) >= 20 })
	stopWorkers()

	// Every answer was a success or a well-formed 503; requests sent before
	// the outage or after readiness came back all succeeded.
	acknowledged := map[string]bool{}
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("%s: the HTTP request failed: %v", phaseNames[o.phase], o.err)
		case o.status == http.StatusCreated:
			if !strings.HasPrefix(o.location, "/invoices/") {
				t.Errorf("201 without a Location: %q", o.location)
			}
			acknowledged[strings.TrimPrefix(o.location, "/invoices/")] = true
		case o.status == http.StatusServiceUnavailable && (o.phase == phaseDown || o.phase == phaseRecovering):
			if o.mediaType != "application/problem+json" || o.retryAfter == "" || o.problem.Type != "/problems/unavailable" {
				t.Errorf("503 is not an unavailable problem with Retry-After: type %q, Retry-After %q, Content-Type %q",
					o.problem.Type, o.retryAfter, o.mediaType)
			}
		default:
			t.Errorf("%s: status %d (%s: %s)", phaseNames[o.phase], o.status, o.problem.Type, o.problem.Detail)
		}
	}
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
		if code, body := get("/invoices/" + id); code != http.StatusOK {
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
}

// create posts one invoice and records what the client saw.
func create(client *http.Client, base string, phase int32, customer string) outcome {
	o := outcome{phase: phase}
	body := fmt.Sprintf(`{"customerId":%q,"amount":12.34}`, customer)
	resp, err := client.Post(base+"/invoices", "application/json", strings.NewReader(body))
	if err != nil {
		o.err = err
		return o
	}
	defer func() { _ = resp.Body.Close() }()
	o.status = resp.StatusCode
	o.location = resp.Header.Get("Location")
	o.retryAfter = resp.Header.Get("Retry-After")
	o.mediaType = strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		o.err = err
		return o
	}
	if o.status >= 400 {
		_ = json.Unmarshal(b, &o.problem)
	}
	return o
}

func queryInt(t *testing.T, db *sql.DB, query string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := db.QueryRowContext(ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestStartupGivesUpWhenDatabaseStaysDown boots the service against a
// PostgreSQL address nothing listens on (as a stopped server): after
// retrying for DB_CONNECT_TIMEOUT it fails, naming the store and the cause
// without the password, and serve exits 1 with one "cannot start" line.
func TestStartupGivesUpWhenDatabaseStaysDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out DB_CONNECT_TIMEOUT; skipped with -short")
	}
	const password = "hunter2"
	down := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/x?sslmode=disable", password, freePort(t))
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": strconv.Itoa(freePort(t)),
		"EVENT_STORE_URL": down, "READ_DB_URL": down,
		"DB_CONNECT_TIMEOUT": "2s", "LOG_FORMAT": "json",
	}

	t.Run("fx", func(t *testing.T) {
		var environ []string
		for k, v := range env {
			environ = append(environ, k+"="+v)
		}
		cfg, err := config.FromEnv(environ)
		if err != nil {
			t.Fatal(err)
		}
		core, logs := observer.New(zapcore.WarnLevel)
		app := fx.New(options(cfg, zap.New(core))...)
		err = app.Err()
		if err == nil {
			t.Fatal("the service booted without its database")
		}
		if !errors.Is(err, ports.ErrUnavailable) {
			t.Errorf("error does not wrap ports.ErrUnavailable: %v", err)
		}
		cause := dig.RootCause(err).Error()
		for _, want := range []string{"event store", "127.0.0.1", "connection refused"} {
			if !strings.Contains(cause, want) {
				t.Errorf("root cause %q lacks %q", cause, want)
			}
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("error contains the password: %v", err)
		}
		if n := logs.FilterMessage("database unreachable, retrying").Len(); n < 3 {
			t.Errorf("%d retry warnings in 2s, want at least 3 (250 ms backoff doubling)", n)
		}
		for _, e := range logs.All() {
			if strings.Contains(fmt.Sprint(e.Message, e.ContextMap()), password) {
				t.Errorf("log line contains the password: %s %v", e.Message, e.ContextMap())
			}
		}
	})

	t.Run("serve", func(t *testing.T) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		logFile, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = logFile // serve logs to os.Stderr
		code := serve()
		os.Stderr = stderr
		out, err := os.ReadFile(logFile.Name())
		if err != nil {
			t.Fatal(err)
		}
		if code != 1 {
			t.Errorf("serve returned %d, want 1", code)
		}
		if strings.Contains(string(out), password) {
			t.Errorf("the log contains the password:\n%s", out)
		}
		var cannotStart []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(line, `"cannot start"`) {
				cannotStart = append(cannotStart, line)
			}
		}
		if len(cannotStart) != 1 || !strings.Contains(cannotStart[0], "event store") || !strings.Contains(cannotStart[0], "connection refused") {
			t.Errorf(`want one "cannot start" line naming the event store and the cause, got:\n%s`, out)
		}
	})
}
