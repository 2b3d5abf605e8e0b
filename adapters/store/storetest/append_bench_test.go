package storetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/config"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Append throughput. Each op appends one invoice.created event to a new
// stream, which is what CreateInvoice does; writers goroutines share b.N ops,
// so appends/s is aggregate throughput under that much contention. Every
// round of a sub-benchmark gets a fresh database (created before the timer
// starts), so a round never pays for rows left by an earlier one.
//
//	TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go test -run '^$' -bench BenchmarkAppend -benchtime 3s -count 3 ./adapters/store/storetest/

// benchWriters are the concurrency levels measured. The pool must allow the
// largest: storetest's PostgreSQL engine allows 40 connections.
var benchWriters = []int{1, 8, 32}

// benchPoolSize is the connection limit set on every benchmark database.
const benchPoolSize = 40

func BenchmarkAppend(b *testing.B) { benchmarkAppend(b, false) }

// BenchmarkAppendWithKey is BenchmarkAppend with an idempotency record
// stored with every append, as a create with an Idempotency-Key does.
func BenchmarkAppendWithKey(b *testing.B) { benchmarkAppend(b, true) }

func benchmarkAppend(b *testing.B, withKey bool) {
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.engine(b)
			for _, writers := range benchWriters {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					ctx := context.Background()
					db, cfg := openBenchDB(b, e, "append_bench")
					es := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(b)
					b.Cleanup(es.Close)
					var s ports.EventStore = es
					md := ports.Metadata{CorrelationID: "bench", CausationID: "CreateInvoice"}
					runWriters(b, writers, func(stream, eventID string, payload []byte) error {
						ev := []ports.NewEvent{{ID: eventID, Type: invoice.CreatedEventName, Data: payload}}
						md := md
						if withKey {
							md.IdempotencyKey = eventID
							md.Idempotency = &ports.IdempotencyRecord{Key: eventID, Fingerprint: "bench", Command: "CreateInvoice",
								ExpiresAt: time.Now().Add(time.Hour)}
						}
						_, err := s.Append(ctx, stream, 0, ev, md)
						return err
					})
				})
			}
		})
	}
}

// BenchmarkAppendBaselineBigserial measures the scheme the head counter
// replaced: the same row shape with a bigserial position and no counter row,
// one INSERT per transaction (BEGIN, INSERT, COMMIT through GORM), the
// UNIQUE(stream_id, version) constraint as the only version check. It is
// unsafe (a lower position can commit after a higher one, see store.HeadRow)
// and is kept only to show what the serialising lock costs. Besides the
// lock it also skips the head UPDATE and the version SELECT, and it does
// not group commits; the store's pipelined append sends its statements in
// two round trips where this one takes three.
func BenchmarkAppendBaselineBigserial(b *testing.B) {
	e := benchPostgres(b)
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			db, _ := openBenchDB(b, e, "bigserial_bench")
			db = db.WithContext(ctx)
			ddl := `CREATE TABLE events_bigserial (
				position    bigserial PRIMARY KEY,
				event_id    uuid NOT NULL UNIQUE,
				stream_id   uuid NOT NULL,
				version     bigint NOT NULL,
				type        varchar(128) NOT NULL,
				data        jsonb NOT NULL,
				metadata    jsonb NOT NULL,
				recorded_at timestamptz NOT NULL,
				UNIQUE (stream_id, version)
			)`
			if err := db.Exec(ddl).Error; err != nil {
				b.Fatalf("create baseline table: %v", err)
			}
			// The metadata document as the store writes it.
			meta := storetest.Must(json.Marshal(map[string]string{"correlationId": "bench", "causationId": "CreateInvoice"}))(b)
			insert := `INSERT INTO events_bigserial
				(event_id, stream_id, version, type, data, metadata, recorded_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`
			runWriters(b, writers, func(stream, eventID string, payload []byte) error {
				return db.Transaction(func(tx *gorm.DB) error {
					return tx.Exec(insert, store.UUID(eventID), store.UUID(stream), 1, invoice.CreatedEventName,
						store.JSON(payload), store.JSON(meta), time.Now().UTC().Truncate(time.Microsecond)).Error
				})
			})
		})
	}
}

// benchEngines are the engines every store benchmark runs on; PostgreSQL's
// skips without TEST_POSTGRES_URL.
var benchEngines = []struct {
	name   string
	engine func(b *testing.B) storetest.Engine
}{
	{"sqlite", func(*testing.B) storetest.Engine { return storetest.SQLite() }},
	{"postgres", benchPostgres},
}

// benchPostgres returns the PostgreSQL engine or skips the benchmark.
func benchPostgres(b *testing.B) storetest.Engine {
	b.Helper()
	e := storetest.RequirePostgres(b)
	return e
}

// openBenchDB opens a fresh database of engine e with benchPoolSize
// connections, closed and dropped when the benchmark round ends, and
// returns it with its configuration.
func openBenchDB(tb testing.TB, e storetest.Engine, label string) (*gorm.DB, config.Database) {
	tb.Helper()
	cfg := e.Database(tb, label)
	cfg.MaxOpenConns = benchPoolSize
	db := storetest.Must(store.Open(context.Background(), e.Store, cfg))(tb)
	tb.Cleanup(func() { closeDB(tb, db) })
	return db, cfg
}

// runWriters times b.N calls of op shared by writers goroutines and reports
// appends/s. Stream ids, event ids and payloads are made outside the timer,
// so the figure is the store's, not uuid's or encoding/json's.
func runWriters(b *testing.B, writers int, op func(stream, eventID string, payload []byte) error) {
	b.Helper()
	type input struct {
		stream, eventID string
		payload         []byte
	}
	inputs := make([]input, b.N)
	for i := range inputs {
		stream := uuid.NewString()
		inputs[i] = input{stream: stream, eventID: uuid.NewString(), payload: benchCreatedPayload(b, stream, i)}
	}

	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for !failed.Load() {
				i := next.Add(1) - 1
				if i >= int64(len(inputs)) {
					return
				}
				in := inputs[i]
				if err := op(in.stream, in.eventID, in.payload); err != nil {
					if failed.CompareAndSwap(false, true) {
						b.Errorf("op %d: %v", i, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// benchCreatedPayload is a realistic invoice.created payload (about 150 bytes).
func benchCreatedPayload(tb testing.TB, invoiceID string, i int) []byte {
	tb.Helper()
	amount := storetest.Must(invoice.ParseAmount(fmt.Sprintf("%d.%02d", 100+i%9900, i%100)))(tb)
	return storetest.Must(json.Marshal(invoice.Created{
		InvoiceID:  invoiceID,
		CustomerID: fmt.Sprintf("cust-%06d", i%100000),
		Amount:     amount,
		CreatedAt:  time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC).Add(time.Duration(i) * time.Millisecond),
	}))(tb)
}
