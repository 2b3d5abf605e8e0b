package invoice_test

import (
	"bytes"
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
	"invoice.created.v1.json": invoice.Created{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b", CustomerID: "cus_golden", Amount: 1999,
		CreatedAt: time.Date(2026, 11, 25, 9, 26, 53, 712793000, time.UTC),
	},
	"invoice.paid.v1.json": invoice.Paid{
		InvoiceID: "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b",
		PaidAt:    time.Date(2026, 11, 25, 10, 56, 53, 712793000, time.UTC),
	},
}

// goldenRegistry is the invoice codec as the service builds it.
func goldenRegistry(t *testing.T) *event.Registry {
	t.Helper()
	r, err := event.NewRegistry(invoice.Events()...)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = r.WithUpcasters(); err != nil {
		t.Fatal(err)
	}
	return r
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
			data, err := os.ReadFile(filepath.Join("testdata", "golden", file))
			if err != nil {
				t.Fatal(err)
			}
			data = bytes.TrimSuffix(data, []byte("\n"))
			got, err := r.Decode(want.EventName(), version, data)
			if err != nil {
				t.Fatalf("Decode(%s) error = %v", file, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
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
