package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Upgrades from the last release before currencies, due dates and void
// (commit 1aab8f6): testdata/upgrade holds its databases, on both engines,
// as SQL dumps made by make-fixture.sh with that revision's binary. Stored
// history is forever: today's binary must serve them as they were meant.

// fixtureInvoice is an invoice of the fixture as the old release answered.
type fixtureInvoice struct {
	customer, amount, status string
}

// fixtureInvoices are the fixture's invoices by customer and amount (each
// pair is unique), as make-fixture.sh made them.
var fixtureInvoices = []fixtureInvoice{
	{"cus_a", "19.99", "paid"},
	{"cus_b", "20.00", "pending"},
	{"cus_a", "0.01", "pending"},
	{"cus_c", "999999999999.99", "paid"},
}

// loadFixture runs the SQL dump testdata/upgrade/name into db, on one
// connection that is discarded after (pg_dump's script changes its session).
func loadFixture(t *testing.T, db *sql.DB, name string) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("testdata", "upgrade", name))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Raw(func(any) error { return sql.ErrConnDone }) }() // never back to the pool
	if _, err := conn.ExecContext(ctx, string(script)); err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
}

// waitReady polls /readyz until it answers 200, for up to 60 s, and
// returns the bodies it saw while not ready.
func (p *service) waitReady(t *testing.T) []string {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := newClient().fetch(t, p.base+"/readyz")
		if code == http.StatusOK {
			return seen
		}
		seen = append(seen, body)
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60 s: %s\nlogs:\n%s", p.name, body, logTail(p.logs.String(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listAll returns every invoice p lists, newest first.
func listAll(t *testing.T, p *service) []invoiceBody {
	t.Helper()
	code, body := newClient().fetch(t, p.base+"/invoices?limit=1000")
	if code != http.StatusOK {
		t.Fatalf("GET /invoices = %d %s", code, body)
	}
	var out []invoiceBody
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET /invoices: %v: %s", err, body)
	}
	return out
}

func TestUpgradeFromRelease(t *testing.T) {
	engines := []struct {
		name string
		// setup loads the fixture and returns the service environment.
		setup func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string {
			dir := t.TempDir()
			loadFixture(t, openSQLite(t, filepath.Join(dir, "events.db")), "sqlite-events.sql")
			loadFixture(t, openSQLite(t, filepath.Join(dir, "read.db")), "sqlite-read.sql")
			return []string{"DATA_DIR=" + dir}
		}},
		{"postgres", func(t *testing.T) []string {
			admin := postgresAdmin(t, "set "+postgresEnv+" to upgrade a PostgreSQL deployment of the last release")
			events, read := newDatabase(t, admin, "upg_events"), newDatabase(t, admin, "upg_read")
			loadFixture(t, openPostgres(t, events), "postgres-events.sql")
			loadFixture(t, openPostgres(t, read), "postgres-read.sql")
			return []string{"EVENT_STORE_URL=" + events, "READ_DB_URL=" + read}
		}},
	}
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			env := eng.setup(t)
			ctx := context.Background()
			c := newClient()

			// The upgrade: DEFAULT_CURRENCY at the first start of this
			// release is the currency the old invoices were issued in.
			p := startService(t, "upgraded", append(env, "DEFAULT_CURRENCY=USD")...)
			p.waitReady(t)
			if !strings.Contains(p.logs.String(), "read model rebuilt for this release") {
				t.Errorf("no rebuild of the old read model in the log:\n%s", logTail(p.logs.String(), 30))
			}
			old := listAll(t, p)
			if len(old) != len(fixtureInvoices) {
				t.Fatalf("listed %d invoices after the upgrade, want the fixture's %d: %+v", len(old), len(fixtureInvoices), old)
			}
			byKey := map[fixtureInvoice]invoiceBody{}
			for _, inv := range old {
				got := c.get(ctx, p, inv.ID, "upgrade-get")
				if got.status != http.StatusOK || got.inv.Currency != "USD" {
					t.Errorf("GET old invoice %s = %s, currency %q; want 200 in the recorded USD", inv.ID, got, got.inv.Currency)
				}
				byKey[fixtureInvoice{inv.CustomerID, inv.Amount.String(), inv.Status}] = inv
			}
			for _, want := range fixtureInvoices {
				if _, ok := byKey[want]; !ok {
					t.Errorf("no invoice %+v after the upgrade; have %+v", want, byKey)
				}
			}

			// Old invoices are payable and voidable; a paid one is not voidable.
			pending := []invoiceBody{byKey[fixtureInvoices[1]], byKey[fixtureInvoices[2]]}
			if r := c.pay(ctx, p, pending[0].ID, "upgrade-pay"); r.status != http.StatusOK || r.inv.Status != "paid" {
				t.Errorf("pay an old pending invoice: %s", r)
			}
			voidPath := "/invoices/" + pending[1].ID + "/void"
			if r := c.call(ctx, p, "void", http.MethodPost, voidPath, `{"reason":"issued before the upgrade"}`, "upgrade-void"); r.status != http.StatusOK || r.inv.Status != "void" {
				t.Errorf("void an old pending invoice: %s", r)
			}
			paidPath := "/invoices/" + byKey[fixtureInvoices[0]].ID + "/void"
			if r := c.call(ctx, p, "void", http.MethodPost, paidPath, "", "upgrade-void-paid"); r.status != http.StatusConflict || r.problem.Type != "/problems/already-paid" {
				t.Errorf("void an old paid invoice: %s, want 409 /problems/already-paid", r)
			}
			p.stop(t)

			// DEFAULT_CURRENCY changed afterwards: only new invoices follow it.
			p = startService(t, "reconfigured", append(env, "DEFAULT_CURRENCY=JPY")...)
			p.waitReady(t)
			if strings.Contains(p.logs.String(), "rebuilding it before serving") {
				t.Errorf("the current read model was rebuilt again on restart")
			}
			for _, inv := range old {
				if got := c.get(ctx, p, inv.ID, "reconfigured-get"); got.inv.Currency != "USD" || got.inv.Amount != inv.Amount {
					t.Errorf("old invoice %s after DEFAULT_CURRENCY=JPY: %s %s %s, want %s USD", inv.ID, got, got.inv.Amount, got.inv.Currency, inv.Amount)
				}
			}
			r := c.create(ctx, p, "cus_new", "500", "reconfigured-create")
			if r.status != http.StatusCreated || r.inv.Currency != "JPY" || r.inv.Amount != "500" {
				t.Errorf("create without a currency after DEFAULT_CURRENCY=JPY: %s %s %s, want 201 500 JPY", r, r.inv.Amount, r.inv.Currency)
			}
			if n := len(listAll(t, p)); n != len(fixtureInvoices)+1 {
				t.Errorf("listed %d invoices, want %d", n, len(fixtureInvoices)+1)
			}
		})
	}
}

// rebuildLockKey is the advisory lock key a PostgreSQL rebuild of
// projector holds (adapters/store/postgres/shadow.go computes it so).
func rebuildLockKey(projector string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("invoices rebuild " + projector))
	return int64(h.Sum64()) //nolint:gosec // the same wrap-around as the store's
}

// TestUpgradeSeveralInstances starts two instances of this release at once
// on a PostgreSQL deployment of the last one: while a rebuild holds the
// read database's rebuild lock they wait, unready, answering reads with
// 503; then exactly one of them rebuilds and both serve.
func TestUpgradeSeveralInstances(t *testing.T) {
	admin := postgresAdmin(t, "set "+postgresEnv+" to upgrade several PostgreSQL instances at once")
	events, read := newDatabase(t, admin, "upg2_events"), newDatabase(t, admin, "upg2_read")
	loadFixture(t, openPostgres(t, events), "postgres-events.sql")
	readDB := openPostgres(t, read)
	loadFixture(t, readDB, "postgres-read.sql")
	env := []string{"EVENT_STORE_URL=" + events, "READ_DB_URL=" + read}

	// Hold the lock a rebuild of projector "invoices" takes, as an
	// instance already rebuilding would (adapters/store/postgres/shadow.go).
	ctx := context.Background()
	holder, err := readDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Close() }()
	var locked bool
	if err := holder.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", rebuildLockKey("invoices")).Scan(&locked); err != nil || !locked {
		t.Fatalf("take the rebuild lock: %v (locked %v)", err, locked)
	}

	var ps [2]*service
	var wg sync.WaitGroup
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps[i] = spawnService(t, []string{"first", "second"}[i], env...)
		}()
	}
	wg.Wait()
	c := newClient()
	for _, p := range ps {
		p.waitHealthy(t)
		p.waitForLog(t, "another instance is rebuilding the read model; waiting for it")
		if code, body := c.fetch(t, p.base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "upgrading") {
			t.Errorf("%s /readyz while waiting = %d %s, want 503 upgrading", p.name, code, body)
		}
		r := c.call(ctx, p, "list", http.MethodGet, "/invoices", "", "waiting-list")
		if r.status != http.StatusServiceUnavailable || r.problem.Type != "/problems/unavailable" {
			t.Errorf("%s GET /invoices while the read model is stale = %s, want 503 /problems/unavailable", p.name, r)
		}
	}
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", rebuildLockKey("invoices")); err != nil {
		t.Fatal(err)
	}

	rebuilt := 0
	for _, p := range ps {
		p.waitReady(t)
		rebuilt += strings.Count(p.logs.String(), "read model rebuilt for this release")
		if n := len(listAll(t, p)); n != len(fixtureInvoices) {
			t.Errorf("%s lists %d invoices, want %d", p.name, n, len(fixtureInvoices))
		}
	}
	if rebuilt != 1 {
		t.Errorf("the read model was rebuilt %d times by two instances, want exactly once", rebuilt)
	}
	if diff := cmp.Diff(int64(2), queryInt(t, readDB, "SELECT version FROM read_model_versions WHERE name = 'invoices'")); diff != "" {
		t.Errorf("read model version (-want +got):\n%s", diff)
	}
}
