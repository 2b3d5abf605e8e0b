package query

import (
	"context"
	"fmt"
	"time"

	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// GetInvoiceAsOf asks for an invoice as it was: folded from its events in
// the event store, not read from the read model, so any past state can be
// had. At most one of Version and At may be set; with neither, it is the
// invoice's latest state in the event store (which the read model may not
// show yet).
type GetInvoiceAsOf struct {
	ID string
	// Version, when not 0, is the version to fold up to (at least 1).
	Version int
	// At, when not zero, folds the events recorded at or before it; it must
	// not be in the future.
	At time.Time
}

// GetInvoiceAsOfHandler answers GetInvoiceAsOf.
type GetInvoiceAsOfHandler struct {
	events ports.EventStore
	codec  *event.Registry
	now    func() time.Time
}

// NewGetInvoiceAsOfHandler returns the handler. now is the clock At is
// checked against; events' recorded times come from the event store's.
func NewGetInvoiceAsOfHandler(events ports.EventStore, codec *event.Registry, now func() time.Time) GetInvoiceAsOfHandler {
	return GetInvoiceAsOfHandler{events: events, codec: codec, now: now}
}

// Handle folds the invoice's stream up to the version or time asked for,
// with the projector's fold, so the view is the one the read model showed
// at that version (Seq the position of its first event). Errors: an
// *invoice.ValidationError for fields "asOfVersion" and "asOf" (both set,
// a negative version, a time in the future), ports.ErrNotFound for an
// unknown invoice, and ports.ErrNoSuchVersion for a version it has not
// reached or a time before its creation.
func (h GetInvoiceAsOfHandler) Handle(ctx context.Context, q GetInvoiceAsOf) (ports.InvoiceView, error) {
	switch {
	case q.Version != 0 && !q.At.IsZero():
		return ports.InvoiceView{}, &invoice.ValidationError{Field: "asOf", Reason: "cannot be combined with asOfVersion: ask for a version or a time"}
	case q.Version < 0:
		return ports.InvoiceView{}, &invoice.ValidationError{Field: "asOfVersion", Reason: "must be an integer of at least 1"}
	case q.At.After(h.now()):
		// The future is not yet recorded: an answer now could change.
		return ports.InvoiceView{}, &invoice.ValidationError{Field: "asOf", Reason: "must not be in the future"}
	}
	records, err := h.events.LoadStream(ctx, q.ID)
	if err != nil {
		return ports.InvoiceView{}, err
	}
	if len(records) == 0 {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", q.ID, ports.ErrNotFound)
	}
	// The longest prefix of the stream within the bound: a fold of a prefix
	// is a state the invoice was in, even were recorded times out of order.
	n := 0
	for n < len(records) && within(records[n], q) {
		n++
	}
	switch {
	case q.Version > 0 && (n == 0 || records[n-1].Version != q.Version):
		return ports.InvoiceView{}, fmt.Errorf("invoice %s as of version %d (it is at version %d): %w",
			q.ID, q.Version, records[len(records)-1].Version, ports.ErrNoSuchVersion)
	case n == 0:
		return ports.InvoiceView{}, fmt.Errorf("invoice %s as of %s (created %s): %w",
			q.ID, q.At.UTC().Format(time.RFC3339Nano), records[0].RecordedAt.UTC().Format(time.RFC3339Nano), ports.ErrNoSuchVersion)
	}
	v, err := projection.FoldStream(h.codec, records[:n])
	if err != nil {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", q.ID, err)
	}
	return v, nil
}

// within reports whether rec is inside q's bound.
func within(rec ports.RecordedEvent, q GetInvoiceAsOf) bool {
	switch {
	case q.Version > 0:
		return rec.Version <= q.Version
	case !q.At.IsZero():
		return !rec.RecordedAt.After(q.At)
	}
	return true
}
