package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

// Tests of `invoices projections status` and `invoices projections
// rebuild`, run beside stores the service wrote (on SQLite under DATA_DIR,
// whose files config names events.db and read.db).

// appendEvent appends one event to a SQLite event store straight in SQL, at
// the position after the head, and moves the head: an append behind the
// projector's back, as of an event no running projector has seen (or, with
// an unknown type, one it cannot apply). Metadata and recording time are
// copied from the last event, so their encodings are the store's own.
func appendEvent(t *testing.T, events *sql.DB, stream, typ, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := events.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		SELECT h.position + 1, ?, ?, 1, ?, ?, e.metadata, e.recorded_at
		FROM event_store_head h JOIN events e ON e.position = h.position WHERE h.id = 1`,
		uuid.NewString(), stream, typ, data)
	if err != nil {
		t.Fatalf("append %s: %v", typ, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("append %s: %d rows inserted, want 1 (is the event store empty?)", typ, n)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE event_store_head SET position = position + 1 WHERE id = 1`); err != nil {
		t.Fatalf("move head: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// createInvoices creates n invoices through p's API, customer cust-i with
// amount 10.00 + i cents, and pays the odd ones, one request at a time, so
// the event store holds created and paid events interleaved:
// n + n/2 events, positions 1..n+n/2.
func createInvoices(t *testing.T, p *service, n int) {
	t.Helper()
	ctx := context.Background()
	c := newClient()
	for i := range n {
		rid := fmt.Sprintf("seed-%d", i)
		r := c.create(ctx, p, fmt.Sprintf("cust-%d", i), fmt.Sprintf("%d.%02d", (1000+i)/100, (1000+i)%100), rid)
		if r.err != nil || r.status != http.StatusCreated {
			t.Fatalf("create: %v", r)
		}
		if i%2 == 1 {
			if pr := c.pay(ctx, p, r.inv.ID, rid+"-pay"); pr.err != nil || pr.status != http.StatusOK {
				t.Fatalf("pay: %v", pr)
			}
		}
	}
}

// TestProjectionsStatus: `invoices projections status` prints the durable
// checkpoint, the event store's head and the lag, exits 0 while the
// projector can advance, and 3 with the stall when the next event is one it
// cannot apply.
func TestProjectionsStatus(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"DATA_DIR=" + data}
	p := startService(t, "service", env...)
	c := newClient()
	for i := range 2 { // the service projects each before it answers
		if r := c.create(context.Background(), p, "c", "1.00", fmt.Sprintf("status-%d", i)); r.err != nil || r.status != http.StatusCreated {
			t.Fatalf("create: %v", r)
		}
	}
	p.stop(t)

	// A third event appended with no service running: a lag of one.
	events := openSQLite(t, filepath.Join(data, "events.db"))
	id := uuid.NewString()
	appendEvent(t, events, id, "invoice.created", fmt.Sprintf(`{"invoiceId":%q,"customerId":"late","amount":1.00,"createdAt":%q}`,
		id, time.Now().UTC().Format(time.RFC3339Nano)))

	stdout, stderr, code := run(t, env, "projections", "status")
	if code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "invoices 2 3 1 ") ||
		!strings.HasSuffix(lines[1], " ok") {
		t.Fatalf("output:\n%s\nwant checkpoint 2, head 3, lag 1, ok", stdout)
	}
	if secs, err := strconv.ParseFloat(strings.Fields(lines[1])[4], 64); err != nil || secs < 0 {
		t.Errorf("LAG SECONDS %q, want a number >= 0", strings.Fields(lines[1])[4])
	}

	// An event the projector cannot apply shows as a stall, exit code 3.
	appendEvent(t, events, uuid.NewString(), "invoice.archived", `{}`)
	stdout, stderr, code = run(t, env, "projections", "status")
	if code != 3 {
		t.Errorf("exit code %d for a stalled projector, want 3; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "stalled: event at position 4") || !strings.Contains(stdout, "unknown event type") {
		t.Errorf("output does not show the stall:\n%s", stdout)
	}
}

// invoiceRow is one row of the read model's invoices table.
type invoiceRow struct {
	ID, Customer, Amount, Status string
	Seq                          int64
	Version                      int
	CreatedAt, UpdatedAt         time.Time
	PaidAt                       *time.Time
}

// invoiceRows returns a SQLite read model's invoices in seq order.
func invoiceRows(t *testing.T, read *sql.DB) []invoiceRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := read.QueryContext(ctx, `SELECT id, seq, customer_id, amount, status, version, created_at, updated_at, paid_at FROM invoices ORDER BY seq`)
	if err != nil {
		t.Fatalf("read invoices: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var out []invoiceRow
	for rows.Next() {
		var r invoiceRow
		if err := rows.Scan(&r.ID, &r.Seq, &r.Customer, &r.Amount, &r.Status, &r.Version, &r.CreatedAt, &r.UpdatedAt, &r.PaidAt); err != nil {
			t.Fatalf("scan invoice: %v", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read invoices: %v", err)
	}
	return out
}

const checkpointQuery = `SELECT position FROM projection_checkpoints WHERE name = 'invoices'`

// TestProjectionsRebuild: `invoices projections rebuild` replaces a damaged
// read model with exactly what the live projector had built from the same
// events, printing progress and a summary; an event it cannot apply fails
// it with exit code 1 and leaves the read model as it was.
func TestProjectionsRebuild(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"DATA_DIR=" + data}
	p := startService(t, "service", env...)
	createInvoices(t, p, 300) // 450 events
	p.stop(t)

	read := openSQLite(t, filepath.Join(data, "read.db"))
	want := invoiceRows(t, read)
	if len(want) != 300 {
		t.Fatalf("the live projector built %d invoices, want 300", len(want))
	}
	if got := queryInt(t, read, checkpointQuery); got != 450 {
		t.Fatalf("live checkpoint = %d, want 450", got)
	}
	for _, damage := range []string{
		"DELETE FROM invoices WHERE seq IN (1, 2, 3)",
		"UPDATE invoices SET status = 'pending' WHERE seq > 400",
	} {
		if _, err := read.Exec(damage); err != nil {
			t.Fatalf("%s: %v", damage, err)
		}
	}

	stdout, stderr, code := run(t, env, "projections", "rebuild", "-batch-size", "64")
	if code != 0 {
		t.Fatalf("exit code %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	first := regexp.MustCompile(`^rebuild: 0/450 events \(0\.0%\), 0 events/s, ETA --$`)
	last := regexp.MustCompile(`^rebuild: done: 450 events in \S+ \(\d+ events/s\); read model swapped in at position 450$`)
	if len(lines) < 2 || !first.MatchString(lines[0]) || !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("output:\n%s\nwant a first line matching %s and a last matching %s", stdout, first, last)
	}
	if diff := cmp.Diff(want, invoiceRows(t, read)); diff != "" {
		t.Errorf("rebuilt read model differs from the live projection (-want +got):\n%s", diff)
	}
	if got := queryInt(t, read, checkpointQuery); got != 450 {
		t.Errorf("checkpoint = %d, want 450", got)
	}

	// A poison event fails the rebuild with exit code 1 and leaves the
	// read model as it was.
	before := invoiceRows(t, read)
	appendEvent(t, openSQLite(t, filepath.Join(data, "events.db")), uuid.NewString(), "invoice.archived", `{}`)
	stdout, stderr, code = run(t, env, "projections", "rebuild")
	if code != 1 {
		t.Fatalf("exit code %d with a poison event, want 1; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(before, invoiceRows(t, read)); diff != "" {
		t.Errorf("a failed rebuild changed the read model (-before +after):\n%s", diff)
	}
	if got := queryInt(t, read, checkpointQuery); got != 450 {
		t.Errorf("checkpoint after a failed rebuild = %d, want 450 still", got)
	}
}

// TestProjectionsRebuildUsage: bad arguments exit 2 before any store is
// touched.
func TestProjectionsRebuildUsage(t *testing.T) {
	env := []string{"DATA_DIR=" + filepath.Join(t.TempDir(), "data")}
	for _, args := range [][]string{
		{"projections", "rebuild", "extra"},
		{"projections", "rebuild", "-batch-size", "0"},
		{"projections", "rebuild", "-nope"},
	} {
		if _, stderr, code := run(t, env, args...); code != 2 {
			t.Errorf("invoices %s: exit code %d, want 2; stderr:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}

// BenchmarkRebuild times the binary's `projections rebuild` over a
// PostgreSQL event store seeded with INVOICES_REBUILD_BENCH_EVENTS events
// (default 1,000,000: 700,000 invoice.created and 300,000 invoice.paid,
// pays landing both in their invoice's batch and in later ones), and
// reports events/s. It runs only with INVOICES_REBUILD_BENCH=1 and
// TEST_POSTGRES_URL set; INVOICES_E2E_BIN times a given binary (such as
// the release build) instead of one built from the module. Use -benchtime 1x:
//
//	INVOICES_REBUILD_BENCH=1 TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	go test -run '^$' -bench BenchmarkRebuild -benchtime 1x -timeout 30m ./e2e/
func BenchmarkRebuild(b *testing.B) {
	if os.Getenv("INVOICES_REBUILD_BENCH") != "1" {
		b.Skip("set INVOICES_REBUILD_BENCH=1 (and " + postgresEnv + ") to seed a million events and time a rebuild")
	}
	admin := postgresAdmin(b, "set "+postgresEnv+" to run the rebuild benchmark")
	n := int64(1_000_000)
	if v := os.Getenv("INVOICES_REBUILD_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n <= 0 || n%10 != 0 {
			b.Fatalf("INVOICES_REBUILD_BENCH_EVENTS=%q: want a positive multiple of 10", v)
		}
	}
	es, rd := newDatabase(b, admin, "events"), newDatabase(b, admin, "read")
	env := []string{"EVENT_STORE_URL=" + es, "READ_DB_URL=" + rd}
	// The service creates both schemas on start-up.
	startService(b, "migrate", env...).stop(b)
	seedStart := time.Now()
	seedEvents(b, openPostgres(b, es), n)
	b.Logf("seeded %d events in %s", n, time.Since(seedStart).Round(time.Millisecond))
	done := regexp.MustCompile(`read model swapped in at position (\d+)$`)

	b.ResetTimer()
	for range b.N {
		stdout, stderr, code := run(b, env, "projections", "rebuild")
		if code != 0 {
			b.Fatalf("projections rebuild: exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		b.Logf("%s", lines[len(lines)-1])
		if m := done.FindStringSubmatch(lines[len(lines)-1]); m == nil || m[1] != strconv.FormatInt(n, 10) {
			b.Fatalf("rebuilt to %v, want position %d", m, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")

	var rows, paid, checkpoint int64
	err := openPostgres(b, rd).QueryRow(`SELECT count(*), count(*) FILTER (WHERE status = 'paid' AND version = 2 AND paid_at IS NOT NULL),
		(SELECT position FROM projection_checkpoints WHERE name = 'invoices') FROM invoices`).Scan(&rows, &paid, &checkpoint)
	if err != nil {
		b.Fatal(err)
	}
	if rows != n/10*7 || paid != n/10*3 || checkpoint != n {
		b.Errorf("read model has %d invoices, %d paid, checkpoint %d; want %d, %d, %d", rows, paid, checkpoint, n/10*7, n/10*3, n)
	}
}

// seedEvents fills an empty, migrated PostgreSQL event store with n events
// straight in SQL, which takes seconds where appending a million events one
// command at a time would take many minutes. Every block of 10 positions
// creates 7 invoices and pays 3: in the first 700 blocks, 3 of the block's
// own invoices; after that, 3 invoices of the block 700 back (7,000
// positions earlier), so with 10,000-event batches some pays fold into
// their invoice's batch and most update a row from an earlier one.
// Payloads are what the codec writes (jsonb normalises the spacing and key
// order either way).
func seedEvents(b *testing.B, db *sql.DB, n int64) {
	b.Helper()
	const seed = `
WITH p AS (
	SELECT g AS pos, (g - 1) / 10 AS blk, (g - 1) % 10 AS k FROM generate_series(1, $1::bigint) AS g
), e AS (
	SELECT pos, k,
		CASE WHEN k < 7 THEN 7 * blk + k
		     WHEN blk < 700 THEN 7 * blk + (k - 7)
		     ELSE 7 * (blk - 700) + (k - 4) END AS inv
	FROM p
), v AS (
	SELECT pos, k, inv, md5('invoice-' || inv)::uuid AS stream,
		timestamp '2026-03-14 09:26:53.589793' + inv * interval '1 millisecond' AS created
	FROM e
)
INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
SELECT pos, md5('event-' || pos)::uuid, stream,
	CASE WHEN k < 7 THEN 1 ELSE 2 END,
	CASE WHEN k < 7 THEN 'invoice.created' ELSE 'invoice.paid' END,
	CASE WHEN k < 7 THEN jsonb_build_object(
			'invoiceId', stream::text,
			'customerId', 'cust-' || lpad((inv % 100000)::text, 6, '0'),
			'amount', ((100 + inv % 9900)::text || '.' || lpad((inv % 100)::text, 2, '0'))::numeric,
			'createdAt', to_char(created, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
	ELSE jsonb_build_object(
			'invoiceId', stream::text,
			'paidAt', to_char(created + interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
	END,
	'{"correlationId":"bench","causationId":"seed"}'::jsonb,
	now()
FROM v`
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, seed, n); err != nil {
		b.Fatalf("seed events: %v", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE event_store_head SET position = $1 WHERE id = 1`, n); err != nil {
		b.Fatalf("seed head: %v", err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE events`); err != nil {
		b.Fatalf("analyze events: %v", err)
	}
}
