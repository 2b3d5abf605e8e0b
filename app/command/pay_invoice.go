package command

import (
	"context"
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
// it was loaded at. Errors: ports.ErrNotFound, invoice.ErrAlreadyPaid, and
// ports.ErrConcurrencyConflict when another writer moved the stream first.
func (h PayInvoiceHandler) Handle(ctx context.Context, cmd PayInvoice) (Result, error) {
	inv, seq, err := h.repo.Load(ctx, cmd.ID)
	if err != nil {
		return Result{}, err
	}
	if err := inv.Pay(h.now()); err != nil {
		return Result{}, err
	}
	res, err := h.repo.Save(ctx, inv, "PayInvoice")
	if err != nil {
		return Result{}, err
	}
	return Result{Invoice: viewOf(inv, seq), Position: res.Position}, nil
}
