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
	"invoices/app/projection"
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
	s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(t)
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

var (
	eur = invoice.MustCurrency("EUR")
	jpy = invoice.MustCurrency("JPY")
	kwd = invoice.MustCurrency("KWD")
)

func TestReadModelInvoices(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var m readModel = e.OpenReadModel(t)
		if _, err := m.Checkpoint(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
		views := []ports.InvoiceView{
			{ID: uuid.NewString(), CustomerID: "cus_é", Amount: eur.MaxAmount(), Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: "NULL", Amount: 1, Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 2, CreatedAt: created, UpdatedAt: created},
			{ID: uuid.NewString(), CustomerID: `q"uo\te {a,b} `, Amount: 1999, Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 4, CreatedAt: created, UpdatedAt: created},
		}
		// A batch inserting three invoices (a seq is its creation's
		// position, so seqs need not be consecutive), then one paying the
		// second.
		if err := m.Project(ctx, "p", 0, 4, ports.InvoiceChanges{Inserts: views}); err != nil {
			t.Fatal(err)
		}
		paidAt := created.Add(time.Second)
		pay := ports.InvoiceUpdate{ID: views[1].ID, FromVersion: 1, Version: 2, Status: invoice.StatusPaid, UpdatedAt: paidAt, PaidAt: &paidAt, Position: 5}
		if err := m.Project(ctx, "p", 4, 5, ports.InvoiceChanges{Updates: []ports.InvoiceUpdate{pay}}); err != nil {
			t.Fatal(err)
		}
		views[1].Status, views[1].Version, views[1].PaidAt, views[1].UpdatedAt = invoice.StatusPaid, 2, &paidAt, paidAt

		for _, want := range views {
			got, err := m.GetInvoice(ctx, want.ID)
			if err != nil {
				t.Fatalf("get %s: %v", want.ID, err)
			}
			if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
				t.Errorf("get (-want +got):\n%s", diff)
			}
		}
		if _, err := m.GetInvoice(ctx, uuid.NewString()); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("get unknown: err = %v, want ErrNotFound", err)
		}
		if _, err := m.GetInvoice(ctx, "not-a-uuid"); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("get malformed id: err = %v, want ErrNotFound", err)
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

// roundTrip is two batches of read-model changes and the invoices they
// leave: the first inserts every invoice, some already paid or void (the
// insert path), the second pays and voids invoices the first inserted (the
// update path). Amounts are exact in their currency's minor unit and at
// its limits; void reasons and customers hold what SQL and array literals
// quote.
type roundTrip struct {
	first, second ports.InvoiceChanges
	want          []ports.InvoiceView // seq ascending
}

func newRoundTrip() roundTrip {
	at := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	due := invoice.DateOf(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))
	view := func(seq int64, cur invoice.Currency, amount invoice.Amount, dueDate invoice.Date) ports.InvoiceView {
		created := at.Add(time.Duration(seq) * time.Minute)
		return ports.InvoiceView{
			ID: uuid.NewString(), CustomerID: fmt.Sprintf(`cus_%d "q" {a,b} NULL`, seq), Amount: amount, Currency: cur, DueDate: dueDate,
			Status: invoice.StatusPending, Version: 1, Seq: seq, CreatedAt: created, UpdatedAt: created,
		}
	}
	ptr := func(s string) *string { return &s }
	inserts := []ports.InvoiceView{
		view(1, eur, 199_900, due),                    // 19.99 EUR, due; paid in the second batch
		view(2, kwd, 12_345_670, invoice.Date{}),      // 1234.567 KWD, no due date; voided with a reason later
		view(3, jpy, 5_000_000, invoice.Date{}),       // 500 JPY; voided without a reason later
		view(4, kwd, kwd.MaxAmount(), due),            // 999999999999.999 KWD
		view(5, jpy, jpy.MaxAmount(), invoice.Date{}), // 999999999999 JPY
		view(6, eur, 1, due),                          // 0.0001: the smallest amount stored
		view(7, eur, 500, due),                        // paid in the first batch
		view(8, jpy, 10_000, invoice.Date{}),          // voided with a reason in the first batch
		view(9, kwd, 10, due),                         // voided without a reason in the first batch
	}
	insertPaid := at.Add(time.Hour)
	inserts[6].Status, inserts[6].Version, inserts[6].UpdatedAt, inserts[6].PaidAt = invoice.StatusPaid, 2, insertPaid, &insertPaid
	inserts[7].Status, inserts[7].Version, inserts[7].UpdatedAt, inserts[7].VoidedAt, inserts[7].VoidReason = invoice.StatusVoid, 2, insertPaid, &insertPaid, "NULL"
	inserts[8].Status, inserts[8].Version, inserts[8].UpdatedAt, inserts[8].VoidedAt = invoice.StatusVoid, 2, insertPaid, &insertPaid

	paidAt, voidedAt, voided2 := at.Add(2*time.Hour), at.Add(3*time.Hour), at.Add(4*time.Hour)
	reason := `duplicate of "INV-7", {void}; it's \ é`
	updates := []ports.InvoiceUpdate{
		{ID: inserts[0].ID, FromVersion: 1, Version: 2, Status: invoice.StatusPaid, UpdatedAt: paidAt, PaidAt: &paidAt, Position: 10},
		{ID: inserts[1].ID, FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voidedAt, VoidedAt: &voidedAt, VoidReason: ptr(reason), Position: 11},
		{ID: inserts[2].ID, FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voided2, VoidedAt: &voided2, Position: 12},
	}
	want := slices.Clone(inserts)
	want[0].Status, want[0].Version, want[0].UpdatedAt, want[0].PaidAt = invoice.StatusPaid, 2, paidAt, &paidAt
	want[1].Status, want[1].Version, want[1].UpdatedAt, want[1].VoidedAt, want[1].VoidReason = invoice.StatusVoid, 2, voidedAt, &voidedAt, reason
	want[2].Status, want[2].Version, want[2].UpdatedAt, want[2].VoidedAt = invoice.StatusVoid, 2, voided2, &voided2
	return roundTrip{
		first:  ports.InvoiceChanges{Inserts: inserts},
		second: ports.InvoiceChanges{Updates: updates},
		want:   want,
	}
}

// TestReadModelRoundTrip: what a batch writes, the read model returns as it
// was written: currency, the exact amount in it, due date or none, void
// with or without a reason, paid or voided in the batch that inserted the
// invoice or a later one; through the live projection and through a
// rebuild swapped in.
func TestReadModelRoundTrip(t *testing.T) {
	paths := []struct {
		name  string
		apply func(t *testing.T, m readModel, batches ...ports.InvoiceChanges)
	}{
		{"project", func(t *testing.T, m readModel, batches ...ports.InvoiceChanges) {
			ctx := context.Background()
			from := storetest.Must(m.Checkpoint(ctx, projection.InvoicesProjector))(t)
			for i, c := range batches {
				to := from + int64(len(c.Inserts)+len(c.Updates))
				if err := m.Project(ctx, projection.InvoicesProjector, from, to, c); err != nil {
					t.Fatalf("Project(batch %d) = %v", i+1, err)
				}
				from = to
			}
		}},
		{"rebuild", func(t *testing.T, m readModel, batches ...ports.InvoiceChanges) {
			ctx := context.Background()
			// The live model holds something else, which the swap replaces.
			other := newRoundTrip()
			from := storetest.Must(m.Checkpoint(ctx, projection.InvoicesProjector))(t)
			if err := m.Project(ctx, projection.InvoicesProjector, from, from+9, other.first); err != nil {
				t.Fatal(err)
			}
			rb := storetest.Must(m.StartRebuild(ctx, projection.InvoicesProjector))(t)
			t.Cleanup(func() { _ = rb.Discard(context.Background()) })
			from = 0
			for i, c := range batches {
				to := from + int64(len(c.Inserts)+len(c.Updates))
				if err := rb.Apply(ctx, from, to, c); err != nil {
					t.Fatalf("Apply(batch %d) = %v", i+1, err)
				}
				from = to
			}
			pos, err := rb.Swap(ctx, func(context.Context, int64, ports.RebuildWriter) error { return nil })
			if err != nil || pos != from {
				t.Fatalf("Swap() = %d, %v; want %d", pos, err, from)
			}
		}},
	}
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
				ctx := context.Background()
				var m readModel = e.OpenReadModel(t)
				rt := newRoundTrip()
				path.apply(t, m, rt.first, rt.second)

				for _, want := range rt.want {
					got, err := m.GetInvoice(ctx, want.ID)
					if err != nil {
						t.Fatalf("GetInvoice(seq %d): %v", want.Seq, err)
					}
					if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
						t.Errorf("GetInvoice(seq %d) (-want +got):\n%s", want.Seq, diff)
					}
				}
				want := slices.Clone(rt.want)
				slices.Reverse(want)
				got := storetest.Must(m.ListInvoices(ctx, ports.ListParams{Limit: 100}))(t)
				if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
					t.Errorf("ListInvoices (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestReadModelProjectIsAtomic(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var m readModel = e.OpenReadModel(t)
		if pos, err := m.Checkpoint(ctx, "p"); err != nil || pos != 0 {
			t.Fatalf("new checkpoint = %d, %v; want 0", pos, err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		v := ports.InvoiceView{ID: uuid.NewString(), CustomerID: "c", Amount: 100, Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: now, UpdatedAt: now}
		w := v
		w.ID, w.Seq = uuid.NewString(), 2
		get := func(id string) (ports.InvoiceView, error) { return m.GetInvoice(ctx, id) }
		unchanged := func(what string, want ports.InvoiceView) {
			t.Helper()
			got, err := get(want.ID)
			if err != nil {
				t.Fatalf("%s: GetInvoice = %v", what, err)
			}
			if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
				t.Errorf("%s changed the invoice (-want +got):\n%s", what, diff)
			}
		}
		pay := func(id string, from int, pos int64) ports.InvoiceUpdate {
			return ports.InvoiceUpdate{ID: id, FromVersion: from, Version: from + 1, Status: invoice.StatusPaid, UpdatedAt: now, PaidAt: &now, Position: pos}
		}
		voidAt := func(id string, from int, pos int64) ports.InvoiceUpdate {
			reason := "r"
			return ports.InvoiceUpdate{ID: id, FromVersion: from, Version: from + 1, Status: invoice.StatusVoid, UpdatedAt: now, VoidedAt: &now, VoidReason: &reason, Position: pos}
		}

		// A batch whose update cannot apply (its invoice was never
		// inserted) rolls back its inserts, leaves the checkpoint, and
		// names the event.
		err := m.Project(ctx, "p", 0, 2, ports.InvoiceChanges{
			Inserts: []ports.InvoiceView{v},
			Updates: []ports.InvoiceUpdate{pay(uuid.NewString(), 1, 2)},
		})
		wantErrAt(t, err, 2)
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
		if err := m.Project(ctx, "p", 1, 2, ports.InvoiceChanges{Inserts: []ports.InvoiceView{w}}); err != nil {
			t.Fatal(err)
		}

		// Updating a row that is not at the update's FromVersion fails
		// instead of overwriting, names the event, and stores nothing of
		// the batch: the other, matching update neither.
		tests := []struct {
			name    string
			updates []ports.InvoiceUpdate
			wantPos int64
		}{
			{"pay at a later version", []ports.InvoiceUpdate{pay(v.ID, 2, 3)}, 3},
			{"void at a later version", []ports.InvoiceUpdate{voidAt(v.ID, 3, 3)}, 3},
			{"void of a missing row", []ports.InvoiceUpdate{voidAt(uuid.NewString(), 1, 3)}, 3},
			// The row is at the version the update would leave it at:
			// already applied, yet not at FromVersion.
			{"pay at an earlier version", []ports.InvoiceUpdate{pay(v.ID, 0, 3)}, 3},
			{"second of two", []ports.InvoiceUpdate{pay(v.ID, 1, 3), voidAt(w.ID, 4, 4)}, 4},
			{"first of two", []ports.InvoiceUpdate{voidAt(v.ID, 2, 3), pay(w.ID, 1, 4)}, 3},
		}
		for _, tt := range tests {
			err := m.Project(ctx, "p", 2, 4, ports.InvoiceChanges{Updates: tt.updates})
			if err == nil {
				t.Errorf("%s: Project succeeded", tt.name)
				continue
			}
			wantErrAt(t, err, tt.wantPos)
			if pos, _ := m.Checkpoint(ctx, "p"); pos != 2 {
				t.Errorf("%s: checkpoint = %d, want 2", tt.name, pos)
			}
			unchanged(tt.name, v)
			unchanged(tt.name, w)
		}
	})
}

// wantErrAt fails unless err names the event at position pos.
func wantErrAt(t *testing.T, err error, pos int64) {
	t.Helper()
	if want := fmt.Sprintf("event at position %d", pos); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one naming %q", err, want)
	}
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
				s, err := store.NewEventStore(ctx, e.Store, edb, events, storetest.Defaults)
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
			s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(t)
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

// TestEventStoreRecordsTheLegacyCurrencyOnce: the currency of invoices
// stored before invoices had one is whatever the first migration was told;
// a later start with another DEFAULT_CURRENCY does not change what old
// invoices were issued in.
func TestEventStoreRecordsTheLegacyCurrencyOnce(t *testing.T) {
	tests := []struct{ first, later string }{
		{"EUR", "JPY"},
		{"JPY", "EUR"},
	}
	for _, tt := range tests {
		t.Run(tt.first+" then "+tt.later, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
				ctx := context.Background()
				cfg := e.Database(t, "events")
				open := func(legacy string) ports.RecordedDefaults {
					t.Helper()
					db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
					defer closeDB(t, db)
					s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, ports.RecordedDefaults{LegacyCurrency: legacy}))(t)
					defer s.Close()
					if _, err := s.Append(ctx, uuid.NewString(), 0, newEvents("a"), ports.Metadata{}); err != nil {
						t.Fatal(err)
					}
					return s.Recorded()
				}
				want := ports.RecordedDefaults{LegacyCurrency: tt.first}
				if got := open(tt.first); got != want {
					t.Errorf("first open with %s: Recorded() = %+v, want %+v", tt.first, got, want)
				}
				if got := open(tt.later); got != want {
					t.Errorf("reopened with %s: Recorded() = %+v, want %+v", tt.later, got, want)
				}
			})
		})
	}
}
