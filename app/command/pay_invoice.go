package command

import (
	"context"

	"invoices/domain/invoice"
)

// PayInvoice marks an invoice paid.
type PayInvoice struct {
	ID string
}

// PayInvoiceHandler handles PayInvoice.
type PayInvoiceHandler struct {
	repo *Repository
	now  Clock
}

// NewPayInvoiceHandler returns the handler.
func NewPayInvoiceHandler(repo *Repository, now Clock) PayInvoiceHandler {
	return PayInvoiceHandler{repo: repo, now: now}
}

// Handle loads the invoice, pays it and appends invoice.paid at the version
// it was loaded at. Errors: ports.ErrNotFound, invoice.ErrAlreadyPaid,
// invoice.ErrInvoiceVoid, and ports.ErrConcurrencyConflict when another
// writer moved the stream first.
func (h PayInvoiceHandler) Handle(ctx context.Context, cmd PayInvoice) (Result, error) {
	return h.repo.change(ctx, cmd.ID, "PayInvoice", func(inv *invoice.Invoice) error { return inv.Pay(h.now()) })
}
