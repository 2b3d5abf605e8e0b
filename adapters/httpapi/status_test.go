package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"invoices/adapters/store/storetest"
)

type problemJSON struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
	Errors    []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// TestErrorStatuses is the API's error table: every bad request gets its 4xx
// problem document, and none of them stores an event.
func TestErrorStatuses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		unknown := newUUID()
		tests := []struct {
			name      string
			method    string
			path      string
			body      string
			headers   []string
			status    int
			typ       string
			wantField string // a field the errors list must name
		}{
			{"amount as string", "POST", "/invoices", `{"customerId":"c","amount":"19.99"}`, nil, 400, "/problems/validation", "amount"},
			{"negative amount", "POST", "/invoices", `{"customerId":"c","amount":-5}`, nil, 400, "/problems/validation", "amount"},
			{"zero amount", "POST", "/invoices", `{"customerId":"c","amount":0}`, nil, 400, "/problems/validation", "amount"},
			{"three decimals", "POST", "/invoices", `{"customerId":"c","amount":19.999}`, nil, 400, "/problems/validation", "amount"},
			{"amount too large", "POST", "/invoices", `{"customerId":"c","amount":1000000000000}`, nil, 400, "/problems/validation", "amount"},
			{"huge exponent", "POST", "/invoices", `{"customerId":"c","amount":1e999999999}`, nil, 400, "/problems/validation", "amount"},
			{"amount missing", "POST", "/invoices", `{"customerId":"c"}`, nil, 400, "/problems/validation", "amount"},
			{"amount null", "POST", "/invoices", `{"customerId":"c","amount":null}`, nil, 400, "/problems/validation", "amount"},
			{"amount object", "POST", "/invoices", `{"customerId":"c","amount":{"v":1}}`, nil, 400, "/problems/validation", "amount"},
			{"customerId missing", "POST", "/invoices", `{"amount":1}`, nil, 400, "/problems/validation", "customerId"},
			{"customerId number", "POST", "/invoices", `{"customerId":42,"amount":1}`, nil, 400, "/problems/validation", "customerId"},
			{"customerId blank", "POST", "/invoices", `{"customerId":"   ","amount":1}`, nil, 400, "/problems/validation", "customerId"},
			{"customerId too long", "POST", "/invoices", `{"customerId":"` + strings.Repeat("x", 256) + `","amount":1}`, nil, 400, "/problems/validation", "customerId"},
			{"unknown field", "POST", "/invoices", `{"customerId":"c","amount":1,"tax":"20%"}`, nil, 400, "/problems/validation", "tax"},
			{"field name case", "POST", "/invoices", `{"CUSTOMERID":"c","amount":1}`, nil, 400, "/problems/validation", "CUSTOMERID"},
			{"malformed JSON", "POST", "/invoices", `{"customerId":"c",`, nil, 400, "/problems/malformed-request", ""},
			{"null body", "POST", "/invoices", `null`, nil, 400, "/problems/malformed-request", ""},
			{"array body", "POST", "/invoices", `[{"customerId":"c","amount":1}]`, nil, 400, "/problems/malformed-request", ""},
			{"empty body", "POST", "/invoices", ``, []string{"Content-Type: application/json"}, 400, "/problems/malformed-request", ""},
			{"trailing data", "POST", "/invoices", `{"customerId":"c","amount":1} {}`, nil, 400, "/problems/malformed-request", ""},
			{"invalid UTF-8", "POST", "/invoices", "{\"customerId\":\"\xff\",\"amount\":1}", nil, 400, "/problems/malformed-request", ""},
			{"text/plain", "POST", "/invoices", `{"customerId":"c","amount":1}`, []string{"Content-Type: text/plain"}, 415, "/problems/unsupported-media-type", ""},
			{"no content type", "POST", "/invoices", `{"customerId":"c","amount":1}`, []string{"Content-Type: "}, 415, "/problems/unsupported-media-type", ""},
			{"body over 1 MiB", "POST", "/invoices", `{"customerId":"` + strings.Repeat("x", 1<<20) + `","amount":1}`, nil, 413, "/problems/payload-too-large", ""},
			{"get: id not a UUID", "GET", "/invoices/not-a-uuid", "", nil, 400, "/problems/validation", "id"},
			{"get: SQL-looking id", "GET", "/invoices/1'%20OR%20'1'='1", "", nil, 400, "/problems/validation", "id"},
			{"get: unknown id", "GET", "/invoices/" + unknown, "", nil, 404, "/problems/not-found", ""},
			{"pay: id not a UUID", "POST", "/invoices/123/pay", "", nil, 400, "/problems/validation", "id"},
			{"pay: unknown id", "POST", "/invoices/" + unknown + "/pay", "", nil, 404, "/problems/not-found", ""},
			{"patch pay: unknown id", "PATCH", "/invoices/" + unknown + "/pay", "", nil, 404, "/problems/not-found", ""},
			{"void: id not a UUID", "POST", "/invoices/123/void", "", nil, 400, "/problems/validation", "id"},
			{"void: unknown id", "POST", "/invoices/" + unknown + "/void", "", nil, 404, "/problems/not-found", ""},
			{"list: limit 0", "GET", "/invoices?limit=0", "", nil, 400, "/problems/validation", "limit"},
			{"list: limit 1001", "GET", "/invoices?limit=1001", "", nil, 400, "/problems/validation", "limit"},
			{"list: limit not a number", "GET", "/invoices?limit=ten", "", nil, 400, "/problems/validation", "limit"},
			{"list: bad cursor", "GET", "/invoices?cursor=bm90LWEtY3Vyc29y", "", nil, 400, "/problems/validation", "cursor"},
			{"list: a filter it does not have", "GET", "/invoices?paid=true", "", nil, 400, "/problems/validation", "paid"},
			{"list: a misspelt parameter", "GET", "/invoices?limt=5", "", nil, 400, "/problems/validation", "limt"},
			{"method not allowed", "DELETE", "/invoices", "", nil, 405, "/problems/method-not-allowed", ""},
			{"unknown route", "GET", "/nope", "", nil, 404, "/problems/not-found", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := s.do(t, tt.method, tt.path, tt.body, tt.headers...)
				if rec.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				p := decode[problemJSON](t, rec)
				if p.Type != tt.typ || p.Status != tt.status || p.Title == "" || p.Detail == "" {
					t.Errorf("problem = %+v, want type %s, status %d, a title and a detail", p, tt.typ, tt.status)
				}
				if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-ID") {
					t.Errorf("problem requestId %q does not match X-Request-ID %q", p.RequestID, rec.Header().Get("X-Request-ID"))
				}
				if tt.wantField != "" {
					found := false
					for _, fe := range p.Errors {
						found = found || (fe.Field == tt.wantField && fe.Message != "")
					}
					if !found {
						t.Errorf("errors %+v do not name field %q", p.Errors, tt.wantField)
					}
				}
			})
		}
		if h := s.head(t); h != 0 {
			t.Errorf("bad requests stored %d events, want none", h)
		}
	})
}

// TestValidationReportsEveryField checks one response lists all problems.
func TestValidationReportsEveryField(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	rec := s.do(t, "POST", "/invoices", `{"customerId":"","amount":1.001,"x":1}`)
	p := decode[problemJSON](t, rec)
	got := map[string]bool{}
	for _, fe := range p.Errors {
		got[fe.Field] = true
	}
	for _, f := range []string{"customerId", "amount", "x"} {
		if !got[f] {
			t.Errorf("errors %+v miss %q", p.Errors, f)
		}
	}
}

// TestOversizedBodyIsNotRead checks the 413 comes from Content-Length alone.
func TestOversizedBodyIsNotRead(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	body := &countingReader{r: bytes.NewReader(make([]byte, 2<<20))}
	req := newRequest(t, http.MethodPost, "/invoices", body)
	req.ContentLength = 2 << 20
	rec := serve(s, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
	if body.n != 0 {
		t.Errorf("read %d bytes of a body declared too large", body.n)
	}
}

// TestValidationErrorsAreCapped: a body of many unknown keys gets a bounded
// answer, not one entry per key.
func TestValidationErrorsAreCapped(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	var b strings.Builder
	b.WriteString(`{"customerId":"c","amount":1`)
	for i := range 500 {
		fmt.Fprintf(&b, `,"k%03d":0`, i)
	}
	b.WriteString("}")
	rec := s.do(t, "POST", "/invoices", b.String())
	p := decode[problemJSON](t, rec)
	if rec.Code != http.StatusBadRequest || len(p.Errors) != 20 {
		t.Fatalf("status %d with %d errors, want 400 with 20", rec.Code, len(p.Errors))
	}
	if !strings.Contains(p.Detail, "and 499 more") {
		t.Errorf("detail %q does not say how many more", p.Detail)
	}
}
