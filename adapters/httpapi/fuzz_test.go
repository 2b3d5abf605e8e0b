package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
)

// fuzzContentTypes are the Content-Type headers FuzzCreateInvoice chooses
// from; json says whether the API must accept the body as JSON.
var fuzzContentTypes = []struct {
	header string // "" sends no Content-Type at all
	json   bool
}{
	{"application/json", true},
	{"application/json; charset=utf-8", true},
	{"Application/JSON", true},
	{"application/merge-patch+json", true},
	{"text/plain", false},
	{"", false},
	{"application/json; charset", false}, // a parameter without a value does not parse
	{"application/x-www-form-urlencoded", false},
}

// FuzzCreateInvoice posts arbitrary bytes, under a chosen Content-Type, to
// POST /invoices. Whatever the bytes, the answer is a 201 that stored exactly
// one event readable at its Location, or a 4xx problem document that stored
// nothing; never a 5xx.
func FuzzCreateInvoice(f *testing.F) {
	s := newServer(f, storetest.SQLite(), serverOptions{})
	const deep = 20_000 // twice encoding/json's nesting limit
	// Due dates around the edges of the range, as of when the fuzzer starts.
	now := time.Now().UTC()
	today, yesterday := now.Format(time.DateOnly), now.AddDate(0, 0, -1).Format(time.DateOnly)
	inFiveYears := invoice.DateOf(now).AddYears(invoice.MaxDueYears).String()
	for _, seed := range []struct {
		body        string
		contentType byte // index into fuzzContentTypes
	}{
		{`{"customerId":"c","amount":19.99}`, 0},
		{`{"customerId":"c","amount":19.99}`, 1},
		{`{"customerId":"c","amount":19.99}`, 3},
		{`{"customerId":"c","amount":19.99}`, 4},
		{`{"customerId":"c","amount":19.99}`, 5},
		{`{"customerId":"c","amount":19.99}`, 6},
		{` {"amount":1.5e1, "customerId":"  cust-1  "} `, 0},
		{`{"customerId":"Ærøskøbing \"é\" <&>","amount":999999999999.99}`, 0},
		{`{"customerId":"\ud83d\ude00","amount":0.01}`, 0},
		{`{"customerId":"\ud800","amount":1}`, 0},
		{`{"customerId":"a\u0000b","amount":1}`, 0},
		{`{"customerId":"c","amount":100e-2}`, 0},
		{`{"customerId":"c","amount":"19.99"}`, 0},
		{`{"customerId":42,"amount":1}`, 0},
		{`{"customerId":null,"amount":null}`, 0},
		{`{"customerId":"c","amount":true}`, 0},
		{`{"customerId":["c"],"amount":[1]}`, 0},
		{`{"customerId":{"id":"c"},"amount":{"value":1}}`, 0},
		{`{"customerId":"c","amount":1,"x":{"y":[[[{}]]]}}`, 0},
		{`{"customerId":"c","amount":1,"x":` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + `}`, 0},
		{`{"customerId":"c","amount":` + strings.Repeat(`{"a":`, deep) + `1` + strings.Repeat("}", deep) + `}`, 0},
		{`{"customerId":"c","amount":1e999999999}`, 0},
		{`{"customerId":"c","amount":1e-999999999}`, 0},
		{`{"customerId":"c","amount":1` + strings.Repeat("0", 1000) + `e-1000}`, 0},
		{`{"customerId":"c","amount":0}`, 0},
		{`{"customerId":"c","amount":-0.01}`, 0},
		{`{"customerId":"c","amount":19.999}`, 0},
		{`{"customerId":"a","customerId":"b","amount":1}`, 0},
		{`{"customerId":"a","customer\u0049d":"b","amount":1}`, 0},
		{`{"customerId":"c","amount":1,"amount":2}`, 0},
		{`{"CustomerId":"c","amount":1}`, 0},
		{"{\"customerId\":\"\xff\",\"amount\":1}", 0},
		{"\xef\xbb\xbf{\"customerId\":\"c\",\"amount\":1}", 0},
		{"\xff\xfe{\x00}\x00", 0},
		{`{"customerId":"c","amount":1}{}`, 0},
		{`{"customerId":"c","amount":1,}`, 0},
		{`{"customerId":"c",`, 0},
		{`[{"customerId":"c","amount":1}]`, 0},
		{`null`, 0},
		{``, 0},
		{"\x00\x01\x02", 0},
		{`{"customerId":"c","amount":500,"currency":"JPY"}`, 0},
		{`{"customerId":"c","amount":19.5,"currency":"JPY"}`, 0},
		{`{"customerId":"c","amount":1.25,"currency":"kwd"}`, 0},
		{`{"customerId":"c","amount":999999999999.999,"currency":"KWD"}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"eur"}`, 3},
		{`{"customerId":"c","amount":19.99,"currency":null}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"XAU"}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"BOV"}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"XTS"}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":978}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"\u0045UR"}`, 0},
		{`{"customerId":"c","amount":19.99,"currency":"EUR","currency":"EUR"}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":"` + today + `"}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":"` + inFiveYears + `"}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":"` + yesterday + `"}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":null}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":"2026-13-01"}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":20261201}`, 0},
		{`{"customerId":"c","amount":19.99,"dueDate":"0001-01-01"}`, 0},
		{`{"customerId":"c","amount":5,"currency":"JPY","dueDate":"` + today + `"}`, 1},
	} {
		f.Add([]byte(seed.body), seed.contentType)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType byte) {
		ct := fuzzContentTypes[int(contentType)%len(fuzzContentTypes)]
		before := s.head(t)
		rec := s.do(t, http.MethodPost, "/invoices", string(body), "Content-Type: "+ct.header)
		moved := s.head(t) - before
		switch {
		case rec.Code == http.StatusCreated:
			if !ct.json {
				t.Fatalf("Content-Type %q: status 201, want 415", ct.header)
			}
			if moved != 1 {
				t.Fatalf("status 201 but the event-store head moved by %d, want 1", moved)
			}
			checkCreated(t, s, body, rec.Header().Get("Location"), rec.Body.Bytes())
		case rec.Code >= 400 && rec.Code < 500:
			if moved != 0 {
				t.Fatalf("status %d but the event-store head moved by %d, want 0", rec.Code, moved)
			}
			checkProblem(t, rec.Code, rec.Header(), rec.Body.Bytes())
			if want := !ct.json; (rec.Code == http.StatusUnsupportedMediaType) != want {
				t.Fatalf("Content-Type %q: status %d; 415 is right exactly when the type is not JSON", ct.header, rec.Code)
			}
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge && rec.Code != http.StatusUnsupportedMediaType {
				t.Fatalf("status %d, want 201, 400, 413 or 415; body %.300s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d, want 201 or a 4xx; body %.300s", rec.Code, rec.Body)
		}
	})
}

// checkCreated checks a 201 against an independent reading of the request
// body, and that GET of its Location shows the same invoice.
func checkCreated(t *testing.T, s *testServer, body []byte, location string, resp []byte) {
	t.Helper()
	keys, err := topLevelKeys(body)
	if err != nil {
		t.Fatalf("status 201 for a body that is not one JSON object: %v", err)
	}
	if keys["customerId"] != 1 || keys["amount"] != 1 || keys["currency"] > 1 || keys["dueDate"] > 1 ||
		len(keys) != 2+keys["currency"]+keys["dueDate"] {
		t.Fatalf("status 201 for top-level keys %v, want customerId and amount once each, currency and dueDate at most once", keys)
	}
	var in struct {
		CustomerID string          `json:"customerId"`
		Amount     json.RawMessage `json:"amount"`
		Currency   *string         `json:"currency"`
		DueDate    *string         `json:"dueDate"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatalf("status 201 for a body encoding/json rejects: %v", err)
	}
	wantCurrency := invoice.MustCurrency("EUR") // the test server's default
	if in.Currency != nil {
		if wantCurrency, err = invoice.ParseCurrency(*in.Currency); err != nil {
			t.Fatalf("status 201 for currency %q: %v", *in.Currency, err)
		}
	}
	wantAmount, err := invoice.ParseAmountIn(string(in.Amount), wantCurrency)
	if err != nil {
		t.Fatalf("status 201 for amount %.100s in %s: %v", in.Amount, wantCurrency, err)
	}
	wantDue := "null"
	if in.DueDate != nil {
		if _, err := invoice.ParseDate("dueDate", *in.DueDate); err != nil {
			t.Fatalf("status 201 for dueDate %q: %v", *in.DueDate, err)
		}
		wantDue = `"` + *in.DueDate + `"`
	}
	wantCustomer := strings.TrimSpace(in.CustomerID) // the domain trims customer ids
	// The fuzzer runs on SQLite only; this is what made PostgreSQL fail.
	if strings.ContainsRune(wantCustomer, 0) {
		t.Fatalf("status 201 for customerId %q: PostgreSQL cannot store NUL", wantCustomer)
	}

	created := decodeInvoice(t, "POST response", resp)
	if location != "/invoices/"+created.ID {
		t.Fatalf("Location = %q, want /invoices/%s", location, created.ID)
	}
	if in.DueDate != nil {
		due, _ := invoice.ParseDate("dueDate", *in.DueDate)
		if err := invoice.ValidateDueDate(due, created.CreatedAt); err != nil {
			t.Errorf("status 201 for dueDate %s, issued %s: %v", *in.DueDate, created.CreatedAt, err)
		}
	}
	got := s.do(t, http.MethodGet, location, "")
	if got.Code != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200 (Warning %q); body %s", location, got.Code, got.Header().Get("Warning"), got.Body)
	}
	read := decodeInvoice(t, "GET "+location, got.Body.Bytes())
	for _, v := range []struct {
		what string
		inv  invoiceJSON
	}{{"POST response", created}, {"GET " + location, read}} {
		if v.inv.CustomerID != wantCustomer {
			t.Errorf("%s customerId = %q, want %q", v.what, v.inv.CustomerID, wantCustomer)
		}
		// The exact bytes: the currency's minor unit of decimals.
		if a := string(v.inv.Amount); a != wantCurrency.Format(wantAmount) {
			t.Errorf("%s amount = %s, want %s (request %.100s)", v.what, a, wantCurrency.Format(wantAmount), in.Amount)
		}
		if v.inv.Currency != wantCurrency.Code() {
			t.Errorf("%s currency = %q, want %q", v.what, v.inv.Currency, wantCurrency.Code())
		}
		if d := dueJSON(v.inv.DueDate); d != wantDue {
			t.Errorf("%s dueDate = %s, want %s", v.what, d, wantDue)
		}
		if v.inv.Status != "pending" || v.inv.Version != 1 || v.inv.PaidAt != nil || v.inv.VoidedAt != nil || v.inv.VoidReason != nil {
			t.Errorf("%s = %+v, want a pending invoice at version 1", v.what, v.inv)
		}
	}
}

func dueJSON(d *string) string {
	if d == nil {
		return "null"
	}
	return `"` + *d + `"`
}

// checkProblem checks a 4xx answer is a complete problem document.
func checkProblem(t *testing.T, status int, h http.Header, body []byte) {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d: Content-Type = %q, want application/problem+json", status, ct)
	}
	var p problemJSON
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("status %d: problem %q does not decode: %v", status, body, err)
	}
	if !strings.HasPrefix(p.Type, "/problems/") || p.Title == "" || p.Detail == "" || p.Status != status {
		t.Fatalf("status %d: problem = %+v, want a /problems/ type, a title, a detail and status %d", status, p, status)
	}
	if p.RequestID == "" || p.RequestID != h.Get("X-Request-ID") {
		t.Fatalf("problem requestId %q does not match X-Request-ID %q", p.RequestID, h.Get("X-Request-ID"))
	}
	if p.Type == "/problems/validation" && len(p.Errors) == 0 {
		t.Fatalf("validation problem %+v lists no errors", p)
	}
	for _, fe := range p.Errors {
		if fe.Message == "" {
			t.Fatalf("validation problem %+v has an error without a message", p)
		}
	}
}

func decodeInvoice(t *testing.T, what string, b []byte) invoiceJSON {
	t.Helper()
	var v invoiceJSON
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %q does not decode: %v", what, b, err)
	}
	return v
}

// topLevelKeys counts the keys of the one JSON object in b, walking every
// token so it shares no code path with the handler's decoder.
func topLevelKeys(b []byte) (map[string]int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	keys := map[string]int{}
	depth := 0
	expectKey := false // the next token at depth 1 is a key
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth == 1 && tok != json.Delim('{') {
				return nil, errors.New("not an object")
			}
			expectKey = depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
		default:
			if depth == 1 && expectKey {
				keys[tok.(string)]++
				expectKey = false
				continue
			}
		}
		if depth == 1 {
			expectKey = true // a value at depth 1 ended
		}
		if depth == 0 && dec.More() {
			return nil, errors.New("data after the object")
		}
	}
	return keys, nil
}
