package projection

import (
	"fmt"

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
// checks what the read model would: no invoice is inserted twice, and each
// later event finds the row at the version before it. Events on an invoice
// inserted by an earlier batch become an Update, which the store applies
// only if the row is at its FromVersion.
type fold struct {
	inserts  []ports.InvoiceView
	inserted map[string]int // invoice id -> index in inserts
	updates  []ports.InvoiceUpdate
	updated  map[string]int // invoice id -> index in updates
}

func newFold(n int) *fold {
	return &fold{
		inserts:  make([]ports.InvoiceView, 0, n),
		inserted: make(map[string]int, n),
		updated:  make(map[string]int),
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
			Currency:   e.Currency,
			DueDate:    e.DueDate,
			Status:     invoice.StatusPending,
			Version:    r.Version,
			Seq:        r.Position,
			CreatedAt:  e.CreatedAt,
			UpdatedAt:  e.CreatedAt,
		})
	case invoice.Paid:
		at := e.PaidAt
		return f.update(r, "mark invoice %s paid", ports.InvoiceUpdate{Status: invoice.StatusPaid, UpdatedAt: at, PaidAt: &at})
	case invoice.Voided:
		at := e.VoidedAt
		u := ports.InvoiceUpdate{Status: invoice.StatusVoid, UpdatedAt: at, VoidedAt: &at}
		if e.Reason != "" {
			reason := e.Reason
			u.VoidReason = &reason
		}
		return f.update(r, "void invoice %s", u)
	default:
		return fmt.Errorf("no projection for %q", r.Type)
	}
}

func (f *fold) insert(v ports.InvoiceView) error {
	_, inserted := f.inserted[v.ID]
	_, updated := f.updated[v.ID] // updated here means an earlier batch inserted it
	if inserted || updated {
		return fmt.Errorf("insert invoice %s: already exists", v.ID)
	}
	f.inserted[v.ID] = len(f.inserts)
	f.inserts = append(f.inserts, v)
	return nil
}

// update folds the change u, made by the event r, into the invoice's
// insert from this batch or its update, or starts an update for a row an
// earlier batch wrote. what describes the change for errors.
func (f *fold) update(r ports.RecordedEvent, what string, u ports.InvoiceUpdate) error {
	id, version := r.StreamID, r.Version
	if i, ok := f.inserted[id]; ok {
		v := &f.inserts[i]
		if v.Version != version-1 {
			return fmt.Errorf(what+": no row at version %d", id, version-1)
		}
		v.Status, v.Version, v.UpdatedAt = u.Status, version, u.UpdatedAt
		if u.PaidAt != nil {
			v.PaidAt = u.PaidAt
		}
		if u.VoidedAt != nil {
			v.VoidedAt = u.VoidedAt
		}
		if u.VoidReason != nil {
			v.VoidReason = *u.VoidReason
		}
		return nil
	}
	if i, ok := f.updated[id]; ok {
		p := &f.updates[i]
		if p.Version != version-1 {
			return fmt.Errorf(what+": no row at version %d", id, version-1)
		}
		p.Status, p.Version, p.UpdatedAt = u.Status, version, u.UpdatedAt
		if u.PaidAt != nil {
			p.PaidAt = u.PaidAt
		}
		if u.VoidedAt != nil {
			p.VoidedAt = u.VoidedAt
		}
		if u.VoidReason != nil {
			p.VoidReason = u.VoidReason
		}
		return nil
	}
	u.ID, u.FromVersion, u.Version, u.Position = id, version-1, version, r.Position
	f.updated[id] = len(f.updates)
	f.updates = append(f.updates, u)
	return nil
}

func (f *fold) changes() ports.InvoiceChanges {
	return ports.InvoiceChanges{Inserts: f.inserts, Updates: f.updates}
}
