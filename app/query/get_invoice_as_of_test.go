package query_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/query"
	"invoices/domain/invoice"
	"invoices/ports"
)

// The golden invoice, created at schema version 1 and paid, read as of each
// of its versions and of times around them.
func TestGetInvoiceAsOf(t *testing.T) {
	pending := ports.InvoiceView{
		ID: goldenID, CustomerID: "cus_golden", Amount: 199900, Currency: invoice.MustCurrency("EUR"),
		Status: invoice.StatusPending, Version: 1, Seq: 2, CreatedAt: goldenCreatedAt, UpdatedAt: goldenCreatedAt,
	}
	paid := pending
	paid.Status, paid.Version, paid.UpdatedAt, paid.PaidAt = invoice.StatusPaid, 2, goldenPaidAt, &goldenPaidAt
	now := goldenRecorded2.Add(time.Hour)
	tests := []struct {
		name      string
		q         query.GetInvoiceAsOf
		storeErr  error
		want      ports.InvoiceView
		wantErr   error  // a sentinel, if set
		wantField string // a ValidationError's field, if set
	}{
		{name: "version 1, upcast from schema version 1", q: query.GetInvoiceAsOf{ID: goldenID, Version: 1}, want: pending},
		{name: "version 2", q: query.GetInvoiceAsOf{ID: goldenID, Version: 2}, want: paid},
		{name: "neither: the latest", q: query.GetInvoiceAsOf{ID: goldenID}, want: paid},
		{name: "the time version 1 was recorded", q: query.GetInvoiceAsOf{ID: goldenID, At: goldenRecorded1}, want: pending},
		{name: "between the versions", q: query.GetInvoiceAsOf{ID: goldenID, At: goldenRecorded2.Add(-time.Microsecond)}, want: pending},
		{name: "the time version 2 was recorded", q: query.GetInvoiceAsOf{ID: goldenID, At: goldenRecorded2}, want: paid},
		{
			name: "in another zone", q: query.GetInvoiceAsOf{ID: goldenID, At: goldenRecorded1.In(time.FixedZone("UTC+9", 9*3600))},
			want: pending,
		},
		{name: "now", q: query.GetInvoiceAsOf{ID: goldenID, At: now}, want: paid},
		{name: "before it was created", q: query.GetInvoiceAsOf{ID: goldenID, At: goldenRecorded1.Add(-time.Microsecond)}, wantErr: ports.ErrNoSuchVersion},
		{name: "a version it has not reached", q: query.GetInvoiceAsOf{ID: goldenID, Version: 3}, wantErr: ports.ErrNoSuchVersion},
		{name: "unknown invoice", q: query.GetInvoiceAsOf{ID: "inv-404", Version: 1}, wantErr: ports.ErrNotFound},
		{name: "unknown invoice, latest", q: query.GetInvoiceAsOf{ID: "inv-404"}, wantErr: ports.ErrNotFound},
		{name: "store unavailable", q: query.GetInvoiceAsOf{ID: goldenID, Version: 1}, storeErr: ports.ErrUnavailable, wantErr: ports.ErrUnavailable},
		{name: "both a version and a time", q: query.GetInvoiceAsOf{ID: goldenID, Version: 1, At: goldenRecorded1}, wantField: "asOf"},
		{name: "a negative version", q: query.GetInvoiceAsOf{ID: goldenID, Version: -1}, wantField: "asOfVersion"},
		{name: "in the future", q: query.GetInvoiceAsOf{ID: goldenID, At: now.Add(time.Microsecond)}, wantField: "asOf"},
		{name: "in the future, unknown invoice", q: query.GetInvoiceAsOf{ID: "inv-404", At: now.Add(time.Hour)}, wantField: "asOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := goldenEventStore()
			store.err = tt.storeErr
			h := query.NewGetInvoiceAsOfHandler(store, codec(t), func() time.Time { return now })

			got, err := h.Handle(context.Background(), tt.q)

			switch {
			case tt.wantField != "":
				var ve *invoice.ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.wantField {
					t.Fatalf("Handle() error = %v, want a ValidationError for %q", err, tt.wantField)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Handle() error = %v, want errors.Is %v", err, tt.wantErr)
				}
				// An unknown invoice is not "no such version": the 404s
				// say different things.
				if !errors.Is(tt.wantErr, ports.ErrNoSuchVersion) && errors.Is(err, ports.ErrNoSuchVersion) {
					t.Errorf("Handle() error = %v, want no ErrNoSuchVersion", err)
				}
			case err != nil:
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, viewOpts); diff != "" {
				t.Errorf("Handle() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A stream the fold refuses (here one that does not begin with its
// creation) is an error, not a made-up invoice.
func TestGetInvoiceAsOfRefusesACorruptStream(t *testing.T) {
	store := &memEvents{records: []ports.RecordedEvent{
		{Position: 1, ID: "evt-1", StreamID: goldenID, Version: 1, Type: invoice.PaidEventName, SchemaVersion: 1, Data: []byte(goldenPaid)},
	}}
	h := query.NewGetInvoiceAsOfHandler(store, codec(t), time.Now)

	got, err := h.Handle(context.Background(), query.GetInvoiceAsOf{ID: goldenID, Version: 1})

	if err == nil {
		t.Fatalf("Handle() = %+v, nil; want an error", got)
	}
	if errors.Is(err, ports.ErrNotFound) {
		t.Errorf("Handle() error = %v, want it not to be a not-found", err)
	}
}
