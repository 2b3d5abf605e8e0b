package storetest_test

import (
	"context"
	"errors"
	"fmt"
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

// The read model records which ports.ReadModelVersion built its invoice
// table. These tests open read databases as this release finds them:
// empty, built by the previous release (version 1, before versions were
// recorded), or built by a later one.

func TestFreshReadModelIsCurrent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		var m readModel = e.OpenReadModel(t)
		if v, err := m.ReadModelVersion(ctx); err != nil || v != ports.ReadModelVersion {
			t.Fatalf("ReadModelVersion() = %d, %v; want %d", v, err, ports.ReadModelVersion)
		}
		if _, err := m.GetInvoice(ctx, uuid.NewString()); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("GetInvoice(unknown) = %v, want ErrNotFound", err)
		}
		if got, err := m.ListInvoices(ctx, ports.ListParams{Limit: 10}); err != nil || len(got) != 0 {
			t.Errorf("ListInvoices() = %v, %v; want none", got, err)
		}
		rt := newRoundTrip()
		from := storetest.Must(m.Checkpoint(ctx, projection.InvoicesProjector))(t)
		if err := m.Project(ctx, projection.InvoicesProjector, from, from+9, rt.first); err != nil {
			t.Errorf("Project() = %v", err)
		}
	})
}

// v1Schema is the invoice read model as the previous release created it
// (its GORM model on each engine), with its checkpoint table and no
// read_model_versions.
var v1Schema = map[string][]string{
	"postgres": {
		`CREATE TABLE invoices (id uuid PRIMARY KEY, seq bigint NOT NULL, customer_id varchar(255) NOT NULL,
			amount numeric(14,2) NOT NULL, status varchar(16) NOT NULL, version bigint NOT NULL,
			created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, paid_at timestamptz)`,
		`CREATE UNIQUE INDEX invoices_seq ON invoices (seq)`,
		`CREATE TABLE projection_checkpoints (name varchar(128) PRIMARY KEY, position bigint NOT NULL, updated_at timestamptz NOT NULL)`,
	},
	"sqlite": {
		`CREATE TABLE invoices (id text PRIMARY KEY, seq integer NOT NULL, customer_id text NOT NULL,
			amount text NOT NULL, status text NOT NULL, version integer NOT NULL,
			created_at datetime NOT NULL, updated_at datetime NOT NULL, paid_at datetime)`,
		`CREATE UNIQUE INDEX invoices_seq ON invoices (seq)`,
		`CREATE TABLE projection_checkpoints (name text PRIMARY KEY, position integer NOT NULL, updated_at datetime NOT NULL)`,
	},
}

// v1Rows are what the previous release's projector wrote for events 1-3:
// invoice a created, b created and paid.
func v1Rows(a, b string, at time.Time) [][]any {
	return [][]any{
		{a, int64(1), "cus_a", "19.99", "pending", 1, at, at, nil},
		{b, int64(2), "cus_b", "5.00", "paid", 2, at, at.Add(time.Hour), at.Add(time.Hour)},
	}
}

// createV1ReadModel builds, by hand, the read model the previous release
// left on db: its tables, the rows of v1Rows, and its checkpoint at 3.
func createV1ReadModel(t *testing.T, e storetest.Engine, db *gorm.DB, rows [][]any) {
	t.Helper()
	for _, ddl := range v1Schema[e.Name] {
		if err := db.Exec(ddl).Error; err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	for _, r := range rows {
		err := db.Exec(`INSERT INTO invoices (id, seq, customer_id, amount, status, version, created_at, updated_at, paid_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r...).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Exec(`INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 3, ?)`,
		projection.InvoicesProjector, time.Now().UTC()).Error; err != nil {
		t.Fatal(err)
	}
}

// v1Contents is the old table's rows as text, to see that nothing touched
// them.
func v1Contents(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	return queryStrings(t, db, `SELECT id || ' ' || seq || ' ' || customer_id || ' ' || amount || ' ' || status || ' ' || version
		FROM invoices ORDER BY seq`)
}

// TestReadModelBuiltByTheOldReleaseIsStaleUntilRebuilt: a read database the
// previous release built opens at version 1 and is left as it is, for that
// release, still running, to keep serving; this one's reads refuse it as
// stale, and the writes of its projector too, until a rebuild swaps in a
// table built from the event store, legacy events included, at version 2.
func TestReadModelBuiltByTheOldReleaseIsStaleUntilRebuilt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := e.OpenEventStore(t)
		codec := storetest.Codec(t)
		a, b, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
		at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

		// Events 1-3, written by the previous release: invoice.created at
		// schema version 1, with no currency.
		legacyCreated := func(id, customer, amount string) ports.NewEvent {
			data := fmt.Sprintf(`{"invoiceId":%q,"customerId":%q,"amount":%s,"createdAt":%q}`, id, customer, amount, at.Format(time.RFC3339Nano))
			return ports.NewEvent{ID: uuid.NewString(), Type: invoice.CreatedEventName, SchemaVersion: 1, Data: []byte(data)}
		}
		storetest.Must(s.Append(ctx, a, 0, []ports.NewEvent{legacyCreated(a, "cus_a", "19.99")}, ports.Metadata{}))(t)
		storetest.Must(s.Append(ctx, b, 0, []ports.NewEvent{legacyCreated(b, "cus_b", "5.00")}, ports.Metadata{}))(t)
		paidAt := at.Add(time.Hour)
		storetest.Must(s.Append(ctx, b, 1, storetest.MustEncode(t, codec, invoice.Paid{InvoiceID: b, PaidAt: paidAt}), ports.Metadata{}))(t)

		cfg := e.Database(t, "read")
		raw := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
		t.Cleanup(func() { closeDB(t, raw) })
		createV1ReadModel(t, e, raw, v1Rows(a, b, at))
		schemaBefore, rowsBefore := readSchema(t, e, raw), v1Contents(t, raw)

		open := func() readModel {
			db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
			t.Cleanup(func() { closeDB(t, db) })
			return storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
		}
		m := open()
		other := open() // another instance, which does not rebuild
		for name, m := range map[string]readModel{"rebuilding": m, "other": other} {
			if v, err := m.ReadModelVersion(ctx); err != nil || v != 1 {
				t.Fatalf("%s instance: ReadModelVersion() = %d, %v; want 1", name, v, err)
			}
		}
		stale := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, ports.ErrReadModelStale) || !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("%s on the old read model = %v, want ErrReadModelStale, an ErrUnavailable", what, err)
			}
		}
		_, err := m.GetInvoice(ctx, a)
		stale("GetInvoice", err)
		_, err = m.ListInvoices(ctx, ports.ListParams{Limit: 10})
		stale("ListInvoices", err)
		stale("Project", m.Project(ctx, projection.InvoicesProjector, 3, 4, ports.InvoiceChanges{}))
		if diff := cmp.Diff(schemaBefore, readSchema(t, e, raw)); diff != "" {
			t.Errorf("opening the old read model changed its table (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(rowsBefore, v1Contents(t, raw)); diff != "" {
			t.Errorf("opening the old read model changed its rows (-before +after):\n%s", diff)
		}
		if got := checkpointOf(t, m, projection.InvoicesProjector); got != 3 {
			t.Errorf("checkpoint = %d, want the old release's 3", got)
		}

		// Events 4-5, by this release: a KWD invoice with a due date, and
		// invoice a voided.
		due := invoice.DateOf(at.AddDate(0, 1, 0))
		voidedAt := at.Add(2 * time.Hour)
		storetest.Must(s.Append(ctx, c, 0, storetest.MustEncode(t, codec, invoice.Created{
			InvoiceID: c, CustomerID: "cus_c", Amount: 12_500, Currency: kwd, DueDate: due, CreatedAt: at,
		}), ports.Metadata{}))(t)
		storetest.Must(s.Append(ctx, a, 1, storetest.MustEncode(t, codec, invoice.Voided{InvoiceID: a, Reason: "wrong customer", VoidedAt: voidedAt}), ports.Metadata{}))(t)

		res, err := projection.Rebuild(ctx, s, m, codec, projection.RebuildOptions{})
		if err != nil {
			t.Fatalf("Rebuild() = %v", err)
		}
		if res.Position != 5 {
			t.Errorf("Rebuild() position = %d, want 5", res.Position)
		}
		if v, err := m.ReadModelVersion(ctx); err != nil || v != ports.ReadModelVersion {
			t.Errorf("ReadModelVersion() after the rebuild = %d, %v; want %d", v, err, ports.ReadModelVersion)
		}
		want := []ports.InvoiceView{
			{ID: c, CustomerID: "cus_c", Amount: 12_500, Currency: kwd, DueDate: due, Status: invoice.StatusPending, Version: 1, Seq: 4, CreatedAt: at, UpdatedAt: at},
			{ID: b, CustomerID: "cus_b", Amount: 50_000, Currency: eur, Status: invoice.StatusPaid, Version: 2, Seq: 2, CreatedAt: at, UpdatedAt: paidAt, PaidAt: &paidAt},
			{ID: a, CustomerID: "cus_a", Amount: 199_900, Currency: eur, Status: invoice.StatusVoid, Version: 2, Seq: 1, CreatedAt: at, UpdatedAt: voidedAt, VoidedAt: &voidedAt, VoidReason: "wrong customer"},
		}
		check := func(name string, m readModel) {
			t.Helper()
			got, err := m.ListInvoices(ctx, ports.ListParams{Limit: 10})
			if err != nil {
				t.Fatalf("%s instance: ListInvoices() after the rebuild = %v", name, err)
			}
			if diff := cmp.Diff(want, got, storetest.ViewCmp); diff != "" {
				t.Errorf("%s instance: rebuilt read model (-want +got):\n%s", name, diff)
			}
			for _, w := range want {
				got, err := m.GetInvoice(ctx, w.ID)
				if err != nil || !cmp.Equal(w, got, storetest.ViewCmp) {
					t.Errorf("%s instance: GetInvoice(seq %d) = %+v, %v; want %+v", name, w.Seq, got, err, w)
				}
			}
		}
		check("rebuilding", m)
		if got := checkpointOf(t, m, projection.InvoicesProjector); got != 5 {
			t.Errorf("checkpoint = %d after the rebuild, want 5", got)
		}
		// The other instance reads the version as its projector does, and
		// serves the rebuilt model from then on.
		if v, err := other.ReadModelVersion(ctx); err != nil || v != ports.ReadModelVersion {
			t.Errorf("other instance: ReadModelVersion() after the rebuild = %d, %v; want %d", v, err, ports.ReadModelVersion)
		}
		check("other", other)
		// A restart migrates the swapped-in table to nothing new.
		check("restarted", open())

		_, fresh := openReadModelSQL(t, e)
		if diff := cmp.Diff(readSchema(t, e, fresh), readSchema(t, e, raw)); diff != "" {
			t.Errorf("rebuilt table differs from a fresh one (-fresh +rebuilt):\n%s", diff)
		}
	})
}

// TestReadModelBuiltByANewerReleaseIsRefused: this release would misread a
// table a later one built, so it does not open it.
func TestReadModelBuiltByANewerReleaseIsRefused(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		_, raw := openReadModelSQL(t, e)
		newer := ports.ReadModelVersion + 1
		if err := raw.Exec(`UPDATE read_model_versions SET version = ? WHERE name = 'invoices'`, newer).Error; err != nil {
			t.Fatal(err)
		}
		_, err := store.NewReadModel(ctx, e.Store, raw)
		want := fmt.Sprintf("built by a newer release (version %d; this release builds %d)", newer, ports.ReadModelVersion)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("NewReadModel() = %v, want an error saying %q", err, want)
		}
	})
}

// TestRebuildIsExclusiveOnPostgres: two rebuilds of one PostgreSQL read
// database started at once, by two instances: one gets it, the other fails
// at once with ErrRebuildRunning rather than dropping the first one's
// table, and can start once the first has ended.
func TestRebuildIsExclusiveOnPostgres(t *testing.T) {
	e := storetest.RequirePostgres(t)
	ctx := context.Background()
	cfg := e.Database(t, "read")
	instances := make([]readModel, 2)
	for i := range instances {
		db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
		t.Cleanup(func() { closeDB(t, db) })
		instances[i] = storetest.Must(store.NewReadModel(ctx, e.Store, db))(t)
	}
	rebuilds := make([]ports.InvoiceRebuild, len(instances))
	errs := make([]error, len(instances))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range instances {
		wg.Go(func() {
			<-start
			rebuilds[i], errs[i] = m.StartRebuild(ctx, projection.InvoicesProjector)
		})
	}
	close(start)
	wg.Wait()
	var winner ports.InvoiceRebuild
	loser := -1
	for i, err := range errs {
		switch {
		case err == nil:
			winner = rebuilds[i]
		case errors.Is(err, ports.ErrRebuildRunning):
			loser = i
		default:
			t.Errorf("instance %d: StartRebuild() = %v, want nil or ErrRebuildRunning", i, err)
		}
	}
	if winner == nil || loser < 0 {
		t.Fatalf("StartRebuild() errors = %v; want one nil and one ErrRebuildRunning", errs)
	}
	if err := winner.Discard(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := instances[loser].StartRebuild(ctx, projection.InvoicesProjector)
	if err != nil {
		t.Fatalf("StartRebuild() after the first ended: %v", err)
	}
	if err := again.Discard(ctx); err != nil {
		t.Fatal(err)
	}
}
