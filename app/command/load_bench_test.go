package command_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"invoices/adapters/store/storetest"
	"invoices/app/command"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Repository.Load of a created+paid stream, what every pay does before it
// decides. Over the in-memory store the figure is decode (codec registry,
// encoding/json, Amount.UnmarshalJSON) plus the fold; over SQLite and
// PostgreSQL it adds the stream query and row scanning. Each store holds
// loadBenchStreams streams and the ops load them in turn, so the index
// lookup is not always of the same row.
//
//	TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench BenchmarkRepositoryLoad -benchmem -count 3 ./app/command/

// loadBenchStreams is how many created+paid streams each store holds.
const loadBenchStreams = 256

func BenchmarkRepositoryLoad(b *testing.B) {
	stores := []struct {
		name  string
		store func(b *testing.B) ports.EventStore
	}{
		{"memory", func(*testing.B) ports.EventStore { return newStreamMap() }},
		{"sqlite", func(b *testing.B) ports.EventStore { return loadBenchSQLStore(b, storetest.SQLite()) }},
		{"postgres", func(b *testing.B) ports.EventStore {
			e := storetest.RequirePostgres(b)
			return loadBenchSQLStore(b, e)
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			codec := storetest.Must(invoice.NewCodec(eur))(b)
			store := s.store(b)
			ids := seedPaidStreams(b, store, codec, loadBenchStreams)
			repo := command.NewRepository(store, codec)
			inv, _, err := repo.Load(ctx, ids[0])
			if err != nil || inv.Version() != 2 || inv.Status() != invoice.StatusPaid {
				b.Fatalf("Load(%s) = %v, %v; want a paid invoice at version 2", ids[0], inv, err)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := repo.Load(ctx, ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// loadBenchSQLStore returns an event store on a fresh database of
// engine e, closed (and dropped) when the benchmark ends.
func loadBenchSQLStore(b *testing.B, e storetest.Engine) ports.EventStore {
	b.Helper()
	return e.OpenEventStore(b)
}

// seedPaidStreams appends n created+paid streams, as CreateInvoice and
// PayInvoice would write them, and returns their ids.
func seedPaidStreams(b *testing.B, store ports.EventStore, codec *event.Registry, n int) []string {
	b.Helper()
	ctx := context.Background()
	created := time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)
	md := ports.Metadata{CorrelationID: "bench", CausationID: "PayInvoice"}
	ids := make([]string, n)
	for i := range ids {
		id := uuid.NewString()
		at := created.Add(time.Duration(i) * time.Second)
		var events []ports.NewEvent
		for _, e := range []event.Event{
			invoice.Created{InvoiceID: id, CustomerID: fmt.Sprintf("cus_%06d", i), Amount: invoice.Amount(199900 + 100*i), Currency: eur, CreatedAt: at},
			invoice.Paid{InvoiceID: id, PaidAt: at.Add(5 * time.Minute)},
		} {
			name, data, err := codec.Encode(e)
			if err != nil {
				b.Fatalf("encode %s: %v", e.EventName(), err)
			}
			events = append(events, ports.NewEvent{ID: uuid.NewString(), Type: name, SchemaVersion: codec.Version(name), Data: data})
		}
		if _, err := store.Append(ctx, id, 0, events, md); err != nil {
			b.Fatalf("seed stream %d: %v", i, err)
		}
		ids[i] = id
	}
	return ids
}

// streamMap is an in-memory ports.EventStore indexed by stream. LoadStream
// returns the stored slice itself (Load only reads it), so over this store
// the benchmark measures decode and fold, not copying.
type streamMap struct {
	streams map[string][]ports.RecordedEvent
	head    int64
}

var _ ports.EventStore = (*streamMap)(nil)

func newStreamMap() *streamMap { return &streamMap{streams: make(map[string][]ports.RecordedEvent)} }

var errStreamMapUnsupported = errors.New("streamMap: not supported")

func (s *streamMap) Append(_ context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	stream := s.streams[streamID]
	if len(stream) != expectedVersion {
		return ports.AppendResult{}, fmt.Errorf("stream %s is at version %d: %w", streamID, len(stream), ports.ErrConcurrencyConflict)
	}
	for _, e := range events {
		s.head++
		stream = append(stream, ports.RecordedEvent{
			Position: s.head, ID: e.ID, StreamID: streamID, Version: len(stream) + 1,
			Type: e.Type, SchemaVersion: max(e.SchemaVersion, 1), Data: e.Data, Metadata: md, RecordedAt: time.Now().UTC(),
		})
	}
	s.streams[streamID] = stream
	return ports.AppendResult{Position: s.head, Version: len(stream)}, nil
}

func (s *streamMap) LoadStream(_ context.Context, streamID string) ([]ports.RecordedEvent, error) {
	return s.streams[streamID], nil
}

func (*streamMap) ReadAll(context.Context, int64, int) ([]ports.RecordedEvent, error) {
	return nil, errStreamMapUnsupported
}

func (s *streamMap) Head(context.Context) (int64, error) { return s.head, nil }

func (*streamMap) Ping(context.Context) error { return nil }
