package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsEnv names the NATS server (with JetStream) the publisher tests use.
const natsEnv = "TEST_NATS_URL"

// natsStream returns TEST_NATS_URL and a fresh stream name on it, deleted
// at cleanup; it skips the test when the variable is unset.
func natsStream(t *testing.T, url string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "INVOICES_E2E_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := jetstream.New(nc); err == nil {
			_ = js.DeleteStream(context.Background(), name)
		}
	})
	return name
}

func natsURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv(natsEnv)
	if url == "" {
		t.Skip("NATS test skipped: set " + natsEnv + " (e.g. nats://127.0.0.1:4222, a nats-server -js) to run it")
	}
	return url
}

// eventIDs returns the event store's event ids by position, and its head.
func eventIDs(t *testing.T, db *sql.DB) ([]string, int64) {
	t.Helper()
	rows, err := db.Query("SELECT position, event_id::text FROM events ORDER BY position")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	for rows.Next() {
		var pos int64
		var id string
		if err := rows.Scan(&pos, &id); err != nil {
			t.Fatal(err)
		}
		if pos != int64(len(ids)+1) {
			t.Fatalf("event store: position %d after %d", pos, len(ids))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids, int64(len(ids))
}

// verifyStream waits up to timeout for the stream to hold as many messages
// as the event store has events, then checks that message n is the event
// at position n (its id, position header and subject): every event exactly
// once, in position order.
func verifyStream(t *testing.T, url, stream string, events *sql.DB, timeout time.Duration) {
	t.Helper()
	ids, head := eventIDs(t, events)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var s jetstream.Stream
	for {
		var msgs uint64
		if s, err = js.Stream(ctx, stream); err == nil {
			info, err := s.Info(ctx)
			if err == nil {
				msgs = info.State.Msgs
			}
		}
		if msgs >= uint64(head) { //nolint:gosec // head is a count
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages %v after the load, want %d (the event store's head)", stream, msgs, timeout, head)
		}
		time.Sleep(100 * time.Millisecond)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := newFailures(t, 10, "stream messages not the event at their position")
	if info.State.Msgs != uint64(head) { //nolint:gosec // head is a count
		f.add("stream holds %d messages, event store %d events", info.State.Msgs, head)
	}
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			f.add("message %d: %v", seq, err)
			continue
		}
		pos, _ := strconv.ParseInt(m.Header.Get("Invoices-Position"), 10, 64)
		var body struct {
			Position int64  `json:"position"`
			ID       string `json:"id"`
			Type     string `json:"type"`
		}
		_ = json.Unmarshal(m.Data, &body)
		if pos != int64(seq) || body.Position != pos || int(seq) > len(ids) || body.ID != ids[seq-1] || //nolint:gosec // seq is small
			m.Header.Get(jetstream.MsgIDHeader) != body.ID || m.Subject != "invoices.events."+body.Type {
			f.add("message %d: position %d, body %+v, subject %s", seq, pos, body, m.Subject)
		}
	}
	f.summarize()
	t.Logf("stream %s: %d events, each once, in position order", stream, head)
}

// TestNATSPublishSurvivesSIGKILL publishes to JetStream while creates and
// pays run, SIGKILLs the service three times, and restarts it: the stream
// then holds every event exactly once, in position order.
func TestNATSPublishSurvivesSIGKILL(t *testing.T) {
	url := natsURL(t)
	es, rd := crashStores(t)
	stream := natsStream(t, url)
	seed := randomSeed(t)
	rng := mrand.New(mrand.NewPCG(seed, 0)) //nolint:gosec // test randomness, seeded for replay
	env := []string{"EVENT_STORE_URL=" + es, "READ_DB_URL=" + rd, "DB_MAX_OPEN_CONNS=10",
		"NATS_URL=" + url, "NATS_STREAM=" + stream, "NATS_PUBLISH_BATCH=64"}
	c := newClient()
	l := newLedger(t)
	for cycle := 1; cycle <= 3; cycle++ {
		p := startService(t, fmt.Sprintf("run-%d", cycle), env...)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 6 {
			wrng := mrand.New(mrand.NewPCG(rng.Uint64(), uint64(w))) //nolint:gosec // test randomness
			tag := fmt.Sprintf("n%d-w%d", cycle, w)
			wg.Go(func() { singleInstanceLoad(ctx, c, l, p, wrng, tag) })
		}
		time.Sleep(time.Duration(500+rng.IntN(1001)) * time.Millisecond)
		p.kill(t)
		cancel()
		wg.Wait()
	}
	l.report("3 load+SIGKILL cycles with publication")
	final := startService(t, "final", env...)
	waitCaughtUp(t, c, final)
	verifyStream(t, url, stream, openPostgres(t, es), 30*time.Second)
	waitPublisherLag(t, c, final, 10*time.Second)
}

// publisherCheck is the publisher's part of /readyz.
type publisherCheck struct {
	State     string `json:"state"`
	Error     string `json:"error"`
	LagEvents int64  `json:"lagEvents"`
}

func readPublisher(c *client, p *service) (publisherCheck, int, error) {
	resp, err := c.http.Get(p.base + "/readyz")
	if err != nil {
		return publisherCheck{}, 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Checks struct {
			Publisher *publisherCheck `json:"publisher"`
		} `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return publisherCheck{}, resp.StatusCode, err
	}
	if r.Checks.Publisher == nil {
		return publisherCheck{}, resp.StatusCode, fmt.Errorf("/readyz has no publisher check")
	}
	return *r.Checks.Publisher, resp.StatusCode, nil
}

// waitPublisherLag waits for p's publisher to publish with no lag.
func waitPublisherLag(t *testing.T, c *client, p *service, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		pc, _, err := readPublisher(c, p)
		if err == nil && pc.State == "publishing" && pc.LagEvents == 0 && pc.Error == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's publisher after %v: %+v, %v; want publishing with lag 0", p.name, timeout, pc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// privateNATS is a nats-server -js of the test's own, which it may stop
// and restart on the same port and store.
type privateNATS struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func startPrivateNATS(t *testing.T) *privateNATS {
	t.Helper()
	if _, err := exec.LookPath("nats-server"); err != nil {
		t.Skip("nats-server not installed")
	}
	n := &privateNATS{t: t, port: freePort(t), dir: t.TempDir()}
	n.start()
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *privateNATS) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

func (n *privateNATS) start() {
	n.t.Helper()
	n.cmd = exec.Command("nats-server", "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-sd", n.dir) //nolint:gosec // test
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.port), time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("private nats-server did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *privateNATS) stop() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
	n.cmd = nil
}

// TestNATSOutage stops the NATS server for 10 s while creates and pays
// run, and restarts it: /invoices never answers 5xx meanwhile, and the
// stream ends with every event once, in order, the publisher's lag at 0.
func TestNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("NATS outage test runs the real binary; skipped with -short")
	}
	admin := postgresAdmin(t, "NATS outage test skipped: set "+postgresEnv+" (e.g. "+postgresExample+") to run it")
	es, rd := newDatabase(t, admin, "event_store"), newDatabase(t, admin, "read_db")
	n := startPrivateNATS(t)
	const stream = "INVOICES"
	env := []string{"EVENT_STORE_URL=" + es, "READ_DB_URL=" + rd, "DB_MAX_OPEN_CONNS=10", "NATS_URL=" + n.url(), "NATS_STREAM=" + stream}
	p := startService(t, "svc", env...)
	c := newClient()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var requests, fivexx int
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				r := c.create(ctx, p, "cus-outage", "10.00", fmt.Sprintf("outage-w%d-%d", w, i))
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				requests++
				if r.status >= 500 || r.err != nil {
					fivexx++
					if fivexx <= 5 {
						t.Errorf("during the NATS outage: %v", r)
					}
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	n.stop()
	t.Log("nats-server stopped")
	time.Sleep(5 * time.Second)
	if pc, status, err := readPublisher(c, p); err != nil || status != 200 || pc.State != "retrying" {
		t.Errorf("/readyz during the outage: %d %+v %v; want 200 with the publisher retrying", status, pc, err)
	}
	time.Sleep(5 * time.Second)
	n.start()
	t.Log("nats-server restarted")
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	t.Logf("%d creates, %d answered 5xx or failed", requests, fivexx)
	verifyStream(t, n.url(), stream, openPostgres(t, es), 30*time.Second)
	waitPublisherLag(t, c, p, 10*time.Second)
}

// TestNATSThreeInstancesFailover runs three instances on one event store:
// exactly one publishes; when it is SIGKILLed another takes over within
// 5 s, and the stream ends with every event once, in order.
func TestNATSThreeInstancesFailover(t *testing.T) {
	url := natsURL(t)
	es, rd := crashStores(t)
	stream := natsStream(t, url)
	env := []string{"EVENT_STORE_URL=" + es, "READ_DB_URL=" + rd, "DB_MAX_OPEN_CONNS=6", "NATS_URL=" + url, "NATS_STREAM=" + stream}
	var instances []*service
	for _, name := range []string{"A", "B", "C"} {
		instances = append(instances, spawnService(t, name, env...))
	}
	for _, p := range instances {
		p.waitHealthy(t)
	}
	c := newClient()
	publishing := func(among []*service) []*service {
		var out []*service
		for _, p := range among {
			if pc, _, err := readPublisher(c, p); err == nil && (pc.State == "publishing" || pc.State == "retrying") {
				out = append(out, p)
			}
		}
		return out
	}
	var active []*service
	deadline := time.Now().Add(10 * time.Second)
	for len(active) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d instances publish, want exactly 1", len(active))
		}
		time.Sleep(100 * time.Millisecond)
		active = publishing(instances)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				c.create(ctx, instances[(w+i)%len(instances)], "cus-failover", "5.00", fmt.Sprintf("failover-w%d-%d", w, i))
			}
		})
	}
	time.Sleep(time.Second)
	if n := len(publishing(instances)); n != 1 {
		t.Errorf("under load %d instances publish, want 1", n)
	}
	victim := active[0]
	var survivors []*service
	for _, p := range instances {
		if p != victim {
			survivors = append(survivors, p)
		}
	}
	victim.kill(t)
	killed := time.Now()
	for {
		got := publishing(survivors)
		if len(got) == 1 {
			t.Logf("%s killed; %s took over in %v", victim.name, got[0].name, time.Since(killed).Round(time.Millisecond))
			break
		}
		if len(got) > 1 {
			t.Fatalf("after the kill %d instances publish, want 1", len(got))
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("no instance took over within 5 s of killing %s", victim.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	verifyStream(t, url, stream, openPostgres(t, es), 30*time.Second)
}
