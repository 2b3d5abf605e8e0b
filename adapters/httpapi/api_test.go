package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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
	"invoices/app/projection"
	"invoices/config"
)

// testServer is the real gin engine over real stores, without a listener.
type testServer struct {
	engine *gin.Engine
	events *store.EventStore
}

type serverOptions struct {
	rywTimeout       time.Duration
	projectorStopped bool               // never start the projector, so reads never catch up
	http             func(*config.HTTP) // adjusts the HTTP configuration
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
	codec := storetest.Must(app.NewCodec())(t)
	p := projection.New(events, read, codec, log, projection.Options{BatchSize: 500, PollInterval: 50 * time.Millisecond})
	if !opts.projectorStopped {
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Stop the projector before the databases close (cleanups run LIFO).
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	application := app.New(app.Params{
		Events: events, Reader: read, Projector: p, Codec: codec, Log: log,
		Config: config.Projection{ReadYourWritesTimeout: opts.rywTimeout, PayMaxAttempts: 5},
	})
	httpCfg := config.HTTP{MaxBodyBytes: 1 << 20, RequestTimeout: 10 * time.Second}
	if opts.http != nil {
		opts.http(&httpCfg)
	}
	engine := httpapi.NewEngine(httpapi.EngineParams{App: application, Config: httpCfg, Log: log})
	return &testServer{engine: engine, events: events}
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
	Status     string          `json:"status"`
	Paid       bool            `json:"paid"`
	Version    int             `json:"version"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	PaidAt     *time.Time      `json:"paidAt"`
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
