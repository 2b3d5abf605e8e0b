package query_test

import (
	"context"
	"testing"
	"time"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// memEvents is an event store holding fixed records; only LoadStream, all
// the event-store queries read, is implemented (the embedded nil interface
// panics on anything else, which a query must not call).
type memEvents struct {
	ports.EventStore
	records []ports.RecordedEvent
	err     error
}

func (s *memEvents) LoadStream(_ context.Context, streamID string) ([]ports.RecordedEvent, error) {
	if s.err != nil {
		return nil, s.err
	}
	var out []ports.RecordedEvent
	for _, r := range s.records {
		if r.StreamID == streamID {
			out = append(out, r)
		}
	}
	return out, nil
}

// The golden payloads of an invoice an older release stored: created at
// schema version 1 (no currency: EUR, the legacy currency) and paid.
const (
	goldenID        = "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b"
	goldenCreatedV1 = `{"invoiceId":"7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b","customerId":"cus_golden","amount":19.99,"createdAt":"2026-11-25T09:26:53.712793Z"}`
	goldenPaid      = `{"invoiceId":"7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b","paidAt":"2026-11-25T10:56:53.712793Z"}`
)

var (
	goldenCreatedAt = time.Date(2026, 11, 25, 9, 26, 53, 712793000, time.UTC)
	goldenPaidAt    = time.Date(2026, 11, 25, 10, 56, 53, 712793000, time.UTC)
	goldenRecorded1 = time.Date(2026, 11, 25, 9, 26, 53, 800000000, time.UTC)
	goldenRecorded2 = time.Date(2026, 11, 25, 10, 56, 54, 0, time.UTC)
	goldenMetadata1 = ports.Metadata{CorrelationID: "req-1", CausationID: "CreateInvoice"}
	goldenMetadata2 = ports.Metadata{CorrelationID: "req-2", CausationID: "PayInvoice", IdempotencyKey: "pay-once"}
)

// goldenEventStore holds the golden invoice, created at position 2 and paid
// at 5, and another invoice's creation before it.
func goldenEventStore() *memEvents {
	return &memEvents{records: []ports.RecordedEvent{
		{Position: 1, ID: "evt-1", StreamID: "other", Version: 1, Type: invoice.CreatedEventName, SchemaVersion: 1,
			Data:       []byte(`{"invoiceId":"other","customerId":"c","amount":1,"createdAt":"2026-11-25T09:00:00Z"}`),
			RecordedAt: goldenRecorded1.Add(-time.Minute)},
		{Position: 2, ID: "evt-2", StreamID: goldenID, Version: 1, Type: invoice.CreatedEventName, SchemaVersion: 1,
			Data: []byte(goldenCreatedV1), Metadata: goldenMetadata1, RecordedAt: goldenRecorded1},
		{Position: 5, ID: "evt-5", StreamID: goldenID, Version: 2, Type: invoice.PaidEventName, SchemaVersion: 1,
			Data: []byte(goldenPaid), Metadata: goldenMetadata2, RecordedAt: goldenRecorded2},
	}}
}

// codec returns the production registry, reading version 1 invoices in EUR.
func codec(t *testing.T) *event.Registry {
	t.Helper()
	r, err := invoice.NewCodec(invoice.MustCurrency("EUR"))
	if err != nil {
		t.Fatalf("NewCodec() error = %v", err)
	}
	return r
}
