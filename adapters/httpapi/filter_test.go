package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/adapters/store/storetest"
)

// filterFixture is one invoice of the filter tests: created an hour after
// the one before it, then paid or voided (or left pending).
type filterFixture struct {
	customer, currency, amount, due, status string
}

// filterFixtures are created in order from filterBase, one an hour, so
// invoice i is created at filterBase + i hours and newest first is the
// highest index first.
var filterFixtures = []filterFixture{
	0: {"cus_a", "EUR", "10", "", "pending"},
	1: {"cus_a", "JPY", "500", "2026-04-01", "paid"},
	2: {"cus_b", "EUR", "20", "2026-05-01", "void"},
	3: {"cus_b", "KWD", "1.25", "2026-03-15", "pending"},
	4: {"cus_c", "EUR", "30", "", "paid"},
	5: {"cus_a", "EUR", "40", "2026-06-01", "pending"},
	6: {"cus_c", "JPY", "1000", "", "void"},
	7: {"cus_b", "EUR", "50", "2026-03-02", "paid"},
}

var filterBase = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// createFilterFixtures creates filterFixtures and returns their ids by index.
func createFilterFixtures(t *testing.T, s *testServer, clock *fixedClock) []string {
	t.Helper()
	ids := make([]string, len(filterFixtures))
	for i, f := range filterFixtures {
		clock.Set(filterBase.Add(time.Duration(i) * time.Hour))
		body := fmt.Sprintf(`{"customerId":%q,"amount":%s,"currency":%q`, f.customer, f.amount, f.currency)
		if f.due != "" {
			body += fmt.Sprintf(`,"dueDate":%q`, f.due)
		}
		ids[i] = s.create(t, body+"}").ID
		clock.Set(filterBase.Add(time.Duration(i)*time.Hour + time.Minute))
		switch f.status {
		case "paid", "void":
			action := map[string]string{"paid": "/pay", "void": "/void"}[f.status]
			if rec := s.do(t, http.MethodPost, "/invoices/"+ids[i]+action, ""); rec.Code != http.StatusOK {
				t.Fatalf("%s invoice %d: status %d; body %s", action, i, rec.Code, rec.Body)
			}
		}
	}
	return ids
}

// TestListFilters is the table of GET /invoices filters, each answered with
// exactly the matching invoices, newest first, alone or combined.
func TestListFilters(t *testing.T) {
	at := func(hours int) string { return filterBase.Add(time.Duration(hours) * time.Hour).Format(time.RFC3339) }
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		clock := newFixedClock(filterBase)
		s := newServer(t, e, serverOptions{clock: clock.Now})
		ids := createFilterFixtures(t, s, clock)
		tests := []struct {
			name  string
			query string
			want  []int // fixture indexes, newest first
		}{
			{"no filter", "", []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"pending", "status=pending", []int{5, 3, 0}},
			{"paid", "status=paid", []int{7, 4, 1}},
			{"void", "status=void", []int{6, 2}},
			{"paid or void", "status=paid&status=void", []int{7, 6, 4, 2, 1}},
			{"every status", "status=void&status=pending&status=paid", []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"a status twice", "status=pending&status=pending", []int{5, 3, 0}},
			{"customer", "customerId=cus_a", []int{5, 1, 0}},
			{"customer padded", "customerId=%20cus_a%20", []int{5, 1, 0}},
			{"customer case matters", "customerId=CUS_A", nil},
			{"unknown customer", "customerId=nobody", nil},
			{"currency", "currency=EUR", []int{7, 5, 4, 2, 0}},
			{"currency lower case", "currency=jpy", []int{6, 1}},
			{"three-decimal currency", "currency=KWD", []int{3}},
			{"currency without invoices", "currency=USD", nil},
			{"created from, inclusive", "createdFrom=" + at(2), []int{7, 6, 5, 4, 3, 2}},
			{"created to, exclusive", "createdTo=" + at(2), []int{1, 0}},
			{"created between", "createdFrom=" + at(2) + "&createdTo=" + at(5), []int{4, 3, 2}},
			{"created from, an offset", "createdFrom=" + url.QueryEscape("2026-03-01T14:00:00+02:00"), []int{7, 6, 5, 4, 3, 2}},
			{"created from, a microsecond later", "createdFrom=2026-03-01T12:00:00.000001Z", []int{7, 6, 5, 4, 3}},
			{"created to the last second of year 9999", "createdTo=9999-12-31T23:59:59.999999999Z", []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"created from the first second of year 1", "createdFrom=0001-01-01T00:00:01Z", []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{"created to before the first", "createdTo=" + at(0), nil},
			{"created from after the last", "createdFrom=" + at(8), nil},
			{"due before, exclusive", "dueBefore=2026-04-01", []int{7, 3}},
			{"due before the next day", "dueBefore=2026-04-02", []int{7, 3, 1}},
			{"due before, none without a due date", "dueBefore=2099-01-01", []int{7, 5, 3, 2, 1}},
			{"pending in EUR", "status=pending&currency=EUR", []int{5, 0}},
			{"customer's paid or void", "customerId=cus_b&status=paid&status=void", []int{7, 2}},
			{"EUR due before June 2 created from 2h", "currency=eur&dueBefore=2026-06-02&createdFrom=" + at(2), []int{7, 5, 2}},
			{"every filter", "status=pending&customerId=cus_a&currency=EUR&createdFrom=" + at(1) + "&createdTo=" + at(6) + "&dueBefore=2026-07-01", []int{5}},
			{"contradictory", "status=pending&customerId=cus_c", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := s.do(t, http.MethodGet, "/invoices?"+tt.query, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				got := decode[[]invoiceJSON](t, rec)
				gotIdx := make([]int, 0, len(got))
				for _, inv := range got {
					i := slices.Index(ids, inv.ID)
					gotIdx = append(gotIdx, i)
					if i < 0 {
						t.Errorf("listed invoice %s is not a fixture", inv.ID)
						continue
					}
					f := filterFixtures[i]
					if inv.Status != f.status || inv.Currency != f.currency || inv.CustomerID != f.customer {
						t.Errorf("invoice %d listed as %+v, want status %s, currency %s, customer %s", i, inv, f.status, f.currency, f.customer)
					}
				}
				if diff := cmp.Diff(append([]int{}, tt.want...), gotIdx); diff != "" {
					t.Errorf("GET /invoices?%s: fixtures listed (-want +got):\n%s", tt.query, diff)
				}
				if link := rec.Header().Get("Link"); link != "" {
					t.Errorf("one page holds them all, but Link = %q", link)
				}
			})
		}
	})
}

// TestListFilterErrors: a bad filter value is a 400 naming the parameter,
// and a parameter GET /invoices does not know is a 400 that lists the ones
// it does.
func TestListFilterErrors(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	s.create(t, `{"customerId":"c","amount":1}`)
	known := []string{"cursor", "limit", "status", "customerId", "currency", "createdFrom", "createdTo", "dueBefore"}
	tests := []struct {
		name   string
		query  string
		fields []string // the parameters the errors must name
	}{
		{"unknown status", "status=bogus", []string{"status"}},
		{"status case", "status=PAID", []string{"status"}},
		{"empty status", "status=", []string{"status"}},
		{"one bad status among good", "status=paid&status=bogus", []string{"status"}},
		{"createdFrom a word", "createdFrom=yesterday", []string{"createdFrom"}},
		{"createdFrom a date", "createdFrom=2026-03-01", []string{"createdFrom"}},
		{"createdFrom without a zone", "createdFrom=2026-03-01T10:00:00", []string{"createdFrom"}},
		{"createdFrom a Unix time", "createdFrom=1767225600", []string{"createdFrom"}},
		{"createdTo malformed", "createdTo=2026-03-01T25:00:00Z", []string{"createdTo"}},
		{"createdTo past year 9999 in UTC", "createdTo=9999-12-31T23:59:59-01:00", []string{"createdTo"}},
		{"createdFrom before year 1 in UTC", "createdFrom=0001-01-01T00:00:00%2B01:00", []string{"createdFrom"}},
		{"createdFrom year 0", "createdFrom=0000-06-01T00:00:00Z", []string{"createdFrom"}},
		{"createdFrom repeated", "createdFrom=2026-03-01T10:00:00Z&createdFrom=2026-03-02T10:00:00Z", []string{"createdFrom"}},
		{"dueBefore February 30", "dueBefore=2026-02-30", []string{"dueBefore"}},
		{"dueBefore unpadded", "dueBefore=2026-3-01", []string{"dueBefore"}},
		{"dueBefore a time", "dueBefore=2026-03-01T00:00:00Z", []string{"dueBefore"}},
		{"currency four letters", "currency=EURO", []string{"currency"}},
		{"currency digits", "currency=978", []string{"currency"}},
		{"currency empty", "currency=", []string{"currency"}},
		{"currency repeated", "currency=EUR&currency=JPY", []string{"currency"}},
		{"customerId empty", "customerId=", []string{"customerId"}},
		{"customerId too long", "customerId=" + strings.Repeat("x", 256), []string{"customerId"}},
		{"customerId repeated", "customerId=a&customerId=b", []string{"customerId"}},
		{"limit 0", "limit=0", []string{"limit"}},
		{"limit negative", "limit=-1", []string{"limit"}},
		{"every bad value at once", "status=bogus&currency=EURO&createdFrom=yesterday&dueBefore=2026-02-30",
			[]string{"status", "currency", "createdFrom", "dueBefore"}},
		{"unknown parameter", "state=paid", []string{"state"}},
		{"misspelt parameter beside a filter", "status=paid&customer_id=c", []string{"customer_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := s.do(t, http.MethodGet, "/invoices?"+tt.query, "")
			p := checkProblemResponse(t, rec, http.StatusBadRequest, "/problems/validation", "")
			for _, f := range tt.fields {
				if _, ok := fieldMessage(p, f); !ok {
					t.Errorf("errors %+v do not name %q", p.Errors, f)
				}
			}
		})
	}
	t.Run("unknown parameter lists the known ones", func(t *testing.T) {
		p := decode[problemJSON](t, s.do(t, http.MethodGet, "/invoices?state=paid", ""))
		msg, _ := fieldMessage(p, "state")
		for _, name := range known {
			if !strings.Contains(msg, name) {
				t.Errorf("message %q does not list the known parameter %s", msg, name)
			}
		}
	})
}

// linkRE is the Link header of a page with a next one.
var linkRE = regexp.MustCompile(`^<(/invoices\?[^>]+)>; rel="next"$`)

// nextPath returns the path of a page's Link rel="next", "" on the last page.
func nextPath(t *testing.T, link string) string {
	t.Helper()
	if link == "" {
		return ""
	}
	m := linkRE.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("Link header %q is not <...>; rel=\"next\"", link)
	}
	return m[1]
}

// walk follows Link rel="next" from path to the last page and returns the
// ids listed, in order, and the number of pages. before, when not nil, runs
// before each page is asked for.
func walk(t *testing.T, s *testServer, path string, before func()) (ids []string, pages int) {
	t.Helper()
	for path != "" {
		if before != nil {
			before()
		}
		rec := s.do(t, http.MethodGet, path, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d; body %s", path, rec.Code, rec.Body)
		}
		for _, inv := range decode[[]invoiceJSON](t, rec) {
			ids = append(ids, inv.ID)
		}
		pages++
		path = nextPath(t, rec.Header().Get("Link"))
	}
	return ids, pages
}

// TestListFilterPaging: the next page's Link keeps the filter, so a walk
// lists exactly the matching invoices; a cursor pages only the filter it
// was issued for.
func TestListFilterPaging(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		clock := newFixedClock(filterBase)
		s := newServer(t, e, serverOptions{clock: clock.Now})
		ids := createFilterFixtures(t, s, clock)

		rec := s.do(t, http.MethodGet, "/invoices?status=paid&status=void&currency=eur&limit=1", "")
		next := nextPath(t, rec.Header().Get("Link"))
		if rec.Code != http.StatusOK || next == "" {
			t.Fatalf("first page: status %d, Link %q; want 200 and a next page", rec.Code, rec.Header().Get("Link"))
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if diff := cmp.Diff(map[string][]string{
			"status": {"paid", "void"}, "currency": {"eur"}, "limit": {"1"}, "cursor": q["cursor"],
		}, map[string][]string(q)); diff != "" || q.Get("cursor") == "" {
			t.Errorf("next page's query (-want +got):\n%s", diff)
		}

		walks := []struct {
			path string
			want []int
		}{
			{"/invoices?status=paid&status=void&currency=eur&limit=1", []int{7, 4, 2}},
			{"/invoices?status=paid&limit=2", []int{7, 4, 1}},
			{"/invoices?customerId=cus_b&createdTo=" + url.QueryEscape(filterBase.Add(7*time.Hour).Format(time.RFC3339)) + "&limit=1", []int{3, 2}},
			{"/invoices?dueBefore=2026-12-31&limit=3", []int{7, 5, 3, 2, 1}},
		}
		for _, w := range walks {
			got, _ := walk(t, s, w.path, nil)
			var want []string
			for _, i := range w.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walk from %s (-want +got):\n%s", w.path, diff)
			}
		}

		paidPage := s.do(t, http.MethodGet, "/invoices?status=paid&limit=1", "")
		u, err = url.Parse(nextPath(t, paidPage.Header().Get("Link")))
		if err != nil {
			t.Fatal(err)
		}
		cursor := url.QueryEscape(u.Query().Get("cursor"))
		for _, query := range []string{
			"status=pending&cursor=" + cursor,
			"cursor=" + cursor,
			"status=paid&status=void&cursor=" + cursor,
			"status=paid&currency=EUR&cursor=" + cursor,
		} {
			rec := s.do(t, http.MethodGet, "/invoices?"+query, "")
			t.Run(query, func(t *testing.T) {
				checkProblemResponse(t, rec, http.StatusBadRequest, "/problems/validation", "cursor")
			})
		}
		// The same filter, written differently, still pages.
		rec = s.do(t, http.MethodGet, "/invoices?status=paid&status=paid&cursor="+cursor, "")
		if got := decode[[]invoiceJSON](t, rec); rec.Code != http.StatusOK || len(got) != 2 || got[0].ID != ids[4] {
			t.Errorf("the cursor with its own filter: status %d, %d invoices; want 200 and invoices 4 and 1", rec.Code, len(got))
		}
	})
}

// TestFilteredWalkWhileCreating: a filtered walk, page by page, while
// another client keeps creating invoices (matching and not), lists every
// invoice that matched when it started, exactly once and in order. Newer
// invoices can only come before them: each page continues below the last
// one's cursor, and a new invoice is newer than every one before it.
func TestFilteredWalkWhileCreating(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		for i := range 40 {
			currency := []string{"JPY", "EUR"}[i%2]
			s.create(t, fmt.Sprintf(`{"customerId":"cus_walk","amount":%d,"currency":%q}`, 100+i, currency))
		}
		const filter = "/invoices?currency=jpy&customerId=cus_walk"
		rec := s.do(t, http.MethodGet, filter+"&limit=1000", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d; body %s", filter, rec.Code, rec.Body)
		}
		var atStart []string
		for _, inv := range decode[[]invoiceJSON](t, rec) {
			atStart = append(atStart, inv.ID)
		}
		if len(atStart) != 20 {
			t.Fatalf("%d invoices match at the start, want 20", len(atStart))
		}

		var stop, failed atomic.Bool
		var creator sync.WaitGroup
		var createdDuring atomic.Int64
		creator.Go(func() {
			for i := 0; !stop.Load(); i++ {
				currency := []string{"JPY", "EUR"}[i%2]
				rec := s.do(t, http.MethodPost, "/invoices", fmt.Sprintf(`{"customerId":"cus_walk","amount":%d,"currency":%q}`, 1+i, currency))
				if rec.Code != http.StatusCreated {
					t.Errorf("concurrent create: status %d; body %s", rec.Code, rec.Body)
					failed.Store(true)
					return
				}
				createdDuring.Add(1)
			}
		})
		// Each page is asked for only once another invoice has been created
		// since the last, so the walk and the creates interleave whatever
		// the scheduler does.
		afterACreate := func() {
			n := createdDuring.Load()
			for createdDuring.Load() == n && !failed.Load() {
				time.Sleep(time.Millisecond)
			}
		}
		got, pages := walk(t, s, filter+"&limit=3", afterACreate)
		stop.Store(true)
		creator.Wait()

		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Errorf("invoice %s listed twice", id)
			}
			seen[id] = true
		}
		first := slices.Index(got, atStart[0])
		if first < 0 {
			t.Fatalf("the walk %v misses the newest invoice of the start %s", got, atStart[0])
		}
		for _, id := range got[:first] {
			if slices.Contains(atStart, id) {
				t.Errorf("invoice %s of the start is listed before the newest of the start", id)
			}
		}
		if diff := cmp.Diff(atStart, got[first:]); diff != "" {
			t.Errorf("the walk lists the start's invoices (-at start +walk):\n%s", diff)
		}
		for _, id := range got[:first] {
			inv := decode[invoiceJSON](t, s.do(t, http.MethodGet, "/invoices/"+id, ""))
			if inv.Currency != "JPY" || inv.CustomerID != "cus_walk" {
				t.Errorf("the walk listed %+v, which does not match the filter", inv)
			}
		}
		t.Logf("%d pages; %d invoices created during the walk, %d of them listed", pages, createdDuring.Load(), first)
	})
}
