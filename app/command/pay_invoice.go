package command

import (
	"context"

	"invoices/domain/invoice"
)

// PayInvoice marks an invoice paid.
type PayInvoice struct {
	ID string
	// IfVersion makes the command conditional: the invoice must be at this
	// version (an HTTP If-Match), or the command fails with
	// ports.ErrPreconditionFailed and appends nothing. AnyVersion (0) is
	// unconditional, NoVersion matches none.
	IfVersion int
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

// Handle loads the invoice, checks cmd.IfVersion, pays it and appends
// invoice.paid at the version it was loaded at. Errors: ports.ErrNotFound,
// ports.ErrPreconditionFailed (a conditional command whose version did not
// match, or whose append lost the race), invoice.ErrAlreadyPaid,
// invoice.ErrInvoiceVoid, and ports.ErrConcurrencyConflict when another
// writer moved the stream first under an unconditional command.
func (h PayInvoiceHandler) Handle(ctx context.Context, cmd PayInvoice) (Result, error) {
	res, err := h.repo.change(ctx, cmd.ID, "PayInvoice",
		conditional(cmd.ID, cmd.IfVersion, func(inv *invoice.Invoice) error { return inv.Pay(h.now()) }))
	return lostRace(cmd.ID, cmd.IfVersion, res, err)
}
