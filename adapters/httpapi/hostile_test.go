package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"invoices/adapters/store/storetest"
)

// TestHostileCreateBodies is the table of create bodies built to confuse or
// exhaust a JSON decoder: repeated keys, deep nesting, huge numbers, bytes
// that are not UTF-8 or not JSON. Each must be a 4xx problem document that
// stores nothing; a 500, a hang or a stack overflow is the failure this
// guards against (deep nesting shows up as the test binary's timeout or
// crash, never as a timing assertion).
func TestHostileCreateBodies(t *testing.T) {
	const deep = 100_000 // ten times encoding/json's nesting limit
	nestedArrays := strings.Repeat("[", deep) + strings.Repeat("]", deep)
	nestedObjects := strings.Repeat(`{"a":`, deep) + "1" + strings.Repeat("}", deep)
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		tests := []struct {
			name        string
			body        string
			contentType string // application/json when empty
			status      int
			typ         string
			wantField   string // a field the errors list must name
		}{
			// encoding/json keeps the last of a repeated key's values.
			{name: "repeated customerId", body: `{"customerId":"a","customerId":"b","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "repeated amount", body: `{"customerId":"c","amount":1,"amount":1000}`, status: 400, typ: "/problems/validation", wantField: "amount"},
			{name: "repeated with the same value", body: `{"customerId":"c","amount":1,"amount":1}`, status: 400, typ: "/problems/validation", wantField: "amount"},
			{name: "repeated via an escape", body: `{"customerId":"a","customer\u0049d":"b","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "repeated null then value", body: `{"customerId":null,"customerId":"b","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "repeated unknown field", body: `{"customerId":"c","amount":1,"x":1,"x":2}`, status: 400, typ: "/problems/validation", wantField: "x"},
			{name: "repeated three times", body: `{"customerId":"a","customerId":"b","customerId":"c","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},

			{name: "deeply nested arrays as amount", body: `{"customerId":"c","amount":` + nestedArrays + `}`, status: 400, typ: "/problems/malformed-request"},
			{name: "deeply nested arrays as unknown field", body: `{"customerId":"c","amount":1,"x":` + nestedArrays + `}`, status: 400, typ: "/problems/malformed-request"},
			{name: "deeply nested objects as customerId", body: `{"customerId":` + nestedObjects + `,"amount":1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "deeply nested, never closed", body: `{"x":` + strings.Repeat("[", deep), status: 400, typ: "/problems/malformed-request"},
			{name: "nested within the limit, unknown field", body: `{"customerId":"c","amount":1,"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, status: 400, typ: "/problems/validation", wantField: "x"},

			{name: "amount with 500k digits", body: `{"customerId":"c","amount":` + strings.Repeat("9", 500_000) + `}`, status: 400, typ: "/problems/validation", wantField: "amount"},
			{name: "amount with a 500k-digit exponent", body: `{"customerId":"c","amount":1e` + strings.Repeat("9", 500_000) + `}`, status: 400, typ: "/problems/validation", wantField: "amount"},
			{name: "amount with a negative 500k-digit exponent", body: `{"customerId":"c","amount":1e-` + strings.Repeat("9", 500_000) + `}`, status: 400, typ: "/problems/validation", wantField: "amount"},
			{name: "customerId a huge number", body: `{"customerId":1e999999999999,"amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "unknown field a huge number", body: `{"customerId":"c","amount":1,"x":-1e999999999999}`, status: 400, typ: "/problems/validation", wantField: "x"},
			{name: "amount NaN", body: `{"customerId":"c","amount":NaN}`, status: 400, typ: "/problems/malformed-request"},
			{name: "amount Infinity", body: `{"customerId":"c","amount":-Infinity}`, status: 400, typ: "/problems/malformed-request"},
			{name: "amount hex", body: `{"customerId":"c","amount":0x10}`, status: 400, typ: "/problems/malformed-request"},
			{name: "amount leading zero", body: `{"customerId":"c","amount":01}`, status: 400, typ: "/problems/malformed-request"},

			{name: "invalid UTF-8 in a key", body: "{\"customer\xffId\":\"c\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "overlong UTF-8", body: "{\"customerId\":\"\xc0\xaf\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "UTF-8-encoded surrogate", body: "{\"customerId\":\"\xed\xa0\x80\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "truncated UTF-8 sequence", body: "{\"customerId\":\"\xe2\x82\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "UTF-16 body", body: "\xff\xfe{\x00\"\x00}\x00", status: 400, typ: "/problems/malformed-request"},
			{name: "UTF-8 byte order mark", body: "\xef\xbb\xbf{\"customerId\":\"c\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},

			// Valid JSON and UTF-8 that PostgreSQL cannot store (it was a 500 there).
			{name: "escaped NUL in customerId", body: `{"customerId":"a\u0000b","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "customerId only NUL", body: `{"customerId":"\u0000","amount":1}`, status: 400, typ: "/problems/validation", wantField: "customerId"},
			{name: "raw NUL in a string", body: "{\"customerId\":\"a\x00b\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "raw newline in a string", body: "{\"customerId\":\"a\nb\",\"amount\":1}", status: 400, typ: "/problems/malformed-request"},
			{name: "binary bytes", body: "\x00\x01\x02\x03\x89PNG\r\n\x1a\n", status: 400, typ: "/problems/malformed-request"},
			{name: "whitespace only", body: " \t\r\n ", status: 400, typ: "/problems/malformed-request"},
			{name: "form encoded", body: "customerId=c&amount=1", status: 400, typ: "/problems/malformed-request"},
			{name: "single quotes", body: `{'customerId':'c','amount':1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "unquoted keys", body: `{customerId:"c",amount:1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "trailing comma", body: `{"customerId":"c","amount":1,}`, status: 400, typ: "/problems/malformed-request"},
			{name: "missing colon", body: `{"customerId" "c","amount":1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "missing comma", body: `{"customerId":"c" "amount":1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "comment", body: `{"customerId":"c", /* x */ "amount":1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "extra closing brace", body: `{"customerId":"c","amount":1}}`, status: 400, typ: "/problems/malformed-request"},
			{name: "closed with a bracket", body: `{"customerId":"c","amount":1]`, status: 400, typ: "/problems/malformed-request"},
			{name: "cut after a key", body: `{"customerId"`, status: 400, typ: "/problems/malformed-request"},
			{name: "cut after a colon", body: `{"customerId":`, status: 400, typ: "/problems/malformed-request"},
			{name: "cut inside a string", body: `{"customerId":"c`, status: 400, typ: "/problems/malformed-request"},
			{name: "bad escape", body: `{"customerId":"\x","amount":1}`, status: 400, typ: "/problems/malformed-request"},
			{name: "top-level string", body: `"{\"customerId\":\"c\",\"amount\":1}"`, status: 400, typ: "/problems/malformed-request"},
			{name: "two objects", body: `{"customerId":"c","amount":1}{"customerId":"c","amount":1}`, status: 400, typ: "/problems/malformed-request"},

			// The optional fields get the same treatment.
			{name: "repeated currency", body: `{"customerId":"c","amount":1,"currency":"EUR","currency":"JPY"}`, status: 400, typ: "/problems/validation", wantField: "currency"},
			{name: "repeated dueDate", body: `{"customerId":"c","amount":1,"dueDate":null,"dueDate":"2099-01-01"}`, status: 400, typ: "/problems/validation", wantField: "dueDate"},
			{name: "deeply nested arrays as currency", body: `{"customerId":"c","amount":1,"currency":` + nestedArrays + `}`, status: 400, typ: "/problems/malformed-request"},
			{name: "deeply nested objects as dueDate", body: `{"customerId":"c","amount":1,"dueDate":` + nestedObjects + `}`, status: 400, typ: "/problems/malformed-request"},
			{name: "currency of 500k letters", body: `{"customerId":"c","amount":1,"currency":"` + strings.Repeat("E", 500_000) + `"}`, status: 400, typ: "/problems/validation", wantField: "currency"},
			{name: "dueDate of 500k digits", body: `{"customerId":"c","amount":1,"dueDate":"` + strings.Repeat("9", 500_000) + `"}`, status: 400, typ: "/problems/validation", wantField: "dueDate"},
			{name: "escaped NUL in currency", body: `{"customerId":"c","amount":1,"currency":"EU\u0000"}`, status: 400, typ: "/problems/validation", wantField: "currency"},
			{name: "escaped NUL in dueDate", body: `{"customerId":"c","amount":1,"dueDate":"2099-01-01\u0000"}`, status: 400, typ: "/problems/validation", wantField: "dueDate"},
			{name: "non-ASCII letters as currency", body: `{"customerId":"c","amount":1,"currency":"ÉUR"}`, status: 400, typ: "/problems/validation", wantField: "currency"},
			{name: "currency a huge number", body: `{"customerId":"c","amount":1,"currency":1e999999999999}`, status: 400, typ: "/problems/validation", wantField: "currency"},

			{name: "JSON declared as text", body: `{"customerId":"c","amount":1}`, contentType: "text/json", status: 415, typ: "/problems/unsupported-media-type"},
			{name: "unparsable content type", body: `{"customerId":"c","amount":1}`, contentType: "application/json; charset", status: 415, typ: "/problems/unsupported-media-type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				rec := s.do(t, http.MethodPost, "/invoices", tt.body, "Content-Type: "+ct)
				if rec.Code != tt.status {
					t.Fatalf("status = %d, want %d; body %.500s", rec.Code, tt.status, rec.Body)
				}
				if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", got)
				}
				p := decode[problemJSON](t, rec)
				if p.Type != tt.typ || p.Status != tt.status || p.Title == "" || p.Detail == "" {
					t.Errorf("problem = %+v, want type %s, status %d, a title and a detail", p, tt.typ, tt.status)
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
				if h := s.head(t); h != 0 {
					t.Fatalf("event store head = %d after a rejected body, want 0", h)
				}
			})
		}
	})
}

// TestRepeatedKeyProblem pins the answer for a repeated key: a validation
// problem that names the key once, says it is repeated, and does not judge
// either of its values.
func TestRepeatedKeyProblem(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	rec := s.do(t, http.MethodPost, "/invoices", `{"customerId":"a","customerId":"","amount":1}`)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400; body %s", rec.Code, rec.Body)
	}
	p := decode[problemJSON](t, rec)
	if len(p.Errors) != 1 || p.Errors[0].Field != "customerId" || p.Errors[0].Message != "must appear only once" {
		t.Errorf("errors = %+v, want only customerId: must appear only once", p.Errors)
	}
	if want := "customerId must appear only once"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
}
