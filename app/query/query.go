// Package query holds the read side: one file per query. GetInvoice and
// ListInvoices are answered from the invoice read model; GetInvoiceAsOf and
// InvoiceHistory from the event store, which alone holds the past.
package query

import "context"

// Handler answers one query type with a result type.
type Handler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}
