package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"invoices/adapters/store/storetest"
	"invoices/config"
)

const createBody = `{"customerId":"cus_idem","amount":19.99}`

func TestIdempotentCreateReplaysTheFirstAnswer(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		first := s.do(t, http.MethodPost, "/invoices", createBody, "Idempotency-Key: create-1")
		if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("first create = %d (Idempotent-Replayed %q): %s", first.Code, first.Header().Get("Idempotent-Replayed"), first.Body)
		}
		inv := decode[invoiceJSON](t, first)
		// The invoice moves on; a replay still answers as the first did.
		if rec := s.do(t, http.MethodPost, "/invoices/"+inv.ID+"/pay", ""); rec.Code != http.StatusOK {
			t.Fatalf("pay = %d: %s", rec.Code, rec.Body)
		}
		head := s.head(t)

		again := s.do(t, http.MethodPost, "/invoices", createBody, "Idempotency-Key: create-1")
		if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry = %d (Idempotent-Replayed %q): %s", again.Code, again.Header().Get("Idempotent-Replayed"), again.Body)
		}
		if again.Body.String() != first.Body.String() {
			t.Errorf("replayed body\n%s\nwant the first answer\n%s", again.Body, first.Body)
		}
		if loc := again.Header().Get("Location"); loc != "/invoices/"+inv.ID {
			t.Errorf("replayed Location = %q, want /invoices/%s", loc, inv.ID)
		}
		if h := s.head(t); h != head {
			t.Errorf("a replay appended: head %d -> %d", head, h)
		}

		// The same key for another request is refused; so is it on another route.
		rec := s.do(t, http.MethodPost, "/invoices", `{"customerId":"cus_idem","amount":20}`, "Idempotency-Key: create-1")
		checkProblemResponse(t, rec, http.StatusUnprocessableEntity, "/problems/idempotency-key-reused", "")
		other := s.create(t, createBody)
		rec = s.do(t, http.MethodPost, "/invoices/"+other.ID+"/pay", "", "Idempotency-Key: create-1")
		checkProblemResponse(t, rec, http.StatusUnprocessableEntity, "/problems/idempotency-key-reused", "")
		if h := s.head(t); h != head+1 {
			t.Errorf("head %d, want %d: only the plain create appended", h, head+1)
		}

		// Without the header nothing changes: two creates, two invoices.
		a, b := s.create(t, createBody), s.create(t, createBody)
		if a.ID == b.ID {
			t.Errorf("two creates without a key gave one invoice %s", a.ID)
		}
	})
}

// A request rejected before it appended anything leaves its key unused.
func TestIdempotencyKeyOfARejectedRequestStaysFree(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		rec := s.do(t, http.MethodPost, "/invoices", `{"customerId":"cus_idem","amount":19.999}`, "Idempotency-Key: k")
		checkProblemResponse(t, rec, http.StatusBadRequest, "/problems/validation", "amount")
		if rec := s.do(t, http.MethodPost, "/invoices", createBody, "Idempotency-Key: k"); rec.Code != http.StatusCreated {
			t.Fatalf("create after a rejected one with its key = %d: %s", rec.Code, rec.Body)
		}

		inv := s.create(t, createBody)
		if rec := s.do(t, http.MethodPost, "/invoices/"+inv.ID+"/pay", ""); rec.Code != http.StatusOK {
			t.Fatal(rec.Body)
		}
		// Already paid: a 409 records nothing, and the key is free.
		rec = s.do(t, http.MethodPost, "/invoices/"+inv.ID+"/pay", "", "Idempotency-Key: pay-k")
		checkProblemResponse(t, rec, http.StatusConflict, "/problems/already-paid", "")
		fresh := s.create(t, createBody)
		if rec := s.do(t, http.MethodPost, "/invoices/"+fresh.ID+"/pay", "", "Idempotency-Key: pay-k"); rec.Code != http.StatusOK {
			t.Errorf("pay with a key a refused pay used = %d: %s", rec.Code, rec.Body)
		}
	})
}

func TestIdempotentPayReplays(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		inv := s.create(t, createBody)
		first := s.do(t, http.MethodPost, "/invoices/"+inv.ID+"/pay", "", "Idempotency-Key: pay-1")
		again := s.do(t, http.MethodPost, "/invoices/"+inv.ID+"/pay", "", "Idempotency-Key: pay-1")
		if first.Code != http.StatusOK || again.Code != http.StatusOK {
			t.Fatalf("pay, retry = %d, %d: %s", first.Code, again.Code, again.Body)
		}
		if first.Header().Get("Idempotent-Replayed") != "" || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("Idempotent-Replayed = %q then %q, want none then true",
				first.Header().Get("Idempotent-Replayed"), again.Header().Get("Idempotent-Replayed"))
		}
		if again.Body.String() != first.Body.String() {
			t.Errorf("replayed pay\n%s\nwant\n%s", again.Body, first.Body)
		}
		if got := decode[invoiceJSON](t, again); got.Version != 2 || got.Status != "paid" {
			t.Errorf("replayed pay = version %d %s, want version 2 paid", got.Version, got.Status)
		}
	})
}

func TestIdempotencyKeyHeader(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{})
	// The draft's structured-field string and the bare token name one key.
	if rec := s.do(t, http.MethodPost, "/invoices", createBody, `Idempotency-Key: a"b\c`); rec.Code != http.StatusCreated {
		t.Fatalf("bare key = %d: %s", rec.Code, rec.Body)
	}
	rec := s.do(t, http.MethodPost, "/invoices", createBody, `Idempotency-Key: "a\"b\\c"`)
	if rec.Code != http.StatusCreated || rec.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("quoted form of the same key = %d, Idempotent-Replayed %q; want a replay", rec.Code, rec.Header().Get("Idempotent-Replayed"))
	}
	for _, tt := range []struct{ name, value string }{
		{"empty quoted", `""`},
		{"too long", strings.Repeat("k", 256)},
		{"not ASCII", "clé"},
		{"control character", "a\tb"},
		{"unterminated", `"abc`},
		{"data after the string", `"a"b`},
		{"bad escape", `"a\nb"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, "/invoices", strings.NewReader(createBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", tt.value)
			checkProblemResponse(t, serve(s, req), http.StatusBadRequest, "/problems/validation", "Idempotency-Key")
		})
	}
	t.Run("sent twice", func(t *testing.T) {
		req := newRequest(t, http.MethodPost, "/invoices", strings.NewReader(createBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Idempotency-Key", "one")
		req.Header.Add("Idempotency-Key", "two")
		checkProblemResponse(t, serve(s, req), http.StatusBadRequest, "/problems/validation", "Idempotency-Key")
	})
	if rec := s.do(t, http.MethodPost, "/invoices", createBody, "Idempotency-Key: "+strings.Repeat("k", 255)); rec.Code != http.StatusCreated {
		t.Errorf("255-character key = %d: %s", rec.Code, rec.Body)
	}
}

// Keys belong to the caller: two API keys using one idempotency key make
// two invoices.
func TestIdempotencyKeysAreScopedToTheAPIKey(t *testing.T) {
	s := newServer(t, storetest.SQLite(), serverOptions{http: func(c *config.HTTP) { c.APIKeys = []string{"alpha-key-0123456789", "bravo-key-0123456789"} }})
	var ids []string
	for _, key := range []string{"alpha-key-0123456789", "bravo-key-0123456789", "alpha-key-0123456789"} {
		rec := s.do(t, http.MethodPost, "/invoices", createBody, "Authorization: Bearer "+key, "Idempotency-Key: shared")
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d: %s", rec.Code, rec.Body)
		}
		ids = append(ids, decode[invoiceJSON](t, rec).ID)
	}
	if ids[0] == ids[1] || ids[0] != ids[2] {
		t.Errorf("invoices %v: want the two callers' differ and the first caller's retry replay its own", ids)
	}
}

// 20 creates with one key at once: one invoice; every answer is its 201
// (first or replayed) or 409 in use, none a 5xx.
func TestConcurrentCreatesWithOneKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		const n = 20
		codes := make([]int, n)
		bodies := make([]string, n)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				rec := s.do(t, http.MethodPost, "/invoices", createBody, "Idempotency-Key: burst")
				codes[i], bodies[i] = rec.Code, rec.Body.String()
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		var created string
		for i, code := range codes {
			switch {
			case code == http.StatusCreated:
				if created != "" && bodies[i] != created {
					t.Errorf("two different 201 answers:\n%s\n%s", created, bodies[i])
				}
				created = bodies[i]
			case code == http.StatusConflict && strings.Contains(bodies[i], "/problems/idempotency-key-in-use"):
			default:
				t.Errorf("answer %d: %d %s, want 201 or 409 idempotency-key-in-use", i, code, bodies[i])
			}
		}
		if created == "" {
			t.Error("no request got a 201")
		}
		if h := s.head(t); h != 1 {
			t.Errorf("%d events appended, want the one invoice's", h)
		}
	})
}
