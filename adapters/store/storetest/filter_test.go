package storetest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/domain/invoice"
	"invoices/ports"
)

// filterSeed is the read model the filter tests list from: 30 invoices
// whose status, customer, currency, creation time and due date vary with
// different periods, so every filter and combination picks a different
// mix. Statuses are written both ways: paid or void when inserted, and
// paid or voided by a later batch. Creation times spread over 15 days,
// some written in a zone other than UTC, as an event may carry them.
func filterSeed() (first, second ports.InvoiceChanges, views []ports.InvoiceView) {
	base := time.Date(2026, 3, 1, 9, 30, 0, 250000000, time.UTC)
	customers := []string{"cus_a", "cus_b", "cus_é", `cus "d", {x}`}
	currencies := []invoice.Currency{eur, jpy, kwd, invoice.MustCurrency("USD"), eur}
	statuses := []invoice.Status{invoice.StatusPending, invoice.StatusPaid, invoice.StatusVoid}
	cet := time.FixedZone("CET", 3600)
	at := func(t time.Time) *time.Time { return &t }
	for i := range 30 {
		created := base.Add(time.Duration(i) * 12 * time.Hour)
		if i%4 == 1 {
			created = created.In(cet)
		}
		v := ports.InvoiceView{
			ID:         fmt.Sprintf("7d1a2b3c-4d5e-4f60-8a9b-%012d", i),
			CustomerID: customers[i%len(customers)],
			Amount:     invoice.Amount(10_000 * (i + 1)),
			Currency:   currencies[i%len(currencies)],
			Status:     invoice.StatusPending,
			Version:    1,
			Seq:        int64(2*i + 1), // positions between belong to the updates
			CreatedAt:  created,
			UpdatedAt:  created,
		}
		if i%7 != 3 {
			v.DueDate = invoice.DateOf(created.AddDate(0, 0, 3+i%11))
		}
		status := statuses[(i/2)%len(statuses)]
		changed := created.Add(time.Hour)
		u := ports.InvoiceUpdate{ID: v.ID, FromVersion: 1, Version: 2, Status: status, UpdatedAt: changed, Position: int64(2*i + 2)}
		switch status {
		case invoice.StatusPaid:
			u.PaidAt = at(changed)
		case invoice.StatusVoid:
			u.VoidedAt = at(changed)
		}
		first.Inserts = append(first.Inserts, v)
		if status != invoice.StatusPending {
			v.Status, v.Version, v.UpdatedAt, v.PaidAt, v.VoidedAt = u.Status, u.Version, u.UpdatedAt, u.PaidAt, u.VoidedAt
			if i%2 == 0 {
				first.Inserts[len(first.Inserts)-1] = v // inserted paid or void
			} else {
				second.Updates = append(second.Updates, u)
			}
		}
		views = append(views, v)
	}
	return first, second, views
}

// matches is what the filter means, spelled out in Go.
func matches(v ports.InvoiceView, f ports.InvoiceFilter) bool {
	return (len(f.Statuses) == 0 || slices.Contains(f.Statuses, v.Status)) &&
		(f.CustomerID == "" || v.CustomerID == f.CustomerID) &&
		(f.Currency == "" || v.Currency.Code() == f.Currency) &&
		(f.CreatedFrom.IsZero() || !v.CreatedAt.Before(f.CreatedFrom)) &&
		(f.CreatedTo.IsZero() || v.CreatedAt.Before(f.CreatedTo)) &&
		(f.DueBefore.IsZero() || (!v.DueDate.IsZero() && v.DueDate.Before(f.DueBefore)))
}

// TestListInvoicesFilters lists the seeded read model through every filter
// and several combinations, a few invoices per page, and compares what the
// pages hold with what the filter selects from the seed: each matching
// invoice exactly once, newest (highest seq) first.
func TestListInvoicesFilters(t *testing.T) {
	_, _, seed := filterSeed()
	day := func(i int) time.Time { return seed[2*i].CreatedAt } // seed[2i] is created at the start of day i
	date := func(s string) invoice.Date {
		d, err := invoice.ParseDate("dueBefore", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name   string
		filter ports.InvoiceFilter
		none   bool // the filter is meant to match nothing
	}{
		{name: "no filter"},
		{name: "pending", filter: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPending}}},
		{name: "paid", filter: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPaid}}},
		{name: "void", filter: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusVoid}}},
		{name: "paid or void", filter: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPaid, invoice.StatusVoid}}},
		{name: "customer", filter: ports.InvoiceFilter{CustomerID: "cus_b"}},
		{name: "customer with quotes", filter: ports.InvoiceFilter{CustomerID: `cus "d", {x}`}},
		{name: "currency", filter: ports.InvoiceFilter{Currency: "JPY"}},
		// From is inclusive and To exclusive: both bounds are some
		// invoice's exact creation time, given in another zone.
		{name: "created from", filter: ports.InvoiceFilter{CreatedFrom: day(9).In(tokyo)}},
		{name: "created to", filter: ports.InvoiceFilter{CreatedTo: day(4).In(tokyo)}},
		{name: "created from a zoned invoice's time", filter: ports.InvoiceFilter{CreatedFrom: seed[13].CreatedAt}},
		{name: "created to a zoned invoice's time", filter: ports.InvoiceFilter{CreatedTo: seed[13].CreatedAt}},
		// Half an hour after an invoice created at 22:30 CET (21:30 UTC):
		// 22:00 UTC is after it as an instant, before it as clock text.
		{name: "created from just after a zoned invoice", filter: ports.InvoiceFilter{CreatedFrom: seed[13].CreatedAt.Add(30 * time.Minute)}},
		{name: "created to just after a zoned invoice", filter: ports.InvoiceFilter{CreatedTo: seed[13].CreatedAt.Add(30 * time.Minute)}},
		{name: "created between", filter: ports.InvoiceFilter{CreatedFrom: day(3), CreatedTo: day(7)}},
		{name: "due before", filter: ports.InvoiceFilter{DueBefore: seed[11].DueDate}},
		{name: "due before far ahead", filter: ports.InvoiceFilter{DueBefore: date("2099-01-01")}},
		{name: "customer and status", filter: ports.InvoiceFilter{CustomerID: "cus_a", Statuses: []invoice.Status{invoice.StatusPending}}},
		{name: "customer and statuses", filter: ports.InvoiceFilter{CustomerID: "cus_é", Statuses: []invoice.Status{invoice.StatusPaid, invoice.StatusVoid}}},
		{name: "currency and created between", filter: ports.InvoiceFilter{Currency: "EUR", CreatedFrom: day(2), CreatedTo: day(12)}},
		{name: "status and due before", filter: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPending}, DueBefore: date("2026-03-20")}},
		{name: "all combined", filter: ports.InvoiceFilter{
			Statuses: []invoice.Status{invoice.StatusPending, invoice.StatusVoid}, CustomerID: "cus_a", Currency: "EUR",
			CreatedFrom: day(0), CreatedTo: day(14), DueBefore: date("2026-03-25"),
		}},
		{name: "unknown customer", filter: ports.InvoiceFilter{CustomerID: "cus_nobody"}, none: true},
		{name: "currency no invoice has", filter: ports.InvoiceFilter{Currency: "CHF"}, none: true},
		{name: "empty range", filter: ports.InvoiceFilter{CreatedFrom: day(5), CreatedTo: day(5)}, none: true},
		{name: "combination nothing has", filter: ports.InvoiceFilter{CustomerID: "cus_b", Currency: "KWD", Statuses: []invoice.Status{invoice.StatusPending}}, none: true},
	}
	for _, tt := range tests {
		// A case that selects nothing, or everything, from the seed could
		// not tell a working filter from an ignored one.
		var n int
		for _, v := range seed {
			if matches(v, tt.filter) {
				n++
			}
		}
		if tt.none != (n == 0) || (n == len(seed) && tt.name != "no filter") {
			t.Fatalf("case %q selects %d of the %d seeded invoices: pick another", tt.name, n, len(seed))
		}
	}

	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var m readModel = e.OpenReadModel(t)
		first, second, views := filterSeed()
		from := storetest.Must(m.Checkpoint(ctx, projection.InvoicesProjector))(t)
		if err := m.Project(ctx, projection.InvoicesProjector, from, 59, first); err != nil {
			t.Fatal(err)
		}
		if err := m.Project(ctx, projection.InvoicesProjector, 59, 60, second); err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var want []ports.InvoiceView
				for _, v := range slices.Backward(views) {
					if matches(v, tt.filter) {
						want = append(want, v)
					}
				}
				const limit = 4
				var got []ports.InvoiceView
				var before int64
				for n := 1; ; n++ {
					p := ports.ListParams{Limit: limit, BeforeSeq: before, Filter: tt.filter}
					page, err := m.ListInvoices(ctx, p)
					if err != nil {
						t.Fatalf("page %d: ListInvoices(%+v) = %v", n, p, err)
					}
					got = append(got, page...)
					if len(page) < limit || n > len(seed) {
						break
					}
					before = page[len(page)-1].Seq
				}
				if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
					t.Errorf("pages of %d (-want +got):\n%s", limit, diff)
				}
			})
		}
	})
}
