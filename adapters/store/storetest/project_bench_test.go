package storetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// ReadModel.Project of one full projector batch, without the projector: the
// checkpoint UPDATE, then the batch's inserts ("insert") or its payments
// ("pay", of invoices inserted by an untimed batch just before), in one
// transaction. Set beside BenchmarkProjectorStep in app/projection, the
// difference is the projector's read, decode and fold. The database is
// created once per -count and grows over the run, as a live read model does.
//
//	TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench BenchmarkReadModelProject -benchmem -count 3 ./adapters/store/storetest/

// projectBenchBatch is the batch size: PROJECTION_BATCH_SIZE's default.
const projectBenchBatch = 500

// projectBenchName is the checkpoint the benchmark moves.
const projectBenchName = "bench"

func BenchmarkReadModelProject(b *testing.B) {
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.engine(b)
			b.Run("insert", func(b *testing.B) { benchProject(b, e, false) })
			b.Run("pay", func(b *testing.B) { benchProject(b, e, true) })
		})
	}
}

func benchProject(b *testing.B, e storetest.Engine, pay bool) {
	ctx := context.Background()
	db, _ := openBenchDB(b, e, "project_bench")
	var m ports.ProjectionStore = storetest.Must(store.NewReadModel(ctx, e.Store, db))(b)
	pos := storetest.Must(m.Checkpoint(ctx, projectBenchName))(b)
	created := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)
	views := make([]ports.InvoiceView, projectBenchBatch)
	payments := make([]ports.InvoiceUpdate, projectBenchBatch)
	// project applies c as the batch after pos.
	project := func(c ports.InvoiceChanges) {
		from := pos
		pos += projectBenchBatch
		if err := m.Project(ctx, projectBenchName, from, pos, c); err != nil {
			b.Fatalf("Project(%d, %d): %v", from, pos, err)
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := range views {
			seq := pos + int64(i) + 1
			at := created.Add(time.Duration(seq) * time.Millisecond)
			views[i] = ports.InvoiceView{
				ID: uuid.NewString(), CustomerID: fmt.Sprintf("cus_%06d", seq%1_000_000),
				Amount: invoice.Amount(1999 + i), Currency: eur, Status: invoice.StatusPending,
				Version: 1, Seq: seq, CreatedAt: at, UpdatedAt: at,
			}
			paid := at.Add(5 * time.Minute)
			payments[i] = ports.InvoiceUpdate{ID: views[i].ID, FromVersion: 1, Version: 2, Status: invoice.StatusPaid,
				UpdatedAt: paid, PaidAt: &paid, Position: seq + projectBenchBatch}
		}
		if pay {
			project(ports.InvoiceChanges{Inserts: views})
		}
		b.StartTimer()
		if pay {
			project(ports.InvoiceChanges{Updates: payments})
		} else {
			project(ports.InvoiceChanges{Inserts: views})
		}
	}
	b.ReportMetric(float64(projectBenchBatch*b.N)/b.Elapsed().Seconds(), "events/s")
}
