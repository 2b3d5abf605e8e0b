package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// What the crash tests check after the dust settles: a ledger of what the
// service acknowledged under load, and the invariants that compare it, the
// API, the event store and the read model.

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

// ledger records everything the service acknowledged and every answer that
// breaks the contract. It is shared by the load goroutines.
type ledger struct {
	t          *testing.T
	violations *failures
	mu         sync.Mutex
	created    map[string]ackedCreate
	settled    []string        // created ids other workers may pay now
	paid       map[string]bool // ids with a 200 pay
	counts     map[string]int  // "op status" -> count, e.g. "create 201"
}

func newLedger(t *testing.T) *ledger {
	return &ledger{
		t: t, violations: newFailures(t, 30, "contract violations"),
		created: map[string]ackedCreate{}, paid: map[string]bool{}, counts: map[string]int{},
	}
}

// fail records a contract violation.
func (l *ledger) fail(format string, args ...any) {
	l.violations.add(format, args...)
}

// observe classifies a reply: it counts it, records a contract violation,
// and reports whether the service answered at all (false for a transport
// error that the kill or the end of the load explains). ok lists the
// statuses the operation may answer.
func (l *ledger) observe(ctx context.Context, r reply, ok ...int) bool {
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
			l.fail("transport error from a live instance: %v", r)
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
	case !slices.Contains(ok, r.status):
		l.fail("unexpected answer: %v", r)
	case r.status == http.StatusConflict && r.problem.Type != "/problems/already-paid" && r.problem.Type != "/problems/conflict":
		l.fail("409 with an unexpected problem type: %v", r)
	}
	return true
}

// createInvoice posts a new invoice with a random amount and records it if
// it is acknowledged; it returns the reply and whether it was.
func (l *ledger) createInvoice(ctx context.Context, c *client, p *service, rng *rand.Rand, customer, rid string) (reply, bool) {
	body, want := randomAmount(rng)
	r := c.create(ctx, p, customer, body, rid)
	if !l.observe(ctx, r, http.StatusCreated) || r.status != http.StatusCreated {
		return r, false
	}
	if r.inv.ID == "" || string(r.inv.Amount) != want || r.inv.CustomerID != customer || r.inv.Status != "pending" {
		l.fail("create of amount %s customer %q answered %+v: %v", body, customer, r.inv, r)
		return r, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.created[r.inv.ID]; dup {
		l.fail("two 201s for one id %s", r.inv.ID)
	}
	l.created[r.inv.ID] = ackedCreate{amount: want, customer: customer, by: p.name}
	return r, true
}

// recordPay records one pay's answer; it reports whether the pay was
// acknowledged.
func (l *ledger) recordPay(ctx context.Context, r reply, id string) bool {
	if !l.observe(ctx, r, http.StatusOK, http.StatusConflict) || r.status != http.StatusOK {
		return false
	}
	if r.inv.ID != id || r.inv.Status != "paid" || r.inv.PaidAt == nil {
		l.fail("pay of %s answered 200 with %+v: %v", id, r.inv, r)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paid[id] = true
	return true
}

// recordPayPair records two simultaneous pays of one new invoice. When both
// got an answer (neither lost to a kill nor a 503), exactly one must be 200
// and the other 409 already paid; it reports whether the pair was checked.
func (l *ledger) recordPayPair(ctx context.Context, a, b reply, id string) bool {
	okA, okB := l.recordPay(ctx, a, id), l.recordPay(ctx, b, id)
	answered := func(r reply) bool { return r.err == nil && r.status != http.StatusServiceUnavailable }
	if !answered(a) || !answered(b) {
		if okA && okB {
			l.fail("invoice %s paid twice: %v and %v", id, a, b)
		}
		return false
	}
	alreadyPaid := func(r reply) bool {
		return r.status == http.StatusConflict && r.problem.Type == "/problems/already-paid"
	}
	if exactlyOnce := okA && alreadyPaid(b) || okB && alreadyPaid(a); !exactlyOnce {
		l.fail("two simultaneous pays of %s: want exactly one 200 and one 409 already-paid, got %v and %v", id, a, b)
	}
	return true
}

// settle makes an acknowledged invoice available to pickCreated, once the
// worker that created it is done paying it.
func (l *ledger) settle(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settled = append(l.settled, id)
}

// pickCreated returns a random settled invoice, or false if none.
func (l *ledger) pickCreated(rng *rand.Rand) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.settled) == 0 {
		return "", false
	}
	return l.settled[rng.IntN(len(l.settled))], true
}

// ledgerCounts is how much the ledger had acknowledged at one moment.
type ledgerCounts struct{ created, paid int }

func (l *ledger) snapshot() ledgerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ledgerCounts{created: len(l.created), paid: len(l.paid)}
}

// report logs the counts of answers, once the load is over; the
// violations have failed the test as they happened.
func (l *ledger) report(what string) {
	l.t.Helper()
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
	l.t.Logf("%s: %d invoices acknowledged, %d pays acknowledged; answers:\n%s", what, len(l.created), len(l.paid), b.String())
	l.violations.summarize()
}

// waitCaughtUp polls /readyz on every instance until it is ready and its
// projector's lag is 0 with the checkpoint at the head (what `invoices
// projections status` shows as LAG EVENTS 0).
func waitCaughtUp(t *testing.T, c *client, instances ...*service) {
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
			resp, err := c.http.Get(p.base + "/readyz")
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
	if whole == "" || !allDigits(whole) || !allDigits(frac) {
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

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// foldEventStore reads every event of a PostgreSQL event store in position
// order, checks positions are gapless 1..head and each stream well formed,
// and folds each stream into the read-model row it implies. It returns the
// folded rows and the head.
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
	bad := newFailures(t, 20, "event store faults")
	defer bad.summarize()
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
			bad.add("(d) events.position is not gapless: row %d has position %d", n, pos)
			n = pos
		}
		f := folded[stream]
		switch typ {
		case "invoice.created":
			if f != nil {
				bad.add("stream %s: invoice.created again at position %d (version %d)", stream, pos, version)
				continue
			}
			norm, err := normalizeAmount(amount)
			if err != nil {
				bad.add("stream %s position %d: %v", stream, pos, err)
			}
			created, err := time.Parse(time.RFC3339Nano, cAt)
			if err != nil {
				bad.add("stream %s position %d: createdAt %q: %v", stream, pos, cAt, err)
			}
			f = &foldedInvoice{seq: pos, customer: customer, amount: norm, status: "pending", createdAt: created, updatedAt: created}
			folded[stream] = f
		case "invoice.paid":
			if f == nil {
				bad.add("stream %s: invoice.paid at position %d before invoice.created", stream, pos)
				continue
			}
			f.paidCount++
			paid, err := time.Parse(time.RFC3339Nano, pAt)
			if err != nil {
				bad.add("stream %s position %d: paidAt %q: %v", stream, pos, pAt, err)
			}
			if f.paidAt == nil { // the first payment is the one that counts
				f.status, f.paidAt, f.updatedAt = "paid", &paid, paid
			}
		default:
			bad.add("stream %s position %d: unknown event type %q", stream, pos, typ)
			continue
		}
		f.version++
		if version != f.version {
			bad.add("stream %s position %d: version %d, expected %d", stream, pos, version, f.version)
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

// readModelRows returns a PostgreSQL read model's invoices table and the
// projector's checkpoint.
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

// verifyStores checks (c) and (d) on the PostgreSQL stores at the URLs es
// and rd: the read model equals the fold of the event store stream by
// stream, the checkpoint equals the head, positions are gapless, and no
// invoice was paid twice. It returns the folded streams.
func verifyStores(t *testing.T, es, rd string) map[string]*foldedInvoice {
	t.Helper()
	folded, head := foldEventStore(t, openPostgres(t, es))
	read, checkpoint := readModelRows(t, openPostgres(t, rd))
	if checkpoint != head {
		t.Errorf("(c) projector checkpoint %d != event store head %d", checkpoint, head)
	}
	bad := newFailures(t, 20, "(c) read-model mismatches")
	paid, twice := 0, 0
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
			bad.add("(c) stream %s has no read-model row; events fold to %v", id, want)
		case !sameRow(got, *want):
			bad.add("(c) invoice %s:\n read model %v\n events     %v", id, got, want)
		}
	}
	for id, got := range read {
		if _, ok := folded[id]; !ok {
			bad.add("(c) read-model row %s has no stream in the event store: %v", id, got)
		}
	}
	bad.summarize()
	t.Logf("stores: head %d, checkpoint %d, %d streams, %d read-model rows, %d paid, %d paid twice",
		head, checkpoint, len(folded), len(read), paid, twice)
	return folded
}

// verifyAcknowledged checks (a) and (b) through the API of every given
// instance: each acknowledged create reads back with its amount and
// customer, each acknowledged pay reads back paid. It also reports how many
// stored invoices were never acknowledged (committed as a crash cut the
// answer off), which is allowed.
func verifyAcknowledged(t *testing.T, c *client, l *ledger, folded map[string]*foldedInvoice, instances ...*service) {
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

	bad := newFailures(t, 20, "API mismatches")
	for id := range paid {
		if _, ok := want[id]; !ok {
			bad.add("pay of %s acknowledged, but its create was not", id)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, p := range instances {
		work := make(chan string)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for id := range work {
					r := c.get(ctx, p, id, "crash-verify-"+id)
					a := want[id]
					switch {
					case r.err != nil || r.status != http.StatusOK:
						bad.add("(a) acknowledged create %s (answered by %s) not readable: %v", id, a.by, r)
					case string(r.inv.Amount) != a.amount || r.inv.CustomerID != a.customer:
						bad.add("(a) invoice %s on %s: amount %s customer %q, acknowledged amount %s customer %q",
							id, p.name, r.inv.Amount, r.inv.CustomerID, a.amount, a.customer)
					case paid[id] && r.inv.Status != "paid":
						bad.add("(b) acknowledged pay of %s, but %s shows status %q", id, p.name, r.inv.Status)
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
	bad.summarize()
	unacked := 0
	for id := range folded {
		if _, ok := want[id]; !ok {
			unacked++
		}
	}
	t.Logf("API: %d acknowledged creates and %d acknowledged pays checked on %d instance(s); %d stored invoices were never acknowledged (committed as a crash cut the answer off)",
		len(ids), len(paid), len(instances), unacked)
}
