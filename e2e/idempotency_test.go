package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The Idempotency-Key system tests: a create whose commit succeeded but
// whose acknowledgement was lost, retried; keys honoured by every instance
// on one event store; and keys that outlive the process that recorded them.

// Answers and problem types the tests expect.
const (
	replayedHeader     = "Idempotent-Replayed"
	problemUnavailable = "/problems/unavailable"
	problemKeyReused   = "/problems/idempotency-key-reused"
	problemMediaType   = "application/problem+json"
)

// TestIdempotentCreateSurvivesALostCommitAck puts a TCP proxy between the
// service and the event store's PostgreSQL server and makes it lose the
// answer to one append's COMMIT: the server commits, the service sees its
// connection die. With the database then out of reach for a moment (the
// proxy drops every connection until restored), the service cannot tell
// and answers 503; with it still reachable, it may read its key's record
// and answer its own 201. Either way the retry with the same key must
// answer 201 with the invoice that was stored, append nothing, and leave
// exactly one invoice.
func TestIdempotentCreateSurvivesALostCommitAck(t *testing.T) {
	admin := postgresAdmin(t, "lost-commit-ack test skipped: set "+postgresEnv+" (e.g. "+postgresExample+") to run it")
	for _, outage := range []bool{true, false} {
		t.Run(map[bool]string{true: "then an outage", false: "database still up"}[outage], func(t *testing.T) {
			lostCommitAck(t, admin, outage)
		})
	}
}

func lostCommitAck(t *testing.T, admin string, outage bool) {
	es, rd := newDatabase(t, admin, "event_store"), newDatabase(t, admin, "read_db")
	proxy := startCommitCutter(t, es)
	proxy.outageAfterCut = outage
	p := startService(t, "service", "EVENT_STORE_URL="+proxy.url, "READ_DB_URL="+rd)
	events := openPostgres(t, es)
	c := newClient()
	ctx := context.Background()
	const (
		key    = "k1"
		body   = `{"customerId":"cust-lost-ack","amount":42.50,"currency":"EUR"}`
		amount = "42.50"
	)

	// Armed only now, so the cut COMMIT is this create's append.
	proxy.arm()
	first := c.withKey(ctx, p, "create", http.MethodPost, "/invoices", body, key, "lost-ack-first")
	proxy.waitCut(t)
	t.Logf("first answer, its commit acknowledgement lost: %s", first)
	// The service either answers 503 (it cannot tell whether the append
	// committed), or, when the key's record is readable by then, finds its
	// own record and answers the 201 it would have: never anything else,
	// and never a replay of its own request.
	switch {
	case first.err == nil && first.status == http.StatusServiceUnavailable && first.problem.Type == problemUnavailable:
		if first.mediaType != problemMediaType {
			t.Errorf("503 answer: Content-Type %q, want %s", first.mediaType, problemMediaType)
		}
	case outage:
		t.Fatalf("create whose commit acknowledgement was lost, the database then unreachable: got %s, want 503 %s", first, problemUnavailable)
	case first.err == nil && first.status == http.StatusCreated:
		if first.replayed != "" {
			t.Errorf("the create's own outcome, recovered, is marked Idempotent-Replayed")
		}
	default:
		t.Fatalf("create whose commit acknowledgement was lost: got %s, want 503 %s or its own 201", first, problemUnavailable)
	}

	// The commit did happen: the event and its key's record are stored.
	if n := queryInt(t, events, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("after the lost acknowledgement the event store holds %d events, want 1 (the commit went through)", n)
	}
	if n := queryInt(t, events, `SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1`, key); n != 1 {
		t.Fatalf("after the lost acknowledgement idempotency_keys holds %d records of %q, want 1 (same transaction as the event)", n, key)
	}
	stored := queryString(t, events, `SELECT stream_id::text FROM events`)
	proxy.restore()

	retry := c.withKey(ctx, p, "create", http.MethodPost, "/invoices", body, key, "lost-ack-retry")
	t.Logf("retry: %s", retry)
	if retry.err != nil || retry.status != http.StatusCreated {
		t.Fatalf("retry of the create with the same key: got %s, want 201", retry)
	}
	if retry.replayed != "true" {
		t.Errorf("retry: %s header %q, want \"true\"", replayedHeader, retry.replayed)
	}
	want := invoiceBody{ID: stored, CustomerID: "cust-lost-ack", Amount: amount, Currency: "EUR", Status: "pending", Version: 1}
	checkInvoice(t, "retry", retry.inv, want)
	if retry.location != "/invoices/"+stored {
		t.Errorf("retry: Location %q, want /invoices/%s", retry.location, stored)
	}

	got := eventuallyGet(t, c, p, stored, nil)
	checkInvoice(t, "GET after the retry", got.inv, want)
	checkOneInvoice(t, c, p, stored)
	if n := queryInt(t, events, `SELECT count(*) FROM events WHERE type = 'invoice.created'`); n != 1 {
		t.Errorf("invoice.created events: %d, want 1", n)
	}
	if n := queryInt(t, events, `SELECT count(*) FROM events`); n != 1 {
		t.Errorf("events after the replay: %d, want 1 (a replay appends nothing)", n)
	}
}

// TestIdempotencyAcrossInstances runs three instances on one event store and
// read database: a key recorded by one is honoured by the others, for a
// create and for a pay, and refused by any of them for another request.
func TestIdempotencyAcrossInstances(t *testing.T) {
	admin := postgresAdmin(t, "multi-instance idempotency test skipped: set "+postgresEnv+" (e.g. "+postgresExample+") to run it")
	es, rd := newDatabase(t, admin, "event_store"), newDatabase(t, admin, "read_db")
	env := []string{"EVENT_STORE_URL=" + es, "READ_DB_URL=" + rd}
	instances := []*service{
		startService(t, "instance-1", env...),
		startService(t, "instance-2", env...),
		startService(t, "instance-3", env...),
	}
	events := openPostgres(t, es)
	c := newClient()
	ctx := context.Background()
	const (
		createKey = "create-k"
		payKey    = "pay-k"
		body      = `{"customerId":"cust-instances","amount":19.99,"currency":"EUR"}`
	)
	create := func(p *service, body, rid string) reply {
		return c.withKey(ctx, p, "create", http.MethodPost, "/invoices", body, createKey, rid)
	}

	first := create(instances[0], body, "instances-create-1")
	if first.err != nil || first.status != http.StatusCreated {
		t.Fatalf("first create: got %s, want 201", first)
	}
	if first.replayed != "" {
		t.Errorf("first create: %s %q, want none (nothing to replay)", replayedHeader, first.replayed)
	}
	id := first.inv.ID
	checkInvoice(t, "first create", first.inv,
		invoiceBody{ID: id, CustomerID: "cust-instances", Amount: "19.99", Currency: "EUR", Status: "pending", Version: 1})
	for i, p := range instances[1:] {
		r := create(p, body, fmt.Sprintf("instances-create-retry-%d", i+2))
		checkReplay(t, r, first, http.StatusCreated)
	}

	pay := func(p *service, rid string) reply {
		return c.withKey(ctx, p, "pay", http.MethodPost, "/invoices/"+id+"/pay", "", payKey, rid)
	}
	paid := pay(instances[1], "instances-pay")
	if paid.err != nil || paid.status != http.StatusOK {
		t.Fatalf("pay with a key: got %s, want 200", paid)
	}
	if paid.inv.Status != "paid" || paid.inv.Version != 2 {
		t.Errorf("pay: status %q version %d, want paid version 2", paid.inv.Status, paid.inv.Version)
	}
	// A second pay that ran would be 409 already-paid.
	checkReplay(t, pay(instances[2], "instances-pay-retry"), paid, http.StatusOK)

	// A create replayed after the pay still answers as the first did: the
	// invoice as of the version it created.
	checkReplay(t, create(instances[2], body, "instances-create-after-pay"), first, http.StatusCreated)

	reused := create(instances[0], `{"customerId":"cust-instances","amount":20.00,"currency":"EUR"}`, "instances-create-other-body")
	if reused.err != nil || reused.status != http.StatusUnprocessableEntity || reused.problem.Type != problemKeyReused {
		t.Errorf("same key, different body: got %s, want 422 %s", reused, problemKeyReused)
	}
	if reused.mediaType != problemMediaType {
		t.Errorf("422 answer: Content-Type %q, want %s", reused.mediaType, problemMediaType)
	}

	for _, p := range instances {
		got := eventuallyGet(t, c, p, id, func(inv invoiceBody) bool { return inv.Version == 2 })
		if got.inv.Status != "paid" {
			t.Errorf("GET on %s: status %q, want paid", p.name, got.inv.Status)
		}
	}
	checkOneInvoice(t, c, instances[0], id)
	for typ, want := range map[string]int64{"invoice.created": 1, "invoice.paid": 1} {
		if n := queryInt(t, events, `SELECT count(*) FROM events WHERE type = $1`, typ); n != want {
			t.Errorf("%s events: %d, want %d", typ, n, want)
		}
	}
	if n := queryInt(t, events, `SELECT count(*) FROM events`); n != 2 {
		t.Errorf("events: %d, want 2 (replays append nothing)", n)
	}
}

// TestIdempotencyKeyAfterRestart records a key on the embedded store, stops
// the service and retries on a new process over the same files: the key's
// record is durable, not a cache of the process that wrote it.
func TestIdempotencyKeyAfterRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	c := newClient()
	ctx := context.Background()
	const (
		key  = "restart-k"
		body = `{"customerId":"cust-restart","amount":7.00,"currency":"EUR"}`
	)
	p := startService(t, "service", "DATA_DIR="+data)
	first := c.withKey(ctx, p, "create", http.MethodPost, "/invoices", body, key, "restart-create")
	if first.err != nil || first.status != http.StatusCreated {
		t.Fatalf("create: got %s, want 201", first)
	}
	checkInvoice(t, "create", first.inv,
		invoiceBody{ID: first.inv.ID, CustomerID: "cust-restart", Amount: "7.00", Currency: "EUR", Status: "pending", Version: 1})
	p.stop(t)

	again := startService(t, "restarted service", "DATA_DIR="+data)
	checkReplay(t, c.withKey(ctx, again, "create", http.MethodPost, "/invoices", body, key, "restart-retry"), first, http.StatusCreated)
	checkOneInvoice(t, c, again, first.inv.ID)
	events := openSQLite(t, filepath.Join(data, "events.db"))
	if n := queryInt(t, events, `SELECT count(*) FROM events WHERE type = 'invoice.created'`); n != 1 {
		t.Errorf("invoice.created events: %d, want 1", n)
	}
	if n := queryInt(t, events, `SELECT count(*) FROM idempotency_keys`); n != 1 {
		t.Errorf("idempotency records: %d, want 1", n)
	}
}

// withKey sends one request to p with the Idempotency-Key header.
func (c *client) withKey(ctx context.Context, p *service, op, method, path, body, key, requestID string) reply {
	return c.call(ctx, p, op, method, path, body, requestID, "Idempotency-Key", key)
}

// checkReplay checks that r is a replay of first: its status, the
// Idempotent-Replayed header, and the first answer's body.
func checkReplay(t *testing.T, r, first reply, status int) {
	t.Helper()
	if r.err != nil || r.status != status {
		t.Errorf("%s: want %d, the replay of %s", r, status, first)
		return
	}
	if r.replayed != "true" {
		t.Errorf("%s: %s %q, want \"true\"", r, replayedHeader, r.replayed)
	}
	if !bytes.Equal(r.body, first.body) {
		t.Errorf("%s: body\n%s\nwant the first answer's\n%s", r, r.body, first.body)
	}
	if first.location != "" && r.location != first.location {
		t.Errorf("%s: Location %q, want %q", r, r.location, first.location)
	}
}

// checkInvoice compares the fields of an invoice answer the tests set.
func checkInvoice(t *testing.T, what string, got, want invoiceBody) {
	t.Helper()
	if got.ID != want.ID || got.CustomerID != want.CustomerID || got.Amount != want.Amount ||
		got.Currency != want.Currency || got.Status != want.Status || got.Version != want.Version {
		t.Errorf("%s: got invoice %+v, want %+v", what, got, want)
	}
}

// eventuallyGet polls GET /invoices/id on p until it answers 200 with an
// invoice ok accepts (any, if ok is nil), for up to 10 s, and returns it.
func eventuallyGet(t *testing.T, c *client, p *service, id string, ok func(invoiceBody) bool) reply {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.get(context.Background(), p, id, "get-"+id)
		if r.err == nil && r.status == http.StatusOK && (ok == nil || ok(r.inv)) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /invoices/%s did not answer as expected within 10s; last: %s %+v", id, r, r.inv)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOneInvoice checks that GET /invoices on p lists exactly the invoice
// id, once the read model shows it.
func checkOneInvoice(t *testing.T, c *client, p *service, id string) {
	t.Helper()
	eventuallyGet(t, c, p, id, nil)
	status, body := c.fetch(t, p.base+"/invoices")
	if status != http.StatusOK {
		t.Fatalf("GET /invoices: %d %s", status, body)
	}
	var list []invoiceBody
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /invoices: %v in %s", err, body)
	}
	if len(list) != 1 || list[0].ID != id {
		t.Errorf("GET /invoices lists %d invoices (%s), want exactly %s", len(list), body, id)
	}
}

// queryString runs a query that returns one text value.
func queryString(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s string
	if err := db.QueryRowContext(ctx, query, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// commitCutter is a TCP proxy in front of a PostgreSQL server that, once
// armed, loses the acknowledgement of one event-store append: it forwards
// the COMMIT of the first transaction that inserted into events, withholds
// everything the server sends on that connection from then on, waits until
// the server has answered the COMMIT (which PostgreSQL does only once it has
// committed), and closes both sockets. The service is left with
// a dead connection and a commit whose outcome it cannot know.
//
// It follows the frontend protocol rather than scanning for the bytes
// "COMMIT": pgx prepares each statement once per connection, in a round
// trip of its own, and from then on executes it by name, so the text of a
// COMMIT is on the wire only in the Parse that precedes its first use, and
// cutting there would stop the commit instead of losing its answer.
type commitCutter struct {
	t      testing.TB
	ln     net.Listener
	target string // host:port of the server
	url    string // the database's URL through the proxy
	armed  atomic.Bool
	// outageAfterCut, set before arming, makes the cut the start of an
	// outage: every connection is dropped and new ones refused until
	// restore.
	outageAfterCut bool
	down           atomic.Bool
	// cutDone is closed once the cut connection's sockets are closed; acked
	// says whether the server had answered the COMMIT by then.
	cutDone chan struct{}
	acked   atomic.Bool

	mu     sync.Mutex
	closed bool
	conns  []*proxiedConn
	wg     sync.WaitGroup
}

// cutTimeout bounds the wait for the server's answer to the cut COMMIT.
const cutTimeout = 10 * time.Second

// startCommitCutter listens on a loopback port in front of the server of
// dsn, a postgres:// URL; the proxy's url is dsn through it. It closes at
// cleanup, after the processes started later are killed.
func startCommitCutter(t *testing.T, dsn string) *commitCutter {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", postgresEnv, err)
	}
	if u.Hostname() == "" {
		t.Fatalf("the proxy needs a TCP host in %s, not a socket directory", postgresEnv)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{t: t, ln: ln, target: net.JoinHostPort(u.Hostname(), port), cutDone: make(chan struct{})}
	// Plain text, or there is no protocol to follow.
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery, u.Host = q.Encode(), ln.Addr().String()
	p.url = u.String()
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// arm makes the proxy cut the next append's COMMIT, once.
func (p *commitCutter) arm() { p.armed.Store(true) }

// restore ends the outage a cut began (see outageAfterCut).
func (p *commitCutter) restore() { p.down.Store(false) }

// dropAll closes every connection the proxy carries.
func (p *commitCutter) dropAll() {
	p.mu.Lock()
	conns := slices.Clone(p.conns)
	p.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// waitCut, called once the request that was to be cut has been answered,
// fails the test unless a connection was cut with the server's answer to
// its COMMIT withheld. The proxy disarms itself before it forwards the
// COMMIT, so still armed means it never saw one.
func (p *commitCutter) waitCut(t *testing.T) {
	t.Helper()
	if p.armed.Swap(false) {
		t.Fatal("the request was answered and the proxy saw no COMMIT of a transaction that inserted into events")
	}
	select {
	case <-p.cutDone:
	case <-time.After(cutTimeout + 5*time.Second):
		t.Fatal("the proxy did not close the cut connection")
	}
	if !p.acked.Load() {
		t.Fatalf("the server did not answer the cut COMMIT within %s", cutTimeout)
	}
}

func (p *commitCutter) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Errorf("proxy accept: %v", err)
			}
			return
		}
		if p.down.Load() {
			_ = client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.t.Logf("proxy dial %s: %v", p.target, err)
			_ = client.Close()
			continue
		}
		pc := &proxiedConn{p: p, client: client, server: server, acked: make(chan struct{}), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pc.close()
			return
		}
		p.conns = append(p.conns, pc)
		p.wg.Go(pc.serverToClient)
		p.wg.Go(pc.clientToServer)
		p.mu.Unlock()
	}
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *commitCutter) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for _, pc := range p.conns {
		pc.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedConn is one client connection and its connection to the server.
type proxiedConn struct {
	p              *commitCutter
	client, server net.Conn
	// muted is set before the cut COMMIT is forwarded: from then on
	// nothing the server sends reaches the client.
	muted     atomic.Bool
	acked     chan struct{} // closed when the muted bytes held COMMIT's CommandComplete
	ackOnce   sync.Once
	done      chan struct{} // closed with the sockets
	closeOnce sync.Once
}

func (pc *proxiedConn) close() {
	pc.closeOnce.Do(func() {
		_ = pc.client.Close()
		_ = pc.server.Close()
		close(pc.done)
	})
}

// commitComplete is the backend's CommandComplete message for COMMIT: tag
// "COMMIT". A failed transaction's COMMIT is answered "ROLLBACK".
var commitComplete = []byte{'C', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0}

// serverToClient copies the server's bytes to the client until either side
// closes; muted, it drops them, watching for the answer to the COMMIT.
func (pc *proxiedConn) serverToClient() {
	defer pc.close()
	buf := make([]byte, 32<<10)
	var tail []byte // the muted bytes' end, for a message split across reads
	for {
		n, err := pc.server.Read(buf)
		if n > 0 {
			if pc.muted.Load() {
				tail = append(tail, buf[:n]...)
				if bytes.Contains(tail, commitComplete) {
					pc.ackOnce.Do(func() { close(pc.acked) })
				}
				if k := len(commitComplete) - 1; len(tail) > k {
					tail = append(tail[:0], tail[len(tail)-k:]...)
				}
			} else if _, werr := pc.client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// clientToServer forwards the client's messages to the server, following
// them to find the COMMIT to cut, until either side closes.
func (pc *proxiedConn) clientToServer() {
	defer pc.close()
	r := bufio.NewReaderSize(pc.client, 64<<10)
	f := frontendStream{stmts: map[string]string{}, portals: map[string]string{}}
	var pending []byte
	for !f.opaque {
		raw, executes, err := f.next(r)
		if err != nil {
			return
		}
		if executes != "" && f.commitsEvents(executes) && pc.p.armed.CompareAndSwap(true, false) {
			pc.cut()
		}
		pending = append(pending, raw...)
		// Forward what the client sent together, together.
		if r.Buffered() == 0 {
			if _, err := pc.server.Write(pending); err != nil {
				return
			}
			pending = pending[:0]
		}
	}
	// Encryption was requested: no messages to follow, only bytes to copy.
	if _, err := pc.server.Write(pending); err != nil {
		return
	}
	_, _ = io.Copy(pc.server, r)
}

// cut mutes the server's side before the COMMIT being read is forwarded,
// and closes both sockets once the server has answered it.
func (pc *proxiedConn) cut() {
	pc.muted.Store(true)
	p := pc.p
	p.wg.Go(func() {
		select {
		case <-pc.acked:
			p.acked.Store(true)
		case <-time.After(cutTimeout):
		case <-pc.done:
		}
		if p.outageAfterCut {
			p.down.Store(true)
			p.dropAll()
		}
		pc.close()
		close(p.cutDone)
	})
}

// The start-up request codes that are not a StartupMessage.
const (
	cancelRequestCode = 80877102
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	// maxFrontendMessage bounds a message's length, so that bytes that
	// are not the protocol cannot make the proxy allocate without limit.
	maxFrontendMessage = 1 << 30
)

// insertEvents matches the SQL of an insert into the events table.
var insertEvents = regexp.MustCompile(`(?is)^\s*insert\s+into\s+"?events"?[\s(]`)

// frontendStream follows one connection's frontend messages (protocol
// 3.0) far enough to know what SQL each Execute or simple Query runs:
// prepared statements by name, portals by name.
type frontendStream struct {
	started bool // past the untyped start-up messages
	opaque  bool // TLS or GSS encryption requested: what follows is not messages
	stmts   map[string]string
	portals map[string]string
	// inserted says the transaction running has inserted into events.
	inserted bool
}

// next reads one message and returns its bytes and the SQL it runs ("" if
// it runs none).
func (f *frontendStream) next(r *bufio.Reader) (raw []byte, executes string, err error) {
	header := 5 // type, length
	if !f.started {
		header = 4 // length only
	}
	raw = make([]byte, header, 256)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, "", err
	}
	n := be32(raw[header-4:])
	if n < 4 || n > maxFrontendMessage {
		return nil, "", fmt.Errorf("frontend message of length %d", n)
	}
	raw = append(raw, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, raw[header:]); err != nil {
		return nil, "", err
	}
	body := raw[header:]
	if !f.started {
		if len(body) < 4 {
			return nil, "", errors.New("start-up message without a code")
		}
		switch be32(body) {
		case sslRequestCode, gssEncRequestCode:
			f.opaque = true
		case cancelRequestCode:
			// A connection of its own, carrying nothing else.
		default:
			f.started = true
		}
		return raw, "", nil
	}
	switch raw[0] {
	case 'P': // Parse: statement name, SQL, parameter types
		name, rest := cstring(body)
		query, _ := cstring(rest)
		f.stmts[name] = query
	case 'B': // Bind: portal name, statement name, parameters
		portal, rest := cstring(body)
		stmt, _ := cstring(rest)
		f.portals[portal] = f.stmts[stmt]
	case 'C': // Close: 'S'tatement or 'P'ortal, name
		if len(body) > 0 {
			name, _ := cstring(body[1:])
			if body[0] == 'S' {
				delete(f.stmts, name)
			} else {
				delete(f.portals, name)
			}
		}
	case 'E': // Execute: portal name, row limit
		portal, _ := cstring(body)
		return raw, f.portals[portal], nil
	case 'Q': // Query: SQL
		query, _ := cstring(body)
		return raw, query, nil
	}
	return raw, "", nil
}

// commitsEvents follows the transaction through sql, which the client is
// about to run, and reports whether sql commits a transaction that inserted
// into events.
func (f *frontendStream) commitsEvents(sql string) bool {
	fields := strings.Fields(sql)
	if len(fields) == 0 {
		return false
	}
	switch word := strings.ToUpper(strings.TrimRight(fields[0], ";")); {
	case insertEvents.MatchString(sql):
		f.inserted = true
	case word == "COMMIT" || word == "END":
		inserted := f.inserted
		f.inserted = false
		return inserted
	case word == "BEGIN" || word == "START" || word == "ROLLBACK" || word == "ABORT":
		f.inserted = false
	}
	return false
}

// be32 reads a 32-bit integer in network byte order (encoding/binary's
// name is taken by the harness's binary function).
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// cstring splits b after its first NUL-terminated string.
func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}
