package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	swaggerFiles "github.com/swaggo/files/v2"

	"invoices/adapters/store/storetest"
)

func TestCreateGetPayLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		before := time.Now().Add(-time.Second)

		rec := s.do(t, "POST", "/invoices", `{"customerId":"  cus_1  ","amount":19.99}`, "X-Request-ID: req-create-1")
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		if w := rec.Header().Get("Warning"); w != "" {
			t.Errorf("unexpected Warning %q: the projection should have caught up", w)
		}
		if got := rec.Header().Get("X-Request-ID"); got != "req-create-1" {
			t.Errorf("X-Request-ID = %q, want it echoed", got)
		}
		created := decode[invoiceJSON](t, rec)
		if loc := rec.Header().Get("Location"); loc != "/invoices/"+created.ID {
			t.Errorf("Location = %q, want /invoices/%s", loc, created.ID)
		}
		if !strings.Contains(rec.Body.String(), `"amount":19.99,`) {
			t.Errorf("amount is not the exact number 19.99 in %s", rec.Body)
		}
		for _, want := range []string{`"currency":"EUR",`, `"dueDate":null,`, `"paidAt":null,`, `"voidedAt":null,`, `"voidReason":null}`} {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s is not in %s", want, rec.Body)
			}
		}
		if created.CustomerID != "cus_1" || created.Status != "pending" || created.Paid || created.Version != 1 ||
			created.PaidAt != nil || created.CreatedAt.Before(before) || !created.UpdatedAt.Equal(created.CreatedAt) {
			t.Errorf("created invoice = %+v", created)
		}

		// Read your writes: the GET right after the 201 shows the same invoice.
		get := s.do(t, "GET", "/invoices/"+created.ID, "")
		if get.Code != http.StatusOK {
			t.Fatalf("get after create: %d %s", get.Code, get.Body)
		}
		if diff := cmp.Diff(rec.Body.String(), get.Body.String()); diff != "" {
			t.Errorf("GET differs from the 201 body (-201 +GET):\n%s", diff)
		}

		// The event carries the request id and the command as metadata.
		stream, err := s.events.LoadStream(context.Background(), created.ID)
		if err != nil || len(stream) != 1 {
			t.Fatalf("stream = %v, %v; want one event", stream, err)
		}
		if md := stream[0].Metadata; md.CorrelationID != "req-create-1" || md.CausationID != "CreateInvoice" {
			t.Errorf("metadata = %+v", md)
		}

		pay := s.do(t, "POST", "/invoices/"+created.ID+"/pay", "")
		if pay.Code != http.StatusOK {
			t.Fatalf("pay: %d %s", pay.Code, pay.Body)
		}
		paid := decode[invoiceJSON](t, pay)
		if paid.Status != "paid" || !paid.Paid || paid.Version != 2 || paid.PaidAt == nil ||
			!paid.UpdatedAt.Equal(*paid.PaidAt) || !paid.CreatedAt.Equal(created.CreatedAt) {
			t.Errorf("paid invoice = %+v", paid)
		}
		get = s.do(t, "GET", "/invoices/"+created.ID, "")
		if diff := cmp.Diff(pay.Body.String(), get.Body.String()); diff != "" {
			t.Errorf("GET differs from the pay body (-pay +GET):\n%s", diff)
		}

		for _, method := range []string{"POST", "PATCH"} {
			again := s.do(t, method, "/invoices/"+created.ID+"/pay", "")
			if again.Code != http.StatusConflict || decode[problemJSON](t, again).Type != "/problems/already-paid" {
				t.Errorf("%s pay twice: %d %s, want 409 already-paid", method, again.Code, again.Body)
			}
		}
		if h := s.head(t); h != 2 {
			t.Errorf("event store head = %d, want 2", h)
		}
	})
}

func TestPatchPays(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	inv := s.create(t, `{"customerId":"c","amount":5}`)
	rec := s.do(t, "PATCH", "/invoices/"+inv.ID+"/pay", "")
	if rec.Code != http.StatusOK || !decode[invoiceJSON](t, rec).Paid {
		t.Fatalf("PATCH pay: %d %s", rec.Code, rec.Body)
	}
}

func TestAmountsAreExact(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		tests := []struct{ in, want string }{
			{"0.01", "0.01"},
			{"0.1", "0.10"},
			{"1.1", "1.10"},
			{"19.99", "19.99"},
			{"1e2", "100.00"},
			{"1.50", "1.50"},
			{"999999999999.99", "999999999999.99"},
			{"123456789012.34", "123456789012.34"},
		}
		for _, tt := range tests {
			inv := s.create(t, `{"customerId":"c","amount":`+tt.in+`}`)
			get := s.do(t, "GET", "/invoices/"+inv.ID, "")
			if got := string(decode[invoiceJSON](t, get).Amount); got != tt.want {
				t.Errorf("amount %s read back as %s, want %s", tt.in, got, tt.want)
			}
		}
	})
}

func TestListPagination(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		if rec := s.do(t, "GET", "/invoices", ""); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Fatalf("empty list: %d %s, want 200 []", rec.Code, rec.Body)
		}
		var ids []string
		for i := range 7 {
			ids = append(ids, s.create(t, fmt.Sprintf(`{"customerId":"c%d","amount":%d}`, i, i+1)).ID)
		}
		// Newest first, following Link rel="next" until it disappears.
		linkRE := regexp.MustCompile(`^<(/invoices\?[^>]+)>; rel="next"$`)
		var got []string
		path, pages := "/invoices?limit=3", 0
		for path != "" {
			rec := s.do(t, "GET", path, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
			}
			for _, inv := range decode[[]invoiceJSON](t, rec) {
				got = append(got, inv.ID)
			}
			pages++
			path = ""
			if link := rec.Header().Get("Link"); link != "" {
				m := linkRE.FindStringSubmatch(link)
				if m == nil {
					t.Fatalf("Link header %q is not <...>; rel=\"next\"", link)
				}
				path = m[1]
			}
		}
		var want []string
		for i := len(ids) - 1; i >= 0; i-- {
			want = append(want, ids[i])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("paged ids (-want +got):\n%s", diff)
		}
		if pages != 3 {
			t.Errorf("7 invoices at 3 per page took %d pages, want 3", pages)
		}
		// Default page size holds all seven and has no next link.
		rec := s.do(t, "GET", "/invoices", "")
		if n := len(decode[[]invoiceJSON](t, rec)); n != 7 || rec.Header().Get("Link") != "" {
			t.Errorf("default page: %d items, Link %q; want 7 and none", n, rec.Header().Get("Link"))
		}
		// A page is sent with its length, not chunked.
		if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("Content-Length = %q, want %d, the body's length", cl, rec.Body.Len())
		}
	})
}

// TestParallelPays: 40 concurrent pays of one invoice give exactly one 200
// and 39 409s, never a 500, and the stream holds exactly two events.
func TestParallelPays(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		inv := s.create(t, `{"customerId":"c","amount":10}`)
		const payers = 40
		codes := make([]int, payers)
		bodies := make([]string, payers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range payers {
			wg.Go(func() {
				<-start
				rec := s.do(t, "POST", "/invoices/"+inv.ID+"/pay", "")
				codes[i], bodies[i] = rec.Code, rec.Body.String()
			})
		}
		close(start)
		wg.Wait()
		count := map[int]int{}
		for i, c := range codes {
			count[c]++
			if c != http.StatusOK && c != http.StatusConflict {
				t.Errorf("pay %d: %d %s", i, c, bodies[i])
			}
		}
		if count[http.StatusOK] != 1 || count[http.StatusConflict] != payers-1 {
			t.Errorf("statuses = %v, want 1×200 and %d×409", count, payers-1)
		}
		stream, err := s.events.LoadStream(context.Background(), inv.ID)
		if err != nil || len(stream) != 2 {
			t.Errorf("stream has %d events (%v), want 2", len(stream), err)
		}
	})
}

// TestReadYourWritesTimeoutWarns: when the read model cannot catch up in
// time, the command still succeeds (its events are stored) with a Warning.
func TestReadYourWritesTimeoutWarns(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{rywTimeout: 20 * time.Millisecond, projectorStopped: true})
	rec := s.do(t, "POST", "/invoices", `{"customerId":"c","amount":1}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if w := rec.Header().Get("Warning"); !strings.HasPrefix(w, "199 ") {
		t.Errorf("Warning = %q, want a 199 warning", w)
	}
	if h := s.head(t); h != 1 {
		t.Errorf("head = %d, want the event stored", h)
	}
}

func TestSwaggerUI(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	rec := s.do(t, "GET", "/api", "")
	if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/api/index.html" {
		t.Errorf("/api: %d Location %q, want 301 to /api/index.html", rec.Code, rec.Header().Get("Location"))
	}
	if rec := s.do(t, "GET", "/api/index.html", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "swagger") {
		t.Errorf("/api/index.html: %d", rec.Code)
	}
	// The UI's own files come from the embedded swaggo/files/v2, whole.
	for _, name := range []string{"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"} {
		want, err := fs.ReadFile(swaggerFiles.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		rec := s.do(t, "GET", "/api/"+name, "")
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("/api/%s: %d, %d bytes; want 200 and the embedded %d bytes", name, rec.Code, rec.Body.Len(), len(want))
		}
	}
	if rec := s.do(t, "GET", "/api/no-such-file.js", ""); rec.Code != http.StatusNotFound {
		t.Errorf("/api/no-such-file.js: %d, want 404", rec.Code)
	}
	for _, path := range []string{"/api/doc.json", "/api-json"} {
		rec := s.do(t, "GET", path, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		doc := decode[struct {
			Paths map[string]map[string]any `json:"paths"`
		}](t, rec)
		want := map[string][]string{
			"/invoices":           {"get", "post"},
			"/invoices/{id}":      {"get"},
			"/invoices/{id}/pay":  {"post", "patch"},
			"/invoices/{id}/void": {"post"},
		}
		for p, methods := range want {
			for _, m := range methods {
				if _, ok := doc.Paths[p][m]; !ok {
					t.Errorf("%s does not document %s %s", path, strings.ToUpper(m), p)
				}
			}
		}
	}
}
