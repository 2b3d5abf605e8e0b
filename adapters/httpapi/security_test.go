package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"invoices/adapters/store/storetest"
	"invoices/config"
)

const testKey = "test-key-0123456789abcdef"

func TestAPIKeys(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) {
		h.APIKeys = []string{"other-key-0123456789abcdef", testKey}
	}})
	body := `{"customerId":"c","amount":1}`
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers []string
		status  int
	}{
		{"create without a key", "POST", "/invoices", body, nil, 401},
		{"create with a wrong key", "POST", "/invoices", body, []string{"Authorization: Bearer wrong-key-0123456789abcdef"}, 401},
		{"create with a key prefix", "POST", "/invoices", body, []string{"Authorization: Bearer " + testKey[:10]}, 401},
		{"create with basic auth", "POST", "/invoices", body, []string{"Authorization: Basic " + testKey}, 401},
		{"list without a key", "GET", "/invoices", "", nil, 401},
		{"get without a key", "GET", "/invoices/" + newUUID(), "", nil, 401},
		{"pay without a key", "POST", "/invoices/" + newUUID() + "/pay", "", nil, 401},
		{"create with the key", "POST", "/invoices", body, []string{"Authorization: Bearer " + testKey}, 201},
		{"lower-case scheme", "GET", "/invoices", "", []string{"Authorization: bearer " + testKey}, 200},
		{"health stays open", "GET", "/healthz", "", nil, 200},
		{"readiness stays open", "GET", "/readyz", "", nil, 200},
		{"docs stay open", "GET", "/api/doc.json", "", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.head(t)
			rec := s.do(t, tt.method, tt.path, tt.body, tt.headers...)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status == http.StatusUnauthorized {
				if p := decode[problemJSON](t, rec); p.Type != "/problems/unauthorized" || p.Status != 401 {
					t.Errorf("problem = %+v", p)
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if s.head(t) != before {
					t.Error("an unauthorized request stored an event")
				}
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	for _, path := range []string{"/invoices", "/invoices/not-a-uuid", "/nope", "/healthz"} {
		rec := s.do(t, "GET", path, "")
		for header, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Cache-Control":           "no-store",
			"X-Frame-Options":         "DENY",
		} {
			if got := rec.Header().Get(header); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, header, got, want)
			}
		}
	}
	if csp := s.do(t, "GET", "/api/index.html", "").Header().Get("Content-Security-Policy"); csp == "" || csp == "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("Swagger UI CSP = %q, want a policy that lets it load its own scripts", csp)
	}
}

func TestCORS(t *testing.T) {
	preflight := []string{"Origin: https://app.example.com", "Access-Control-Request-Method: POST"}
	off := newServer(t, storetest.SQLite(), serverOptions{})
	if got := off.do(t, "OPTIONS", "/invoices", "", preflight...).Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS is on by default: Access-Control-Allow-Origin = %q", got)
	}
	on := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) {
		h.CORSOrigins = []string{"https://app.example.com"}
	}})
	rec := on.do(t, "OPTIONS", "/invoices", "", preflight...)
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin = %q (status %d)", got, rec.Code)
	}
	other := on.do(t, "GET", "/invoices", "", "Origin: https://evil.example.com")
	if got := other.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("other origin: Access-Control-Allow-Origin = %q, want none", got)
	}
}

// TestRequestTimeout: a request whose deadline passes gets a 503 problem
// with Retry-After, never a 500, and stores nothing.
func TestRequestTimeout(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) { h.RequestTimeout = time.Nanosecond }})
	rec := s.do(t, "POST", "/invoices", `{"customerId":"c","amount":1}`)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status = %d, Retry-After %q; want 503 with Retry-After: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if p := decode[problemJSON](t, rec); p.Type != "/problems/unavailable" {
		t.Errorf("problem type = %q", p.Type)
	}
	if h := s.head(t); h != 0 {
		t.Errorf("a timed-out request stored %d events", h)
	}
}
