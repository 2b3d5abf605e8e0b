package invoice_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
)

// Stored history is forever: every payload a released version wrote must
// decode, with the same meaning, in every later one. testdata/golden holds
// one payload per event type and schema version, named TYPE.vN.json, as the
// code of that version wrote it (version 1's encoding has not changed since
// the first commit, fee3fed). Each decodes, upcast to the current schema,
// to the value here. A schema change adds a file for its new version beside
// the old ones and updates the values the old ones upcast to; it never
// edits a file.
var golden = map[string]event.Event{
	// Written before invoices had a currency: the registry reads it in the
	// legacy currency the event store recorded (goldenLegacy), with no due
	// date.
	"invoice.created.v1.json": invoice.Created{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b", CustomerID: "cus_golden", Amount: 199900,
		Currency:  goldenLegacy,
		CreatedAt: time.Date(2026, 11, 25, 9, 26, 53, 712793000, time.UTC),
	},
	"invoice.created.v2.json": invoice.Created{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b", CustomerID: "cus_golden", Amount: 12500,
		Currency: invoice.MustCurrency("KWD"), DueDate: date("2026-12-25"),
		CreatedAt: time.Date(2026, 11, 25, 9, 26, 53, 712793000, time.UTC),
	},
	"invoice.paid.v1.json": invoice.Paid{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b",
		PaidAt:    time.Date(2026, 11, 25, 10, 56, 53, 712793000, time.UTC),
	},
	"invoice.voided.v1.json": invoice.Voided{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b", Reason: "issued to the wrong customer",
		VoidedAt: time.Date(2026, 11, 26, 8, 0, 0, 500000000, time.UTC),
	},
}

// goldenLegacy is the currency the golden registry reads version 1
// invoices in, as the event store records it for a service whose
// DEFAULT_CURRENCY was EUR when it first migrated.
var goldenLegacy = invoice.MustCurrency("EUR")

// goldenRegistry is the invoice codec as the service builds it.
func goldenRegistry(t *testing.T) *event.Registry {
	t.Helper()
	r, err := invoice.NewCodec(goldenLegacy)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readGolden returns a golden file's payload without its final newline.
func readGolden(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", file))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(data, []byte("\n"))
}

// goldenVersion reads N from a file name TYPE.vN.json.
func goldenVersion(t *testing.T, file string) int {
	t.Helper()
	i := strings.LastIndex(file, ".v")
	v, err := strconv.Atoi(strings.TrimSuffix(file[i+2:], ".json"))
	if i < 0 || err != nil || v < 1 {
		t.Fatalf("golden file %s is not named TYPE.vN.json", file)
	}
	return v
}

func TestGoldenPayloadsDecode(t *testing.T) {
	r := goldenRegistry(t)
	for file, want := range golden {
		t.Run(file, func(t *testing.T) {
			version := goldenVersion(t, file)
			data := readGolden(t, file)
			got, err := r.Decode(want.EventName(), version, data)
			if err != nil {
				t.Fatalf("Decode(%s) error = %v", file, err)
			}
			if diff := cmp.Diff(want, got, eventOpts); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", file, diff)
			}
			if version != r.Version(want.EventName()) {
				return // an older version: today's code writes the current one
			}
			// Today's code still writes the same bytes, so a change to a
			// payload's encoding shows up here, not in production.
			_, again, err := r.Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Errorf("Encode(Decode(%s)) = %s, want the stored %s", file, again, data)
			}
		})
	}
}

// TestEveryEventTypeHasAGoldenPayload fails when an event type or a schema
// version is added without its golden file, and when a golden file is left
// without a test.
func TestEveryEventTypeHasAGoldenPayload(t *testing.T) {
	r := goldenRegistry(t)
	for _, e := range invoice.Events() {
		for v := 1; v <= r.Version(e.EventName()); v++ {
			file := fmt.Sprintf("%s.v%d.json", e.EventName(), v)
			if _, ok := golden[file]; !ok {
				t.Errorf("event %q version %d has no golden payload: add testdata/golden/%s and its entry in golden", e.EventName(), v, file)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, ok := golden[filepath.Base(f)]; !ok {
			t.Errorf("golden file %s is not checked: add it to golden", f)
		}
	}
}

// A version 1 invoice is in the legacy currency the registry was built
// with, and keeps its exact amount even where that currency has fewer
// decimals: 19.99 read as JPY stays 19.99, never rounded to 20, and is
// written back the same.
func TestVersion1InvoicesReadInTheLegacyCurrency(t *testing.T) {
	data := readGolden(t, "invoice.created.v1.json")
	hrk, err := invoice.StoredCurrency("HRK")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		legacy     invoice.Currency
		wantAmount string // the amount as version 2 writes it
	}{
		{invoice.MustCurrency("EUR"), "19.99"},
		{invoice.MustCurrency("JPY"), "19.99"},
		{invoice.MustCurrency("KWD"), "19.990"},
		{hrk, "19.99"}, // withdrawn since: the code still reads
	}
	for _, tt := range tests {
		t.Run(tt.legacy.Code(), func(t *testing.T) {
			r, err := invoice.NewCodec(tt.legacy)
			if err != nil {
				t.Fatalf("NewCodec(%s) error = %v", tt.legacy, err)
			}

			got, err := r.Decode(invoice.CreatedEventName, 1, data)

			if err != nil {
				t.Fatalf("Decode(v1) error = %v", err)
			}
			c, ok := got.(invoice.Created)
			if !ok {
				t.Fatalf("Decode(v1) = %T, want invoice.Created", got)
			}
			if c.Currency.Code() != tt.legacy.Code() {
				t.Errorf("Currency = %s, want the legacy %s", c.Currency, tt.legacy)
			}
			if c.Amount != 199900 {
				t.Errorf("Amount = %d (%s), want 199900 (19.99) exactly", c.Amount, c.Amount)
			}
			if !c.DueDate.IsZero() {
				t.Errorf("DueDate = %s, want none", c.DueDate)
			}
			_, again, err := r.Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := rawObject(t, again)["amount"]; got != tt.wantAmount {
				t.Errorf("re-encoded amount = %s, want %s (payload %s)", got, tt.wantAmount, again)
			}
			back, err := r.Decode(invoice.CreatedEventName, r.Version(invoice.CreatedEventName), again)
			if err != nil {
				t.Fatalf("Decode(Encode(v1)) error = %v", err)
			}
			if diff := cmp.Diff(got, back, eventOpts); diff != "" {
				t.Errorf("Decode(Encode(v1)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersion1UpcastFailures(t *testing.T) {
	tests := []struct {
		name   string
		legacy invoice.Currency
		data   string
		want   string
	}{
		{
			name:   "no legacy currency recorded",
			legacy: invoice.Currency{},
			data:   string(readGolden(t, "invoice.created.v1.json")),
			want:   "no legacy currency",
		},
		{
			// A version 1 payload never had one; one that does is not
			// version 1, and guessing which currency wins would be wrong.
			name:   "a version 1 payload with a currency",
			legacy: invoice.MustCurrency("EUR"),
			data:   `{"invoiceId":"inv-1","customerId":"c","amount":19.99,"currency":"USD","createdAt":"2026-11-25T09:26:53Z"}`,
			want:   "already has a currency",
		},
		{
			name:   "not an object",
			legacy: invoice.MustCurrency("EUR"),
			data:   `[]`,
			want:   "upcast from schema version 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := invoice.NewCodec(tt.legacy)
			if err != nil {
				t.Fatalf("NewCodec() error = %v", err)
			}

			got, err := r.Decode(invoice.CreatedEventName, 1, []byte(tt.data))

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode(v1) = %v, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}

// A version 2 payload must carry its currency: there is nothing to
// default it from.
func TestVersion2CreatedRequiresACurrency(t *testing.T) {
	r := goldenRegistry(t)
	_, err := r.Decode(invoice.CreatedEventName, 2,
		[]byte(`{"invoiceId":"inv-1","customerId":"c","amount":19.99,"createdAt":"2026-11-25T09:26:53Z"}`))
	if err == nil || !strings.Contains(err.Error(), "currency") {
		t.Errorf("Decode(v2 without a currency) error = %v, want one naming the currency", err)
	}
}

// Version 2 writes the amount with its currency's minor unit, and omits a
// due date there is none of.
func TestCreatedV2Encoding(t *testing.T) {
	r := goldenRegistry(t)
	at := time.Date(2026, 11, 25, 9, 26, 53, 0, time.UTC)
	tests := []struct {
		name string
		in   invoice.Created
		want map[string]string
	}{
		{
			name: "EUR without a due date",
			in:   invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 50000, Currency: invoice.MustCurrency("EUR"), CreatedAt: at},
			want: map[string]string{
				"invoiceId": `"inv-1"`, "customerId": `"c"`, "amount": "5.00", "currency": `"EUR"`,
				"createdAt": `"2026-11-25T09:26:53Z"`,
			},
		},
		{
			name: "JPY with a due date",
			in: invoice.Created{
				InvoiceID: "inv-1", CustomerID: "c", Amount: 5_000_000, Currency: invoice.MustCurrency("JPY"),
				DueDate: date("2027-01-31"), CreatedAt: at,
			},
			want: map[string]string{
				"invoiceId": `"inv-1"`, "customerId": `"c"`, "amount": "500", "currency": `"JPY"`,
				"dueDate": `"2027-01-31"`, "createdAt": `"2026-11-25T09:26:53Z"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, data, err := r.Encode(tt.in)
			if err != nil {
				t.Fatalf("Encode() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, rawObject(t, data)); diff != "" {
				t.Errorf("Encode() payload mismatch (-want +got):\n%s\ngot %s", diff, data)
			}
			got, err := r.Decode(invoice.CreatedEventName, invoice.CreatedSchemaVersion, data)
			if err != nil {
				t.Fatalf("Decode(Encode()) error = %v", err)
			}
			if diff := cmp.Diff(event.Event(tt.in), got, eventOpts); diff != "" {
				t.Errorf("Decode(Encode()) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// rawObject splits a JSON object into its keys and exact raw values.
func rawObject(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("payload %s is not a JSON object: %v", data, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
