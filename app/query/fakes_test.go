package query_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"invoices/ports"
)

// memReader is an in-memory ports.InvoiceReader that follows the port's
// contract (newest first by Seq, BeforeSeq exclusive, at most Limit rows)
// and records every ListInvoices call.
type memReader struct {
	mu    sync.Mutex
	views []ports.InvoiceView
	calls []ports.ListParams
	err   error
}

var _ ports.InvoiceReader = (*memReader)(nil)

// newMemReader returns a reader holding n invoices with Seq 1..n.
func newMemReader(n int) *memReader {
	r := &memReader{}
	for seq := 1; seq <= n; seq++ {
		r.views = append(r.views, ports.InvoiceView{ID: fmt.Sprintf("inv-%d", seq), Seq: int64(seq), Version: 1})
	}
	return r
}

func (r *memReader) GetInvoice(_ context.Context, id string) (ports.InvoiceView, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return ports.InvoiceView{}, r.err
	}
	for _, v := range r.views {
		if v.ID == id {
			return v, nil
		}
	}
	return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", id, ports.ErrNotFound)
}

// Ping always succeeds: the fake has no connection to lose.
func (*memReader) Ping(context.Context) error { return nil }

func (r *memReader) ListInvoices(_ context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, p)
	if r.err != nil {
		return nil, r.err
	}
	sorted := slices.SortedFunc(slices.Values(r.views), func(a, b ports.InvoiceView) int { return cmp.Compare(b.Seq, a.Seq) })
	var out []ports.InvoiceView
	for _, v := range sorted {
		if (p.BeforeSeq == 0 || v.Seq < p.BeforeSeq) && len(out) < p.Limit {
			out = append(out, v)
		}
	}
	return out, nil
}

func (r *memReader) listCalls() []ports.ListParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}
