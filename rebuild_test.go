package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/adapters/gormstore"
	"invoices/adapters/gormstore/storetest"
	"invoices/app"
	"invoices/app/projection"
	"invoices/config"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// stores are one data directory's event store and read model.
type stores struct {
	events *gormstore.EventStore
	read   *gormstore.ReadModel
	readDB *gorm.DB
}

func openStores(t *testing.T, dir string) stores {
	t.Helper()
	ctx := context.Background()
	cfg := storetest.Must(config.FromEnv([]string{"DATA_DIR=" + dir}))(t)
	edb := storetest.Must(gormstore.Open(ctx, cfg.EventStore))(t)
	rdb := storetest.Must(gormstore.Open(ctx, cfg.ReadDB))(t)
	t.Cleanup(func() {
		closeQuietly(edb.DB())
		closeQuietly(rdb.DB())
	})
	events := storetest.Must(gormstore.NewEventStore(ctx, edb))(t)
	t.Cleanup(events.Close)
	return stores{events: events, read: storetest.Must(gormstore.NewReadModel(ctx, rdb))(t), readDB: rdb}
}

// project runs the live projector over s until it has applied everything.
func (s stores) project(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	codec := storetest.Must(app.NewCodec())(t)
	p := projection.New(s.events, s.read, codec, zap.NewNop(), projection.Options{BatchSize: 100, PollInterval: time.Hour})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := p.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (s stores) snapshot(t *testing.T) []ports.InvoiceView {
	t.Helper()
	return storetest.Must(s.read.ListInvoices(context.Background(), ports.ListParams{Limit: 1 << 30}))(t)
}

// appendInvoices appends n invoices, every other one paid, to each of ss.
func appendInvoices(t *testing.T, n int, ss ...stores) {
	t.Helper()
	ctx := context.Background()
	codec := storetest.Must(app.NewCodec())(t)
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000000, time.UTC)
	for i := range n {
		id := uuid.NewString()
		created := invoice.Created{InvoiceID: id, CustomerID: fmt.Sprintf("cust-%d", i), Amount: invoice.Amount(1000 + i), CreatedAt: at.Add(time.Duration(i) * time.Second)}
		var evs []ports.NewEvent
		for _, e := range []event.Event{created, invoice.Paid{InvoiceID: id, PaidAt: created.CreatedAt.Add(time.Minute)}}[:1+i%2] {
			name, data, err := codec.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ports.NewEvent{Type: name, Data: data})
		}
		for _, s := range ss {
			for j := range evs {
				evs[j].ID = uuid.NewString()
			}
			if _, err := s.events.Append(ctx, id, 0, evs, ports.Metadata{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestProjectionsRebuild(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	live, fresh := openStores(t, dir), openStores(t, filepath.Join(t.TempDir(), "fresh"))
	appendInvoices(t, 300, live, fresh) // 450 events each
	live.project(t)
	fresh.project(t)
	if err := live.readDB.Exec("DELETE FROM invoices WHERE seq IN (1, 2, 3)").Error; err != nil {
		t.Fatal(err)
	}
	if err := live.readDB.Exec("UPDATE invoices SET status = 'pending' WHERE seq > 400").Error; err != nil {
		t.Fatal(err)
	}

	t.Setenv("DATA_DIR", dir)
	var out bytes.Buffer
	if code := projectionsRebuild([]string{"-batch-size", "64"}, &out); code != 0 {
		t.Fatalf("exit code %d, output:\n%s", code, out.String())
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	first := regexp.MustCompile(`^rebuild: 0/450 events \(0\.0%\), 0 events/s, ETA --$`)
	last := regexp.MustCompile(`^rebuild: done: 450 events in \S+ \(\d+ events/s\); read model swapped in at position 450$`)
	if len(lines) < 2 || !first.MatchString(lines[0]) || !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("output:\n%s\nwant a first line matching %s and a last matching %s", out.String(), first, last)
	}
	if diff := cmp.Diff(fresh.snapshot(t), live.snapshot(t)); diff != "" {
		t.Errorf("rebuilt read model differs from a fresh projection (-want +got):\n%s", diff)
	}
	if got := storetest.Must(live.read.Checkpoint(ctx, projection.InvoicesProjector))(t); got != 450 {
		t.Errorf("checkpoint = %d, want 450", got)
	}

	// A poison event fails the rebuild with exit code 1 and leaves the
	// read model as it was.
	before := live.snapshot(t)
	if _, err := live.events.Append(ctx, uuid.NewString(), 0, []ports.NewEvent{{ID: uuid.NewString(), Type: "invoice.voided", Data: []byte(`{}`)}}, ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := projectionsRebuild(nil, &out); code != 1 {
		t.Fatalf("exit code %d with a poison event, want 1; output:\n%s", code, out.String())
	}
	if diff := cmp.Diff(before, live.snapshot(t)); diff != "" {
		t.Errorf("a failed rebuild changed the read model (-before +after):\n%s", diff)
	}
}

func TestProjectionsRebuildUsage(t *testing.T) {
	t.Setenv("DATA_DIR", filepath.Join(t.TempDir(), "data"))
	tests := [][]string{
		{"projections", "rebuild", "extra"},
		{"projections", "rebuild", "-batch-size", "0"},
		{"projections", "rebuild", "-nope"},
	}
	for _, args := range tests {
		if code := subcommand(args); code != 2 {
			t.Errorf("subcommand(%q) = %d, want 2", args, code)
		}
	}
}

func TestRebuildPrinter(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	updates := []struct {
		at time.Duration
		pr projection.RebuildProgress
	}{
		{0, projection.RebuildProgress{Head: 1000}},
		{500 * time.Millisecond, projection.RebuildProgress{Position: 300, Head: 1000, Elapsed: 500 * time.Millisecond}},
		{1200 * time.Millisecond, projection.RebuildProgress{Position: 600, Head: 1000, Elapsed: 1200 * time.Millisecond}},
		{2300 * time.Millisecond, projection.RebuildProgress{Position: 1000, Head: 1100, Elapsed: 2300 * time.Millisecond}},
		{2400 * time.Millisecond, projection.RebuildProgress{Position: 1100, Head: 1100, Elapsed: 2400 * time.Millisecond, Done: true}},
	}
	tests := []struct {
		tty  bool
		want string
	}{
		{false, "rebuild: 0/1000 events (0.0%), 0 events/s, ETA --\n" +
			"rebuild: 600/1000 events (60.0%), 500 events/s, ETA 1s\n" +
			"rebuild: 1000/1100 events (90.9%), 435 events/s, ETA 0s\n"},
		{true, "\r[                              ]   0.0%  0/1000 events  0 events/s  ETA --\x1b[K" +
			"\r[========>                     ]  30.0%  300/1000 events  600 events/s  ETA 1s\x1b[K" +
			"\r[=================>            ]  60.0%  600/1000 events  500 events/s  ETA 1s\x1b[K" +
			"\r[==========================>   ]  90.9%  1000/1100 events  435 events/s  ETA 0s\x1b[K" +
			"\r[==============================] 100.0%  1100/1100 events  458 events/s  ETA 0s\x1b[K\n"},
	}
	for _, tt := range tests {
		t.Run("tty="+strconv.FormatBool(tt.tty), func(t *testing.T) {
			var out bytes.Buffer
			p := newRebuildPrinter(&out, tt.tty)
			var now time.Time
			p.now = func() time.Time { return now }
			for _, u := range updates {
				now = start.Add(u.at)
				p.update(u.pr)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// BenchmarkRebuild times `invoices projections rebuild` over a PostgreSQL
// event store seeded with INVOICES_REBUILD_BENCH_EVENTS events (default
// 1,000,000: 700,000 invoice.created and 300,000 invoice.paid, pays landing
// both in their invoice's batch and in later ones), and reports events/s.
// It runs only with INVOICES_REBUILD_BENCH=1 and TEST_POSTGRES_URL set.
// With INVOICES_REBUILD_BENCH_BINARY naming a built binary it times that
// binary; otherwise the same code in process. Use -benchtime 1x:
//
//	go build -o /tmp/invoices . && INVOICES_REBUILD_BENCH=1 INVOICES_REBUILD_BENCH_BINARY=/tmp/invoices \
//	TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' \
//	go test -run '^$' -bench BenchmarkRebuild -benchtime 1x -timeout 30m .
func BenchmarkRebuild(b *testing.B) {
	if os.Getenv("INVOICES_REBUILD_BENCH") != "1" {
		b.Skip("set INVOICES_REBUILD_BENCH=1 (and " + storetest.EnvVar + ") to seed a million events and time a rebuild")
	}
	e, ok := storetest.Postgres()
	if !ok {
		b.Skip("set " + storetest.EnvVar + " to run the rebuild benchmark")
	}
	n := int64(1_000_000)
	if v := os.Getenv("INVOICES_REBUILD_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n <= 0 || n%10 != 0 {
			b.Fatalf("INVOICES_REBUILD_BENCH_EVENTS=%q: want a positive multiple of 10", v)
		}
	}
	ctx := context.Background()
	evCfg, readCfg := e.Database(b, "events"), e.Database(b, "read")
	seedStart := time.Now()
	seedEvents(b, evCfg, n)
	b.Logf("seeded %d events in %s", n, time.Since(seedStart).Round(time.Millisecond))
	env := []string{"EVENT_STORE_URL=" + evCfg.DSN, "READ_DB_URL=" + readCfg.DSN}
	bin := os.Getenv("INVOICES_REBUILD_BENCH_BINARY")

	b.ResetTimer()
	for range b.N {
		if bin != "" {
			cmd := exec.CommandContext(ctx, bin, "projections", "rebuild")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("%s projections rebuild: %v\n%s", bin, err, out)
			}
			lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
			b.Logf("%s", lines[len(lines)-1])
			continue
		}
		cfg := storetest.Must(config.FromEnv(env))(b)
		res, err := rebuild(ctx, cfg, projection.RebuildOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Position != n {
			b.Fatalf("rebuilt to %d, want %d", res.Position, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")

	rdb := storetest.Must(gormstore.Open(ctx, readCfg))(b)
	defer closeQuietly(rdb.DB())
	var rows, paid, checkpoint int64
	err := rdb.Raw(`SELECT count(*), count(*) FILTER (WHERE status = 'paid' AND version = 2 AND paid_at IS NOT NULL),
		(SELECT position FROM projection_checkpoints WHERE name = ?) FROM invoices`, projection.InvoicesProjector).Row().Scan(&rows, &paid, &checkpoint)
	if err != nil {
		b.Fatal(err)
	}
	if rows != n/10*7 || paid != n/10*3 || checkpoint != n {
		b.Errorf("read model has %d invoices, %d paid, checkpoint %d; want %d, %d, %d", rows, paid, checkpoint, n/10*7, n/10*3, n)
	}
}

// seedEvents fills a fresh event store with n events straight in SQL, which
// takes seconds where appending a million events one command at a time
// would take many minutes. Every block of 10 positions creates 7 invoices
// and pays 3: in the first 700 blocks, 3 of the block's own invoices; after
// that, 3 invoices of the block 700 back (7,000 positions earlier), so with
// 10,000-event batches some pays fold into their invoice's batch and most
// update a row from an earlier one. Payloads are what the codec writes
// (jsonb normalises the spacing and key order either way).
func seedEvents(b *testing.B, cfg config.Database, n int64) {
	b.Helper()
	ctx := context.Background()
	db := storetest.Must(gormstore.Open(ctx, cfg))(b)
	defer closeQuietly(db.DB())
	storetest.Must(gormstore.NewEventStore(ctx, db))(b).Close()
	const seed = `
WITH p AS (
	SELECT g AS pos, (g - 1) / 10 AS blk, (g - 1) % 10 AS k FROM generate_series(1, ?::bigint) AS g
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
	if err := db.WithContext(ctx).Exec(seed, n).Error; err != nil {
		b.Fatalf("seed events: %v", err)
	}
	if err := db.WithContext(ctx).Exec(`UPDATE event_store_head SET position = ? WHERE id = 1`, n).Error; err != nil {
		b.Fatalf("seed head: %v", err)
	}
	if err := db.WithContext(ctx).Exec(`ANALYZE events`).Error; err != nil {
		b.Fatalf("analyze events: %v", err)
	}
}
