package gormstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"invoices/adapters/gormstore/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// The contract suite: every test runs on SQLite and, when TEST_POSTGRES_URL
// is set, on PostgreSQL, against the same expectations.

func openEventStore(t *testing.T, e storetest.Engine) *EventStore {
	t.Helper()
	ctx := context.Background()
	db := storetest.Must(Open(ctx, e.Database(t, "events")))(t)
	t.Cleanup(func() { closeDB(t, db) })
	s := storetest.Must(NewEventStore(ctx, db))(t)
	t.Cleanup(s.Close) // before the database closes
	return s
}

func openReadModel(t *testing.T, e storetest.Engine) *ReadModel {
	t.Helper()
	ctx := context.Background()
	db := storetest.Must(Open(ctx, e.Database(t, "read")))(t)
	t.Cleanup(func() { closeDB(t, db) })
	return storetest.Must(NewReadModel(ctx, db))(t)
}

func closeDB(t *testing.T, db *gorm.DB) {
	t.Helper()
	sqlDB, err := db.DB()
	if err == nil {
		err = sqlDB.Close()
	}
	if err != nil {
		t.Errorf("close database: %v", err)
	}
}

func newEvents(types ...string) []ports.NewEvent {
	out := make([]ports.NewEvent, len(types))
	for i, typ := range types {
		out[i] = ports.NewEvent{ID: uuid.NewString(), Type: typ, Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return out
}

func TestEventStoreAppendAndLoad(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		stream := uuid.NewString()
		first := newEvents("invoice.created")
		res, err := s.Append(ctx, stream, 0, first, ports.Metadata{CorrelationID: "req-1", CausationID: "CreateInvoice"})
		if err != nil {
			t.Fatalf("append to new stream: %v", err)
		}
		if want := (ports.AppendResult{Position: 1, Version: 1}); res != want {
			t.Errorf("first append = %+v, want %+v", res, want)
		}
		second := newEvents("invoice.paid", "invoice.noted")
		res, err = s.Append(ctx, stream, 1, second, ports.Metadata{CorrelationID: "req-2", CausationID: "PayInvoice"})
		if err != nil {
			t.Fatalf("append at version 1: %v", err)
		}
		if want := (ports.AppendResult{Position: 3, Version: 3}); res != want {
			t.Errorf("second append = %+v, want %+v", res, want)
		}

		got, err := s.LoadStream(ctx, stream)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		all := append(first, second...)
		if len(got) != len(all) {
			t.Fatalf("loaded %d events, want %d", len(got), len(all))
		}
		for i, ev := range got {
			want := ports.RecordedEvent{
				Position: int64(i + 1), ID: all[i].ID, StreamID: stream, Version: i + 1,
				Type: all[i].Type, Data: all[i].Data,
				Metadata:   ports.Metadata{CorrelationID: "req-1", CausationID: "CreateInvoice"},
				RecordedAt: ev.RecordedAt,
			}
			if i > 0 {
				want.Metadata = ports.Metadata{CorrelationID: "req-2", CausationID: "PayInvoice"}
			}
			if diff := cmp.Diff(want, ev, jsonEqual); diff != "" {
				t.Errorf("event %d (-want +got):\n%s", i, diff)
			}
			if ev.RecordedAt.IsZero() || time.Since(ev.RecordedAt) > time.Minute {
				t.Errorf("event %d recorded at %v, want about now", i, ev.RecordedAt)
			}
		}

		empty, err := s.LoadStream(ctx, uuid.NewString())
		if err != nil || len(empty) != 0 {
			t.Errorf("unknown stream = %v, %v; want empty, nil", empty, err)
		}
	})
}

// jsonEqual compares payloads as JSON documents: jsonb normalises spacing
// and key order.
var jsonEqual = cmp.Comparer(func(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && cmp.Equal(va, vb)
})

func TestEventStoreRejectsWrongExpectedVersion(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		stream := uuid.NewString()
		if _, err := s.Append(ctx, stream, 0, newEvents("a"), ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
		for _, expected := range []int{0, 2, 5} {
			_, err := s.Append(ctx, stream, expected, newEvents("b"), ports.Metadata{})
			if !errors.Is(err, ports.ErrConcurrencyConflict) {
				t.Errorf("append at expected version %d: err = %v, want ErrConcurrencyConflict", expected, err)
			}
		}
		// A new stream at a non-zero expected version is a conflict too.
		if _, err := s.Append(ctx, uuid.NewString(), 1, newEvents("a"), ports.Metadata{}); !errors.Is(err, ports.ErrConcurrencyConflict) {
			t.Errorf("append to a new stream at version 1: err = %v, want ErrConcurrencyConflict", err)
		}
		// Failed appends store nothing and leave no hole in positions.
		if got, _ := s.LoadStream(ctx, stream); len(got) != 1 {
			t.Errorf("stream has %d events after rejected appends, want 1", len(got))
		}
		res, err := s.Append(ctx, stream, 1, newEvents("c"), ports.Metadata{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Position != 2 {
			t.Errorf("position after rejected appends = %d, want 2 (gapless)", res.Position)
		}
	})
}

func TestEventStoreDuplicateEventIDIsRejected(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		ev := newEvents("a")
		if _, err := s.Append(ctx, uuid.NewString(), 0, ev, ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, uuid.NewString(), 0, ev, ports.Metadata{}); err == nil {
			t.Fatal("appending an event id twice succeeded")
		}
		if head, _ := s.Head(ctx); head != 1 {
			t.Errorf("head = %d after a rejected duplicate, want 1", head)
		}
	})
}

func TestEventStoreConcurrentAppendsToOneStream(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		stream := uuid.NewString()
		if _, err := s.Append(ctx, stream, 0, newEvents("created"), ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
		const writers = 20
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = s.Append(ctx, stream, 1, newEvents("paid"), ports.Metadata{})
			})
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ports.ErrConcurrencyConflict):
				conflicts++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != writers-1 {
			t.Errorf("%d succeeded and %d conflicted; want 1 and %d", ok, conflicts, writers-1)
		}
		if got, _ := s.LoadStream(ctx, stream); len(got) != 2 {
			t.Errorf("stream has %d events, want 2", len(got))
		}
	})
}

func TestEventStoreReadAllIsGaplessAndOrdered(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		const writers, perWriter = 8, 10
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range perWriter {
					if _, err := s.Append(ctx, uuid.NewString(), 0, newEvents("a", "b"), ports.Metadata{}); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		const total = writers * perWriter * 2
		if head, err := s.Head(ctx); err != nil || head != total {
			t.Fatalf("head = %d, %v; want %d", head, err, total)
		}
		var after int64
		for after < total {
			batch, err := s.ReadAll(ctx, after, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 || len(batch) > 7 {
				t.Fatalf("ReadAll(%d, 7) returned %d events", after, len(batch))
			}
			for _, ev := range batch {
				if ev.Position != after+1 {
					t.Fatalf("position %d follows %d", ev.Position, after)
				}
				after = ev.Position
			}
		}
		if rest, _ := s.ReadAll(ctx, total, 10); len(rest) != 0 {
			t.Errorf("ReadAll past the head returned %d events", len(rest))
		}
	})
}

func TestReadModelInvoices(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		m := openReadModel(t, e)
		if _, err := m.Checkpoint(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
		views := []ports.InvoiceView{
			{ID: uuid.NewString(), CustomerID: "cus_é", Amount: invoice.MaxAmount, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: "NULL", Amount: 1, Status: invoice.StatusPending, Version: 1, Seq: 2, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: `q"uo\te {a,b} `, Amount: 1999, Status: invoice.StatusPending, Version: 1, Seq: 4, CreatedAt: created, UpdatedAt: created},
		}
		err := m.Project(ctx, "p", 0, 4, func(tx ports.InvoiceProjectionTx) error {
			for _, v := range views {
				if err := tx.InsertInvoice(ctx, v); err != nil {
					return err
				}
			}
			return tx.MarkInvoicePaid(ctx, views[1].ID, 2, created.Add(time.Second))
		})
		if err != nil {
			t.Fatal(err)
		}
		paidAt := created.Add(time.Second)
		views[1].Status, views[1].Version, views[1].PaidAt, views[1].UpdatedAt = invoice.StatusPaid, 2, &paidAt, paidAt

		for _, want := range views {
			got, err := m.GetInvoice(ctx, want.ID)
			if err != nil {
				t.Fatalf("get %s: %v", want.ID, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
		}
		if _, err := m.GetInvoice(ctx, uuid.NewString()); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("get unknown: err = %v, want ErrNotFound", err)
		}

		tests := []struct {
			params  ports.ListParams
			wantSeq []int64
		}{
			{ports.ListParams{Limit: 10}, []int64{4, 2, 1}},
			{ports.ListParams{Limit: 2}, []int64{4, 2}},
			{ports.ListParams{Limit: 10, BeforeSeq: 4}, []int64{2, 1}},
			{ports.ListParams{Limit: 10, BeforeSeq: 1}, nil},
		}
		for _, tt := range tests {
			got, err := m.ListInvoices(ctx, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []int64
			for _, v := range got {
				seqs = append(seqs, v.Seq)
			}
			if diff := cmp.Diff(tt.wantSeq, seqs); diff != "" {
				t.Errorf("ListInvoices(%+v) seqs (-want +got):\n%s", tt.params, diff)
			}
		}
	})
}

func TestReadModelProjectIsAtomic(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		m := openReadModel(t, e)
		if pos, err := m.Checkpoint(ctx, "p"); err != nil || pos != 0 {
			t.Fatalf("new checkpoint = %d, %v; want 0", pos, err)
		}
		v := ports.InvoiceView{ID: uuid.NewString(), CustomerID: "c", Amount: 100, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}

		// A failing batch rolls back its rows and leaves the checkpoint.
		boom := errors.New("boom")
		err := m.Project(ctx, "p", 0, 1, func(tx ports.InvoiceProjectionTx) error {
			if err := tx.InsertInvoice(ctx, v); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if pos, _ := m.Checkpoint(ctx, "p"); pos != 0 {
			t.Errorf("checkpoint = %d after a failed batch, want 0", pos)
		}
		if _, err := m.GetInvoice(ctx, v.ID); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("row of a failed batch is visible: %v", err)
		}

		// A stale "from" is a conflict and applies nothing.
		if err := m.Project(ctx, "p", 0, 1, func(tx ports.InvoiceProjectionTx) error { return tx.InsertInvoice(ctx, v) }); err != nil {
			t.Fatal(err)
		}
		stale := v
		stale.ID, stale.Seq = uuid.NewString(), 2
		err = m.Project(ctx, "p", 0, 1, func(tx ports.InvoiceProjectionTx) error { return tx.InsertInvoice(ctx, stale) })
		if !errors.Is(err, ports.ErrConcurrencyConflict) {
			t.Errorf("stale projection: err = %v, want ErrConcurrencyConflict", err)
		}
		if _, err := m.GetInvoice(ctx, stale.ID); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("a stale projection's row is stored: GetInvoice = %v, want ErrNotFound", err)
		}

		// Paying a row at the wrong version fails instead of overwriting.
		err = m.Project(ctx, "p", 1, 2, func(tx ports.InvoiceProjectionTx) error { return tx.MarkInvoicePaid(ctx, v.ID, 3, time.Now()) })
		if err == nil {
			t.Error("MarkInvoicePaid at the wrong version succeeded")
		}
		if pos, _ := m.Checkpoint(ctx, "p"); pos != 1 {
			t.Errorf("checkpoint = %d, want 1", pos)
		}
	})
}

// TestConcurrentMigrations: instances starting together on an empty
// database all come up (on PostgreSQL, parallel CREATE TABLEs used to fail
// with "relation already exists").
func TestConcurrentMigrations(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		events, read := e.Database(t, "events"), e.Database(t, "read")
		const instances = 5
		errs := make(chan error, 2*instances)
		var wg sync.WaitGroup
		for range instances {
			wg.Go(func() {
				edb, err := Open(ctx, events)
				if err != nil {
					errs <- err
					return
				}
				defer closeDB(t, edb)
				s, err := NewEventStore(ctx, edb)
				if err == nil {
					s.Close()
				}
				errs <- err
			})
			wg.Go(func() {
				rdb, err := Open(ctx, read)
				if err != nil {
					errs <- err
					return
				}
				defer closeDB(t, rdb)
				_, err = NewReadModel(ctx, rdb)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("an instance failed to start: %v", err)
			}
		}
	})
}
