package query

import (
	"context"
	"fmt"
	"time"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// InvoiceHistory asks for one page of an invoice's events, in version
// order: its audit trail.
type InvoiceHistory struct {
	ID string
	// Limit is the page size; 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// After is the version the page follows: 0 for the first page, the
	// previous page's Next for the following ones.
	After int
}

// HistoryEvent is one stored event of an invoice.
type HistoryEvent struct {
	// Position is the event's global position in the event store.
	Position int64
	// ID is the event's unique id.
	ID string
	// Version is the invoice's version the event made.
	Version int
	// Type is the stable event name, such as invoice.created.
	Type string
	// SchemaVersion is the schema version the payload is stored at.
	SchemaVersion int
	// Payload is the event's JSON payload upcast to the current schema of
	// Type (so a client reads one schema per type, whenever it was stored).
	Payload []byte
	// Metadata is what the command recorded with the event.
	Metadata ports.Metadata
	// RecordedAt is when the event store appended the event.
	RecordedAt time.Time
}

// HistoryPage is one page of an invoice's events.
type HistoryPage struct {
	Events []HistoryEvent
	// Next is the After of the following page; 0 on the last page.
	Next int
}

// InvoiceHistoryHandler answers InvoiceHistory.
type InvoiceHistoryHandler struct {
	events ports.EventStore
	codec  *event.Registry
}

// NewInvoiceHistoryHandler returns the handler.
func NewInvoiceHistoryHandler(events ports.EventStore, codec *event.Registry) InvoiceHistoryHandler {
	return InvoiceHistoryHandler{events: events, codec: codec}
}

// Handle reads the invoice's stream and returns the page after q.After.
// Each payload is decoded through the codec, which upcasts it, and encoded
// again. Errors: an *invoice.ValidationError for fields "limit" and
// "after", and ports.ErrNotFound for an unknown invoice (an invoice with
// no events after q.After has an empty page).
func (h InvoiceHistoryHandler) Handle(ctx context.Context, q InvoiceHistory) (HistoryPage, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return HistoryPage{}, &invoice.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxLimit)}
	}
	if q.After < 0 {
		return HistoryPage{}, &invoice.ValidationError{Field: "after", Reason: "must be a version: an integer of at least 0"}
	}
	// An invoice's stream is short (created, then paid or voided): paging
	// bounds the answer, not the read.
	records, err := h.events.LoadStream(ctx, q.ID)
	if err != nil {
		return HistoryPage{}, err
	}
	if len(records) == 0 {
		return HistoryPage{}, fmt.Errorf("invoice %s: %w", q.ID, ports.ErrNotFound)
	}
	page := HistoryPage{Events: make([]HistoryEvent, 0, min(limit, len(records)))}
	for _, rec := range records {
		if rec.Version <= q.After {
			continue
		}
		if len(page.Events) == limit {
			page.Next = page.Events[limit-1].Version
			break
		}
		e, err := HistoryEventOf(h.codec, rec)
		if err != nil {
			return HistoryPage{}, fmt.Errorf("invoice %s version %d: %w", q.ID, rec.Version, err)
		}
		page.Events = append(page.Events, e)
	}
	return page, nil
}
