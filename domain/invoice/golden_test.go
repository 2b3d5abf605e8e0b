package invoice_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
)

// Stored history is forever: every payload a released version wrote must
// decode, with the same meaning, in every later one. testdata/golden holds
// one payload per event type as the released code writes it (the encoding
// has not changed since the first commit, fee3fed), named TYPE.vN.json. A
// schema change adds a file for its new version beside the old ones, never
// edits one.
var golden = map[string]event.Event{
	"invoice.created.v1.json": invoice.Created{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b", CustomerID: "cus_golden", Amount: 1999,
		CreatedAt: time.Date(2026, 11, 25, 9, 26, 53, 712793000, time.UTC),
	},
	"invoice.paid.v1.json": invoice.Paid{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b",
		PaidAt:    time.Date(2026, 11, 25, 10, 56, 53, 712793000, time.UTC),
	},
}

func TestGoldenPayloadsDecode(t *testing.T) {
	r, err := event.NewRegistry(invoice.Events()...)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range golden {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "golden", file))
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.TrimSuffix(data, []byte("\n"))
			got, err := r.Decode(want.EventName(), data)
			if err != nil {
				t.Fatalf("Decode(%s) error = %v", file, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", file, diff)
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

// TestEveryEventTypeHasAGoldenPayload fails when an event type is added
// without a golden file, and when a golden file is left without a test.
func TestEveryEventTypeHasAGoldenPayload(t *testing.T) {
	for _, e := range invoice.Events() {
		file := e.EventName() + ".v1.json"
		if _, ok := golden[file]; !ok {
			t.Errorf("event %q has no golden payload: add testdata/golden/%s and its entry in golden", e.EventName(), file)
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
