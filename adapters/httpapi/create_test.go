package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/adapters/store/storetest"
)

// TestCreateCurrencies is the table of currencies on POST /invoices: a 201
// writes the amount with exactly the currency's minor unit of decimals (the
// raw JSON bytes, never a float's reading of them) and the upper-case code,
// and GET of the invoice answers the same; a refused currency or an amount
// the currency cannot hold is a 400 naming the field, storing nothing.
func TestCreateCurrencies(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		tests := []struct {
			name         string
			fields       string // the body after customerId
			wantAmount   string // the raw JSON of a 201's amount
			wantCurrency string
			wantField    string // a 400 names this field
			wantMessage  string // and, when set, with this message
		}{
			{name: "EUR", fields: `"amount":19.99,"currency":"EUR"`, wantAmount: `19.99`, wantCurrency: "EUR"},
			{name: "EUR whole amount gets its cents", fields: `"amount":5,"currency":"EUR"`, wantAmount: `5.00`, wantCurrency: "EUR"},
			{name: "EUR one decimal", fields: `"amount":0.5,"currency":"EUR"`, wantAmount: `0.50`, wantCurrency: "EUR"},
			{name: "EUR largest", fields: `"amount":999999999999.99,"currency":"EUR"`, wantAmount: `999999999999.99`, wantCurrency: "EUR"},
			{name: "EUR three decimals", fields: `"amount":19.999,"currency":"EUR"`, wantField: "amount",
				wantMessage: "must have at most 2 decimal places (EUR)"},
			{name: "EUR trailing zero decimal beyond its minor unit", fields: `"amount":19.990,"currency":"EUR"`, wantAmount: `19.99`, wantCurrency: "EUR"},
			{name: "EUR too large", fields: `"amount":1000000000000,"currency":"EUR"`, wantField: "amount",
				wantMessage: "must be at most 999999999999.99 (EUR)"},

			{name: "JPY", fields: `"amount":500,"currency":"JPY"`, wantAmount: `500`, wantCurrency: "JPY"},
			{name: "JPY exponent", fields: `"amount":1e2,"currency":"JPY"`, wantAmount: `100`, wantCurrency: "JPY"},
			{name: "JPY zero fraction", fields: `"amount":500.0,"currency":"JPY"`, wantAmount: `500`, wantCurrency: "JPY"},
			{name: "JPY largest", fields: `"amount":999999999999,"currency":"JPY"`, wantAmount: `999999999999`, wantCurrency: "JPY"},
			{name: "JPY with decimals", fields: `"amount":19.5,"currency":"JPY"`, wantField: "amount",
				wantMessage: "must be a whole number (the currency has no minor unit) (JPY)"},

			{name: "KWD", fields: `"amount":1.25,"currency":"KWD"`, wantAmount: `1.250`, wantCurrency: "KWD"},
			{name: "KWD three decimals", fields: `"amount":0.001,"currency":"KWD"`, wantAmount: `0.001`, wantCurrency: "KWD"},
			{name: "KWD largest", fields: `"amount":999999999999.999,"currency":"KWD"`, wantAmount: `999999999999.999`, wantCurrency: "KWD"},
			{name: "KWD four decimals", fields: `"amount":1.2345,"currency":"KWD"`, wantField: "amount",
				wantMessage: "must have at most 3 decimal places (KWD)"},

			{name: "lower case", fields: `"amount":19.99,"currency":"eur"`, wantAmount: `19.99`, wantCurrency: "EUR"},
			{name: "mixed case", fields: `"amount":1.25,"currency":"kWd"`, wantAmount: `1.250`, wantCurrency: "KWD"},
			{name: "absent is the default", fields: `"amount":19.99`, wantAmount: `19.99`, wantCurrency: "EUR"},
			{name: "absent, whole amount", fields: `"amount":5`, wantAmount: `5.00`, wantCurrency: "EUR"},
			{name: "absent, the default's decimals apply", fields: `"amount":1.001`, wantField: "amount",
				wantMessage: "must have at most 2 decimal places (EUR)"},
			{name: "null is the default", fields: `"amount":5,"currency":null`, wantAmount: `5.00`, wantCurrency: "EUR"},

			{name: "not ISO 4217", fields: `"amount":19.99,"currency":"XYZ"`, wantField: "currency"},
			{name: "gold", fields: `"amount":19.99,"currency":"XAU"`, wantField: "currency"},
			{name: "testing code", fields: `"amount":19.99,"currency":"XTS"`, wantField: "currency"},
			{name: "no currency code", fields: `"amount":19.99,"currency":"XXX"`, wantField: "currency"},
			{name: "fund", fields: `"amount":19.99,"currency":"BOV"`, wantField: "currency"},
			{name: "another fund", fields: `"amount":19.99,"currency":"CLF"`, wantField: "currency"},
			{name: "four letters", fields: `"amount":19.99,"currency":"EURO"`, wantField: "currency"},
			{name: "two letters", fields: `"amount":19.99,"currency":"EU"`, wantField: "currency"},
			{name: "empty", fields: `"amount":19.99,"currency":""`, wantField: "currency"},
			{name: "padded", fields: `"amount":19.99,"currency":" EUR"`, wantField: "currency"},
			{name: "digits", fields: `"amount":19.99,"currency":"978"`, wantField: "currency"},
			{name: "a number", fields: `"amount":19.99,"currency":978`, wantField: "currency"},
			{name: "a boolean", fields: `"amount":19.99,"currency":true`, wantField: "currency"},
			{name: "an array", fields: `"amount":19.99,"currency":["EUR"]`, wantField: "currency"},
			{name: "an object", fields: `"amount":19.99,"currency":{"code":"EUR"}`, wantField: "currency"},
			{name: "repeated", fields: `"amount":19.99,"currency":"EUR","currency":"JPY"`, wantField: "currency"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := `{"customerId":"cus_1",` + tt.fields + `}`
				before := s.head(t)
				rec := s.do(t, http.MethodPost, "/invoices", body)
				if tt.wantField != "" {
					p := checkProblemResponse(t, rec, http.StatusBadRequest, "/problems/validation", tt.wantField)
					if msg, _ := fieldMessage(p, tt.wantField); tt.wantMessage != "" && msg != tt.wantMessage {
						t.Errorf("%s message = %q, want %q", tt.wantField, msg, tt.wantMessage)
					}
					if h := s.head(t); h != before {
						t.Errorf("a refused create moved the event-store head from %d to %d", before, h)
					}
					return
				}
				if rec.Code != http.StatusCreated {
					t.Fatalf("status = %d, want 201; body %s", rec.Code, rec.Body)
				}
				created := decode[invoiceJSON](t, rec)
				if got := string(created.Amount); got != tt.wantAmount {
					t.Errorf("amount = %s, want %s; body %s", got, tt.wantAmount, rec.Body)
				}
				if created.Currency != tt.wantCurrency {
					t.Errorf("currency = %q, want %q", created.Currency, tt.wantCurrency)
				}
				get := s.do(t, http.MethodGet, "/invoices/"+created.ID, "")
				if get.Code != http.StatusOK {
					t.Fatalf("GET: status %d; body %s", get.Code, get.Body)
				}
				read := decode[invoiceJSON](t, get)
				if string(read.Amount) != tt.wantAmount || read.Currency != tt.wantCurrency {
					t.Errorf("GET amount %s %s, want %s %s", read.Amount, read.Currency, tt.wantAmount, tt.wantCurrency)
				}
				if diff := cmp.Diff(rec.Body.String(), get.Body.String()); diff != "" {
					t.Errorf("GET differs from the 201 body (-201 +GET):\n%s", diff)
				}
			})
		}
		// Both the bad currency and the bad amount are reported together.
		p := decode[problemJSON](t, s.do(t, http.MethodPost, "/invoices", `{"customerId":"c","amount":0,"currency":"XYZ"}`))
		for _, f := range []string{"amount", "currency"} {
			if _, ok := fieldMessage(p, f); !ok {
				t.Errorf("errors %+v do not name %s", p.Errors, f)
			}
		}
	})
}

// TestCreateDueDates is the table of due dates on POST /invoices, at an
// issue time late in a UTC day (a client east of UTC is already on the
// next day there): the due date is a YYYY-MM-DD string from the UTC issue
// date to five years after it, or absent, which answers null.
func TestCreateDueDates(t *testing.T) {
	issued := time.Date(2026, 6, 15, 23, 30, 0, 0, time.UTC)
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{clock: newFixedClock(issued).Now})
		tests := []struct {
			name      string
			field     string // the dueDate member, "" for none
			want      string // a 201's raw dueDate JSON
			wantField string // a 400 names this field
		}{
			{name: "absent", want: `null`},
			{name: "null", field: `"dueDate":null`, want: `null`},
			{name: "the issue date", field: `"dueDate":"2026-06-15"`, want: `"2026-06-15"`},
			{name: "the next day", field: `"dueDate":"2026-06-16"`, want: `"2026-06-16"`},
			{name: "five years on", field: `"dueDate":"2031-06-15"`, want: `"2031-06-15"`},
			{name: "the day before the issue date", field: `"dueDate":"2026-06-14"`, wantField: "dueDate"},
			{name: "five years and a day on", field: `"dueDate":"2031-06-16"`, wantField: "dueDate"},
			{name: "month 13", field: `"dueDate":"2026-13-01"`, wantField: "dueDate"},
			{name: "unpadded month", field: `"dueDate":"2026-1-01"`, wantField: "dueDate"},
			{name: "February 30", field: `"dueDate":"2027-02-30"`, wantField: "dueDate"},
			{name: "a time too", field: `"dueDate":"2026-12-01T00:00:00Z"`, wantField: "dueDate"},
			{name: "day first", field: `"dueDate":"01-12-2026"`, wantField: "dueDate"},
			{name: "empty", field: `"dueDate":""`, wantField: "dueDate"},
			{name: "a number", field: `"dueDate":20261201`, wantField: "dueDate"},
			{name: "an object", field: `"dueDate":{"year":2026}`, wantField: "dueDate"},
			{name: "repeated", field: `"dueDate":"2026-12-01","dueDate":"2026-12-02"`, wantField: "dueDate"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				body := `{"customerId":"c","amount":10`
				if tt.field != "" {
					body += "," + tt.field
				}
				body += "}"
				before := s.head(t)
				rec := s.do(t, http.MethodPost, "/invoices", body)
				if tt.wantField != "" {
					checkProblemResponse(t, rec, http.StatusBadRequest, "/problems/validation", tt.wantField)
					if h := s.head(t); h != before {
						t.Errorf("a refused create moved the event-store head from %d to %d", before, h)
					}
					return
				}
				if rec.Code != http.StatusCreated {
					t.Fatalf("status = %d, want 201; body %s", rec.Code, rec.Body)
				}
				if !strings.Contains(rec.Body.String(), `,"dueDate":`+tt.want+`,`) {
					t.Errorf("body %s does not hold \"dueDate\":%s", rec.Body, tt.want)
				}
				created := decode[invoiceJSON](t, rec)
				if !created.CreatedAt.Equal(issued) {
					t.Errorf("createdAt = %s, want the clock's %s", created.CreatedAt, issued)
				}
				get := s.do(t, http.MethodGet, "/invoices/"+created.ID, "")
				if diff := cmp.Diff(rec.Body.String(), get.Body.String()); get.Code != http.StatusOK || diff != "" {
					t.Errorf("GET: status %d, differs from the 201 body (-201 +GET):\n%s", get.Code, diff)
				}
			})
		}
	})
}
