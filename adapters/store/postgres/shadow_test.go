package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/postgres"
	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// The swap waits a bounded time for the live table's lock (a reader
// mid-query holds it), retries, and if the table stays locked gives up with
// the live model untouched. SQLite readers take no lock the swap waits for.
func TestRebuildSwapWaitsBoundedForTheLiveTable(t *testing.T) {
	e := storetest.RequirePostgres(t)
	defer postgres.SetSwapLockTimeout(200 * time.Millisecond)()
	codec := storetest.Codec(t)
	tests := []struct {
		name    string
		hold    time.Duration // how long a reader holds the table after the swap starts
		wantErr bool
	}{
		// Two attempts time out, the third gets the lock.
		{name: "released during the retries", hold: 500 * time.Millisecond},
		{name: "held throughout", hold: time.Hour, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var s ports.EventStore = e.OpenEventStore(t)
			cfg := e.Database(t, "read")
			db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
			t.Cleanup(func() { closeOrReport(t, db) })
			var live interface {
				ports.InvoiceReader
				ports.ProjectionStore
				ports.ReadModelRebuilder
			} = storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
			raw := storetest.Must(store.Open(ctx, e.Store, cfg))(t) // the reader's, and the test's own SQL
			t.Cleanup(func() { closeOrReport(t, raw) })

			ids := appendShadowInvoices(t, s, codec, 30)
			p := projection.New(s, live, codec, zap.NewNop(), projection.Options{BatchSize: 250, PollInterval: time.Hour})
			if err := p.LoadCheckpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if n, err := p.Step(ctx); n != 50 || err != nil {
				t.Fatalf("live projector applied %d events, %v; want 50", n, err)
			}
			corruptShadowTest(t, raw, ids)
			old := listAll(t, live)
			reader := raw.Begin()
			if err := reader.Exec("LOCK TABLE invoices IN ACCESS SHARE MODE").Error; err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			release := func() { once.Do(func() { reader.Rollback() }) }
			t.Cleanup(release)
			rebuilder := delayedSwap{ReadModelRebuilder: live, beforeSwap: func() {
				time.AfterFunc(tt.hold, release)
			}}

			_, err := projection.Rebuild(ctx, s, rebuilder, codec, projection.RebuildOptions{})
			release()

			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Rebuild() error = %v", err)
				}
				if n := len(listAll(t, live)); n != 30 {
					t.Errorf("%d invoices after the swap, want 30", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "lock timeout") {
				t.Fatalf("Rebuild() error = %v, want a lock timeout", err)
			}
			if diff := cmp.Diff(old, listAll(t, live), storetest.ViewCmp); diff != "" {
				t.Errorf("a failed swap changed the read model (-before +after):\n%s", diff)
			}
			if got := storetest.Must(live.Checkpoint(ctx, projection.InvoicesProjector))(t); got != 50 {
				t.Errorf("checkpoint = %d, want 50", got)
			}
			if left := leftBehind(t, raw); len(left) > 0 {
				t.Errorf("a failed swap left %v behind", left)
			}
		})
	}
}

// appendShadowInvoices appends n invoices: every third created and paid in
// one append, every third paid in a later one, the rest pending (5n/3
// events for n a multiple of 3). It returns their ids.
func appendShadowInvoices(t *testing.T, s ports.EventStore, codec *event.Registry, n int) []string {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	appendEvents := func(id string, expected int, es ...event.Event) {
		t.Helper()
		evs := storetest.MustEncode(t, codec, es...)
		if _, err := s.Append(ctx, id, expected, evs, ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		at := base.Add(time.Duration(i) * time.Second)
		es := []event.Event{invoice.Created{InvoiceID: ids[i], CustomerID: "c", Amount: invoice.Amount(100+i) * 100, Currency: invoice.MustCurrency("EUR"), CreatedAt: at}}
		if i%3 == 0 {
			es = append(es, invoice.Paid{InvoiceID: ids[i], PaidAt: at.Add(time.Hour)})
		}
		appendEvents(ids[i], 0, es...)
	}
	for i, id := range ids {
		if i%3 == 1 {
			appendEvents(id, 1, invoice.Paid{InvoiceID: id, PaidAt: base.Add(2 * time.Hour)})
		}
	}
	return ids
}

// corruptShadowTest damages the live read model, so that a swap, had it
// happened, would show.
func corruptShadowTest(t *testing.T, db *gorm.DB, ids []string) {
	t.Helper()
	if err := db.Exec("DELETE FROM invoices WHERE id = ?", ids[2]).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("UPDATE invoices SET amount = '1.00', customer_id = 'corrupted' WHERE id = ?", ids[1]).Error; err != nil {
		t.Fatal(err)
	}
}

func closeOrReport(t *testing.T, db *gorm.DB) {
	t.Helper()
	if err := store.Close(db); err != nil {
		t.Errorf("close database: %v", err)
	}
}

// listAll is the whole read model, newest first.
func listAll(t *testing.T, m ports.InvoiceReader) []ports.InvoiceView {
	t.Helper()
	views, err := m.ListInvoices(context.Background(), ports.ListParams{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	return views
}

// leftBehind lists what a rebuild left: schemas besides the migrated one,
// and checkpoint rows besides the live projector's.
func leftBehind(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var left []string
	err := db.Raw(`SELECT 'schema ' || nspname FROM pg_namespace
			WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'
		UNION ALL SELECT 'checkpoint ' || name FROM projection_checkpoints WHERE name <> ?`, projection.InvoicesProjector).
		Scan(&left).Error
	if err != nil {
		t.Fatal(err)
	}
	return left
}

// delayedSwap lets the test act between the bulk replay and the swap.
type delayedSwap struct {
	ports.ReadModelRebuilder
	beforeSwap func()
}

func (d delayedSwap) StartRebuild(ctx context.Context, projector string) (ports.InvoiceRebuild, error) {
	rb, err := d.ReadModelRebuilder.StartRebuild(ctx, projector)
	if err != nil {
		return nil, err
	}
	return delayedRebuild{InvoiceRebuild: rb, beforeSwap: d.beforeSwap}, nil
}

type delayedRebuild struct {
	ports.InvoiceRebuild
	beforeSwap func()
}

func (d delayedRebuild) Swap(ctx context.Context, catchUp func(context.Context, int64, ports.RebuildWriter) error) (int64, error) {
	d.beforeSwap()
	return d.InvoiceRebuild.Swap(ctx, catchUp)
}
