package query_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"invoices/domain/invoice"
	"invoices/ports"
)

// memReader is an in-memory ports.InvoiceReader that follows the port's
// contract (only invoices matching the filter, newest first by Seq,
// BeforeSeq exclusive, at most Limit rows) and records every ListInvoices
// call.
type memReader struct {
	mu    sync.Mutex
	views []ports.InvoiceView
	calls []ports.ListParams
	err   error
}

var _ ports.InvoiceReader = (*memReader)(nil)

// newMemReader returns a reader holding n invoices with Seq 1..n. Their
// fields cycle so that filters select some of them (see viewAt).
func newMemReader(n int) *memReader {
	r := &memReader{}
	for seq := 1; seq <= n; seq++ {
		r.views = append(r.views, viewAt(int64(seq)))
	}
	return r
}

// viewsCreated is when invoice 1 of a memReader was created; invoice n
// was created n-1 hours later.
var viewsCreated = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// viewAt is the invoice with Seq seq a memReader holds:
//
//	status:   pending, paid, void, pending, ... (seq % 3 == 1, 2, 0)
//	customer: cust-a for odd seq, cust-b for even
//	currency: EUR, except JPY for every fourth
//	due date: 2026-04-<seq> for seq up to 28, none after
func viewAt(seq int64) ports.InvoiceView {
	v := ports.InvoiceView{
		ID: fmt.Sprintf("inv-%d", seq), CustomerID: "cust-a", Amount: 10000, Currency: invoice.MustCurrency("EUR"),
		Status: invoice.StatusPending, Version: 1, Seq: seq,
		CreatedAt: viewsCreated.Add(time.Duration(seq-1) * time.Hour),
	}
	v.UpdatedAt = v.CreatedAt
	switch seq % 3 {
	case 2:
		v.Status, v.Version = invoice.StatusPaid, 2
	case 0:
		v.Status, v.Version = invoice.StatusVoid, 2
	}
	if seq%2 == 0 {
		v.CustomerID = "cust-b"
	}
	if seq%4 == 0 {
		v.Currency = invoice.MustCurrency("JPY")
	}
	if seq <= 28 {
		v.DueDate = invoice.DateOf(time.Date(2026, 4, int(seq), 0, 0, 0, 0, time.UTC))
	}
	return v
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
		if (p.BeforeSeq == 0 || v.Seq < p.BeforeSeq) && matches(p.Filter, v) && len(out) < p.Limit {
			out = append(out, v)
		}
	}
	return out, nil
}

// matches is the port's filter rule: every set field must hold.
func matches(f ports.InvoiceFilter, v ports.InvoiceView) bool {
	switch {
	case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, v.Status):
		return false
	case f.CustomerID != "" && v.CustomerID != f.CustomerID:
		return false
	case f.Currency != "" && v.Currency.Code() != f.Currency:
		return false
	case !f.CreatedFrom.IsZero() && v.CreatedAt.Before(f.CreatedFrom):
		return false
	case !f.CreatedTo.IsZero() && !v.CreatedAt.Before(f.CreatedTo):
		return false
	case !f.DueBefore.IsZero() && (v.DueDate.IsZero() || !v.DueDate.Before(f.DueBefore)):
		return false
	}
	return true
}

func (r *memReader) listCalls() []ports.ListParams {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// viewOpts compares values holding a Currency or a Date (whose fields are
// unexported) by what they say: the code, and the day.
var viewOpts = gocmp.Options{
	gocmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() }),
	gocmp.Transformer("Date", func(d invoice.Date) string { return d.String() }),
}
