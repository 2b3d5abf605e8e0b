package projection_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Projector.Step applying one full batch into the real read model: decode
// with the codec registry, apply through ports.ProjectionStore, and the
// batched INSERT or UPDATE plus the checkpoint move in one transaction.
// Events come from an in-memory source, so the event store's ReadAll is not
// in the figure (BenchmarkRepositoryLoad shows what a stream query costs).
//
// "created" ops apply stepBenchBatch invoice.created events; "paid" ops
// apply stepBenchBatch invoice.paid events to invoices created by an untimed
// Step just before. The read model keeps growing over a run (it is created
// once per -count), as a live one does.
//
//	TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench BenchmarkProjectorStep -benchmem -count 3 ./app/projection/

// stepBenchBatch is the batch size: PROJECTION_BATCH_SIZE's default.
const stepBenchBatch = 500

func BenchmarkProjectorStep(b *testing.B) {
	engines := []struct {
		name   string
		engine func(b *testing.B) storetest.Engine
	}{
		{"sqlite", func(*testing.B) storetest.Engine { return storetest.SQLite() }},
		{"postgres", func(b *testing.B) storetest.Engine {
			e := storetest.RequirePostgres(b)
			return e
		}},
	}
	for _, eng := range engines {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.engine(b)
			b.Run("created", func(b *testing.B) { benchStep(b, e, false) })
			b.Run("paid", func(b *testing.B) { benchStep(b, e, true) })
		})
	}
}

func benchStep(b *testing.B, e storetest.Engine, pay bool) {
	ctx := context.Background()
	rm := e.OpenReadModel(b)
	// Step moves the checkpoint row from its position; Start would create it.
	storetest.Must(rm.Checkpoint(ctx, projection.InvoicesProjector))(b)
	codec := storetest.Must(invoice.NewCodec(invoice.MustCurrency("EUR")))(b)
	src := &batchSource{codec: codec}
	p := projection.New(src, rm, codec, zap.NewNop(), projection.Options{BatchSize: stepBenchBatch, PollInterval: time.Hour})
	step := func() {
		if n, err := p.Step(ctx); err != nil || n != stepBenchBatch {
			b.Fatalf("Step() = %d, %v; want %d, nil", n, err, stepBenchBatch)
		}
	}

	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		src.nextCreated(b)
		if pay {
			step()
			src.nextPaid(b)
		}
		b.StartTimer()
		step()
	}
	b.ReportMetric(float64(stepBenchBatch*b.N)/b.Elapsed().Seconds(), "events/s")
}

// batchSource is an in-memory ports.EventStore holding only the next batch:
// positions carry on from batch to batch, so Step sees a gapless stream.
type batchSource struct {
	codec *event.Registry
	head  int64
	batch []ports.RecordedEvent
	ids   []string // the invoices of the last created batch
}

var _ ports.EventStore = (*batchSource)(nil)

var errBatchSourceReadOnly = errors.New("batchSource: read-only")

// nextCreated replaces the batch with stepBenchBatch invoice.created events
// of new invoices.
func (s *batchSource) nextCreated(b *testing.B) {
	b.Helper()
	created := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC).Add(time.Duration(s.head) * time.Millisecond)
	s.batch, s.ids = s.batch[:0], s.ids[:0]
	for i := range stepBenchBatch {
		id := uuid.NewString()
		s.ids = append(s.ids, id)
		s.add(b, id, 1, invoice.Created{
			InvoiceID:  id,
			CustomerID: fmt.Sprintf("cus_%06d", (int(s.head)+i)%1_000_000),
			Amount:     invoice.Amount(199900 + 100*i),
			Currency:   invoice.MustCurrency("EUR"),
			CreatedAt:  created.Add(time.Duration(i) * time.Millisecond),
		})
	}
}

// nextPaid replaces the batch with an invoice.paid event for each invoice of
// the last created batch.
func (s *batchSource) nextPaid(b *testing.B) {
	b.Helper()
	paid := time.Date(2026, 3, 15, 9, 26, 53, 589793000, time.UTC).Add(time.Duration(s.head) * time.Millisecond)
	s.batch = s.batch[:0]
	for i, id := range s.ids {
		s.add(b, id, 2, invoice.Paid{InvoiceID: id, PaidAt: paid.Add(time.Duration(i) * time.Millisecond)})
	}
}

func (s *batchSource) add(b *testing.B, stream string, version int, e event.Event) {
	b.Helper()
	name, data, err := s.codec.Encode(e)
	if err != nil {
		b.Fatalf("encode %s: %v", e.EventName(), err)
	}
	s.head++
	s.batch = append(s.batch, ports.RecordedEvent{
		Position: s.head, ID: uuid.NewString(), StreamID: stream, Version: version,
		Type: name, SchemaVersion: s.codec.Version(name), Data: data, RecordedAt: time.Now().UTC(),
	})
}

func (*batchSource) Append(context.Context, string, int, []ports.NewEvent, ports.Metadata) (ports.AppendResult, error) {
	return ports.AppendResult{}, errBatchSourceReadOnly
}

func (*batchSource) LoadStream(context.Context, string) ([]ports.RecordedEvent, error) {
	return nil, errBatchSourceReadOnly
}

// ReadAll returns the batch's events after after; it is called with the
// projector's checkpoint, which is where the batch starts.
func (s *batchSource) ReadAll(_ context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	var out []ports.RecordedEvent
	for _, r := range s.batch {
		if r.Position > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *batchSource) Head(context.Context) (int64, error) { return s.head, nil }

func (*batchSource) Ping(context.Context) error { return nil }
