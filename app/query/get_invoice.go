package query

import (
	"context"

	"invoices/ports"
)

// GetInvoice asks for one invoice by id.
type GetInvoice struct {
	ID string
}

// GetInvoiceHandler answers GetInvoice.
type GetInvoiceHandler struct {
	reader ports.InvoiceReader
}

// NewGetInvoiceHandler returns the handler.
func NewGetInvoiceHandler(reader ports.InvoiceReader) GetInvoiceHandler {
	return GetInvoiceHandler{reader: reader}
}

// Handle returns the invoice or ports.ErrNotFound.
func (h GetInvoiceHandler) Handle(ctx context.Context, q GetInvoice) (ports.InvoiceView, error) {
	return h.reader.GetInvoice(ctx, q.ID)
}
