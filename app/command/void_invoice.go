package command

import (
	"context"

	"invoices/domain/invoice"
)

// VoidInvoice cancels a pending invoice.
type VoidInvoice struct {
	ID string
	// Reason is optional: why the invoice was voided.
	Reason string
}

// VoidInvoiceHandler handles VoidInvoice.
type VoidInvoiceHandler struct {
	repo *Repository
	now  Clock
}

// NewVoidInvoiceHandler returns the handler.
func NewVoidInvoiceHandler(repo *Repository, now Clock) VoidInvoiceHandler {
	return VoidInvoiceHandler{repo: repo, now: now}
}

// Handle loads the invoice, voids it and appends invoice.voided at the
// version it was loaded at. Errors: ports.ErrNotFound,
// invoice.ErrAlreadyPaid, invoice.ErrAlreadyVoid, an
// *invoice.ValidationError for the reason, and ports.ErrConcurrencyConflict
// when another writer moved the stream first.
func (h VoidInvoiceHandler) Handle(ctx context.Context, cmd VoidInvoice) (Result, error) {
	return h.repo.change(ctx, cmd.ID, "VoidInvoice", func(inv *invoice.Invoice) error { return inv.Void(cmd.Reason, h.now()) })
}
