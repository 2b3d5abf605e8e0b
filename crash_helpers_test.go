package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for reading both stores directly

	"invoices/adapters/gormstore/storetest"
	"invoices/config"
)

// Helpers of the crash tests (crash_test.go): a killable service process
// whose logs can be read while it runs, an HTTP client that records what
// every request got, and the invariant checks that compare the API, the
// event store and the read model after the dust settles.

// crashSeedEnv replays a crash test's random choices (amounts, which
// requests pay, kill delays, which instance dies). Timing still varies.
const crashSeedEnv = "CRASH_TEST_SEED"

// crashPostgres returns the PostgreSQL engine, or skips the test.
func crashPostgres(t *testing.T) storetest.Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test runs and SIGKILLs the real binary on PostgreSQL; skipped with -short")
	}
	e, ok := storetest.Postgres()
	if !ok {
		t.Skip("crash test skipped: set " + storetest.EnvVar + " (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run it")
	}
	return e
}

// crashSeed returns the seed of a test's random choices, logged for replay.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay the random choices with %s=%d)", seed, crashSeedEnv, seed)
	return seed
}

// crashClient is shared by all load goroutines. Its timeout is above the
// service's REQUEST_TIMEOUT, so the server, not the client, decides a 503.
func crashClient() *http.Client {
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// crashInvoice is the part of an invoice response the tests check.
type crashInvoice struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customerId"`
	Amount     json.Number `json:"amount"`
	Status     string      `json:"status"`
	Version    int         `json:"version"`
	PaidAt     *time.Time  `json:"paidAt"`
}

// crashReply is one request as the client saw it.
type crashReply struct {
	op        string // "create", "pay", "get"
	instance  *serviceProcess
	requestID string
	sent      time.Time
	took      time.Duration
	status    int
	err       error // transport failure: no HTTP answer
	inv       crashInvoice
	problem   string // problem type of an error answer
	warning   string // Warning header (read model lagged)
}

func (r crashReply) String() string {
	s := fmt.Sprintf("%s on %s (request %s, sent %s, took %v): ", r.op, r.instance.name, r.requestID,
		r.sent.Format("15:04:05.000000"), r.took.Round(time.Microsecond))
	if r.err != nil {
		return s + "transport error: " + r.err.Error()
	}
	s += strconv.Itoa(r.status)
	if r.problem != "" {
		s += " " + r.problem
	}
	if r.warning != "" {
		s += " Warning: " + r.warning
	}
	return s
}

// crashCall sends one request and decodes an invoice or a problem.
func crashCall(ctx context.Context, client *http.Client, p *serviceProcess, op, method, path, body, requestID string) crashReply {
	r := crashReply{op: op, instance: p, requestID: requestID, sent: time.Now()}
	defer func() { r.took = time.Since(r.sent) }()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		r.err = err
		return r
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Request-ID", requestID)
	resp, err := client.Do(req)
	if err != nil {
		r.err = err
		r.took = time.Since(r.sent)
		return r
	}
	defer func() { _ = resp.Body.Close() }()
	r.status = resp.StatusCode
	r.warning = resp.Header.Get("Warning")
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.err = fmt.Errorf("%d, reading body: %w", resp.StatusCode, err)
		r.took = time.Since(r.sent)
		return r
	}
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &r.inv); err != nil {
			r.problem = fmt.Sprintf("undecodable invoice %q: %v", b, err)
		}
	} else {
		var pr struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(b, &pr)
		r.problem = pr.Type
	}
	r.took = time.Since(r.sent)
	return r
}

func crashCreate(ctx context.Context, client *http.Client, p *serviceProcess, customer, amount, requestID string) crashReply {
	return crashCall(ctx, client, p, "create", http.MethodPost, "/invoices",
		fmt.Sprintf(`{"customerId":%q,"amount":%s}`, customer, amount), requestID)
}

func crashPay(ctx context.Context, client *http.Client, p *serviceProcess, id, requestID string) crashReply {
	return crashCall(ctx, client, p, "pay", http.MethodPost, "/invoices/"+id+"/pay", "", requestID)
}

func crashGet(ctx context.Context, client *http.Client, p *serviceProcess, id, requestID string) crashReply {
	return crashCall(ctx, client, p, "get", http.MethodGet, "/invoices/"+id, "", requestID)
}

// randomAmount returns a request amount and the two-decimal text the
// service must answer with. Some are written with fewer decimals or an
// exponent, which the service must store as the same exact amount.
func randomAmount(rng *rand.Rand) (request, want string) {
	cents := 1 + rng.Int64N(99_999_999)
	want = fmt.Sprintf("%d.%02d", cents/100, cents%100)
	switch rng.IntN(8) {
	case 0:
		return fmt.Sprintf("%de-2", cents), want
	case 1:
		if cents%100 == 0 {
			return strconv.FormatInt(cents/100, 10), want
		}
	case 2:
		if cents%10 == 0 {
			return fmt.Sprintf("%d.%d", cents/100, cents%100/10), want
		}
	}
	return want, want
}

// ackedCreate is an acknowledged (201) create.
type ackedCreate struct {
	amount   string // two-decimal text
	customer string
	by       string // instance that answered
}

// crashLedger records everything the service acknowledged and every answer that
// breaks the contract. It is shared by the load goroutines.
type crashLedger struct {
	mu       sync.Mutex
	created  map[string]ackedCreate
	settled  []string        // created ids other workers may pay now
	paid     map[string]bool // ids with a 200 pay
	counts   map[string]int  // "op status" -> count, e.g. "create 201"
	failures []string
}

func newCrashLedger() *crashLedger {
	return &crashLedger{created: map[string]ackedCreate{}, paid: map[string]bool{}, counts: map[string]int{}}
}

func (l *crashLedger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

// observe classifies a reply: it counts it, records a contract violation,
// and reports whether the service answered at all (false for a transport
// error that the kill or the end of the load explains). ok lists the
// statuses the operation may answer.
func (l *crashLedger) observe(ctx context.Context, r crashReply, ok ...int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.err != nil {
		switch {
		case r.instance.dying.Load():
			l.counts[r.op+" lost to kill"]++
		case ctx.Err() != nil && (errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)):
			l.counts[r.op+" cancelled at end of load"]++
		default:
			l.counts[r.op+" transport error"]++
			l.failures = append(l.failures, "transport error from a live instance: "+r.String())
		}
		return false
	}
	key := r.op + " " + strconv.Itoa(r.status)
	if r.warning != "" {
		l.counts[key+" with Warning"]++
	}
	l.counts[key]++
	switch {
	case r.status == http.StatusServiceUnavailable:
		// Allowed (a store call cut short around a crash); counted and
		// reported, never acknowledged.
		return true
	case !crashStatusIn(ok, r.status):
		l.failures = append(l.failures, "unexpected answer: "+r.String())
	case r.status == http.StatusConflict && r.problem != "/problems/already-paid" && r.problem != "/problems/conflict":
		l.failures = append(l.failures, "409 with an unexpected problem type: "+r.String())
	}
	return true
}

func crashStatusIn(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func (l *crashLedger) addCreated(id string, c ackedCreate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.created[id]; dup {
		l.failures = append(l.failures, "two 201s for one id "+id)
	}
	l.created[id] = c
}

// settle makes an acknowledged invoice available to pickCreated, once the
// worker that created it is done paying it.
func (l *crashLedger) settle(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settled = append(l.settled, id)
}

func (l *crashLedger) addPaid(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paid[id] = true
}

// pickCreated returns a random settled invoice, or false if none.
func (l *crashLedger) pickCreated(rng *rand.Rand) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.settled) == 0 {
		return "", false
	}
	return l.settled[rng.IntN(len(l.settled))], true
}

// report logs the counts and fails the test with every recorded violation.
func (l *crashLedger) report(t *testing.T, what string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-40s %d\n", k, l.counts[k])
	}
	t.Logf("%s: %d invoices acknowledged, %d pays acknowledged; answers:\n%s", what, len(l.created), len(l.paid), b.String())
	const show = 30
	for i, f := range l.failures {
		if i == show {
			t.Errorf("… and %d more violations", len(l.failures)-show)
			break
		}
		t.Error(f)
	}
	l.failures = nil
}

// waitCaughtUp polls /readyz on every instance until it is ready and its
// projector's lag is 0 with the checkpoint at the head (what `invoices
// projections status` shows as LAG EVENTS 0).
func waitCaughtUp(t *testing.T, client *http.Client, instances ...*serviceProcess) {
	t.Helper()
	type readiness struct {
		Status string `json:"status"`
		Checks struct {
			Projector struct {
				Status     string `json:"status"`
				Error      string `json:"error"`
				Checkpoint int64  `json:"checkpoint"`
				Head       int64  `json:"head"`
				LagEvents  int64  `json:"lagEvents"`
			} `json:"projector"`
		} `json:"checks"`
	}
	start := time.Now()
	for _, p := range instances {
		deadline := time.Now().Add(20 * time.Second)
		var last string
		for {
			resp, err := client.Get(p.base + "/readyz")
			if err == nil {
				var r readiness
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				last = fmt.Sprintf("%d %s", resp.StatusCode, body)
				if json.Unmarshal(body, &r) == nil && resp.StatusCode == http.StatusOK &&
					r.Checks.Projector.LagEvents == 0 && r.Checks.Projector.Checkpoint == r.Checks.Projector.Head {
					t.Logf("%s caught up: checkpoint %d = head %d (after %v)", p.name,
						r.Checks.Projector.Checkpoint, r.Checks.Projector.Head, time.Since(start).Round(time.Millisecond))
					break
				}
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: projector lag did not reach 0 in 20s; last /readyz: %s", p.name, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// foldedInvoice is the read-model row an invoice's events imply.
type foldedInvoice struct {
	seq       int64
	customer  string
	amount    string
	status    string
	version   int
	createdAt time.Time
	updatedAt time.Time
	paidAt    *time.Time
	paidCount int
}

func (f foldedInvoice) String() string {
	paid := "null"
	if f.paidAt != nil {
		paid = f.paidAt.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("{seq %d customer %q amount %s status %s version %d created %s updated %s paid %s}",
		f.seq, f.customer, f.amount, f.status, f.version,
		f.createdAt.UTC().Format(time.RFC3339Nano), f.updatedAt.UTC().Format(time.RFC3339Nano), paid)
}

// normalizeAmount writes a plain decimal (a JSON number or numeric::text
// without exponent) with exactly two decimals, without floats.
func normalizeAmount(s string) (string, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || !crashAllDigits(whole) || !crashAllDigits(frac) {
		return "", fmt.Errorf("amount %q is not a plain decimal", s)
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 2 {
		return "", fmt.Errorf("amount %q has more than 2 decimals", s)
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	return whole + "." + frac + strings.Repeat("0", 2-len(frac)), nil
}

func crashAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// crashOpenDB opens one test database directly.
func crashOpenDB(t *testing.T, cfg config.Database) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", cfg.DSN)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Redacted, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// foldEventStore reads every event in position order, checks positions are
// gapless 1..head and each stream well formed, and folds each stream into
// the read-model row it implies. It returns the folded rows and the head.
func foldEventStore(t *testing.T, db *sql.DB) (map[string]*foldedInvoice, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var head int64
	if err := db.QueryRowContext(ctx, `SELECT position FROM event_store_head WHERE id = 1`).Scan(&head); err != nil {
		t.Fatalf("read event store head: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT position, stream_id::text, version, type,
		COALESCE(data->>'customerId', ''), COALESCE(data->>'amount', ''),
		COALESCE(data->>'createdAt', ''), COALESCE(data->>'paidAt', '')
		FROM events ORDER BY position`)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	defer func() { _ = rows.Close() }()
	folded := map[string]*foldedInvoice{}
	var n int64
	bad := 0
	badf := func(format string, args ...any) {
		bad++
		if bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for rows.Next() {
		var (
			pos                                     int64
			stream, typ, customer, amount, cAt, pAt string
			version                                 int
		)
		if err := rows.Scan(&pos, &stream, &version, &typ, &customer, &amount, &cAt, &pAt); err != nil {
			t.Fatalf("scan event: %v", err)
		}
		n++
		if pos != n {
			badf("(d) events.position is not gapless: row %d has position %d", n, pos)
			n = pos
		}
		f := folded[stream]
		switch typ {
		case "invoice.created":
			if f != nil {
				badf("stream %s: invoice.created again at position %d (version %d)", stream, pos, version)
				continue
			}
			norm, err := normalizeAmount(amount)
			if err != nil {
				badf("stream %s position %d: %v", stream, pos, err)
			}
			created, err := time.Parse(time.RFC3339Nano, cAt)
			if err != nil {
				badf("stream %s position %d: createdAt %q: %v", stream, pos, cAt, err)
			}
			f = &foldedInvoice{seq: pos, customer: customer, amount: norm, status: "pending", createdAt: created, updatedAt: created}
			folded[stream] = f
		case "invoice.paid":
			if f == nil {
				badf("stream %s: invoice.paid at position %d before invoice.created", stream, pos)
				continue
			}
			f.paidCount++
			paid, err := time.Parse(time.RFC3339Nano, pAt)
			if err != nil {
				badf("stream %s position %d: paidAt %q: %v", stream, pos, pAt, err)
			}
			if f.paidAt == nil { // the first payment is the one that counts
				f.status, f.paidAt, f.updatedAt = "paid", &paid, paid
			}
		default:
			badf("stream %s position %d: unknown event type %q", stream, pos, typ)
			continue
		}
		f.version++
		if version != f.version {
			badf("stream %s position %d: version %d, expected %d", stream, pos, version, f.version)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read events: %v", err)
	}
	if n != head {
		t.Errorf("(d) event store head is %d but the last event is at position %d", head, n)
	}
	return folded, head
}

// readModelRows returns the invoices table and the projector's checkpoint.
func readModelRows(t *testing.T, db *sql.DB) (map[string]foldedInvoice, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var checkpoint int64
	if err := db.QueryRowContext(ctx, `SELECT position FROM projection_checkpoints WHERE name = 'invoices'`).Scan(&checkpoint); err != nil {
		t.Fatalf("read projector checkpoint: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT id::text, seq, customer_id, amount::text, status, version, created_at, updated_at, paid_at FROM invoices`)
	if err != nil {
		t.Fatalf("read invoices: %v", err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]foldedInvoice{}
	for rows.Next() {
		var (
			id string
			f  foldedInvoice
		)
		if err := rows.Scan(&id, &f.seq, &f.customer, &f.amount, &f.status, &f.version, &f.createdAt, &f.updatedAt, &f.paidAt); err != nil {
			t.Fatalf("scan invoice: %v", err)
		}
		norm, err := normalizeAmount(f.amount)
		if err != nil {
			t.Errorf("read model invoice %s: %v", id, err)
		}
		f.amount = norm
		out[id] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read invoices: %v", err)
	}
	return out, checkpoint
}

func sameRow(a, b foldedInvoice) bool {
	samePaid := (a.paidAt == nil) == (b.paidAt == nil) && (a.paidAt == nil || a.paidAt.Equal(*b.paidAt))
	return a.seq == b.seq && a.customer == b.customer && a.amount == b.amount && a.status == b.status &&
		a.version == b.version && a.createdAt.Equal(b.createdAt) && a.updatedAt.Equal(b.updatedAt) && samePaid
}

// verifyStores checks (c) and (d): the read model equals the fold of the
// event store stream by stream, the checkpoint equals the head, positions
// are gapless, and no invoice was paid twice. It returns the folded streams.
func verifyStores(t *testing.T, es, rd config.Database) map[string]*foldedInvoice {
	t.Helper()
	folded, head := foldEventStore(t, crashOpenDB(t, es))
	read, checkpoint := readModelRows(t, crashOpenDB(t, rd))
	if checkpoint != head {
		t.Errorf("(c) projector checkpoint %d != event store head %d", checkpoint, head)
	}
	bad, paid, twice := 0, 0, 0
	for id, want := range folded {
		if want.paidCount > 0 {
			paid++
		}
		if want.paidCount > 1 {
			twice++
			t.Errorf("invoice %s was paid %d times in the event store", id, want.paidCount)
		}
		got, ok := read[id]
		switch {
		case !ok:
			bad++
			if bad <= 20 {
				t.Errorf("(c) stream %s has no read-model row; events fold to %v", id, want)
			}
		case !sameRow(got, *want):
			bad++
			if bad <= 20 {
				t.Errorf("(c) invoice %s:\n read model %v\n events     %v", id, got, want)
			}
		}
	}
	for id, got := range read {
		if _, ok := folded[id]; !ok {
			bad++
			if bad <= 20 {
				t.Errorf("(c) read-model row %s has no stream in the event store: %v", id, got)
			}
		}
	}
	if bad > 20 {
		t.Errorf("(c) … %d read-model mismatches in all", bad)
	}
	t.Logf("stores: head %d, checkpoint %d, %d streams, %d read-model rows, %d paid, %d paid twice",
		head, checkpoint, len(folded), len(read), paid, twice)
	return folded
}

// verifyAcknowledged checks (a) and (b) through the API of every given
// instance: each acknowledged create reads back with its amount and
// customer, each acknowledged pay reads back paid. It also reports how many
// stored invoices were never acknowledged (committed as a crash cut the
// answer off), which is allowed.
func verifyAcknowledged(t *testing.T, client *http.Client, l *crashLedger, folded map[string]*foldedInvoice, instances ...*serviceProcess) {
	t.Helper()
	l.mu.Lock()
	ids := make([]string, 0, len(l.created))
	want := make(map[string]ackedCreate, len(l.created))
	for k, v := range l.created {
		ids = append(ids, k)
		want[k] = v
	}
	paid := make(map[string]bool, len(l.paid))
	for k := range l.paid {
		paid[k] = true
	}
	l.mu.Unlock()

	var mu sync.Mutex
	bad := 0
	badf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		bad++
		if bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for id := range paid {
		if _, ok := want[id]; !ok {
			badf("pay of %s acknowledged, but its create was not", id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range instances {
		work := make(chan string)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Go(func() {
				for id := range work {
					r := crashGet(ctx, client, p, id, "crash-verify-"+id)
					c := want[id]
					switch {
					case r.err != nil || r.status != http.StatusOK:
						badf("(a) acknowledged create %s (answered by %s) not readable: %v", id, c.by, r)
					case string(r.inv.Amount) != c.amount || r.inv.CustomerID != c.customer:
						badf("(a) invoice %s on %s: amount %s customer %q, acknowledged amount %s customer %q",
							id, p.name, r.inv.Amount, r.inv.CustomerID, c.amount, c.customer)
					case paid[id] && r.inv.Status != "paid":
						badf("(b) acknowledged pay of %s, but %s shows status %q", id, p.name, r.inv.Status)
					}
				}
			})
		}
		for _, id := range ids {
			work <- id
		}
		close(work)
		wg.Wait()
	}
	if bad > 20 {
		t.Errorf("… %d API mismatches in all", bad)
	}
	unacked := 0
	for id := range folded {
		if _, ok := want[id]; !ok {
			unacked++
		}
	}
	t.Logf("API: %d acknowledged creates and %d acknowledged pays checked on %d instance(s); %d stored invoices were never acknowledged (committed as a crash cut the answer off)",
		len(ids), len(paid), len(instances), unacked)
}
