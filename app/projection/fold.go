package projection

import (
	"fmt"
	"time"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// foldBatch folds records, the events after position from, into the
// read-model changes they make, and returns them with the position of the
// last one (from when there are none). The rules are the read model's:
// positions must follow on without a gap (they are gapless by
// construction, so a hole means lost or tampered data: stop rather than
// skip it), every event must decode with the codec, and each must apply.
func foldBatch(codec *event.Registry, from int64, records []ports.RecordedEvent) (ports.InvoiceChanges, int64, error) {
	f := newFold(len(records))
	for i, rec := range records {
		if want := from + int64(i) + 1; rec.Position != want {
			return ports.InvoiceChanges{}, from, fmt.Errorf("gap in event positions: expected %d, found %d", want, rec.Position)
		}
	}
	for _, rec := range records {
		e, err := codec.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err != nil {
			return ports.InvoiceChanges{}, from, fmt.Errorf("event at position %d: %w", rec.Position, err)
		}
		if err := f.apply(rec, e); err != nil {
			return ports.InvoiceChanges{}, from, fmt.Errorf("event at position %d: %w", rec.Position, err)
		}
	}
	if len(records) > 0 {
		from = records[len(records)-1].Position
	}
	return f.changes(), from, nil
}

// fold collects one batch's changes in memory, one row per invoice. It
// checks what the read model would: no invoice is inserted twice, and a pay
// finds the row at the version before its event. A pay of an invoice
// inserted by an earlier batch becomes a Payment, which the store applies
// only if the row is at its FromVersion.
type fold struct {
	inserts  []ports.InvoiceView
	inserted map[string]int // invoice id -> index in inserts
	payments []ports.InvoicePayment
	paid     map[string]int // invoice id -> index in payments
}

func newFold(n int) *fold {
	return &fold{
		inserts:  make([]ports.InvoiceView, 0, n),
		inserted: make(map[string]int, n),
		paid:     make(map[string]int),
	}
}

// apply folds one decoded event in.
func (f *fold) apply(r ports.RecordedEvent, e event.Event) error {
	switch e := e.(type) {
	case invoice.Created:
		return f.insert(ports.InvoiceView{
			ID:         r.StreamID,
			CustomerID: e.CustomerID,
			Amount:     e.Amount,
			Status:     invoice.StatusPending,
			Version:    r.Version,
			Seq:        r.Position,
			CreatedAt:  e.CreatedAt,
			UpdatedAt:  e.CreatedAt,
		})
	case invoice.Paid:
		return f.markPaid(r.StreamID, r.Version, e.PaidAt, r.Position)
	default:
		return fmt.Errorf("no projection for %q", r.Type)
	}
}

func (f *fold) insert(v ports.InvoiceView) error {
	_, inserted := f.inserted[v.ID]
	_, paid := f.paid[v.ID] // paid here means an earlier batch inserted it
	if inserted || paid {
		return fmt.Errorf("insert invoice %s: already exists", v.ID)
	}
	f.inserted[v.ID] = len(f.inserts)
	f.inserts = append(f.inserts, v)
	return nil
}

func (f *fold) markPaid(id string, version int, paidAt time.Time, position int64) error {
	if i, ok := f.inserted[id]; ok {
		v := &f.inserts[i]
		if v.Version != version-1 {
			return fmt.Errorf("mark invoice %s paid: no row at version %d", id, version-1)
		}
		at := paidAt
		v.Status, v.Version, v.UpdatedAt, v.PaidAt = invoice.StatusPaid, version, paidAt, &at
		return nil
	}
	if i, ok := f.paid[id]; ok {
		p := &f.payments[i]
		if p.Version != version-1 {
			return fmt.Errorf("mark invoice %s paid: no row at version %d", id, version-1)
		}
		p.Version, p.PaidAt = version, paidAt
		return nil
	}
	f.paid[id] = len(f.payments)
	f.payments = append(f.payments, ports.InvoicePayment{ID: id, FromVersion: version - 1, Version: version, PaidAt: paidAt, Position: position})
	return nil
}

func (f *fold) changes() ports.InvoiceChanges {
	return ports.InvoiceChanges{Inserts: f.inserts, Payments: f.payments}
}
