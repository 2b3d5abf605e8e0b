package gormstore

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

	"invoices/adapters/gormstore/storetest"
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
//	  go test -run '^$' -bench BenchmarkAppend -benchtime 3s -count 3 ./adapters/gormstore/

// benchWriters are the concurrency levels measured. The pool must allow the
// largest: storetest's PostgreSQL engine allows 40 connections.
var benchWriters = []int{1, 8, 32}

// benchPoolSize is the connection limit set on every benchmark database.
const benchPoolSize = 40

func BenchmarkAppend(b *testing.B) {
	for _, eng := range benchEngines {
		b.Run(eng.name, func(b *testing.B) {
			e := eng.engine(b)
			for _, writers := range benchWriters {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					ctx := context.Background()
					db := openBenchDB(b, e, "append_bench")
					s := storetest.Must(NewEventStore(ctx, db))(b)
					b.Cleanup(s.Close)
					md := ports.Metadata{CorrelationID: "bench", CausationID: "CreateInvoice"}
					runWriters(b, writers, func(stream, eventID string, payload []byte) error {
						ev := []ports.NewEvent{{ID: eventID, Type: invoice.CreatedEventName, Data: payload}}
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
// one INSERT per transaction, the UNIQUE(stream_id, version) constraint as the
// only version check. It is unsafe (a lower position can commit after a
// higher one, see EVENT_STORE_NOTES.md) and is kept only to show what the
// serialising lock costs. Besides the lock it also saves the two round trips
// of the counter UPDATE and the version SELECT.
func BenchmarkAppendBaselineBigserial(b *testing.B) {
	e := benchPostgres(b)
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			db := openBenchDB(b, e, "bigserial_bench").WithContext(ctx)
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
			meta := storetest.Must(json.Marshal(metadataJSON{CorrelationID: "bench", CausationID: "CreateInvoice"}))(b)
			insert := `INSERT INTO events_bigserial
				(event_id, stream_id, version, type, data, metadata, recorded_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`
			runWriters(b, writers, func(stream, eventID string, payload []byte) error {
				// Same bound types as appendTx's row, so only the scheme differs.
				return db.Transaction(func(tx *gorm.DB) error {
					return tx.Exec(insert, uuidText(eventID), uuidText(stream), 1, invoice.CreatedEventName,
						jsonText(payload), jsonText(meta), time.Now().UTC().Truncate(time.Microsecond)).Error
				})
			})
		})
	}
}

// benchPostgres returns the PostgreSQL engine or skips the benchmark.
// benchEngines are the engines every store benchmark runs on; PostgreSQL's
// skips without TEST_POSTGRES_URL.
var benchEngines = []struct {
	name   string
	engine func(b *testing.B) storetest.Engine
}{
	{"sqlite", func(*testing.B) storetest.Engine { return storetest.SQLite() }},
	{"postgres", benchPostgres},
}

func benchPostgres(b *testing.B) storetest.Engine {
	b.Helper()
	e, ok := storetest.Postgres()
	if !ok {
		b.Skip("PostgreSQL benchmarks skipped: set " + storetest.EnvVar + " (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them")
	}
	return e
}

// openBenchDB opens a fresh database of engine e, closed and dropped when the
// benchmark round ends.
func openBenchDB(tb testing.TB, e storetest.Engine, label string) *gorm.DB {
	tb.Helper()
	cfg := e.Database(tb, label)
	cfg.MaxOpenConns = benchPoolSize
	db := storetest.Must(Open(context.Background(), cfg))(tb)
	tb.Cleanup(func() {
		sqlDB, err := db.DB()
		if err == nil {
			err = sqlDB.Close()
		}
		if err != nil {
			tb.Errorf("close database: %v", err)
		}
	})
	return db
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
