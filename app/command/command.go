// Package command holds the write side: one file per command, the invoice
// repository that folds event streams into aggregates, and the decorators
// (retry on conflict, read-your-writes, outcome reporting) that wrap every
// handler with the same cross-cutting behaviour.
package command

import (
	"context"
	"time"

	"invoices/ports"
)

// Handler handles one command type. Commands carry every id they need
// (ids are generated before dispatch) and return only what the caller
// needs to answer: the resulting invoice state and its position.
type Handler[C any] interface {
	Handle(ctx context.Context, cmd C) (Result, error)
}

// Result is the outcome of a successful command.
type Result struct {
	// Invoice is the aggregate's state after the command, shaped like the
	// read model so callers can answer without reading it back.
	Invoice ports.InvoiceView
	// Position is the global position of the last appended event.
	Position int64
	// Projected reports that the read model had reached Position when the
	// handler returned; false means the bounded wait expired first.
	Projected bool
	// Replayed reports that the command did not run: its idempotency key
	// had run it before, and this is that run's outcome (see Idempotent).
	Replayed bool
}

// Clock returns the current time; commands stamp events with it.
type Clock func() time.Time

// SystemClock is UTC wall time truncated to microseconds, the precision both
// stores keep, so a read model value equals the event it came from.
func SystemClock() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

type correlationKey struct{}

// WithCorrelationID returns a context whose commands record id (usually the
// request id) as the correlation id of the events they append.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

func correlationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}
