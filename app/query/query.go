// Package query holds the read side: one file per query, each answered from
// the invoice read model.
package query

import "context"

// Handler answers one query type with a result type.
type Handler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}
