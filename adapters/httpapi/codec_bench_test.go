package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"invoices/domain/invoice"
	"invoices/ports"
)

// Request decode and response encode, the CPU work of POST /invoices and
// GET /invoices around the stores. The request, its body reader and the
// recorder are built once; each op rewinds the body, as a new request would
// arrive with a fresh one.
//
//	go test -run '^$' -bench 'BenchmarkDecodeCreate|BenchmarkEncode' -benchmem ./adapters/httpapi/

// rewindBody is a request body that can be replayed without allocating.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// benchCreateRequest returns a POST /invoices request carrying body and a
// function that rewinds it for the next op.
func benchCreateRequest(body []byte) (*http.Request, func()) {
	rb := &rewindBody{}
	rb.Reset(body)
	r := httptest.NewRequest(http.MethodPost, "/invoices", rb)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(body))
	return r, func() { rb.Reset(body) }
}

// unknownKeysBody is a valid create body plus n keys the API does not know.
func unknownKeysBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"customerId":"cus_123","amount":19.99`)
	for i := range n {
		fmt.Fprintf(&sb, `,"extra%02d":%d`, i, i)
	}
	sb.WriteString("}")
	return []byte(sb.String())
}

func BenchmarkDecodeCreate(b *testing.B) {
	const maxBytes = 1 << 20
	eur := invoice.MustCurrency("EUR")
	b.Run("valid", func(b *testing.B) {
		body := []byte(`{"customerId":"cus_123","amount":19.99}`)
		r, rewind := benchCreateRequest(body)
		w := httptest.NewRecorder()
		got, err := decodeCreate(r, w, maxBytes, eur)
		want := createInput{CustomerID: "cus_123", Terms: invoice.Terms{Amount: 199900, Currency: eur}}
		if err != nil || got != want {
			b.Fatalf("decodeCreate(%s) = %+v, %v; want %+v, nil", body, got, err, want)
		}
		b.ReportAllocs()
		for b.Loop() {
			rewind()
			if _, err := decodeCreate(r, w, maxBytes, eur); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unknown-keys=20", func(b *testing.B) {
		body := unknownKeysBody(20)
		r, rewind := benchCreateRequest(body)
		w := httptest.NewRecorder()
		_, err := decodeCreate(r, w, maxBytes, eur)
		var pe *problemError
		if !errors.As(err, &pe) || len(pe.p.Errors) != 20 {
			b.Fatalf("decodeCreate(20 unknown keys) error = %v, want a problem listing 20 fields", err)
		}
		b.ReportAllocs()
		for b.Loop() {
			rewind()
			if _, err := decodeCreate(r, w, maxBytes, eur); err == nil {
				b.Fatal("decodeCreate accepted unknown keys")
			}
		}
	})
}

// benchViews returns n read-model invoices; every other one is paid, as a
// page of a live list would mix them.
func benchViews(n int) []ports.InvoiceView {
	created := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)
	eur := invoice.MustCurrency("EUR")
	views := make([]ports.InvoiceView, n)
	for i := range views {
		at := created.Add(time.Duration(i) * time.Second)
		v := ports.InvoiceView{
			ID:         fmt.Sprintf("0b6f1d4e-8a63-4b8c-9e57-%012d", i),
			CustomerID: fmt.Sprintf("cus_%06d", i),
			Amount:     invoice.Amount((1999 + i*101) * 100), // whole cents, as EUR requires
			Currency:   eur,
			Status:     invoice.StatusPending,
			Version:    1,
			Seq:        int64(n - i),
			CreatedAt:  at,
			UpdatedAt:  at,
		}
		if i%2 == 1 {
			paidAt := at.Add(5 * time.Minute)
			v.Status, v.Version, v.UpdatedAt, v.PaidAt = invoice.StatusPaid, 2, paidAt, &paidAt
		}
		views[i] = v
	}
	return views
}

// BenchmarkEncodeInvoice is the body of GET /invoices/{id} and of the 201/200
// answers to create and pay as the handlers write it ("append"), beside
// json.Marshal of the documented DTO, which gin's c.JSON would run.
func BenchmarkEncodeInvoice(b *testing.B) {
	v := benchViews(2)[1] // a paid one: every field, PaidAt included, is written
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = invoiceJSON(v)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(invoiceResponse(v)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeInvoicePage is the body of GET /invoices at the default
// limit of 100, as listInvoices writes it and as json.Marshal would.
func BenchmarkEncodeInvoicePage(b *testing.B) {
	views := benchViews(100)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendInvoices(make([]byte, 0, invoiceJSONSize*len(views)+2), views)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out := make([]InvoiceResponse, len(views))
			for i, v := range views {
				out[i] = invoiceResponse(v)
			}
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
