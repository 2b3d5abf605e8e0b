package storetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// The contract suite: every test runs on SQLite and, when TEST_POSTGRES_URL
// is set, on PostgreSQL, against the same expectations. The stores are used
// through the ports only; where a test must hold a lock or damage rows, it
// does so with raw SQL on a connection of its own.

// readModel is the read model as the ports see it.
type readModel interface {
	ports.InvoiceReader
	ports.ProjectionStore
	ports.ReadModelRebuilder
}

// openEventStoreSQL opens an event store on a fresh database, and beside it
// a raw connection to the same database for what no port does.
func openEventStoreSQL(t testing.TB, e storetest.Engine) (ports.EventStore, *gorm.DB) {
	t.Helper()
	ctx := context.Background()
	cfg := e.Database(t, "events")
	db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() { closeDB(t, db) })
	s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg))(t)
	t.Cleanup(s.Close) // before the database closes
	raw := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() { closeDB(t, raw) })
	return s, raw
}

// openReadModelSQL opens a read model on a fresh database, and beside it a
// raw connection to the same database for what no port does.
func openReadModelSQL(t testing.TB, e storetest.Engine) (readModel, *gorm.DB) {
	t.Helper()
	ctx := context.Background()
	cfg := e.Database(t, "read")
	db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() { closeDB(t, db) })
	m := storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
	raw := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() { closeDB(t, raw) })
	return m, raw
}

func closeDB(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := store.Close(db); err != nil {
		t.Errorf("close database: %v", err)
	}
}

func newEvents(types ...string) []ports.NewEvent {
	out := make([]ports.NewEvent, len(types))
	for i, typ := range types {
		out[i] = ports.NewEvent{ID: uuid.NewString(), Type: typ, Data: fmt.Appendf(nil, `{"n":%d}`, i)}
	}
	return out
}

func TestEventStoreAppendAndLoad(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
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
				Type: all[i].Type, SchemaVersion: 1, Data: all[i].Data,
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
		var s ports.EventStore = e.OpenEventStore(t)
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
		var s ports.EventStore = e.OpenEventStore(t)
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
		var s ports.EventStore = e.OpenEventStore(t)
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
		var s ports.EventStore = e.OpenEventStore(t)
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
			// ReadAll is exact: a short page only at the end of the log.
			if want := min(7, total-after); int64(len(batch)) != want {
				t.Fatalf("ReadAll(%d, 7) returned %d events, want %d", after, len(batch), want)
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
		var m readModel = e.OpenReadModel(t)
		if _, err := m.Checkpoint(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
		views := []ports.InvoiceView{
			{ID: uuid.NewString(), CustomerID: "cus_é", Amount: invoice.MaxAmount, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: "NULL", Amount: 1, Status: invoice.StatusPending, Version: 1, Seq: 2, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: `q"uo\te {a,b} `, Amount: 1999, Status: invoice.StatusPending, Version: 1, Seq: 4, CreatedAt: created, UpdatedAt: created},
		}
		// A batch inserting three invoices (a seq is its creation's
		// position, so seqs need not be consecutive), then one paying the
		// second.
		if err := m.Project(ctx, "p", 0, 4, ports.InvoiceChanges{Inserts: views}); err != nil {
			t.Fatal(err)
		}
		paidAt := created.Add(time.Second)
		pay := ports.InvoicePayment{ID: views[1].ID, FromVersion: 1, Version: 2, PaidAt: paidAt, Position: 5}
		if err := m.Project(ctx, "p", 4, 5, ports.InvoiceChanges{Payments: []ports.InvoicePayment{pay}}); err != nil {
			t.Fatal(err)
		}
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
		var m readModel = e.OpenReadModel(t)
		if pos, err := m.Checkpoint(ctx, "p"); err != nil || pos != 0 {
			t.Fatalf("new checkpoint = %d, %v; want 0", pos, err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		v := ports.InvoiceView{ID: uuid.NewString(), CustomerID: "c", Amount: 100, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: now, UpdatedAt: now}
		w := v
		w.ID, w.Seq = uuid.NewString(), 2
		get := func(id string) (ports.InvoiceView, error) { return m.GetInvoice(ctx, id) }
		wantErrAt := func(err error, pos int64) {
			t.Helper()
			if want := fmt.Sprintf("event at position %d", pos); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want one naming %q", err, want)
			}
		}

		// A batch whose payment cannot apply (its invoice was never
		// inserted) rolls back its inserts, leaves the checkpoint, and
		// names the event.
		err := m.Project(ctx, "p", 0, 2, ports.InvoiceChanges{
			Inserts:  []ports.InvoiceView{v},
			Payments: []ports.InvoicePayment{{ID: uuid.NewString(), FromVersion: 1, Version: 2, PaidAt: now, Position: 2}},
		})
		wantErrAt(err, 2)
		if pos, _ := m.Checkpoint(ctx, "p"); pos != 0 {
			t.Errorf("checkpoint = %d after a failed batch, want 0", pos)
		}
		if _, err := get(v.ID); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("row of a failed batch is visible: %v", err)
		}

		// A stale "from" is a conflict and applies nothing.
		if err := m.Project(ctx, "p", 0, 1, ports.InvoiceChanges{Inserts: []ports.InvoiceView{v}}); err != nil {
			t.Fatal(err)
		}
		err = m.Project(ctx, "p", 0, 1, ports.InvoiceChanges{Inserts: []ports.InvoiceView{w}})
		if !errors.Is(err, ports.ErrConcurrencyConflict) {
			t.Errorf("stale projection: err = %v, want ErrConcurrencyConflict", err)
		}
		if _, err := get(w.ID); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("a stale projection's row is stored: GetInvoice = %v, want ErrNotFound", err)
		}

		// Paying a row at the wrong version fails instead of overwriting.
		err = m.Project(ctx, "p", 1, 2, ports.InvoiceChanges{Payments: []ports.InvoicePayment{{ID: v.ID, FromVersion: 2, Version: 3, PaidAt: now, Position: 2}}})
		if err == nil {
			t.Error("a payment at the wrong version succeeded")
		}
		wantErrAt(err, 2)
		if pos, _ := m.Checkpoint(ctx, "p"); pos != 1 {
			t.Errorf("checkpoint = %d, want 1", pos)
		}
		if got, err := get(v.ID); err != nil || !cmp.Equal(got, v) {
			t.Errorf("invoice after a refused payment = %+v, %v; want it unchanged %+v", got, err, v)
		}

		// One payment that cannot apply fails the whole batch: the other,
		// matching one is not stored either.
		if err := m.Project(ctx, "p", 1, 2, ports.InvoiceChanges{Inserts: []ports.InvoiceView{w}}); err != nil {
			t.Fatal(err)
		}
		err = m.Project(ctx, "p", 2, 4, ports.InvoiceChanges{Payments: []ports.InvoicePayment{
			{ID: v.ID, FromVersion: 1, Version: 2, PaidAt: now, Position: 3},
			{ID: w.ID, FromVersion: 4, Version: 5, PaidAt: now, Position: 4},
		}})
		wantErrAt(err, 4)
		if pos, _ := m.Checkpoint(ctx, "p"); pos != 2 {
			t.Errorf("checkpoint = %d, want 2", pos)
		}
		if got, err := get(v.ID); err != nil || !cmp.Equal(got, v) {
			t.Errorf("invoice paid by a failed batch = %+v, %v; want it unchanged %+v", got, err, v)
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
				edb, err := store.Open(ctx, e.Store, events)
				if err != nil {
					errs <- err
					return
				}
				defer closeDB(t, edb)
				s, err := store.NewEventStore(ctx, e.Store, edb, events)
				if err == nil {
					s.Close()
				}
				errs <- err
			})
			wg.Go(func() {
				rdb, err := store.Open(ctx, e.Store, read)
				if err != nil {
					errs <- err
					return
				}
				defer closeDB(t, rdb)
				_, err = store.NewReadModel(ctx, e.Store, rdb)
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

// TestEventStoreKeepsSchemaVersions: each event's payload schema version is
// stored and returned by every read, from the appending store's memory and
// from the database alike, and an event appended without one is at 1.
func TestEventStoreKeepsSchemaVersions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		cfg := e.Database(t, "events")
		open := func() ports.EventStore {
			db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
			t.Cleanup(func() { closeDB(t, db) })
			s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg))(t)
			t.Cleanup(s.Close)
			return s
		}
		writer, reader := open(), open() // reader holds nothing in memory
		stream := uuid.NewString()
		events := newEvents("test.v0", "test.v1", "test.v3")
		events[1].SchemaVersion, events[2].SchemaVersion = 1, 3
		if _, err := writer.Append(ctx, stream, 0, events, ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
		want := []int{1, 1, 3}
		for name, s := range map[string]ports.EventStore{"memory": writer, "database": reader} {
			loaded := storetest.Must(s.LoadStream(ctx, stream))(t)
			all := storetest.Must(s.ReadAll(ctx, 0, 10))(t)
			for what, got := range map[string][]ports.RecordedEvent{"LoadStream": loaded, "ReadAll": all} {
				var versions []int
				for _, ev := range got {
					versions = append(versions, ev.SchemaVersion)
				}
				if !slices.Equal(versions, want) {
					t.Errorf("%s (%s) schema versions = %v, want %v", what, name, versions, want)
				}
			}
		}
	})
}
