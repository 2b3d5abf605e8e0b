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
	Status     invoice.Status
	Version    int
	// Seq is the global position of the invoice's creation event: unique and
	// increasing, so it orders the list newest first without ties.
	Seq       int64
	CreatedAt time.Time
	UpdatedAt time.Time
	PaidAt    *time.Time
}

// ListParams selects one page of invoices, newest first.
type ListParams struct {
	Limit int
	// BeforeSeq, when non-zero, returns only invoices with a smaller Seq.
	BeforeSeq int64
}

// InvoiceReader answers queries from the read model.
type InvoiceReader interface {
	// GetInvoice returns one invoice or ErrNotFound.
	GetInvoice(ctx context.Context, id string) (InvoiceView, error)
	// ListInvoices returns up to p.Limit invoices ordered by Seq descending.
	ListInvoices(ctx context.Context, p ListParams) ([]InvoiceView, error)
	// Ping checks that the read database answers.
	Ping(ctx context.Context) error
}

// InvoiceProjectionTx changes the invoice read model inside one projection
// transaction.
type InvoiceProjectionTx interface {
	// InsertInvoice adds a new invoice row.
	InsertInvoice(ctx context.Context, v InvoiceView) error
	// MarkInvoicePaid moves an invoice from version-1 to version as paid;
	// it fails if the row is not at version-1.
	MarkInvoicePaid(ctx context.Context, id string, version int, paidAt time.Time) error
}

// ProjectionStore keeps projections durable: a batch of read-model changes
// and the projector's checkpoint commit together or not at all.
type ProjectionStore interface {
	// Checkpoint returns the position a projector has applied up to,
	// creating it at 0 when new.
	Checkpoint(ctx context.Context, projector string) (int64, error)
	// Project runs apply in one read-database transaction and moves the
	// checkpoint from from to to. If the checkpoint is no longer at from
	// (another projector advanced it), nothing is applied and the error is
	// ErrConcurrencyConflict.
	Project(ctx context.Context, projector string, from, to int64, apply func(InvoiceProjectionTx) error) error
}
