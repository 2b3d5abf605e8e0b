package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"invoices/domain/invoice"
	"invoices/ports"
)

// appendInvoice must write exactly what json.Marshal writes for the
// documented InvoiceResponse, for every string a customer id can hold once
// stored (the API rejects control characters, but a read model filled by
// another version or by hand might not).
func TestAppendInvoiceMatchesEncodingJSON(t *testing.T) {
	paidAt := time.Date(2026, 11, 25, 20, 5, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	customers := []string{
		"cus_1", "", `quote"d`, `back\slash`, "<script>&amp;", "line\u2028sep\u2029", "tab\tnew\nline",
		"del\x7f", "invalid\xffutf8", "emoji 🧾", "ünïcödé", string(make([]byte, 3)),
	}
	times := []time.Time{
		time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC),           // no fraction
		time.Date(2026, 11, 25, 20, 0, 0, 123456000, time.UTC),   // microseconds
		time.Date(2026, 11, 25, 20, 0, 0, 100000000, time.UTC),   // trailing zeros trimmed
		time.Date(2026, 11, 25, 20, 0, 0, 1, berlin),             // nanoseconds, an offset
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),                 // the zero year
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), // the last representable
	}
	amounts := []invoice.Amount{0, 1, 10, 100, 1999, 99999999999999}
	var views []ports.InvoiceView
	for i, c := range customers {
		v := ports.InvoiceView{
			ID: "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", CustomerID: c, Amount: amounts[i%len(amounts)],
			Status: invoice.StatusPending, Version: 1, Seq: int64(i + 1),
			CreatedAt: times[i%len(times)], UpdatedAt: times[(i+1)%len(times)],
		}
		views = append(views, v)
		v.Status, v.Version, v.PaidAt = invoice.StatusPaid, 2, &paidAt
		views = append(views, v)
	}
	for _, v := range views {
		want, err := json.Marshal(invoiceResponse(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendInvoice(nil, v); string(got) != string(want) {
			t.Errorf("appendInvoice(%+v)\n got %s\nwant %s", v, got, want)
		}
	}
	for _, page := range [][]ports.InvoiceView{{}, views[:1], views} {
		out := make([]InvoiceResponse, len(page))
		for i, v := range page {
			out[i] = invoiceResponse(v)
		}
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendInvoices(nil, page); string(got) != string(want) {
			t.Errorf("appendInvoices(%d invoices)\n got %s\nwant %s", len(page), got, want)
		}
	}
}

func FuzzAppendInvoice(f *testing.F) {
	f.Add("cus_1", int64(1999), int64(1764100800), int64(123456000), 0, true)
	f.Add("<\u2028\xff\"\\", int64(0), int64(0), int64(0), -3600, false)
	f.Fuzz(func(t *testing.T, customer string, cents, unix, nanos int64, offset int, paid bool) {
		at := time.Unix(unix%253402300800, nanos%1e9).In(time.FixedZone("z", offset%86400))
		if at.Year() < 0 || at.Year() > 9999 {
			t.Skip() // time.Time's MarshalJSON refuses these; the store never holds them
		}
		v := ports.InvoiceView{
			ID: "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", CustomerID: customer, Amount: invoice.Amount(max(cents, -cents, 0)),
			Status: invoice.StatusPending, Version: 1, CreatedAt: at, UpdatedAt: at,
		}
		if paid {
			v.Status, v.Version, v.PaidAt = invoice.StatusPaid, 2, &at
		}
		want, err := json.Marshal(invoiceResponse(v))
		if err != nil {
			t.Skip()
		}
		if got := appendInvoice(nil, v); string(got) != string(want) {
			t.Errorf("appendInvoice\n got %s\nwant %s", got, want)
		}
	})
}
