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
	// IfVersion makes the command conditional, as PayInvoice.IfVersion does.
	IfVersion int
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

// Handle loads the invoice, checks cmd.IfVersion, voids it and appends
// invoice.voided at the version it was loaded at. Errors:
// ports.ErrNotFound, ports.ErrPreconditionFailed (as for PayInvoice),
// invoice.ErrAlreadyPaid, invoice.ErrAlreadyVoid, an
// *invoice.ValidationError for the reason, and ports.ErrConcurrencyConflict
// when another writer moved the stream first under an unconditional command.
func (h VoidInvoiceHandler) Handle(ctx context.Context, cmd VoidInvoice) (Result, error) {
	res, err := h.repo.change(ctx, cmd.ID, "VoidInvoice",
		conditional(cmd.ID, cmd.IfVersion, func(inv *invoice.Invoice) error { return inv.Void(cmd.Reason, h.now()) }))
	return lostRace(cmd.ID, cmd.IfVersion, res, err)
}
