package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"invoices/adapters/httpapi"
	"invoices/adapters/prommetrics"
	"invoices/adapters/store/storetest"
	"invoices/app"
	"invoices/config"
	"invoices/docs"
	"invoices/domain/invoice"
)

// notExercised are the documented responses no request can provoke from a
// healthy service, with the reason; every other documented status of every
// operation must be produced by a case of TestLiveResponsesMatchOpenAPI.
var notExercised = map[string]string{
	"500": "only a bug answers 500 (writeError's Internal class); its Problem schema is the one every 4xx here is checked against",
}

// liveCase is one request through the real engine and the status it must
// get. A request that breaks the document on purpose (a string amount, no
// API key, a text/plain body) must also be refused by the document's own
// request validation, which proves the document states the rule the
// service enforces; every other request must pass it.
type liveCase struct {
	name      string
	server    http.Handler
	method    string
	path      string
	body      string
	headers   []string
	status    int
	breaksDoc bool
}

// TestLiveResponsesMatchOpenAPI sends requests producing every documented
// status of every operation in the served OpenAPI 3 document and validates
// each live response against it with kin-openapi's openapi3filter: the
// status must be documented for the operation, the Content-Type must be
// one the document gives that status (application/problem+json for errors),
// the body must match its schema, with no property the schema does not
// name, and a response documented without a body must have none.
func TestLiveResponsesMatchOpenAPI(t *testing.T) {
	doc := strictOpenAPI(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	open := newServer(t, storetest.SQLite(), serverOptions{})
	keyed := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) { h.APIKeys = []string{testKey} }})
	// A deadline that has passed before the handler runs: every call into
	// the application is interrupted, the 503 a database outage also gets.
	expired := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) { h.RequestTimeout = time.Nanosecond }})
	notReady := newServer(t, storetest.SQLite(), serverOptions{projectorStopped: true})

	pending := open.create(t, `{"customerId":"cus_doc","amount":19.99,"currency":"EUR","dueDate":"`+time.Now().UTC().AddDate(0, 1, 0).Format(time.DateOnly)+`"}`).ID
	paid := open.create(t, `{"customerId":"cus_doc","amount":5}`).ID
	if rec := open.do(t, "POST", "/invoices/"+paid+"/pay", ""); rec.Code != http.StatusOK {
		t.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}
	toVoid := open.create(t, `{"customerId":"cus_doc","amount":7}`).ID
	unknown := newUUID()
	huge := `{"customerId":"` + strings.Repeat("x", 1<<20) + `","amount":1}`
	hugeReason := `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`
	auth := "Authorization: Bearer " + testKey

	// A key used once, for the 422 of its reuse with other requests; and a
	// create whose key is held while it waits for a projector that never
	// runs, for the 409 of a key in use.
	used := "Idempotency-Key: doc-key"
	if rec := open.do(t, "POST", "/invoices", `{"customerId":"cus_doc","amount":2}`, used); rec.Code != http.StatusCreated {
		t.Fatalf("create with a key: %d %s", rec.Code, rec.Body)
	}
	busy := newServer(t, storetest.SQLite(), serverOptions{projectorStopped: true, rywTimeout: 3 * time.Second})
	held := make(chan struct{})
	go func() {
		defer close(held)
		busy.do(t, "POST", "/invoices", `{"customerId":"cus_doc","amount":2}`, "Idempotency-Key: busy")
	}()
	t.Cleanup(func() { <-held })
	for deadline := time.Now().Add(2 * time.Second); busy.head(t) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the held create appended nothing in 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	cases := []liveCase{
		// First: the held create lets its key go after 3 s.
		{name: "create: key in use", server: busy.engine, method: "POST", path: "/invoices", body: `{"customerId":"cus_doc","amount":2}`, headers: []string{"Idempotency-Key: busy"}, status: 409},
		{name: "create: key reused", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"cus_doc","amount":3}`, headers: []string{used}, status: 422},
		{name: "pay: key reused", server: open.engine, method: "POST", path: "/invoices/" + pending + "/pay", headers: []string{used}, status: 422},
		{name: "patch pay: key reused", server: open.engine, method: "PATCH", path: "/invoices/" + pending + "/pay", headers: []string{used}, status: 422},
		{name: "void: key reused", server: open.engine, method: "POST", path: "/invoices/" + pending + "/void", headers: []string{used}, status: 422},

		{name: "liveness", server: open.engine, method: "GET", path: "/healthz", status: 200},
		{name: "ready", server: open.engine, method: "GET", path: "/readyz", status: 200},
		{name: "not ready: projector stopped", server: notReady.engine, method: "GET", path: "/readyz", status: 503},
		{name: "metrics", server: metricsEngine(t), method: "GET", path: "/metrics", status: 200},

		{name: "create", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"cus_doc","amount":1.5,"currency":"usd","dueDate":"` + time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly) + `"}`, status: 201},
		{name: "create with defaults", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"cus_doc","amount":1.5}`, status: 201},
		// The document cannot say that JPY has no minor unit.
		{name: "create with decimals JPY lacks", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"cus_doc","amount":1.5,"currency":"JPY"}`, status: 400},
		{name: "create with a string amount", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":"1.50"}`, status: 400, breaksDoc: true},
		{name: "create with an unknown key", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":1,"tax":1}`, status: 400, breaksDoc: true},
		{name: "create over the body limit", server: open.engine, method: "POST", path: "/invoices", body: huge, status: 413, breaksDoc: true},
		{name: "create as text/plain", server: open.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":1}`, headers: []string{"Content-Type: text/plain"}, status: 415, breaksDoc: true},
		{name: "create without a key", server: keyed.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":1}`, status: 401, breaksDoc: true},
		{name: "create with a key", server: keyed.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":1}`, headers: []string{auth}, status: 201},
		{name: "create past the deadline", server: expired.engine, method: "POST", path: "/invoices", body: `{"customerId":"c","amount":1}`, status: 503},

		{name: "list", server: open.engine, method: "GET", path: "/invoices?limit=1&status=pending&status=paid&currency=eur", status: 200},
		{name: "list with a limit over 1000", server: open.engine, method: "GET", path: "/invoices?limit=1001", status: 400, breaksDoc: true},
		{name: "list with a bad date", server: open.engine, method: "GET", path: "/invoices?dueBefore=soon", status: 400, breaksDoc: true},
		{name: "list without a key", server: keyed.engine, method: "GET", path: "/invoices", status: 401, breaksDoc: true},
		{name: "list past the deadline", server: expired.engine, method: "GET", path: "/invoices", status: 503},

		{name: "get", server: open.engine, method: "GET", path: "/invoices/" + pending, status: 200},
		{name: "get a paid invoice", server: open.engine, method: "GET", path: "/invoices/" + paid, status: 200},
		{name: "get: id not a UUID", server: open.engine, method: "GET", path: "/invoices/not-a-uuid", status: 400, breaksDoc: true},
		{name: "get: unknown", server: open.engine, method: "GET", path: "/invoices/" + unknown, status: 404},
		{name: "get without a key", server: keyed.engine, method: "GET", path: "/invoices/" + unknown, status: 401, breaksDoc: true},
		{name: "get past the deadline", server: expired.engine, method: "GET", path: "/invoices/" + unknown, status: 503},

		{name: "pay", server: open.engine, method: "POST", path: "/invoices/" + pending + "/pay", status: 200},
		{name: "pay: already paid", server: open.engine, method: "POST", path: "/invoices/" + paid + "/pay", status: 409},
		{name: "pay: id not a UUID", server: open.engine, method: "POST", path: "/invoices/123/pay", status: 400, breaksDoc: true},
		{name: "pay: unknown", server: open.engine, method: "POST", path: "/invoices/" + unknown + "/pay", status: 404},
		{name: "pay without a key", server: keyed.engine, method: "POST", path: "/invoices/" + unknown + "/pay", status: 401, breaksDoc: true},
		{name: "pay past the deadline", server: expired.engine, method: "POST", path: "/invoices/" + unknown + "/pay", status: 503},

		{name: "patch pay", server: open.engine, method: "PATCH", path: "/invoices/" + open.create(t, `{"customerId":"c","amount":2}`).ID + "/pay", status: 200},
		{name: "patch pay: already paid", server: open.engine, method: "PATCH", path: "/invoices/" + paid + "/pay", status: 409},
		{name: "patch pay: id not a UUID", server: open.engine, method: "PATCH", path: "/invoices/123/pay", status: 400, breaksDoc: true},
		{name: "patch pay: unknown", server: open.engine, method: "PATCH", path: "/invoices/" + unknown + "/pay", status: 404},
		{name: "patch pay without a key", server: keyed.engine, method: "PATCH", path: "/invoices/" + unknown + "/pay", status: 401, breaksDoc: true},
		{name: "patch pay past the deadline", server: expired.engine, method: "PATCH", path: "/invoices/" + unknown + "/pay", status: 503},

		{name: "void with a reason", server: open.engine, method: "POST", path: "/invoices/" + toVoid + "/void", body: `{"reason":"issued in error"}`, status: 200},
		{name: "void without a body", server: open.engine, method: "POST", path: "/invoices/" + open.create(t, `{"customerId":"c","amount":3}`).ID + "/void", status: 200},
		{name: "void: already void", server: open.engine, method: "POST", path: "/invoices/" + toVoid + "/void", status: 409},
		{name: "void: paid", server: open.engine, method: "POST", path: "/invoices/" + paid + "/void", status: 409},
		{name: "void: reason not a string", server: open.engine, method: "POST", path: "/invoices/" + toVoid + "/void", body: `{"reason":5}`, status: 400, breaksDoc: true},
		{name: "void: unknown", server: open.engine, method: "POST", path: "/invoices/" + unknown + "/void", status: 404},
		{name: "void over the body limit", server: open.engine, method: "POST", path: "/invoices/" + toVoid + "/void", body: hugeReason, status: 413, breaksDoc: true},
		{name: "void as text/plain", server: open.engine, method: "POST", path: "/invoices/" + toVoid + "/void", body: `{}`, headers: []string{"Content-Type: text/plain"}, status: 415, breaksDoc: true},
		{name: "void without a key", server: keyed.engine, method: "POST", path: "/invoices/" + unknown + "/void", status: 401, breaksDoc: true},
		{name: "void past the deadline", server: expired.engine, method: "POST", path: "/invoices/" + unknown + "/void", status: 503},

		// Conditional requests, as-of reads and history.
		{name: "get: not modified", server: open.engine, method: "GET", path: "/invoices/" + paid, headers: []string{`If-None-Match: "v2"`}, status: 304},
		{name: "get as of a version", server: open.engine, method: "GET", path: "/invoices/" + paid + "?asOfVersion=1", status: 200},
		{name: "get as of a time", server: open.engine, method: "GET", path: "/invoices/" + paid + "?asOf=" + time.Now().UTC().Format(time.RFC3339Nano), status: 200},
		{name: "get as of version 0", server: open.engine, method: "GET", path: "/invoices/" + paid + "?asOfVersion=0", status: 400, breaksDoc: true},
		{name: "get as of a version it has not reached", server: open.engine, method: "GET", path: "/invoices/" + paid + "?asOfVersion=3", status: 404},
		{name: "pay: stale If-Match", server: open.engine, method: "POST", path: "/invoices/" + paid + "/pay", headers: []string{`If-Match: "v1"`}, status: 412},
		{name: "patch pay: stale If-Match", server: open.engine, method: "PATCH", path: "/invoices/" + paid + "/pay", headers: []string{`If-Match: "v1"`}, status: 412},
		{name: "void: stale If-Match", server: open.engine, method: "POST", path: "/invoices/" + paid + "/void", headers: []string{`If-Match: "v1"`}, status: 412},
		{name: "history", server: open.engine, method: "GET", path: "/invoices/" + paid + "/events?limit=1", status: 200},
		{name: "history: limit 0", server: open.engine, method: "GET", path: "/invoices/" + paid + "/events?limit=0", status: 400, breaksDoc: true},
		{name: "history: unknown", server: open.engine, method: "GET", path: "/invoices/" + unknown + "/events", status: 404},
		{name: "history without a key", server: keyed.engine, method: "GET", path: "/invoices/" + unknown + "/events", status: 401, breaksDoc: true},
		{name: "history past the deadline", server: expired.engine, method: "GET", path: "/invoices/" + unknown + "/events", status: 503},

		// The global feed (JSON pages; a stream's 503 when the streams are
		// full is the same problem document).
		{name: "feed", server: open.engine, method: "GET", path: "/events?limit=2&type=invoice.created&type=invoice.paid", status: 200},
		{name: "feed at the head", server: open.engine, method: "GET", path: "/events?after=1000", status: 200},
		{name: "feed with a stream filter", server: open.engine, method: "GET", path: "/events?streamId=" + paid, status: 200},
		{name: "feed: limit 0", server: open.engine, method: "GET", path: "/events?limit=0", status: 400, breaksDoc: true},
		{name: "feed: unknown type", server: open.engine, method: "GET", path: "/events?type=invoice.deleted", status: 400, breaksDoc: true},
		{name: "feed without a key", server: keyed.engine, method: "GET", path: "/events", status: 401, breaksDoc: true},
		{name: "feed with a key", server: keyed.engine, method: "GET", path: "/events", headers: []string{auth}, status: 200},
		{name: "feed past the deadline", server: expired.engine, method: "GET", path: "/events", status: 503},
		{name: "stream: too many", server: fullStreams(t), method: "GET", path: "/events", headers: []string{"Accept: text/event-stream"}, status: 503},
	}

	produced := map[string]bool{} // "GET /invoices/{id} 404"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			route, params := findRoute(t, router, tc.newRequest())
			produced[operation(route)+" "+strconv.Itoa(tc.status)] = true
			checkRequest(t, tc, route, params)
			checkLiveResponse(t, tc, route, params)
		})
	}

	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			for code := range op.Responses.Map() {
				key := method + " " + path + " " + code
				if _, ok := notExercised[code]; !ok && !produced[key] {
					t.Errorf("no case produces the documented %s: add one to this test", key)
				}
			}
		}
	}
}

// strictOpenAPI is the served document, loaded and validated, made strict
// for the test: object schemas admit no property they do not name, so an
// undocumented response field fails.
func strictOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("load the embedded OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the embedded OpenAPI document is invalid: %v", err)
	}
	no := false
	for _, s := range doc.Components.Schemas {
		if s.Value != nil && s.Value.Type.Is(openapi3.TypeObject) && s.Value.AdditionalProperties.Schema == nil {
			s.Value.AdditionalProperties.Has = &no
		}
	}
	return doc
}

// formats adds the checks of formats kin-openapi leaves unchecked by
// default.
var formats = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
}

func (tc liveCase) newRequest() *http.Request {
	req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
	if tc.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range tc.headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	return req
}

func findRoute(t *testing.T, router routers.Router, req *http.Request) (*routers.Route, map[string]string) {
	t.Helper()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", req.Method, req.URL, err)
	}
	return route, params
}

func operation(route *routers.Route) string { return route.Method + " " + route.Path }

// requestOptions checks the Authorization header as the document's
// BearerAuth scheme describes it, when the server requires a key.
func requestOptions(keyed bool) *openapi3filter.Options {
	return &openapi3filter.Options{SchemaValidationOptions: formats, AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		s := in.SecurityScheme
		if s.Type != "apiKey" || s.In != "header" {
			return fmt.Errorf("security scheme %s: type %s in %s, want an apiKey in a header", in.SecuritySchemeName, s.Type, s.In)
		}
		if keyed && !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get(s.Name), "Bearer ") {
			return errors.New("no bearer key in " + s.Name)
		}
		return nil
	}}
}

// checkRequest validates the case's request against the document: a request
// the service accepts, or refuses for a reason the document cannot state
// (an unknown invoice), must pass; one that breaks the document on purpose
// must not.
func checkRequest(t *testing.T, tc liveCase, route *routers.Route, params map[string]string) {
	t.Helper()
	keyed := slices.ContainsFunc(tc.headers, func(h string) bool { return strings.HasPrefix(h, "Authorization:") }) || tc.status == http.StatusUnauthorized
	err := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: tc.newRequest(), PathParams: params, Route: route, Options: requestOptions(keyed),
	})
	switch {
	case tc.breaksDoc && err == nil:
		t.Errorf("the document accepts this request, which the service answers %d: it does not state the rule", tc.status)
	case !tc.breaksDoc && err != nil:
		t.Errorf("the document refuses this request: %v", err)
	}
}

// checkLiveResponse sends the request through the engine and validates the
// response against the document.
func checkLiveResponse(t *testing.T, tc liveCase, route *routers.Route, params map[string]string) {
	t.Helper()
	req := tc.newRequest()
	rec := httptest.NewRecorder()
	tc.server.ServeHTTP(rec, req)
	if rec.Code != tc.status {
		t.Fatalf("status = %d, want %d: %.300s", rec.Code, tc.status, rec.Body)
	}
	documented := route.Operation.Responses.Status(rec.Code)
	if documented == nil {
		t.Fatalf("%s does not document status %d", operation(route), rec.Code)
	}
	body := rec.Body.Bytes()
	if len(documented.Value.Content) == 0 && len(body) > 0 {
		t.Errorf("status %d is documented without a body, the response has %d bytes (Content-Type %q)", rec.Code, len(body), rec.Header().Get("Content-Type"))
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: formats},
	})
	if err != nil {
		t.Errorf("the response does not match the document: %v\nContent-Type %q, body %.500s", err, rec.Header().Get("Content-Type"), body)
	}
}

// metricsEngine is the real engine with the real Prometheus metrics, which
// the other test servers leave out; /metrics needs nothing of the
// application.
func metricsEngine(t *testing.T) http.Handler {
	t.Helper()
	return httpapi.NewEngine(httpapi.EngineParams{
		App: app.Application{}, Config: config.HTTP{MaxBodyBytes: 1 << 20}, Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Billing: config.Billing{DefaultCurrency: invoice.MustCurrency("EUR")},
		Metrics: prommetrics.New(),
	})
}

// TestServedOpenAPIDocument checks both addresses serve the embedded
// OpenAPI 3.0 document, the one Swagger UI at /api loads.
func TestServedOpenAPIDocument(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	for _, path := range []string{"/api/doc.json", "/api-json"} {
		rec := s.do(t, "GET", path, "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: %d, Content-Type %q; want 200 application/json", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if !bytes.Equal(rec.Body.Bytes(), docs.OpenAPI) {
			t.Errorf("%s is not the embedded docs/openapi.json (%d bytes, want %d)", path, rec.Body.Len(), len(docs.OpenAPI))
		}
	}
	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI30() {
		t.Errorf("the served document is OpenAPI %q, want 3.0.x", doc.OpenAPI)
	}
	if rec := s.do(t, "GET", "/api/nested/doc.json", ""); rec.Code != http.StatusNotFound {
		t.Errorf("/api/nested/doc.json: %d, want 404", rec.Code)
	}
}

// fullStreams is a server whose one allowed event stream is taken, so the
// next stream is refused with 503.
func fullStreams(t *testing.T) http.Handler {
	t.Helper()
	s := newServer(t, storetest.SQLite(), serverOptions{eventStream: config.EventStream{MaxClients: 1}})
	sub, err := s.app.Feed.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return s.engine
}
