package httpapi

import (
	"encoding/json"
	"strings"
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
	// Amounts in ten-thousandths: a fraction of the smallest minor unit, one
	// cent, a whole unit, and the largest any currency holds.
	amounts := []invoice.Amount{0, 1, 10, 100, 10000, 199900, 12500, invoice.MaxAmount}
	// Each minor unit an invoice can have: 2 (EUR), 0 (JPY), 3 (KWD), and
	// unknown, for a code ISO withdrew after invoices were stored in it.
	withdrawn, err := invoice.StoredCurrency("DEM")
	if err != nil {
		t.Fatal(err)
	}
	currencies := []invoice.Currency{
		invoice.MustCurrency("EUR"), invoice.MustCurrency("JPY"), invoice.MustCurrency("KWD"), withdrawn,
	}
	dues := []invoice.Date{{}, mustDate(t, "2026-12-31"), mustDate(t, "0001-01-02"), mustDate(t, "9999-12-31")}
	reasons := append([]string{""}, customers...)
	var views []ports.InvoiceView
	for i, c := range customers {
		v := ports.InvoiceView{
			ID: "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", CustomerID: c, Amount: amounts[i%len(amounts)],
			Currency: currencies[i%len(currencies)], DueDate: dues[i%len(dues)],
			Status: invoice.StatusPending, Version: 1, Seq: int64(i + 1),
			CreatedAt: times[i%len(times)], UpdatedAt: times[(i+1)%len(times)],
		}
		views = append(views, v)
		paid := v
		paid.Status, paid.Version, paid.PaidAt = invoice.StatusPaid, 2, &paidAt
		views = append(views, paid)
		void := v
		void.Status, void.Version, void.VoidedAt, void.VoidReason = invoice.StatusVoid, 2, &paidAt, reasons[i%len(reasons)]
		views = append(views, void)
	}
	// Every currency with every amount, so each minor unit meets each
	// number of decimals an amount can need.
	for _, cur := range currencies {
		for _, a := range amounts {
			views = append(views, ports.InvoiceView{ID: "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", CustomerID: "c",
				Amount: a, Currency: cur, Status: invoice.StatusPending, Version: 1, CreatedAt: times[0], UpdatedAt: times[0]})
		}
	}
	// The fields that are not plain strings, pinned once as the API
	// documents them, so both encoders cannot drift together.
	for _, tt := range []struct {
		v    ports.InvoiceView
		want []string
	}{
		{ports.InvoiceView{Amount: 50000, Currency: currencies[0]}, []string{`"amount":5.00,`, `"currency":"EUR",`, `"dueDate":null,`, `"voidedAt":null,`, `"voidReason":null}`}},
		{ports.InvoiceView{Amount: 5000000, Currency: currencies[1], DueDate: dues[1]}, []string{`"amount":500,`, `"currency":"JPY",`, `"dueDate":"2026-12-31",`}},
		{ports.InvoiceView{Amount: 12500, Currency: currencies[2], Status: invoice.StatusVoid, VoidedAt: &paidAt, VoidReason: "issued in error"},
			[]string{`"amount":1.250,`, `"currency":"KWD",`, `"status":"void","paid":false,`, `"voidedAt":"2026-11-25T20:05:00Z","voidReason":"issued in error"}`}},
		{ports.InvoiceView{Amount: 10000, Currency: withdrawn}, []string{`"amount":1,`, `"currency":"DEM",`}},
	} {
		got := string(appendInvoice(nil, tt.v))
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("appendInvoice(%+v) = %s, want it to hold %s", tt.v, got, w)
			}
		}
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
	f.Add("cus_1", int64(199900), int64(1764100800), int64(123456000), 0, byte(1), "EUR", 0, "")
	f.Add("<\u2028\xff\"\\", int64(0), int64(0), int64(0), -3600, byte(0), "JPY", 20000, "")
	f.Add("c", int64(12500), int64(1764100800), int64(1), 7200, byte(2), "kwd", -1, "issued <in> error\u2028")
	f.Add("c", int64(10001), int64(0), int64(0), 0, byte(2), "DEM", 1, "\xff")
	f.Fuzz(func(t *testing.T, customer string, units, unix, nanos int64, offset int, state byte, code string, dueDays int, reason string) {
		at := time.Unix(unix%253402300800, nanos%1e9).In(time.FixedZone("z", offset%86400))
		if at.Year() < 0 || at.Year() > 9999 {
			t.Skip() // time.Time's MarshalJSON refuses these; the store never holds them
		}
		cur, err := invoice.StoredCurrency(strings.ToUpper(code))
		if err != nil {
			t.Skip() // the read model holds only codes it could parse
		}
		v := ports.InvoiceView{
			ID: "0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21", CustomerID: customer, Amount: invoice.Amount(max(units, -units, 0)),
			Currency: cur, Status: invoice.StatusPending, Version: 1, CreatedAt: at, UpdatedAt: at,
		}
		if dueDays != 0 {
			due := invoice.DateOf(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, dueDays%2_000_000))
			if y := due.Time().Year(); y < 1 || y > 9999 {
				t.Skip()
			}
			v.DueDate = due
		}
		switch state % 3 {
		case 1:
			v.Status, v.Version, v.PaidAt = invoice.StatusPaid, 2, &at
		case 2:
			v.Status, v.Version, v.VoidedAt, v.VoidReason = invoice.StatusVoid, 2, &at, reason
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

func mustDate(t testing.TB, s string) invoice.Date {
	t.Helper()
	d, err := invoice.ParseDate("date", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
