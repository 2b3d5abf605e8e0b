package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"invoices/adapters/httpapi"
	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/app"
	"invoices/app/command"
	"invoices/app/feed"
	"invoices/app/projection"
	"invoices/config"
	"invoices/domain/invoice"
)

// testServer is the real gin engine over real stores, without a listener.
type testServer struct {
	engine *gin.Engine
	events *store.EventStore
	app    app.Application
	fanout *feed.Broadcaster
}

type serverOptions struct {
	rywTimeout       time.Duration
	projectorStopped bool               // never start the projector, so reads never catch up
	http             func(*config.HTTP) // adjusts the HTTP configuration
	clock            command.Clock      // the commands' clock; the system clock when nil
	eventStream      config.EventStream // live feed settings; the defaults when zero
}

func newServer(t testing.TB, e storetest.Engine, opts serverOptions) *testServer {
	t.Helper()
	ctx := context.Background()
	if opts.rywTimeout == 0 {
		opts.rywTimeout = 10 * time.Second
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	events := e.OpenEventStore(t)
	read := e.OpenReadModel(t)
	codec := storetest.Must(app.NewCodec(storetest.Defaults))(t)
	p := projection.New(events, read, codec, log, projection.Options{BatchSize: 500, PollInterval: 50 * time.Millisecond})
	if !opts.projectorStopped {
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Stop the projector before the databases close (cleanups run LIFO).
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	maxStreams := opts.eventStream.MaxClients
	if maxStreams == 0 {
		maxStreams = 100
	}
	fanout := feed.NewBroadcaster(maxStreams)
	events.NotifyCommits(fanout.Committed)
	t.Cleanup(fanout.Close)
	application := app.New(app.Params{
		Events: events, Keys: events, Reader: read, Projector: p, Codec: codec, Log: log, Clock: opts.clock, Fanout: fanout,
		Config: config.Projection{ReadYourWritesTimeout: opts.rywTimeout, PayMaxAttempts: 5},
	})
	httpCfg := config.HTTP{MaxBodyBytes: 1 << 20, RequestTimeout: 10 * time.Second}
	if opts.http != nil {
		opts.http(&httpCfg)
	}
	engine := httpapi.NewEngine(httpapi.EngineParams{
		App: application, Config: httpCfg, Log: log, EventStream: opts.eventStream,
		Billing: config.Billing{DefaultCurrency: invoice.MustCurrency("EUR")},
	})
	return &testServer{engine: engine, events: events, app: application, fanout: fanout}
}

// do sends one request; headers are "Name: value" strings. A body with no
// Content-Type header is sent as application/json.
func (s *testServer) do(t *testing.T, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		if value == "" {
			req.Header.Del(name)
		} else {
			req.Header.Set(name, value)
		}
	}
	rec := httptest.NewRecorder()
	s.engine.ServeHTTP(rec, req)
	return rec
}

type invoiceJSON struct {
	ID         string          `json:"id"`
	CustomerID string          `json:"customerId"`
	Amount     json.RawMessage `json:"amount"`
	Currency   string          `json:"currency"`
	DueDate    *string         `json:"dueDate"`
	Status     string          `json:"status"`
	Paid       bool            `json:"paid"`
	Version    int             `json:"version"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	PaidAt     *time.Time      `json:"paidAt"`
	VoidedAt   *time.Time      `json:"voidedAt"`
	VoidReason *string         `json:"voidReason"`
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func (s *testServer) create(t *testing.T, body string) invoiceJSON {
	t.Helper()
	rec := s.do(t, http.MethodPost, "/invoices", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create %s: status %d: %s", body, rec.Code, rec.Body)
	}
	return decode[invoiceJSON](t, rec)
}

func (s *testServer) head(t *testing.T) int64 {
	t.Helper()
	h, err := s.events.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newUUID() string { return uuid.NewString() }

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func newRequest(t *testing.T, method, path string, body io.Reader) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func serve(s *testServer, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.engine.ServeHTTP(rec, req)
	return rec
}

// fixedClock is a command clock a test sets: every event it stamps carries
// the time last set, so dates and created-at bounds are exact.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFixedClock(now time.Time) *fixedClock { return &fixedClock{now: now} }

// Now is the command.Clock.
func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// checkProblemResponse checks rec is a problem document with status and
// type; a non-empty field must be named in its errors list, with a message.
// It returns the problem for further checks.
func checkProblemResponse(t *testing.T, rec *httptest.ResponseRecorder, status int, typ, field string) problemJSON {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %.500s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	p := decode[problemJSON](t, rec)
	if p.Type != typ || p.Status != status || p.Title == "" || p.Detail == "" {
		t.Errorf("problem = %+v, want type %s, status %d, a title and a detail", p, typ, status)
	}
	if field != "" {
		if _, ok := fieldMessage(p, field); !ok {
			t.Errorf("errors %+v do not name field %q with a message", p.Errors, field)
		}
	}
	return p
}

// fieldMessage returns the message of the first error naming field.
func fieldMessage(p problemJSON, field string) (string, bool) {
	for _, fe := range p.Errors {
		if fe.Field == field && fe.Message != "" {
			return fe.Message, true
		}
	}
	return "", false
}
