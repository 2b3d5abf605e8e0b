package projection

import (
	"errors"
	"fmt"

	"invoices/domain/event"
	"invoices/ports"
)

// FoldStream folds one invoice's events, in version order as
// ports.EventStore.LoadStream returns them, into the view the read model
// holds once it has applied the last of them. It is the projector's own
// fold, so an invoice read as of the past is exactly the row the read model
// had then (Seq the position of its first event included). The events must
// begin with the invoice's creation and follow on version by version.
func FoldStream(codec *event.Registry, records []ports.RecordedEvent) (ports.InvoiceView, error) {
	if len(records) == 0 {
		return ports.InvoiceView{}, errors.New("fold stream: no events")
	}
	f := newFold(1)
	for _, rec := range records {
		e, err := codec.Decode(rec.Type, rec.SchemaVersion, rec.Data)
		if err != nil {
			return ports.InvoiceView{}, fmt.Errorf("event at position %d: %w", rec.Position, err)
		}
		if err := f.apply(rec, e); err != nil {
			return ports.InvoiceView{}, fmt.Errorf("event at position %d: %w", rec.Position, err)
		}
	}
	// One stream from its creation is one insert; an update means the
	// first event was not the creation, and two inserts two streams.
	c := f.changes()
	if len(c.Inserts) != 1 || len(c.Updates) != 0 {
		return ports.InvoiceView{}, fmt.Errorf("fold stream %s: the events are not one invoice's from its creation", records[0].StreamID)
	}
	return c.Inserts[0], nil
}
