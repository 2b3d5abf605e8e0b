package command

import (
	"context"

	"invoices/domain/invoice"
)

// CreateInvoice issues a new invoice with a caller-generated id.
type CreateInvoice struct {
	ID         string
	CustomerID string
	invoice.Terms
}

// CreateInvoiceHandler handles CreateInvoice.
type CreateInvoiceHandler struct {
	repo *Repository
	now  Clock
}

// NewCreateInvoiceHandler returns the handler.
func NewCreateInvoiceHandler(repo *Repository, now Clock) CreateInvoiceHandler {
	return CreateInvoiceHandler{repo: repo, now: now}
}

// Handle creates the invoice and appends invoice.created to a new stream.
// An id that already exists is ports.ErrConcurrencyConflict.
func (h CreateInvoiceHandler) Handle(ctx context.Context, cmd CreateInvoice) (Result, error) {
	inv, err := invoice.Create(cmd.ID, cmd.CustomerID, cmd.Terms, h.now())
	if err != nil {
		return Result{}, err
	}
	res, err := h.repo.Save(ctx, inv, "CreateInvoice")
	if err != nil {
		return Result{}, err
	}
	// The stream is new, so its first (and only) event is at res.Position.
	return Result{Invoice: viewOf(inv, res.Position), Position: res.Position}, nil
}
