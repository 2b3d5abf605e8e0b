package query_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/app/query"
	"invoices/domain/invoice"
	"invoices/ports"
)

func TestInvoiceHistory(t *testing.T) {
	// The created event as the current schema (2) writes it: the legacy
	// currency added, the amount with its decimals.
	createdV2 := `{"invoiceId":"7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b","customerId":"cus_golden","amount":19.99,"currency":"EUR","createdAt":"2026-11-25T09:26:53.712793Z"}`
	created := query.HistoryEvent{
		Position: 2, ID: "evt-2", Version: 1, Type: invoice.CreatedEventName, SchemaVersion: 1,
		Payload: []byte(createdV2), Metadata: goldenMetadata1, RecordedAt: goldenRecorded1,
	}
	paid := query.HistoryEvent{
		Position: 5, ID: "evt-5", Version: 2, Type: invoice.PaidEventName, SchemaVersion: 1,
		Payload: []byte(goldenPaid), Metadata: goldenMetadata2, RecordedAt: goldenRecorded2,
	}
	tests := []struct {
		name      string
		q         query.InvoiceHistory
		storeErr  error
		want      query.HistoryPage
		wantErr   error  // a sentinel, if set
		wantField string // a ValidationError's field, if set
	}{
		{name: "every event, default limit", q: query.InvoiceHistory{ID: goldenID}, want: query.HistoryPage{Events: []query.HistoryEvent{created, paid}}},
		{name: "first page of one", q: query.InvoiceHistory{ID: goldenID, Limit: 1}, want: query.HistoryPage{Events: []query.HistoryEvent{created}, Next: 1}},
		{name: "second page of one", q: query.InvoiceHistory{ID: goldenID, Limit: 1, After: 1}, want: query.HistoryPage{Events: []query.HistoryEvent{paid}}},
		{name: "a page that ends with the stream", q: query.InvoiceHistory{ID: goldenID, Limit: 2}, want: query.HistoryPage{Events: []query.HistoryEvent{created, paid}}},
		{name: "after the last version", q: query.InvoiceHistory{ID: goldenID, After: 2}, want: query.HistoryPage{Events: []query.HistoryEvent{}}},
		{name: "the largest limit", q: query.InvoiceHistory{ID: goldenID, Limit: query.MaxLimit}, want: query.HistoryPage{Events: []query.HistoryEvent{created, paid}}},
		{name: "unknown invoice", q: query.InvoiceHistory{ID: "inv-404"}, wantErr: ports.ErrNotFound},
		{name: "store unavailable", q: query.InvoiceHistory{ID: goldenID}, storeErr: ports.ErrUnavailable, wantErr: ports.ErrUnavailable},
		{name: "limit over the maximum", q: query.InvoiceHistory{ID: goldenID, Limit: query.MaxLimit + 1}, wantField: "limit"},
		{name: "negative limit", q: query.InvoiceHistory{ID: goldenID, Limit: -1}, wantField: "limit"},
		{name: "negative after", q: query.InvoiceHistory{ID: goldenID, After: -1}, wantField: "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := goldenEventStore()
			store.err = tt.storeErr
			h := query.NewInvoiceHistoryHandler(store, codec(t))

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
			case err != nil:
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Handle() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A payload the codec cannot read is an error naming the version, never
// shown raw as if it were the current schema.
func TestInvoiceHistoryRefusesAnUnreadablePayload(t *testing.T) {
	store := goldenEventStore()
	store.records = append(store.records, ports.RecordedEvent{
		Position: 6, ID: "evt-6", StreamID: goldenID, Version: 3, Type: "invoice.refunded", SchemaVersion: 1, Data: []byte(`{}`),
	})
	h := query.NewInvoiceHistoryHandler(store, codec(t))

	got, err := h.Handle(context.Background(), query.InvoiceHistory{ID: goldenID})

	if err == nil {
		t.Fatalf("Handle() = %+v, nil; want an error", got)
	}
}
