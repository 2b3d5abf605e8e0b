package ports

import (
	"context"
	"time"

	"invoices/domain/invoice"
)

// InvoiceView is the read model of one invoice.
type InvoiceView struct {
	ID         string
	CustomerID string
	Amount     invoice.Amount
	Currency   invoice.Currency
	DueDate    invoice.Date // zero: none
	Status     invoice.Status
	Version    int
	// Seq is the global position of the invoice's creation event: unique and
	// increasing, so it orders the list newest first without ties.
	Seq       int64
	CreatedAt time.Time
	UpdatedAt time.Time
	PaidAt    *time.Time
	// VoidedAt is set once the invoice is void; VoidReason is "" when no
	// reason was given.
	VoidedAt   *time.Time
	VoidReason string
}

// ReadModelVersion is the version of the invoice read model this release
// builds: its rows' shape and what the projection folds into them. Bump it
// with any change to either; a service that finds the read model built by
// an older version rebuilds it before it reports ready.
//
//	1: id, customer, amount (2 decimals), status pending/paid, timestamps
//	2: currency, due date, void; amounts to 4 decimals; filter indexes
const ReadModelVersion = 2

// InvoiceFilter narrows a list; its fields combine with AND, and a zero
// field does not filter.
type InvoiceFilter struct {
	Statuses   []invoice.Status // any of them
	CustomerID string
	Currency   string // an upper-case ISO 4217 code
	// CreatedFrom and CreatedTo bound CreatedAt, inclusive and exclusive.
	CreatedFrom time.Time
	CreatedTo   time.Time
	// DueBefore keeps invoices with a due date before that day.
	DueBefore invoice.Date
}

// ListParams selects one page of invoices, newest first.
type ListParams struct {
	Limit int
	// BeforeSeq, when non-zero, returns only invoices with a smaller Seq.
	BeforeSeq int64
	Filter    InvoiceFilter
}

// InvoiceReader answers queries from the read model.
type InvoiceReader interface {
	// GetInvoice returns one invoice or ErrNotFound.
	GetInvoice(ctx context.Context, id string) (InvoiceView, error)
	// ListInvoices returns up to p.Limit invoices matching p.Filter,
	// ordered by Seq descending.
	ListInvoices(ctx context.Context, p ListParams) ([]InvoiceView, error)
	// Ping checks that the read database answers.
	Ping(ctx context.Context) error
}

// ProjectionStore keeps projections durable: a batch of read-model changes
// and the projector's checkpoint commit together or not at all.
type ProjectionStore interface {
	// Checkpoint returns the position a projector has applied up to,
	// creating it at 0 when new.
	Checkpoint(ctx context.Context, projector string) (int64, error)
	// Project writes the changes folded from the events at positions
	// from+1..to and moves the checkpoint from from to to, in one
	// read-database transaction. If the checkpoint is no longer at from
	// (another projector advanced it), nothing is written and the error is
	// ErrConcurrencyConflict.
	Project(ctx context.Context, projector string, from, to int64, c InvoiceChanges) error
}

// InvoiceUpdate is the net effect of one or more events on an invoice that
// an earlier batch put in the read model: its row moves from FromVersion to
// Version, with the status and timestamps the events set, and only if it is
// at FromVersion.
type InvoiceUpdate struct {
	ID          string
	FromVersion int
	Version     int
	Status      invoice.Status
	UpdatedAt   time.Time
	// PaidAt, VoidedAt and VoidReason are set by the events that set them;
	// nil leaves the row's value as it is.
	PaidAt     *time.Time
	VoidedAt   *time.Time
	VoidReason *string
	// Position is the global position of the first event folded in, for
	// naming the event when the row is not at FromVersion.
	Position int64
}

// InvoiceChanges is a batch of events folded into read-model rows, so the
// projector and a rebuild write each row once per batch rather than once
// per event.
type InvoiceChanges struct {
	// Inserts are the invoices created in the batch, in their state at the
	// end of it (created then paid in one batch is one paid row).
	Inserts []InvoiceView
	// Updates are changes to invoices inserted by earlier batches.
	Updates []InvoiceUpdate
}

// RebuildWriter writes folded batches into a read model being rebuilt.
type RebuildWriter interface {
	// Apply writes the changes folded from the events at positions
	// from+1..to and moves the rebuild's checkpoint from from to to, all or
	// nothing. If the rebuild's checkpoint is not at from, nothing is written
	// and the error is ErrConcurrencyConflict.
	Apply(ctx context.Context, from, to int64, c InvoiceChanges) error
}

// InvoiceRebuild is a fresh invoice read model being built beside the live
// one. Readers keep seeing the live model, unchanged, until Swap commits.
type InvoiceRebuild interface {
	RebuildWriter
	// Swap replaces the live read model with the rebuilt one in one
	// read-database transaction, records it as built by this release's
	// ReadModelVersion, and returns the position it was rebuilt to.
	// Inside that transaction, before the replacement, it locks the live
	// projector's checkpoint, so the live projector cannot move it, and calls
	// catchUp with it; catchUp must bring the rebuilt model at least that far
	// through w, which writes inside the same transaction. The live
	// checkpoint is then set to the rebuilt position, so a running projector
	// finds it moved and resumes from there. If Swap fails the live model is
	// untouched. A store may retry the transaction, calling catchUp again
	// from the rebuilt model's position before the first attempt.
	Swap(ctx context.Context, catchUp func(ctx context.Context, live int64, w RebuildWriter) error) (int64, error)
	// Discard drops the rebuilt model, if it was not swapped in, and ends
	// the rebuild. It is safe to call more than once, and after Swap.
	Discard(ctx context.Context) error
}

// ReadModelRebuilder rebuilds a projector's read model from scratch beside
// the live one.
type ReadModelRebuilder interface {
	// StartRebuild creates an empty read model for projector beside the live
	// one, dropping any left by an interrupted rebuild.
	// It fails with ErrRebuildRunning if another rebuild of the same read
	// database is running, where the store can tell.
	StartRebuild(ctx context.Context, projector string) (InvoiceRebuild, error)
	// ReadModelVersion returns the ReadModelVersion that built the live
	// read model, as the read database records it now. A rebuild's Swap
	// sets it to this release's. While it is older, the read model's
	// queries fail with ErrReadModelStale rather than misread it.
	ReadModelVersion(ctx context.Context) (int, error)
}
