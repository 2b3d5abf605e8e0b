package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
	"invoices/ports"
)

// legacyFixture is the golden invoice.created payload at schema version 1,
// as a release before currencies stored it: no currency (the store's
// recorded legacy currency, EUR, applies) and no due date.
const legacyFixture = "../../domain/invoice/testdata/golden/invoice.created.v1.json"

const legacyID = "7c1e2f0a-5b3d-4e8f-9a6b-1c2d3e4f5a6b" // the fixture's invoiceId

// storeLegacyInvoice appends the golden invoice's creation at schema
// version 1, as an older release did, and waits for the read model to
// show it.
func storeLegacyInvoice(t *testing.T, s *testServer) {
	t.Helper()
	data, err := os.ReadFile(legacyFixture)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.events.Append(context.Background(), legacyID, 0, []ports.NewEvent{{
		ID: newUUID(), Type: invoice.CreatedEventName, SchemaVersion: 1, Data: bytes.TrimSpace(data),
	}}, ports.Metadata{CorrelationID: "req-legacy", CausationID: "CreateInvoice", IdempotencyKey: "legacy-key"})
	if err != nil {
		t.Fatalf("append the legacy invoice: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.do(t, http.MethodGet, "/invoices/"+legacyID, "").Code != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the read model never showed the legacy invoice")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHistoryAndAsOfOfALegacyInvoice: an invoice created at schema version
// 1 and then paid. Its history shows both events in the current schema with
// the stored schema version and each request's metadata, page by page; and
// as of each version, or of the time each was recorded, it reads exactly as
// the read model showed it then, with that version's ETag.
func TestHistoryAndAsOfOfALegacyInvoice(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		storeLegacyInvoice(t, s)
		path := "/invoices/" + legacyID
		atVersion1 := s.do(t, http.MethodGet, path, "").Body.String()
		paid := s.do(t, http.MethodPost, path+"/pay", "", "X-Request-ID: req-pay")
		if paid.Code != http.StatusOK {
			t.Fatalf("pay: status %d: %s", paid.Code, paid.Body)
		}
		atVersion2 := s.do(t, http.MethodGet, path, "").Body.String()

		// History, whole.
		rec := s.do(t, http.MethodGet, path+"/events", "")
		if rec.Code != http.StatusOK || rec.Header().Get("Link") != "" {
			t.Fatalf("history: status %d, Link %q, want 200 and none; body %s", rec.Code, rec.Header().Get("Link"), rec.Body)
		}
		events := decode[[]eventJSON](t, rec)
		if len(events) != 2 {
			t.Fatalf("history holds %d events, want 2: %s", len(events), rec.Body)
		}
		created, payment := events[0], events[1]
		wantCreated := map[string]any{
			"invoiceId": legacyID, "customerId": "cus_golden", "amount": 19.99, "currency": "EUR",
			"createdAt": "2026-11-25T09:26:53.712793Z",
		}
		if created.Version != 1 || created.Type != invoice.CreatedEventName || created.SchemaVersion != 1 || created.ID == "" {
			t.Errorf("first event %+v, want version 1 of invoice.created stored at schema version 1", created)
		}
		if diff := cmp.Diff(wantCreated, created.Payload); diff != "" {
			t.Errorf("created payload, upcast to the current schema (-want +got):\n%s", diff)
		}
		wantMetadata := map[string]string{"correlationId": "req-legacy", "causationId": "CreateInvoice", "idempotencyKey": "legacy-key"}
		if diff := cmp.Diff(wantMetadata, created.Metadata); diff != "" {
			t.Errorf("created metadata (-want +got):\n%s", diff)
		}
		if payment.Version != 2 || payment.Type != invoice.PaidEventName || payment.SchemaVersion != 1 || payment.Position <= created.Position {
			t.Errorf("second event %+v, want version 2 of invoice.paid, after the first", payment)
		}
		if diff := cmp.Diff(map[string]string{"correlationId": "req-pay", "causationId": "PayInvoice"}, payment.Metadata); diff != "" {
			t.Errorf("paid metadata, no idempotency key (-want +got):\n%s", diff)
		}
		if payment.Payload["invoiceId"] != legacyID || payment.Payload["paidAt"] != decode[invoiceJSON](t, paid).PaidAt.Format(time.RFC3339Nano) {
			t.Errorf("paid payload %v, want the invoice id and the paidAt the pay answered", payment.Payload)
		}

		// History, a page at a time.
		rec = s.do(t, http.MethodGet, path+"/events?limit=1", "")
		wantLink := `</invoices/` + legacyID + `/events?after=1&limit=1>; rel="next"`
		if got := rec.Header().Get("Link"); got != wantLink {
			t.Fatalf("first page Link %q, want %q", got, wantLink)
		}
		if page := decode[[]eventJSON](t, rec); len(page) != 1 || page[0].Version != 1 {
			t.Errorf("first page %s, want version 1 alone", rec.Body)
		}
		next := strings.TrimSuffix(strings.TrimPrefix(wantLink, "<"), `>; rel="next"`)
		rec = s.do(t, http.MethodGet, next, "")
		if page := decode[[]eventJSON](t, rec); len(page) != 1 || page[0].Version != 2 || rec.Header().Get("Link") != "" {
			t.Errorf("second page %s, Link %q; want version 2 alone and no next page", rec.Body, rec.Header().Get("Link"))
		}
		rec = s.do(t, http.MethodGet, path+"/events?after=2", "")
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Errorf("after the last version: status %d, body %s; want 200 and []", rec.Code, rec.Body)
		}

		// As of each version and of each event's recorded time.
		recorded1, recorded2 := created.RecordedAt, payment.RecordedAt
		for _, tt := range []struct {
			query    string
			wantBody string
			wantTag  string
		}{
			{"asOfVersion=1", atVersion1, `"v1"`},
			{"asOfVersion=2", atVersion2, `"v2"`},
			{"asOf=" + url.QueryEscape(recorded1), atVersion1, `"v1"`},
			{"asOf=" + url.QueryEscape(recorded2), atVersion2, `"v2"`},
			{"asOf=" + url.QueryEscape(time.Now().UTC().Format(time.RFC3339Nano)), atVersion2, `"v2"`},
		} {
			t.Run(tt.query, func(t *testing.T) {
				rec := s.do(t, http.MethodGet, path+"?"+tt.query, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body)
				}
				if rec.Body.String() != tt.wantBody {
					t.Errorf("body\n%s\nwant what the read model showed at that version\n%s", rec.Body, tt.wantBody)
				}
				if got := rec.Header().Get("ETag"); got != tt.wantTag {
					t.Errorf("ETag %q, want %q", got, tt.wantTag)
				}
				rec = s.do(t, http.MethodGet, path+"?"+tt.query, "", "If-None-Match: "+tt.wantTag)
				if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
					t.Errorf("with If-None-Match %s: status %d, body %q; want 304 without a body", tt.wantTag, rec.Code, rec.Body)
				}
			})
		}
		before, err := time.Parse(time.RFC3339Nano, recorded1)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"asOfVersion=3", "asOf=" + url.QueryEscape(before.Add(-time.Microsecond).Format(time.RFC3339Nano))} {
			rec := s.do(t, http.MethodGet, path+"?"+q, "")
			p := checkProblemResponse(t, rec, http.StatusNotFound, "/problems/not-found", "")
			if !strings.Contains(p.Detail, "no such version") {
				t.Errorf("%s: detail %q, want it to say the invoice had no such version", q, p.Detail)
			}
		}
	})
}

// TestHistoryAndAsOfErrors is the error table of the two reads.
func TestHistoryAndAsOfErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		id := s.create(t, `{"customerId":"c","amount":10}`).ID
		path := "/invoices/" + id
		unknown := "/invoices/" + newUUID()
		future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		tests := []struct {
			name      string
			path      string
			headers   []string
			status    int
			typ       string
			wantField string
		}{
			{"as of: version 0", path + "?asOfVersion=0", nil, 400, "/problems/validation", "asOfVersion"},
			{"as of: negative version", path + "?asOfVersion=-1", nil, 400, "/problems/validation", "asOfVersion"},
			{"as of: version not a number", path + "?asOfVersion=one", nil, 400, "/problems/validation", "asOfVersion"},
			{"as of: version twice", path + "?asOfVersion=1&asOfVersion=1", nil, 400, "/problems/validation", "asOfVersion"},
			{"as of: empty version", path + "?asOfVersion=", nil, 400, "/problems/validation", "asOfVersion"},
			{"as of: not RFC 3339", path + "?asOf=yesterday", nil, 400, "/problems/validation", "asOf"},
			{"as of: a date alone", path + "?asOf=2026-11-25", nil, 400, "/problems/validation", "asOf"},
			{"as of: in the future", path + "?asOf=" + future, nil, 400, "/problems/validation", "asOf"},
			{"as of: in the future, unknown invoice", unknown + "?asOf=" + future, nil, 400, "/problems/validation", "asOf"},
			{"as of: both", path + "?asOfVersion=1&asOf=2026-11-25T20:00:00Z", nil, 400, "/problems/validation", "asOf"},
			{"as of: unknown parameter", path + "?version=1", nil, 400, "/problems/validation", "version"},
			{"as of: unknown invoice", unknown + "?asOfVersion=1", nil, 404, "/problems/not-found", ""},
			{"as of: not a UUID", "/invoices/nope?asOfVersion=1", nil, 400, "/problems/validation", "id"},
			{"get: malformed If-None-Match", path, []string{"If-None-Match: v1"}, 400, "/problems/validation", "If-None-Match"},
			{"history: unknown invoice", unknown + "/events", nil, 404, "/problems/not-found", ""},
			{"history: not a UUID", "/invoices/nope/events", nil, 400, "/problems/validation", "id"},
			{"history: limit 0", path + "/events?limit=0", nil, 400, "/problems/validation", "limit"},
			{"history: limit 1001", path + "/events?limit=1001", nil, 400, "/problems/validation", "limit"},
			{"history: limit not a number", path + "/events?limit=ten", nil, 400, "/problems/validation", "limit"},
			{"history: negative after", path + "/events?after=-1", nil, 400, "/problems/validation", "after"},
			{"history: after not a number", path + "/events?after=v1", nil, 400, "/problems/validation", "after"},
			{"history: after twice", path + "/events?after=1&after=2", nil, 400, "/problems/validation", "after"},
			{"history: a list parameter", path + "/events?cursor=abc", nil, 400, "/problems/validation", "cursor"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				checkProblemResponse(t, s.do(t, http.MethodGet, tt.path, "", tt.headers...), tt.status, tt.typ, tt.wantField)
			})
		}
	})
}
