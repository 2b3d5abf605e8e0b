package storetest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// rebuildCodec is the production event codec.
func rebuildCodec(t testing.TB) *event.Registry {
	t.Helper()
	return storetest.Codec(t)
}

// encode serialises events with the codec, as the command side stores them.
func encode(t testing.TB, es ...event.Event) []ports.NewEvent {
	t.Helper()
	return storetest.MustEncode(t, rebuildCodec(t), es...)
}

// seedCurrencies are the currencies seedInvoices issues invoices in: with
// 2, 3 and 0 decimals.
var seedCurrencies = []invoice.Currency{eur, kwd, jpy}

// seedInvoices appends n invoices from 4 writers: every third is created
// and paid or voided in one append (so one batch folds both), every third
// paid or voided in a second pass (so the change usually lands in a later
// batch), the rest left pending: 5n/3 events for n a multiple of 3. The
// invoices are in several currencies, half with a due date. It returns the
// invoice ids.
func seedInvoices(t testing.TB, s ports.EventStore, n int) []string {
	t.Helper()
	ctx := context.Background()
	// Nanoseconds and a zone other than UTC, which the stores must treat
	// as the live projector's writes do; customer ids with what array
	// literals and SQL quote.
	base := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	codec := rebuildCodec(t)
	run := func(op func(i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < n; i += 4 {
					if err := op(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	encodeAll := func(es ...event.Event) ([]ports.NewEvent, error) { return storetest.Encode(codec, es...) }
	run(func(i int) error {
		created := invoice.Created{
			InvoiceID: ids[i], CustomerID: fmt.Sprintf(`cust-%d "q" \\ {c}, NULL 'é'`, i%37),
			Amount: invoice.Amount(100+i) * 10_000, Currency: seedCurrencies[i%len(seedCurrencies)], CreatedAt: base.Add(time.Duration(i) * time.Second),
		}
		if created.Currency == kwd {
			created.Amount += 1_250 // .125: all three of its decimals
		}
		if i%2 == 0 {
			created.DueDate = invoice.DateOf(created.CreatedAt.AddDate(0, 0, 30))
		}
		es := []event.Event{created}
		switch {
		case i%15 == 0:
			es = append(es, invoice.Voided{InvoiceID: ids[i], Reason: `sent twice, {dup} "NULL" \`, VoidedAt: created.CreatedAt.Add(time.Minute)})
		case i%3 == 0:
			es = append(es, invoice.Paid{InvoiceID: ids[i], PaidAt: created.CreatedAt.Add(time.Hour)})
		}
		evs, err := encodeAll(es...)
		if err != nil {
			return err
		}
		_, err = s.Append(ctx, ids[i], 0, evs, ports.Metadata{})
		return err
	})
	run(func(i int) error {
		var later event.Event
		switch {
		case i%15 == 1:
			later = invoice.Voided{InvoiceID: ids[i], VoidedAt: base.Add(time.Duration(i)*time.Second + 2*time.Hour)}
		case i%15 == 4:
			later = invoice.Voided{InvoiceID: ids[i], Reason: "customer left", VoidedAt: base.Add(time.Duration(i)*time.Second + 2*time.Hour)}
		case i%3 == 1:
			later = invoice.Paid{InvoiceID: ids[i], PaidAt: base.Add(time.Duration(i)*time.Second + 2*time.Hour)}
		default:
			return nil
		}
		evs, err := encodeAll(later)
		if err != nil {
			return err
		}
		_, err = s.Append(ctx, ids[i], 1, evs, ports.Metadata{})
		return err
	})
	return ids
}

// projectLive runs the live projector over m until it is exactly at
// position, in batches of up to 250 events.
func projectLive(t testing.TB, s ports.EventStore, m ports.ProjectionStore, position int64) {
	t.Helper()
	ctx := context.Background()
	pos := checkpointOf(t, m, projection.InvoicesProjector)
	for pos < position {
		// A projector per batch, sized not to overshoot position.
		p := projection.New(s, m, rebuildCodec(t), zap.NewNop(), projection.Options{BatchSize: int(min(250, position-pos)), PollInterval: time.Hour})
		if err := p.LoadCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := p.Step(ctx)
		if err != nil {
			t.Fatalf("live projector at %d: %v", p.Position(), err)
		}
		if n == 0 {
			t.Fatalf("live projector at %d: no events, want up to %d", p.Position(), position)
		}
		pos = p.Position()
	}
	if pos != position {
		t.Fatalf("live projector at %d, want %d", pos, position)
	}
}

// snapshot is the whole read model, newest first.
func snapshot(t testing.TB, m ports.InvoiceReader) []ports.InvoiceView {
	t.Helper()
	views, err := m.ListInvoices(context.Background(), ports.ListParams{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return views
}

func checkpointOf(t testing.TB, m ports.ProjectionStore, name string) int64 {
	t.Helper()
	pos, err := m.Checkpoint(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

// queryStrings runs a query returning one text column.
func queryStrings(t testing.TB, db *gorm.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Raw(query, args...).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readSchema describes the invoices table as the database has it: columns
// and indexes with their definitions, so a swapped-in table can be compared
// with one GORM created.
func readSchema(t testing.TB, e storetest.Engine, db *gorm.DB) []string {
	t.Helper()
	var out []string
	if e.Name == "postgres" {
		out = queryStrings(t, db, `SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || COALESCE(numeric_precision::text, '') || ',' || COALESCE(numeric_scale::text, '') || ',' || COALESCE(character_maximum_length::text, '')
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'invoices'
			UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'invoices'
			UNION ALL SELECT conname || ' ' || contype::text FROM pg_constraint WHERE conrelid = 'invoices'::regclass`)
	} else {
		for _, s := range queryStrings(t, db, `SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'invoices'`) {
			// A renamed table's statement quotes its new name differently,
			// and a rebuilt table was created as invoices_rebuild.
			out = append(out, strings.NewReplacer("`", "", `"`, "", "invoices_rebuild", "invoices").Replace(s))
		}
	}
	slices.Sort(out)
	return out
}

// shadowLeft reports what a rebuild left behind: any table (SQLite) or
// schema (PostgreSQL) besides the migrated ones, and any checkpoint row
// besides the live projector's.
func shadowLeft(t testing.TB, e storetest.Engine, db *gorm.DB) []string {
	t.Helper()
	var left []string
	if e.Name == "postgres" {
		left = queryStrings(t, db, `SELECT 'schema ' || nspname FROM pg_namespace
			WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'`)
	} else {
		left = queryStrings(t, db, `SELECT 'table ' || name FROM sqlite_master
			WHERE type = 'table' AND name NOT IN ('invoices', 'projection_checkpoints', 'read_model_versions') AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	}
	return append(left, queryStrings(t, db, `SELECT 'checkpoint ' || name FROM projection_checkpoints WHERE name <> ?`, projection.InvoicesProjector)...)
}

// corrupt damages the live read model the ways a bad deploy or a hand edit
// might: rows deleted, a pay and a void lost, an amount changed, and a row
// that never existed.
func corrupt(t testing.TB, db *gorm.DB, ids []string) {
	t.Helper()
	stmts := []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM invoices WHERE id IN ?", []any{[]string{ids[2], ids[5], ids[8]}}},
		{"UPDATE invoices SET status = 'pending', version = 1, paid_at = NULL WHERE id = ?", []any{ids[3]}},
		{"UPDATE invoices SET status = 'pending', version = 1, voided_at = NULL, void_reason = NULL WHERE id = ?", []any{ids[0]}},
		{"UPDATE invoices SET amount = '1.00', customer_id = 'corrupted' WHERE id = ?", []any{ids[1]}},
		{"INSERT INTO invoices (id, seq, customer_id, amount, currency, status, version, created_at, updated_at) VALUES (?, ?, 'ghost', '5.00', 'EUR', 'pending', 1, ?, ?)",
			[]any{uuid.NewString(), int64(1) << 40, time.Now().UTC(), time.Now().UTC()}},
	}
	for _, s := range stmts {
		if err := db.Exec(s.sql, s.args...).Error; err != nil {
			t.Fatalf("%s: %v", s.sql, err)
		}
	}
}

// appendCreated appends one pending invoice and returns its id.
func appendCreated(t testing.TB, s ports.EventStore, customer string) string {
	t.Helper()
	id := uuid.NewString()
	created := invoice.Created{InvoiceID: id, CustomerID: customer, Amount: 10_000, Currency: eur, CreatedAt: time.Now().UTC()}
	if _, err := s.Append(context.Background(), id, 0, encode(t, created), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRebuildReplacesTheReadModel(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
		live, liveDB := openReadModelSQL(t, e)
		var want readModel = e.OpenReadModel(t) // a fresh projection by the live projector
		ids := seedInvoices(t, s, 1200)
		head := storetest.Must(s.Head(ctx))(t)
		if head != 2000 {
			t.Fatalf("head = %d, want 2000 events", head)
		}
		projectLive(t, s, want, head)
		// The live model lags 100 events behind, as a busy service's
		// might; its projector, loaded here, steps again after the swap
		// (below), so the swap moves its checkpoint from under it.
		projectLive(t, s, live, head-100)
		schemaBefore := readSchema(t, e, liveDB)
		corrupt(t, liveDB, ids)
		old := snapshot(t, live)
		stale := projection.New(s, live, rebuildCodec(t), zap.NewNop(), projection.Options{BatchSize: 1000, PollInterval: time.Hour})
		if err := stale.LoadCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if got := stale.Position(); got != head-100 {
			t.Fatalf("live projector at %d, want %d", got, head-100)
		}

		var calls []projection.RebuildProgress
		res, err := projection.Rebuild(ctx, s, live, rebuildCodec(t), projection.RebuildOptions{
			BatchSize: 300,
			Progress: func(p projection.RebuildProgress) {
				calls = append(calls, p)
				if p.Done {
					return
				}
				// Readers still see the old model, corruption and all.
				v, err := live.GetInvoice(ctx, ids[1])
				if err != nil || v.CustomerID != "corrupted" {
					t.Errorf("during the rebuild at %d: GetInvoice = %+v, %v; want the old corrupted row", p.Position, v, err)
				}
				if n := len(snapshot(t, live)); n != len(old) {
					t.Errorf("during the rebuild at %d: %d invoices listed, want the old %d", p.Position, n, len(old))
				}
			},
		})
		if err != nil {
			t.Fatalf("Rebuild() error = %v", err)
		}

		if res.Position != head {
			t.Errorf("Rebuild() position = %d, want the head %d", res.Position, head)
		}
		if diff := cmp.Diff(snapshot(t, want), snapshot(t, live), storetest.ViewCmp); diff != "" {
			t.Errorf("rebuilt read model differs from a fresh projection (-want +got):\n%s", diff)
		}
		if got := checkpointOf(t, live, projection.InvoicesProjector); got != head {
			t.Errorf("checkpoint = %d, want the head %d", got, head)
		}
		if left := shadowLeft(t, e, liveDB); len(left) > 0 {
			t.Errorf("rebuild left %v behind", left)
		}
		if diff := cmp.Diff(schemaBefore, readSchema(t, e, liveDB)); diff != "" {
			t.Errorf("swapped-in table's schema differs from the migrated one (-before +after):\n%s", diff)
		}
		// 2000 events in batches of 300: a start, seven batches and done.
		if len(calls) != 9 || calls[0].Position != 0 || calls[7].Position != head || !calls[8].Done {
			t.Errorf("progress = %+v, want a start at 0, 7 batches to %d and done", calls, head)
		}

		// Migrating again (a service start) finds nothing to change.
		if _, err := store.NewReadModel(ctx, e.Store, liveDB); err != nil {
			t.Fatalf("NewReadModel after the swap: %v", err)
		}
		if diff := cmp.Diff(schemaBefore, readSchema(t, e, liveDB)); diff != "" {
			t.Errorf("AutoMigrate changed the swapped-in table (-before +after):\n%s", diff)
		}
		// The lagging projector finds its checkpoint moved from head-100
		// to the head, reloads it, and carries on with new events.
		extra := appendCreated(t, s, "c")
		for range 3 {
			if _, err := stale.Step(ctx); err != nil {
				t.Fatalf("live projector after the swap: %v", err)
			}
		}
		if got := stale.Position(); got != head+1 {
			t.Errorf("live projector after the swap at %d, want %d", got, head+1)
		}
		if _, err := live.GetInvoice(ctx, extra); err != nil {
			t.Errorf("invoice appended after the swap: %v", err)
		}
	})
}

// A projector running its loop (Start) beside a rebuild: the swap moves its
// checkpoint past where it stopped, and it reloads the checkpoint and goes
// on from there, applying every later event exactly once.
func TestRunningProjectorReloadsTheCheckpointTheSwapMoved(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
		var live readModel = e.OpenReadModel(t)
		var want readModel = e.OpenReadModel(t)
		seedInvoices(t, s, 300) // 500 events
		// Once caught up, nothing wakes the projector but WaitFor (no
		// commit notifier is wired, and the poll is an hour), so it stays
		// where it stopped until the test calls WaitFor.
		p := projection.New(s, live, rebuildCodec(t), zap.NewNop(), projection.Options{BatchSize: 64, PollInterval: time.Hour})
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		stopped := storetest.Must(s.Head(ctx))(t)
		for p.Position() < stopped { // polled: WaitFor would wake it once more
			select {
			case <-wctx.Done():
				t.Fatalf("projector did not reach %d (at %d)", stopped, p.Position())
			case <-time.After(time.Millisecond):
			}
		}

		// Appends the projector has not seen, then a rebuild that swaps in
		// a model at the new head, behind the projector's back.
		seedInvoices(t, s, 30)
		res, err := projection.Rebuild(ctx, s, live, rebuildCodec(t), projection.RebuildOptions{BatchSize: 128})
		if err != nil {
			t.Fatalf("Rebuild() error = %v", err)
		}
		if res.Position != stopped+50 || p.Position() != stopped {
			t.Fatalf("rebuilt to %d with the projector at %d; want %d and %d", res.Position, p.Position(), stopped+50, stopped)
		}

		// More appends; the projector must reload the moved checkpoint
		// (its first batch from where it stopped conflicts) to apply them.
		late := seedInvoices(t, s, 30)
		head := storetest.Must(s.Head(ctx))(t)
		if err := p.WaitFor(wctx, head); err != nil {
			t.Fatalf("projector did not reach the head %d after the swap: %v (at %d)", head, err, p.Position())
		}
		if got, cp := p.Position(), checkpointOf(t, live, projection.InvoicesProjector); got != head || cp != head {
			t.Errorf("projector at %d, checkpoint %d; want both at the head %d", got, cp, head)
		}
		st := storetest.Must(p.Status(ctx))(t)
		if st.Error != "" || st.LagEvents != 0 {
			t.Errorf("projector status = %+v, want healthy and caught up", st)
		}
		projectLive(t, s, want, head)
		if diff := cmp.Diff(snapshot(t, want), snapshot(t, live), storetest.ViewCmp); diff != "" {
			t.Errorf("read model differs from a fresh projection (-want +got):\n%s", diff)
		}
		if n := len(snapshot(t, live)); n != 360 {
			t.Errorf("%d invoices, want 360", n)
		}
		for _, id := range late {
			if _, err := live.GetInvoice(ctx, id); err != nil {
				t.Errorf("invoice appended after the swap: %v", err)
			}
		}
	})
}

// catchUpRebuilder lets the test act between the bulk replay and the swap,
// and counts the batches the swap's catch-up writes.
type catchUpRebuilder struct {
	ports.ReadModelRebuilder
	beforeSwap func()
	inSwap     *int
}

func (c catchUpRebuilder) StartRebuild(ctx context.Context, projector string) (ports.InvoiceRebuild, error) {
	rb, err := c.ReadModelRebuilder.StartRebuild(ctx, projector)
	if err != nil {
		return nil, err
	}
	return catchUpRebuild{InvoiceRebuild: rb, c: c}, nil
}

type catchUpRebuild struct {
	ports.InvoiceRebuild
	c catchUpRebuilder
}

func (r catchUpRebuild) Swap(ctx context.Context, catchUp func(context.Context, int64, ports.RebuildWriter) error) (int64, error) {
	r.c.beforeSwap()
	return r.InvoiceRebuild.Swap(ctx, func(ctx context.Context, live int64, w ports.RebuildWriter) error {
		return catchUp(ctx, live, countingWriter{w: w, n: r.c.inSwap})
	})
}

type countingWriter struct {
	w ports.RebuildWriter
	n *int
}

func (c countingWriter) Apply(ctx context.Context, from, to int64, ch ports.InvoiceChanges) error {
	if c.n != nil {
		*c.n++
	}
	return c.w.Apply(ctx, from, to, ch)
}

// Events appended after the bulk replay ran dry, and already applied by the
// live projector, are caught up inside the swap: the swapped-in model is
// never behind the live checkpoint.
func TestRebuildCatchesUpInsideTheSwap(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
		var live readModel = e.OpenReadModel(t)
		var want readModel = e.OpenReadModel(t)
		seedInvoices(t, s, 300)
		var late []string
		var inSwap int
		rebuilder := catchUpRebuilder{ReadModelRebuilder: live, inSwap: &inSwap, beforeSwap: func() {
			late = seedInvoices(t, s, 30)
			projectLive(t, s, live, storetest.Must(s.Head(ctx))(t))
		}}

		var done []projection.RebuildProgress
		res, err := projection.Rebuild(ctx, s, rebuilder, rebuildCodec(t), projection.RebuildOptions{
			BatchSize: 128,
			Progress: func(p projection.RebuildProgress) {
				if p.Done {
					done = append(done, p)
				}
			},
		})
		if err != nil {
			t.Fatalf("Rebuild() error = %v", err)
		}

		head := storetest.Must(s.Head(ctx))(t)
		if head != 550 || res.Position != head {
			t.Errorf("Rebuild() position = %d, head %d; want both 550", res.Position, head)
		}
		if got := checkpointOf(t, live, projection.InvoicesProjector); got != head {
			t.Errorf("checkpoint = %d, want %d", got, head)
		}
		if inSwap == 0 {
			t.Error("no batch was applied inside the swap")
		}
		if len(done) != 1 || done[0].Position != head || done[0].Head != head {
			t.Errorf("done progress = %+v, want one at the head %d", done, head)
		}
		projectLive(t, s, want, head)
		if diff := cmp.Diff(snapshot(t, want), snapshot(t, live), storetest.ViewCmp); diff != "" {
			t.Errorf("rebuilt read model differs from a fresh projection (-want +got):\n%s", diff)
		}
		if _, err := live.GetInvoice(ctx, late[len(late)-1]); err != nil {
			t.Errorf("an invoice appended before the swap: %v", err)
		}
	})
}

func TestRebuildAbortsOnAPoisonEventAndKeepsTheOldModel(t *testing.T) {
	tests := []struct {
		name   string
		poison ports.NewEvent
		want   string
	}{
		{"unknown type", ports.NewEvent{Type: "invoice.refunded", Data: []byte(`{}`)}, "unknown event type"},
		{"corrupt payload", ports.NewEvent{Type: invoice.CreatedEventName, Data: []byte(`{"amount":"12"}`)}, "decode"},
		{"pay of an unknown invoice", ports.NewEvent{Type: invoice.PaidEventName, Data: []byte(`{"paidAt":"2026-01-01T00:00:00Z"}`)}, "no row at version 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
				ctx := context.Background()
				var s ports.EventStore = e.OpenEventStore(t)
				live, liveDB := openReadModelSQL(t, e)
				ids := seedInvoices(t, s, 600)
				tt.poison.ID = uuid.NewString()
				res := storetest.Must(s.Append(ctx, uuid.NewString(), 0, []ports.NewEvent{tt.poison}, ports.Metadata{}))(t)
				seedInvoices(t, s, 30) // events after the poison
				projectLive(t, s, live, res.Position-1)
				corrupt(t, liveDB, ids)
				old := snapshot(t, live)

				_, err := projection.Rebuild(ctx, s, live, rebuildCodec(t), projection.RebuildOptions{BatchSize: 200})

				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("event at position %d", res.Position)) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Rebuild() error = %v, want one naming position %d and %q", err, res.Position, tt.want)
				}
				if diff := cmp.Diff(old, snapshot(t, live), storetest.ViewCmp); diff != "" {
					t.Errorf("an aborted rebuild changed the read model (-before +after):\n%s", diff)
				}
				if got := checkpointOf(t, live, projection.InvoicesProjector); got != res.Position-1 {
					t.Errorf("checkpoint = %d, want it left at %d", got, res.Position-1)
				}
				if left := shadowLeft(t, e, liveDB); len(left) > 0 {
					t.Errorf("an aborted rebuild left %v behind", left)
				}
			})
		})
	}
}

// The port's own checks, below what the fold already refuses: the store
// must refuse a batch out of order and a pay of a row at another version.
func TestRebuildApplyChecks(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var live readModel = e.OpenReadModel(t)
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		v := ports.InvoiceView{ID: uuid.NewString(), CustomerID: "c", Amount: 100, Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: at, UpdatedAt: at}
		pay := func(id string, from int, pos int64) []ports.InvoiceUpdate {
			return []ports.InvoiceUpdate{{ID: id, FromVersion: from, Version: from + 1, Status: invoice.StatusPaid, UpdatedAt: at, PaidAt: &at, Position: pos}}
		}
		tests := []struct {
			name    string
			from    int64
			changes ports.InvoiceChanges
			wantErr string
		}{
			{"insert", 0, ports.InvoiceChanges{Inserts: []ports.InvoiceView{v}}, ""},
			{"batch out of order", 0, ports.InvoiceChanges{}, ports.ErrConcurrencyConflict.Error()},
			{"pay at the wrong version", 1, ports.InvoiceChanges{Updates: pay(v.ID, 2, 2)}, "event at position 2: update invoice " + v.ID + " to paid: no row at version 2"},
			{"pay of a missing row", 1, ports.InvoiceChanges{Updates: pay(uuid.NewString(), 1, 2)}, "event at position 2"},
			{"pay at an earlier version", 1, ports.InvoiceChanges{Updates: pay(v.ID, 0, 2)}, "event at position 2"},
			{"insert twice", 1, ports.InvoiceChanges{Inserts: []ports.InvoiceView{v}}, "insert 1 invoices"},
			{"pay", 1, ports.InvoiceChanges{Updates: pay(v.ID, 1, 2)}, ""},
		}
		rb := storetest.Must(live.StartRebuild(ctx, projection.InvoicesProjector))(t)
		t.Cleanup(func() { _ = rb.Discard(context.Background()) })
		for _, tt := range tests {
			err := rb.Apply(ctx, tt.from, tt.from+1, tt.changes)
			if tt.wantErr == "" && err != nil {
				t.Errorf("%s: Apply() error = %v", tt.name, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("%s: Apply() error = %v, want %q", tt.name, err, tt.wantErr)
			}
		}
		pos, err := rb.Swap(ctx, func(context.Context, int64, ports.RebuildWriter) error { return nil })
		if err != nil || pos != 2 {
			t.Fatalf("Swap() = %d, %v; want 2", pos, err)
		}
		got := storetest.Must(live.GetInvoice(ctx, v.ID))(t)
		if got.Status != invoice.StatusPaid || got.Version != 2 || got.PaidAt == nil || !got.PaidAt.Equal(at) {
			t.Errorf("swapped-in invoice = %+v, want paid at version 2", got)
		}
		if err := rb.Apply(ctx, 2, 3, ports.InvoiceChanges{}); err == nil {
			t.Error("Apply() after Swap succeeded, want an error")
		}
		if err := rb.Discard(ctx); err != nil {
			t.Errorf("Discard() after Swap = %v, want nil", err)
		}
		if _, err := live.GetInvoice(ctx, v.ID); err != nil {
			t.Errorf("Discard() after Swap dropped the live model: %v", err)
		}
	})
}

// A rebuild interrupted without Discard (the process killed) leaves its
// table; the next one starts from scratch over it.
func TestRebuildStartsOverAnInterruptedOne(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
		live, liveDB := openReadModelSQL(t, e)
		seedInvoices(t, s, 90)
		rb := storetest.Must(live.StartRebuild(ctx, projection.InvoicesProjector))(t)
		at := time.Now().UTC()
		leftover := ports.InvoiceView{ID: uuid.NewString(), CustomerID: "c", Amount: 1, Currency: eur, Status: invoice.StatusPending, Version: 1, Seq: 1, CreatedAt: at, UpdatedAt: at}
		if err := rb.Apply(ctx, 0, 1, ports.InvoiceChanges{Inserts: []ports.InvoiceView{leftover}}); err != nil {
			t.Fatal(err)
		}
		// The process dies: its sessions end, and with them whatever lock
		// the rebuild held.
		endSessions(t, e, liveDB)
		// The dead rebuild's connection goes back to its pool, once the
		// test no longer needs the leftover.
		t.Cleanup(func() { _ = rb.Discard(context.Background()) })
		if left := shadowLeft(t, e, liveDB); len(left) != 2 {
			t.Errorf("an interrupted rebuild left %v, want its table and its checkpoint", left)
		}

		if _, err := projection.Rebuild(ctx, s, live, rebuildCodec(t), projection.RebuildOptions{}); err != nil {
			t.Fatalf("Rebuild() over a leftover: %v", err)
		}
		if _, err := live.GetInvoice(ctx, leftover.ID); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("leftover row: GetInvoice error = %v, want ErrNotFound", err)
		}
		if n := len(snapshot(t, live)); n != 90 {
			t.Errorf("%d invoices after the rebuild, want 90", n)
		}
		if left := shadowLeft(t, e, liveDB); len(left) > 0 {
			t.Errorf("the rebuild over a leftover left %v behind", left)
		}
	})
}

// endSessions ends the sessions that hold advisory locks on db's database,
// as a killed process's would end, and waits until their locks are gone.
// SQLite holds no lock between transactions: nothing to end.
func endSessions(t *testing.T, e storetest.Engine, db *gorm.DB) {
	t.Helper()
	if e.Name != "postgres" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const holders = `FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`
	var ended int64
	if err := db.WithContext(ctx).Raw(`SELECT count(pg_terminate_backend(pid)) ` + holders).Row().Scan(&ended); err != nil {
		t.Fatalf("end the rebuild's session: %v", err)
	}
	if ended == 0 {
		t.Fatal("no session holds an advisory lock: the rebuild held none")
	}
	for {
		var n int64
		if err := db.WithContext(ctx).Raw(`SELECT count(*) ` + holders).Row().Scan(&n); err != nil {
			t.Fatalf("wait for the rebuild's session to end: %v", err)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the rebuild's session did not end")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// A rebuild beside a running service: commands keep appending, the live
// projector keeps projecting and readers keep reading while the rebuild
// replays and swaps. No read fails, and once the projector catches up the
// read model equals a fresh projection.
func TestRebuildBesideARunningService(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var s ports.EventStore = e.OpenEventStore(t)
		var live readModel = e.OpenReadModel(t)
		var want readModel = e.OpenReadModel(t)
		ids := seedInvoices(t, s, 600)
		p := projection.New(s, live, rebuildCodec(t), zap.NewNop(), projection.Options{BatchSize: 50, PollInterval: 5 * time.Millisecond})
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(context.Background()) })
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := p.WaitFor(wctx, storetest.Must(s.Head(ctx))(t)); err != nil {
			t.Fatalf("live projector did not catch up: %v", err)
		}

		codec := rebuildCodec(t)
		bg, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		wg.Go(func() { // commands
			for i := 0; bg.Err() == nil; i++ {
				id := uuid.NewString()
				es := []event.Event{invoice.Created{InvoiceID: id, CustomerID: "live", Amount: invoice.Amount(1+i) * 100, Currency: eur, CreatedAt: time.Now().UTC()}}
				switch i % 4 {
				case 0, 2:
					es = append(es, invoice.Paid{InvoiceID: id, PaidAt: time.Now().UTC()})
				case 1:
					es = append(es, invoice.Voided{InvoiceID: id, Reason: "live", VoidedAt: time.Now().UTC()})
				}
				evs, err := storetest.Encode(codec, es...)
				if err != nil {
					errs <- fmt.Errorf("encode: %w", err)
					return
				}
				if _, err := s.Append(ctx, id, 0, evs, ports.Metadata{}); err != nil {
					errs <- fmt.Errorf("append: %w", err)
					return
				}
			}
		})
		wg.Go(func() { // readers
			for bg.Err() == nil {
				if _, err := live.GetInvoice(ctx, ids[0]); err != nil {
					errs <- fmt.Errorf("get during the rebuild: %w", err)
					return
				}
				if _, err := live.ListInvoices(ctx, ports.ListParams{Limit: 10}); err != nil {
					errs <- fmt.Errorf("list during the rebuild: %w", err)
					return
				}
			}
		})

		_, err := projection.Rebuild(ctx, s, live, rebuildCodec(t), projection.RebuildOptions{BatchSize: 100})
		time.Sleep(50 * time.Millisecond) // let commands and readers run past the swap
		stop()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if err != nil {
			t.Fatalf("Rebuild() error = %v", err)
		}

		head := storetest.Must(s.Head(ctx))(t)
		if err := p.WaitFor(wctx, head); err != nil {
			t.Fatalf("live projector did not reach the head %d after the swap: %v (at %d)", head, err, p.Position())
		}
		projectLive(t, s, want, head)
		if diff := cmp.Diff(snapshot(t, want), snapshot(t, live), storetest.ViewCmp); diff != "" {
			t.Errorf("read model differs from a fresh projection (-want +got):\n%s", diff)
		}
	})
}
