package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"invoices/adapters/store/storetest"
	"invoices/config"
	"invoices/domain/invoice"
	"invoices/ports"
)

type feedItemJSON struct {
	Position      int64           `json:"position"`
	ID            string          `json:"id"`
	StreamID      string          `json:"streamId"`
	Version       int             `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	Payload       json.RawMessage `json:"payload"`
	RecordedAt    time.Time       `json:"recordedAt"`
	Metadata      struct {
		CorrelationID string `json:"correlationId"`
		CausationID   string `json:"causationId"`
	} `json:"metadata"`
}

// appendInvoices appends n invoice.created events, one stream each,
// straight through the event store port, in appends of up to 100 run by
// writers goroutines; it returns the stream ids.
func appendInvoices(t testing.TB, events ports.EventStore, n, writers int) []string {
	t.Helper()
	codec := storetest.Codec(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newUUID()
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				created := invoice.Created{InvoiceID: ids[i], CustomerID: "cus_feed", Amount: 100, Currency: invoice.MustCurrency("EUR"), CreatedAt: time.Now().UTC()}
				evs, err := storetest.Encode(codec, created)
				if err == nil {
					_, err = events.Append(context.Background(), ids[i], 0, evs, ports.Metadata{CorrelationID: "load", CausationID: "CreateInvoice"})
				}
				if err != nil {
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
	return ids
}

func TestFeedPages(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		a := s.create(t, `{"customerId":"cus_a","amount":1}`)
		b := s.create(t, `{"customerId":"cus_b","amount":2}`)
		if rec := s.do(t, "POST", "/invoices/"+a.ID+"/pay", ""); rec.Code != http.StatusOK {
			t.Fatalf("pay: %d %s", rec.Code, rec.Body)
		}
		c := s.create(t, `{"customerId":"cus_c","amount":3}`)
		// Positions: 1 a created, 2 b created, 3 a paid, 4 c created.

		tests := []struct {
			name      string
			path      string
			want      []int64 // positions
			wantNext  string
			immutable bool
		}{
			{"first page", "/events?limit=2", []int64{1, 2}, "/events?after=2&limit=2", true},
			{"second page", "/events?after=2&limit=2", []int64{3, 4}, "/events?after=4&limit=2", true},
			{"at the head", "/events?after=4&limit=2", nil, "/events?after=4&limit=2", false},
			{"default limit", "/events", []int64{1, 2, 3, 4}, "/events?after=4&limit=100", false},
			{"type filter", "/events?type=invoice.paid", []int64{3}, "/events?after=4&limit=100&type=invoice.paid", false},
			{"types filter, full", "/events?type=invoice.paid&type=invoice.created&limit=3", []int64{1, 2, 3}, "/events?after=3&limit=3&type=invoice.paid&type=invoice.created", true},
			{"stream filter", "/events?streamId=" + a.ID, []int64{1, 3}, "/events?after=4&limit=100&streamId=" + a.ID, false},
			{"streams filter, full", "/events?streamId=" + b.ID + "&streamId=" + c.ID + "&limit=1", []int64{2}, "/events?after=2&limit=1&streamId=" + b.ID + "&streamId=" + c.ID, true},
			{"both filters", "/events?streamId=" + a.ID + "&type=invoice.created", []int64{1}, "/events?after=4&limit=100&streamId=" + a.ID + "&type=invoice.created", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := s.do(t, "GET", tt.path, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				items := decode[[]feedItemJSON](t, rec)
				var got []int64
				for _, it := range items {
					got = append(got, it.Position)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("positions = %v, want %v", got, tt.want)
				}
				wantLink := `<` + tt.wantNext + `>; rel="next"`
				if link := rec.Header().Get("Link"); !sameLink(link, wantLink) {
					t.Errorf("Link = %q, want %q", link, wantLink)
				}
				wantCache := "no-store"
				if tt.immutable {
					wantCache = "public, max-age=31536000, immutable"
				}
				if cc := rec.Header().Get("Cache-Control"); cc != wantCache {
					t.Errorf("Cache-Control = %q, want %q", cc, wantCache)
				}
				if v := rec.Header().Get("Vary"); v != "Accept" {
					t.Errorf("Vary = %q, want Accept", v)
				}
			})
		}

		// The items carry what the history shows, with the stream.
		items := decode[[]feedItemJSON](t, s.do(t, "GET", "/events?limit=3", ""))
		history := decode[[]feedItemJSON](t, s.do(t, "GET", "/invoices/"+a.ID+"/events", ""))
		paid := items[2]
		paid.StreamID = ""
		if got, want := fmt.Sprintf("%+v", paid), fmt.Sprintf("%+v", history[1]); got != want {
			t.Errorf("feed item = %s, history event = %s", got, want)
		}
		if items[2].StreamID != a.ID || items[2].Type != "invoice.paid" || items[2].Version != 2 || items[2].Metadata.CausationID != "PayInvoice" {
			t.Errorf("item 3 = %+v, want a's invoice.paid at version 2 by PayInvoice", items[2])
		}
	})
}

// sameLink compares Link headers up to the order of their query
// parameters.
func sameLink(got, want string) bool {
	parse := func(l string) string {
		u, _, _ := strings.Cut(strings.TrimPrefix(l, "<"), ">")
		path, query, _ := strings.Cut(u, "?")
		parts := strings.Split(query, "&")
		sortStrings(parts)
		return path + "?" + strings.Join(parts, "&") + strings.SplitN(l, ">", 2)[1]
	}
	return strings.HasPrefix(got, "<") && parse(got) == parse(want)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestFeedFilteredScanIsBounded(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	appendInvoices(t, s.events, 10_500, 64)
	rec := s.do(t, "GET", "/events?type=invoice.paid", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if items := decode[[]feedItemJSON](t, rec); len(items) != 0 {
		t.Errorf("%d items, want none", len(items))
	}
	// The page scanned its bound, not the whole log: it is complete, and
	// the next page resumes after what it scanned.
	if link := rec.Header().Get("Link"); !sameLink(link, `</events?after=10000&limit=100&type=invoice.paid>; rel="next"`) {
		t.Errorf("Link = %q, want after=10000", link)
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("Cache-Control = %q, want immutable", cc)
	}
	rec = s.do(t, "GET", "/events?type=invoice.paid&after=10000", "")
	if link := rec.Header().Get("Link"); !sameLink(link, `</events?after=10500&limit=100&type=invoice.paid>; rel="next"`) || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("second page: Link %q, Cache-Control %q; want after=10500, no-store", link, rec.Header().Get("Cache-Control"))
	}
}

func TestFeedRefusals(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	keyed := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) { h.APIKeys = []string{testKey} }})
	tests := []struct {
		name    string
		server  *testServer
		path    string
		headers []string
		status  int
		field   string
	}{
		{"limit 0", s, "/events?limit=0", nil, 400, "limit"},
		{"limit over 1000", s, "/events?limit=1001", nil, 400, "limit"},
		{"limit not a number", s, "/events?limit=ten", nil, 400, "limit"},
		{"negative after", s, "/events?after=-1", nil, 400, "after"},
		{"after twice", s, "/events?after=1&after=2", nil, 400, "after"},
		{"unknown type", s, "/events?type=invoice.deleted", nil, 400, "type"},
		{"empty type", s, "/events?type=", nil, 400, "type"},
		{"empty stream id", s, "/events?streamId=", nil, 400, "streamId"},
		{"unknown parameter", s, "/events?from=3", nil, 400, "from"},
		{"stream: bad Last-Event-ID", s, "/events", []string{"Accept: text/event-stream", "Last-Event-ID: x"}, 400, "Last-Event-ID"},
		{"stream: unknown type", s, "/events?type=nope", []string{"Accept: text/event-stream"}, 400, "type"},
		{"no key", keyed, "/events", nil, 401, ""},
		{"wrong key", keyed, "/events", []string{"Authorization: Bearer " + strings.Repeat("x", 20)}, 401, ""},
		{"stream: no key", keyed, "/events", []string{"Accept: text/event-stream"}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.server.do(t, "GET", tt.path, "", tt.headers...)
			typ := "/problems/validation"
			if tt.status == 401 {
				typ = "/problems/unauthorized"
			}
			checkProblemResponse(t, rec, tt.status, typ, tt.field)
		})
	}
	if rec := keyed.do(t, "GET", "/events", "", "Authorization: Bearer "+testKey); rec.Code != http.StatusOK {
		t.Errorf("with the key: %d %s", rec.Code, rec.Body)
	}
}

// TestFeedPrivateWithKeys checks a complete page is cached privately
// when the server requires API keys: a shared cache must not hand one
// caller's page to another without a key.
func TestFeedPrivateWithKeys(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{http: func(h *config.HTTP) { h.APIKeys = []string{testKey} }})
	appendInvoices(t, s.events, 3, 1)
	rec := s.do(t, "GET", "/events?limit=2", "", "Authorization: Bearer "+testKey)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "private, max-age=31536000, immutable" {
		t.Errorf("status %d, Cache-Control %q; want 200, private immutable", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// sseEvent is one Server-Sent Event as a client parses it.
type sseEvent struct {
	id, event, data string
}

// readSSE parses events from r until it ends, sending each to out; comments
// go to comments when it is not nil.
func readSSE(r *bufio.Reader, out func(sseEvent) bool, comments func(string)) error {
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				if !out(ev) {
					return nil
				}
				ev = sseEvent{}
			}
		case strings.HasPrefix(line, ":"):
			if comments != nil {
				comments(strings.TrimSpace(strings.TrimPrefix(line, ":")))
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// openStream GETs url as an event stream.
func openStream(ctx context.Context, t testing.TB, url string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestFeedStreamFanOut streams a 10,000-event load, appended while they
// follow, to 50 concurrent clients: each must receive every event, in
// position order, with no gap and no duplicate, each well formed.
func TestFeedStreamFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 events to 50 streams")
	}
	const clients, total = 50, 10_000
	s := newServer(t, storetest.SQLite(), serverOptions{})
	ts := httptest.NewServer(s.engine)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type result struct {
		n   int
		err string
	}
	results := make(chan result, clients)
	ready := make(chan struct{}, clients)
	for range clients {
		go func() {
			resp := openStream(ctx, t, ts.URL+"/events")
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" || resp.Header.Get("X-Accel-Buffering") != "no" {
				results <- result{err: fmt.Sprintf("status %d, headers %v", resp.StatusCode, resp.Header)}
				return
			}
			ready <- struct{}{}
			var res result
			next := int64(1)
			_ = readSSE(bufio.NewReader(resp.Body), func(ev sseEvent) bool {
				// Every event's id and data must agree; decoding all
				// 500,000 would make the test mostly JSON parsing, so one
				// in a hundred is decoded in full.
				want := strconv.FormatInt(next, 10)
				if ev.id != want || ev.event != "invoice.created" || !strings.Contains(ev.data, `"position":`+want+`,`) {
					res.err = fmt.Sprintf("event id %s, event %s, data %.200s; want position %d", ev.id, ev.event, ev.data, next)
					return false
				}
				if next%100 == 0 {
					var it feedItemJSON
					if err := json.Unmarshal([]byte(ev.data), &it); err != nil || it.Position != next || it.Type != "invoice.created" || it.StreamID == "" {
						res.err = fmt.Sprintf("event %s: %+v, %v", ev.id, it, err)
						return false
					}
				}
				res.n++
				next++
				return next <= total
			}, nil)
			results <- res
		}()
	}
	for range clients {
		select {
		case <-ready:
		case r := <-results:
			t.Fatalf("a client failed to open: %s", r.err)
		}
	}
	appendInvoices(t, s.events, total, 64)
	for range clients {
		r := <-results
		if r.err != "" || r.n != total {
			t.Errorf("a client received %d events, want %d: %s", r.n, total, r.err)
		}
	}
}

// TestFeedStreamResume reconnects with Last-Event-ID mid-load: the second
// connection starts exactly after the last event the first received.
func TestFeedStreamResume(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	ts := httptest.NewServer(s.engine)
	t.Cleanup(ts.Close)
	appendInvoices(t, s.events, 300, 4)

	var got []int64
	collect := func(headers []string, stopAt int64) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp := openStream(ctx, t, ts.URL+"/events?after=0", headers...)
		defer func() { _ = resp.Body.Close() }()
		_ = readSSE(bufio.NewReader(resp.Body), func(ev sseEvent) bool {
			n, _ := strconv.ParseInt(ev.id, 10, 64)
			got = append(got, n)
			return n < stopAt
		}, nil)
	}
	collect(nil, 123) // drops the connection after 123
	more := make(chan struct{})
	go func() {
		defer close(more)
		codec := storetest.Codec(t)
		for range 300 {
			id := newUUID()
			evs, err := storetest.Encode(codec, invoice.Created{InvoiceID: id, CustomerID: "c", Amount: 1, Currency: invoice.MustCurrency("EUR"), CreatedAt: time.Now().UTC()})
			if err == nil {
				_, err = s.events.Append(context.Background(), id, 0, evs, ports.Metadata{})
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	collect([]string{"Last-Event-ID: 123"}, 600)
	<-more
	for i, p := range got {
		if p != int64(i+1) {
			t.Fatalf("event %d has position %d, want %d (got %v…)", i, p, i+1, got[:min(len(got), i+3)])
		}
	}
	if len(got) != 600 {
		t.Errorf("received %d events, want 600", len(got))
	}
}

// TestFeedStreamFilterAndHeartbeat follows one stream only; the heartbeat
// comment arrives while nothing matches.
func TestFeedStreamFilterAndHeartbeat(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{eventStream: config.EventStream{Heartbeat: 20 * time.Millisecond}})
	ts := httptest.NewServer(s.engine)
	t.Cleanup(ts.Close)
	ids := appendInvoices(t, s.events, 20, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp := openStream(ctx, t, ts.URL+"/events?streamId="+ids[7]+"&after=3")
	defer func() { _ = resp.Body.Close() }()
	var events []sseEvent
	beats := 0
	_ = readSSE(bufio.NewReader(resp.Body), func(ev sseEvent) bool {
		events = append(events, ev)
		return false
	}, func(c string) {
		if c == "heartbeat" {
			beats++
		}
	})
	if len(events) != 1 || events[0].id != "8" {
		t.Fatalf("events %v, want the one at position 8", events)
	}
	_ = readSSE(bufio.NewReader(resp.Body), func(sseEvent) bool { return true }, func(c string) {
		if c == "heartbeat" {
			beats++
			if beats >= 2 {
				cancel()
			}
		}
	})
	if beats < 2 {
		t.Errorf("%d heartbeats, want at least 2", beats)
	}
}

// TestFeedStreamLimit refuses one stream beyond EVENT_STREAM_MAX_CLIENTS
// with a 503 problem, and admits one again after a stream closes.
func TestFeedStreamLimit(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{eventStream: config.EventStream{MaxClients: 2}})
	ts := httptest.NewServer(s.engine)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := openStream(ctx, t, ts.URL+"/events")
	second := openStream(ctx, t, ts.URL+"/events")
	defer func() { _ = second.Body.Close() }()
	if first.StatusCode != http.StatusOK || second.StatusCode != http.StatusOK {
		t.Fatalf("statuses %d %d, want 200", first.StatusCode, second.StatusCode)
	}
	rec := s.do(t, "GET", "/events", "", "Accept: text/event-stream")
	p := checkProblemResponse(t, rec, http.StatusServiceUnavailable, "/problems/too-many-streams", "")
	if !strings.Contains(p.Detail, "EVENT_STREAM_MAX_CLIENTS") || rec.Header().Get("Retry-After") == "" {
		t.Errorf("detail %q, Retry-After %q: want the setting named and a Retry-After", p.Detail, rec.Header().Get("Retry-After"))
	}
	// JSON pages are not streams: never capped.
	if rec := s.do(t, "GET", "/events", ""); rec.Code != 200 {
		t.Errorf("JSON page with the streams full: %d", rec.Code)
	}
	_ = first.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := openStream(ctx, t, ts.URL+"/events")
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d 10 s after a stream closed", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFeedStreamEndsOnShutdown: http.Server.Shutdown waits for active
// requests, which a stream never stops being; closing the feed (what
// NewServer registers with RegisterOnShutdown) ends it with a comment.
func TestFeedStreamEndsOnShutdown(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	srv := httptest.NewUnstartedServer(s.engine)
	srv.Config.RegisterOnShutdown(s.app.Feed.Close)
	srv.Start()
	resp := openStream(context.Background(), t, srv.URL+"/events")
	defer func() { _ = resp.Body.Close() }()
	var comments []string
	done := make(chan error, 1)
	go func() {
		done <- readSSE(bufio.NewReader(resp.Body), func(sseEvent) bool { return true }, func(c string) { comments = append(comments, c) })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	time.Sleep(50 * time.Millisecond)
	if err := srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v (the stream held it)", err)
	}
	if err := <-done; !errors.Is(err, io.EOF) {
		t.Errorf("the stream ended with %v, want EOF", err)
	}
	if len(comments) == 0 || !strings.Contains(comments[len(comments)-1], "shutting down") {
		t.Errorf("comments %q, want a last one saying the server is shutting down", comments)
	}
}

// TestFeedStreamStalledClient connects without ever reading, with a small
// receive buffer, while 2,000 events are appended: the server must cut it
// off after the write timeout, holding at most one batch for it meanwhile.
func TestFeedStreamStalledClient(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{eventStream: config.EventStream{WriteTimeout: 300 * time.Millisecond}})
	srv := httptest.NewUnstartedServer(s.engine)
	// Small socket buffers on the server side too, so that the load fills
	// them well before it ends.
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	appendInvoices(t, s.events, 5000, 8)
	// The stream is closed once a write waited 300 ms: the connection's
	// server side goes away, and a new stream is admitted.
	deadline := time.Now().Add(20 * time.Second)
	for s.fanout.Open() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled stream is still open 20 s later")
		}
		time.Sleep(20 * time.Millisecond)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("heap in use: %d KiB before the load, %d KiB after the stalled client was cut off", before.HeapInuse>>10, after.HeapInuse>>10)
	// Read what reached the client: well-formed events in order, then EOF.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil || line == "\r\n" {
			break
		}
	}
	last := int64(0)
	err = readSSE(bufio.NewReader(httputil.NewChunkedReader(r)), func(ev sseEvent) bool {
		n, _ := strconv.ParseInt(ev.id, 10, 64)
		if n != last+1 {
			t.Errorf("event %d after %d", n, last)
		}
		last = n
		return true
	}, nil)
	if last == 0 || last >= 5000 {
		t.Errorf("the stalled client got events up to %d, want some but not all of 5000 (err %v)", last, err)
	}
	t.Logf("the stalled client had %d events in its buffers when it was cut off", last)
}

// smallBuffers is a listener whose connections have 4 KiB send buffers.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}
