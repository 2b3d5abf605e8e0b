package storetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// The two reads behind the API's GET routes, one caller at a time, on a
// read model of readBenchRows invoices (half of them paid): a primary-key
// GET and the first 100-invoice page of the list (101 rows are read, as the
// list query reads one more to know whether a next page exists).
//
//	TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench BenchmarkReadModelRead -benchmem -count 3 ./adapters/store/storetest/

const readBenchRows = 5000

func BenchmarkReadModelRead(b *testing.B) {
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			ctx := context.Background()
			e := eng.engine(b)
			db, _ := openBenchDB(b, e, "read_bench")
			m := storetest.Must(store.NewReadModel(ctx, e.Store, db))(b)
			ids := seedReadModel(b, m, readBenchRows)
			var r ports.InvoiceReader = m
			b.Run("get", func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					v, err := r.GetInvoice(ctx, ids[i%len(ids)])
					if err != nil || v.ID != ids[i%len(ids)] {
						b.Fatalf("GetInvoice(%s) = %+v, %v", ids[i%len(ids)], v, err)
					}
					i++
				}
			})
			b.Run("list-101", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					page, err := r.ListInvoices(ctx, ports.ListParams{Limit: 101})
					if err != nil || len(page) != 101 {
						b.Fatalf("ListInvoices = %d rows, %v; want 101", len(page), err)
					}
				}
			})
		})
	}
}

// seedReadModel projects n invoices in one batch, every other one paid, and
// returns their ids.
func seedReadModel(b *testing.B, m ports.ProjectionStore, n int) []string {
	b.Helper()
	ctx := context.Background()
	created := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)
	ids := make([]string, n)
	views := make([]ports.InvoiceView, n)
	for i := range n {
		ids[i] = fmt.Sprintf("0b6f1d4e-8a63-4b8c-9e57-%012d", i)
		at := created.Add(time.Duration(i) * time.Millisecond)
		views[i] = ports.InvoiceView{ID: ids[i], CustomerID: fmt.Sprintf("cus_%06d", i), Amount: invoice.Amount(1999 + i), Currency: eur,
			Status: invoice.StatusPending, Version: 1, Seq: int64(i + 1), CreatedAt: at, UpdatedAt: at}
		if i%2 == 1 {
			paid := at.Add(time.Minute)
			views[i].Status, views[i].Version, views[i].UpdatedAt, views[i].PaidAt = invoice.StatusPaid, 2, paid, &paid
		}
	}
	from := storetest.Must(m.Checkpoint(ctx, projectBenchName))(b)
	if err := m.Project(ctx, projectBenchName, from, int64(n), ports.InvoiceChanges{Inserts: views}); err != nil {
		b.Fatalf("seed read model: %v", err)
	}
	return ids
}
