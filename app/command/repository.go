package command

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Repository loads invoices by replaying their streams and saves their new
// events with the version they were loaded at as the concurrency check.
type Repository struct {
	store ports.EventStore
	codec *event.Registry
}

// NewRepository returns a repository over store using codec for payloads.
func NewRepository(store ports.EventStore, codec *event.Registry) *Repository {
	return &Repository{store: store, codec: codec}
}

// Load rehydrates an invoice. It also returns the position of the stream's
// first event, the invoice's list order key. Unknown ids are ports.ErrNotFound.
func (r *Repository) Load(ctx context.Context, id string) (*invoice.Invoice, int64, error) {
	records, err := r.store.LoadStream(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if len(records) == 0 {
		return nil, 0, fmt.Errorf("invoice %s: %w", id, ports.ErrNotFound)
	}
	history := make([]event.Event, len(records))
	for i, rec := range records {
		if history[i], err = r.codec.Decode(rec.Type, rec.SchemaVersion, rec.Data); err != nil {
			return nil, 0, fmt.Errorf("invoice %s version %d: %w", id, rec.Version, err)
		}
	}
	inv := &invoice.Invoice{}
	if err := event.Rehydrate(inv, history); err != nil {
		return nil, 0, fmt.Errorf("invoice %s: %w", id, err)
	}
	return inv, records[0].Position, nil
}

// Save appends the invoice's uncommitted events. causation names the command.
func (r *Repository) Save(ctx context.Context, inv *invoice.Invoice, causation string) (ports.AppendResult, error) {
	pending := inv.Uncommitted()
	events := make([]ports.NewEvent, len(pending))
	for i, e := range pending {
		name, data, err := r.codec.Encode(e)
		if err != nil {
			return ports.AppendResult{}, err
		}
		events[i] = ports.NewEvent{ID: uuid.NewString(), Type: name, SchemaVersion: r.codec.Version(name), Data: data}
	}
	md := ports.Metadata{CorrelationID: correlationID(ctx), CausationID: causation}
	if claim := idempotencyClaim(ctx); claim != nil {
		// What this append would record, so the Idempotent decorator can
		// tell its own record from another request's.
		claim.StreamID, claim.Version = inv.ID(), inv.ExpectedVersion()+len(events)
		md.IdempotencyKey, md.Idempotency = claim.Key, claim
	}
	res, err := r.store.Append(ctx, inv.ID(), inv.ExpectedVersion(), events, md)
	if err != nil {
		return ports.AppendResult{}, err
	}
	inv.MarkCommitted()
	return res, nil
}

// change loads invoice id, lets decide raise its events, and appends them at
// the version it was loaded at; causation names the command. It is the
// whole of every command on an existing invoice.
func (r *Repository) change(ctx context.Context, id, causation string, decide func(*invoice.Invoice) error) (Result, error) {
	inv, seq, err := r.Load(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if err := decide(inv); err != nil {
		return Result{}, err
	}
	res, err := r.Save(ctx, inv, causation)
	if err != nil {
		return Result{}, err
	}
	return Result{Invoice: viewOf(inv, seq), Position: res.Position}, nil
}

// viewOf shapes an aggregate like its read-model row.
func viewOf(inv *invoice.Invoice, seq int64) ports.InvoiceView {
	v := ports.InvoiceView{
		ID:         inv.ID(),
		CustomerID: inv.CustomerID(),
		Amount:     inv.Amount(),
		Currency:   inv.Currency(),
		DueDate:    inv.DueDate(),
		Status:     inv.Status(),
		Version:    inv.Version(),
		Seq:        seq,
		CreatedAt:  inv.CreatedAt(),
		UpdatedAt:  inv.UpdatedAt(),
	}
	if t, ok := inv.PaidAt(); ok {
		v.PaidAt = &t
	}
	if t, reason, ok := inv.VoidedAt(); ok {
		v.VoidedAt, v.VoidReason = &t, reason
	}
	return v
}
