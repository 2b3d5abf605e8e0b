package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"invoices/adapters/store/storetest"
)

// TestETags: every answer showing an invoice carries its version's strong
// ETag, and a GET whose If-None-Match names it (weakly, in a list, or as
// *) is a 304 without a body.
func TestETags(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		path := "/invoices/" + s.create(t, `{"customerId":"c","amount":10}`).ID

		tests := []struct {
			name        string
			ifNoneMatch string
			want        int
		}{
			{name: "no condition", want: http.StatusOK},
			{name: "its tag", ifNoneMatch: `"v1"`, want: http.StatusNotModified},
			{name: "its tag, weak", ifNoneMatch: `W/"v1"`, want: http.StatusNotModified},
			{name: "in a list", ifNoneMatch: `"v7", W/"other" , "v1"`, want: http.StatusNotModified},
			{name: "any", ifNoneMatch: `*`, want: http.StatusNotModified},
			{name: "another version", ifNoneMatch: `"v2"`, want: http.StatusOK},
			{name: "a tag it never issues", ifNoneMatch: `"abc"`, want: http.StatusOK},
			{name: "not canonical", ifNoneMatch: `"v01"`, want: http.StatusOK},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := s.do(t, http.MethodGet, path, "", "If-None-Match: "+tt.ifNoneMatch)
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d; body %s", rec.Code, tt.want, rec.Body)
				}
				if got := rec.Header().Get("ETag"); got != `"v1"` {
					t.Errorf("ETag %q, want %q", got, `"v1"`)
				}
				if tt.want == http.StatusNotModified && rec.Body.Len() != 0 {
					t.Errorf("304 with a body: %q", rec.Body)
				}
				if tt.want == http.StatusOK && decode[invoiceJSON](t, rec).Version != 1 {
					t.Errorf("body %s, want the invoice at version 1", rec.Body)
				}
			})
		}

		paid := s.do(t, http.MethodPost, path+"/pay", "", `If-Match: "v1"`)
		if paid.Code != http.StatusOK || paid.Header().Get("ETag") != `"v2"` {
			t.Fatalf("conditional pay: status %d, ETag %q; want 200 and \"v2\"; body %s", paid.Code, paid.Header().Get("ETag"), paid.Body)
		}
		// The tag the client held is stale now: it gets the new version.
		rec := s.do(t, http.MethodGet, path, "", `If-None-Match: "v1"`)
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"v2"` || decode[invoiceJSON](t, rec).Status != "paid" {
			t.Errorf("GET with the old tag: status %d, ETag %q, body %s; want 200, \"v2\" and the paid invoice",
				rec.Code, rec.Header().Get("ETag"), rec.Body)
		}
		voided := s.create(t, `{"customerId":"c","amount":10}`)
		rec = s.do(t, http.MethodPost, "/invoices/"+voided.ID+"/void", `{"reason":"dup"}`)
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `"v2"` {
			t.Errorf("void: status %d, ETag %q; want 200 and \"v2\"", rec.Code, rec.Header().Get("ETag"))
		}
	})
}

// A create answers with the new invoice's tag, "v1", so a client can make
// its first pay or void conditional without a GET.
func TestCreateAnswersWithAnETag(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	rec := s.do(t, http.MethodPost, "/invoices", `{"customerId":"c","amount":10}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: status %d: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("ETag"); got != `"v1"` {
		t.Errorf("create: ETag %q, want %q", got, `"v1"`)
	}
}

// TestConditionalCommands: If-Match makes pay and void conditional on the
// version it names. Each case runs on a fresh pending invoice (version 1);
// an answer other than 200 stores nothing.
func TestConditionalCommands(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		tests := []struct {
			name    string
			action  string
			ifMatch []string // the field's lines; none: not sent
			unknown bool     // an invoice id nobody created
			status  int
			typ     string // the problem type, for a status other than 200
		}{
			{name: "pay at its version", action: "/pay", ifMatch: []string{`"v1"`}, status: 200},
			{name: "void at its version", action: "/void", ifMatch: []string{`"v1"`}, status: 200},
			{name: "pay at any version", action: "/pay", ifMatch: []string{`*`}, status: 200},
			{name: "void at any version", action: "/void", ifMatch: []string{` * `}, status: 200},
			{name: "its version in a list", action: "/pay", ifMatch: []string{`W/"v2", "foreign", "v1"`}, status: 200},
			{name: "its version on a second line", action: "/pay", ifMatch: []string{`"foreign"`, `"v1"`}, status: 200},
			{name: "its version twice", action: "/pay", ifMatch: []string{`"v1","v1"`}, status: 200},
			{name: "pay at a version it has not reached", action: "/pay", ifMatch: []string{`"v2"`}, status: 412, typ: "/problems/precondition-failed"},
			{name: "void at a version it has not reached", action: "/void", ifMatch: []string{`"v2"`}, status: 412, typ: "/problems/precondition-failed"},
			{name: "a weak tag never matches", action: "/pay", ifMatch: []string{`W/"v1"`}, status: 412, typ: "/problems/precondition-failed"},
			{name: "a tag it never issues", action: "/pay", ifMatch: []string{`"abc"`}, status: 412, typ: "/problems/precondition-failed"},
			{name: "version 0", action: "/void", ifMatch: []string{`"v0"`}, status: 412, typ: "/problems/precondition-failed"},
			{name: "unknown invoice", action: "/pay", ifMatch: []string{`"v1"`}, unknown: true, status: 404, typ: "/problems/not-found"},
			{name: "unknown invoice, any version", action: "/void", ifMatch: []string{`*`}, unknown: true, status: 404, typ: "/problems/not-found"},
			{name: "not quoted", action: "/pay", ifMatch: []string{`v1`}, status: 400, typ: "/problems/validation"},
			{name: "not closed", action: "/pay", ifMatch: []string{`"v1`}, status: 400, typ: "/problems/validation"},
			{name: "space in a tag", action: "/pay", ifMatch: []string{`"v 1"`}, status: 400, typ: "/problems/validation"},
			{name: "no comma between tags", action: "/pay", ifMatch: []string{`"v1" "v2"`}, status: 400, typ: "/problems/validation"},
			{name: "lower-case weak prefix", action: "/pay", ifMatch: []string{`w/"v1"`}, status: 400, typ: "/problems/validation"},
			{name: "empty", action: "/pay", ifMatch: []string{``}, status: 400, typ: "/problems/validation"},
			{name: "only commas", action: "/void", ifMatch: []string{` , ,`}, status: 400, typ: "/problems/validation"},
			{name: "any with a tag", action: "/pay", ifMatch: []string{`*, "v1"`}, status: 400, typ: "/problems/validation"},
			{name: "two versions", action: "/pay", ifMatch: []string{`"v1", "v2"`}, status: 400, typ: "/problems/validation"},
			// Syntax is checked before the invoice is looked up.
			{name: "malformed, unknown invoice", action: "/void", ifMatch: []string{`v1`}, unknown: true, status: 400, typ: "/problems/validation"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := newUUID()
				if !tt.unknown {
					id = s.create(t, `{"customerId":"c","amount":10}`).ID
				}
				before := s.head(t)
				req := httptest.NewRequest(http.MethodPost, "/invoices/"+id+tt.action, nil)
				for _, v := range tt.ifMatch {
					req.Header.Add("If-Match", v)
				}
				rec := serve(s, req)

				if tt.status != http.StatusOK {
					p := checkProblemResponse(t, rec, tt.status, tt.typ, "")
					if tt.status == http.StatusBadRequest && !hasField(p, "If-Match") {
						t.Errorf("errors %+v do not name If-Match", p.Errors)
					}
					if h := s.head(t); h != before {
						t.Errorf("head moved from %d to %d: a refused command stored events", before, h)
					}
					return
				}
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				if got := rec.Header().Get("ETag"); got != `"v2"` {
					t.Errorf("ETag %q, want %q", got, `"v2"`)
				}
			})
		}
	})
}

// A conditional pay that finds the invoice paid at the version it named
// hears what the domain says (409), and one with a stale version that it
// is stale (412), not that the invoice is paid.
func TestConditionalPayOfAPaidInvoice(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	id := s.create(t, `{"customerId":"c","amount":10}`).ID
	if rec := s.do(t, http.MethodPost, "/invoices/"+id+"/pay", ""); rec.Code != http.StatusOK {
		t.Fatalf("pay: status %d: %s", rec.Code, rec.Body)
	}
	checkProblemResponse(t, s.do(t, http.MethodPost, "/invoices/"+id+"/pay", "", `If-Match: "v2"`), 409, "/problems/already-paid", "")
	checkProblemResponse(t, s.do(t, http.MethodPost, "/invoices/"+id+"/pay", "", `If-Match: "v1"`), 412, "/problems/precondition-failed", "")
	checkProblemResponse(t, s.do(t, http.MethodPost, "/invoices/"+id+"/void", "", `If-Match: "v1"`), 412, "/problems/precondition-failed", "")
}

// TestConditionalPayRace: pays and voids of one invoice sent together, all
// with the If-Match of version 1. Exactly one succeeds; every other is 412
// (it asked for version 1, which is gone) and never retried into a 409;
// the stream holds two events. Without If-Match the losers would be 409s
// (TestPayVoidRace).
func TestConditionalPayRace(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		for _, racers := range []int{2, 2, 2, 10, 10} {
			id := s.create(t, `{"customerId":"c","amount":10}`).ID
			codes := make([]int, racers)
			types := make([]string, racers)
			var ready, done sync.WaitGroup
			start := make(chan struct{})
			for i := range racers {
				ready.Add(1)
				done.Go(func() {
					action := "/pay"
					if i%2 == 1 && racers > 2 {
						action = "/void"
					}
					ready.Done()
					<-start
					rec := s.do(t, http.MethodPost, "/invoices/"+id+action, "", `If-Match: "v1"`)
					codes[i] = rec.Code
					if rec.Code != http.StatusOK {
						types[i] = decode[problemJSON](t, rec).Type
					}
				})
			}
			ready.Wait()
			close(start)
			done.Wait()

			ok := 0
			for i, code := range codes {
				switch {
				case code == http.StatusOK:
					ok++
				case code != http.StatusPreconditionFailed || types[i] != "/problems/precondition-failed":
					t.Errorf("%d racers: request %d answered %d %s, want 200 or 412 /problems/precondition-failed", racers, i, code, types[i])
				}
			}
			if ok != 1 {
				t.Errorf("%d racers: %d succeeded, want exactly 1 (codes %v)", racers, ok, codes)
			}
			rec := s.do(t, http.MethodGet, "/invoices/"+id+"/events", "")
			if n := len(decode[[]eventJSON](t, rec)); n != 2 {
				t.Errorf("%d racers: the stream holds %d events, want 2: %s", racers, n, rec.Body)
			}
		}
	})
}

// hasField reports whether the problem's errors name field.
func hasField(p problemJSON, field string) bool {
	_, ok := fieldMessage(p, field)
	return ok
}

// eventJSON is one event of GET /invoices/{id}/events as a client reads it.
type eventJSON struct {
	Position      int64             `json:"position"`
	ID            string            `json:"id"`
	Version       int               `json:"version"`
	Type          string            `json:"type"`
	SchemaVersion int               `json:"schemaVersion"`
	RecordedAt    string            `json:"recordedAt"`
	Payload       map[string]any    `json:"payload"`
	Metadata      map[string]string `json:"metadata"`
}
