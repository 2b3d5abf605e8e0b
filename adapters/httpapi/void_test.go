package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
)

// TestVoid: POST /invoices/{id}/void, with no body or an optional reason,
// makes a pending invoice void, stores one invoice.voided event, and GET
// shows the same invoice.
func TestVoid(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		tests := []struct {
			name       string
			body       string
			headers    []string
			wantReason *string // nil: voidReason is null
		}{
			{name: "no body"},
			{name: "empty body declared JSON", headers: []string{"Content-Type: application/json"}},
			{name: "empty object", body: `{}`},
			{name: "a reason", body: `{"reason":"issued in error"}`, wantReason: ptr("issued in error")},
			{name: "a reason is trimmed", body: `{"reason":"  issued twice \n"}`, wantReason: ptr("issued twice")},
			{name: "a blank reason is none", body: `{"reason":"   "}`},
			{name: "a null reason is none", body: `{"reason":null}`},
			{name: "a reason of 500 characters", body: `{"reason":"` + strings.Repeat("é", 500) + `"}`, wantReason: ptr(strings.Repeat("é", 500))},
			{name: "a reason with HTML", body: `{"reason":"<b>\"wrong\" & late</b>"}`, wantReason: ptr(`<b>"wrong" & late</b>`)},
			{name: "a JSON subtype", body: `{"reason":"dup"}`, headers: []string{"Content-Type: application/merge-patch+json"}, wantReason: ptr("dup")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				created := s.create(t, `{"customerId":"c","amount":10}`)
				rec := s.do(t, http.MethodPost, "/invoices/"+created.ID+"/void", tt.body, tt.headers...)
				if rec.Code != http.StatusOK {
					t.Fatalf("void: status %d, want 200; body %s", rec.Code, rec.Body)
				}
				if w := rec.Header().Get("Warning"); w != "" {
					t.Errorf("unexpected Warning %q: the projection should have caught up", w)
				}
				voided := decode[invoiceJSON](t, rec)
				if voided.Status != "void" || voided.Paid || voided.Version != 2 || voided.PaidAt != nil ||
					voided.ID != created.ID || !voided.CreatedAt.Equal(created.CreatedAt) {
					t.Errorf("voided invoice = %+v, want status void, unpaid, version 2, the same id and createdAt", voided)
				}
				if voided.VoidedAt == nil || voided.VoidedAt.Before(created.CreatedAt) || !voided.UpdatedAt.Equal(*voided.VoidedAt) {
					t.Errorf("voidedAt = %v, updatedAt %s: want set, not before createdAt %s, and equal to updatedAt",
						voided.VoidedAt, voided.UpdatedAt, created.CreatedAt)
				}
				if diff := cmp.Diff(tt.wantReason, voided.VoidReason); diff != "" {
					t.Errorf("voidReason (-want +got):\n%s", diff)
				}
				if tt.wantReason == nil && !strings.Contains(rec.Body.String(), `"voidReason":null`) {
					t.Errorf("voidReason is not null in %s", rec.Body)
				}
				get := s.do(t, http.MethodGet, "/invoices/"+created.ID, "")
				if diff := cmp.Diff(rec.Body.String(), get.Body.String()); get.Code != http.StatusOK || diff != "" {
					t.Errorf("GET: status %d, differs from the void body (-void +GET):\n%s", get.Code, diff)
				}
				stream, err := s.events.LoadStream(context.Background(), created.ID)
				if err != nil || len(stream) != 2 || stream[1].Type != invoice.VoidedEventName {
					t.Fatalf("stream = %+v, %v; want invoice.created then invoice.voided", stream, err)
				}
				if md := stream[1].Metadata; md.CausationID != "VoidInvoice" || md.CorrelationID != rec.Header().Get("X-Request-ID") {
					t.Errorf("voided metadata = %+v, want causation VoidInvoice and the request id", md)
				}
			})
		}
	})
}

// TestVoidErrors is the table of refused voids, and of pays refused because
// of a void: each is its problem document and stores nothing.
func TestVoidErrors(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		pending := s.create(t, `{"customerId":"c","amount":10}`).ID
		void := s.create(t, `{"customerId":"c","amount":10}`).ID
		if rec := s.do(t, http.MethodPost, "/invoices/"+void+"/void", `{"reason":"issued in error"}`); rec.Code != http.StatusOK {
			t.Fatalf("void: status %d; body %s", rec.Code, rec.Body)
		}
		paid := s.create(t, `{"customerId":"c","amount":10}`).ID
		if rec := s.do(t, http.MethodPost, "/invoices/"+paid+"/pay", ""); rec.Code != http.StatusOK {
			t.Fatalf("pay: status %d; body %s", rec.Code, rec.Body)
		}
		voidPath := "/invoices/" + pending + "/void"
		tests := []struct {
			name      string
			method    string
			path      string
			body      string
			headers   []string
			status    int
			typ       string
			wantField string
		}{
			{"void twice", "POST", "/invoices/" + void + "/void", "", nil, 409, "/problems/already-void", ""},
			{"void twice with a reason", "POST", "/invoices/" + void + "/void", `{"reason":"again"}`, nil, 409, "/problems/already-void", ""},
			{"pay after void", "POST", "/invoices/" + void + "/pay", "", nil, 409, "/problems/invoice-void", ""},
			{"patch pay after void", "PATCH", "/invoices/" + void + "/pay", "", nil, 409, "/problems/invoice-void", ""},
			{"void after pay", "POST", "/invoices/" + paid + "/void", "", nil, 409, "/problems/already-paid", ""},
			{"unknown id", "POST", "/invoices/" + newUUID() + "/void", "", nil, 404, "/problems/not-found", ""},
			{"id not a UUID", "POST", "/invoices/not-a-uuid/void", "", nil, 400, "/problems/validation", "id"},
			{"id a UUID without hyphens", "POST", "/invoices/" + strings.ReplaceAll(pending, "-", "") + "/void", "", nil, 400, "/problems/validation", "id"},
			{"reason of 501 characters", "POST", voidPath, `{"reason":"` + strings.Repeat("x", 501) + `"}`, nil, 400, "/problems/validation", "reason"},
			{"reason with NUL", "POST", voidPath, `{"reason":"a\u0000b"}`, nil, 400, "/problems/validation", "reason"},
			{"reason with a control character", "POST", voidPath, `{"reason":"a\u001bb"}`, nil, 400, "/problems/validation", "reason"},
			{"reason a number", "POST", voidPath, `{"reason":42}`, nil, 400, "/problems/validation", "reason"},
			{"reason an object", "POST", voidPath, `{"reason":{"text":"x"}}`, nil, 400, "/problems/validation", "reason"},
			{"reason repeated", "POST", voidPath, `{"reason":"a","reason":"b"}`, nil, 400, "/problems/validation", "reason"},
			{"unknown body key", "POST", voidPath, `{"why":"issued in error"}`, nil, 400, "/problems/validation", "why"},
			{"key case", "POST", voidPath, `{"Reason":"issued in error"}`, nil, 400, "/problems/validation", "Reason"},
			{"body not an object", "POST", voidPath, `"issued in error"`, nil, 400, "/problems/malformed-request", ""},
			{"body null", "POST", voidPath, `null`, nil, 400, "/problems/malformed-request", ""},
			{"malformed JSON", "POST", voidPath, `{"reason":`, nil, 400, "/problems/malformed-request", ""},
			{"invalid UTF-8", "POST", voidPath, "{\"reason\":\"\xff\"}", nil, 400, "/problems/malformed-request", ""},
			{"deeply nested", "POST", voidPath, `{"reason":` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + `}`, nil, 400, "/problems/malformed-request", ""},
			{"text/plain body", "POST", voidPath, `{"reason":"issued in error"}`, []string{"Content-Type: text/plain"}, 415, "/problems/unsupported-media-type", ""},
			{"body without a content type", "POST", voidPath, `{"reason":"issued in error"}`, []string{"Content-Type: "}, 415, "/problems/unsupported-media-type", ""},
			{"body over 1 MiB", "POST", voidPath, `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, "/problems/payload-too-large", ""},
			{"GET", "GET", voidPath, "", nil, 405, "/problems/method-not-allowed", ""},
		}
		before := s.head(t)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rec := s.do(t, tt.method, tt.path, tt.body, tt.headers...)
				p := checkProblemResponse(t, rec, tt.status, tt.typ, tt.wantField)
				if p.RequestID == "" || p.RequestID != rec.Header().Get("X-Request-ID") {
					t.Errorf("problem requestId %q does not match X-Request-ID %q", p.RequestID, rec.Header().Get("X-Request-ID"))
				}
			})
		}
		if h := s.head(t); h != before {
			t.Errorf("refused requests moved the event-store head from %d to %d", before, h)
		}
		// The refusals changed nothing: each invoice reads as it was left.
		for id, want := range map[string]string{pending: "pending", void: "void", paid: "paid"} {
			rec := s.do(t, http.MethodGet, "/invoices/"+id, "")
			got := decode[invoiceJSON](t, rec)
			if rec.Code != http.StatusOK || got.Status != want {
				t.Errorf("GET %s: status %d, invoice status %q; want 200 %q", id, rec.Code, got.Status, want)
			}
			if want == "void" && (got.VoidReason == nil || *got.VoidReason != "issued in error" || got.VoidedAt == nil) {
				t.Errorf("void invoice = %+v, want the first void's reason and time", got)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }
