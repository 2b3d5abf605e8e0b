package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"invoices/adapters/store/storetest"
	"invoices/domain/invoice"
)

// TestPayVoidRace: 20 pays and 20 voids of one pending invoice, interleaved
// and released together, give exactly one 200. Every loser is a 409 that
// names the winner's outcome (already paid, or void and so unpayable, or
// already void), never a 500 nor a bare conflict, and the stream holds
// exactly the created event and the winner's. Five rounds, five invoices.
func TestPayVoidRace(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := newServer(t, e, serverOptions{})
		const racers = 40
		for round := range 5 {
			inv := s.create(t, `{"customerId":"c","amount":10}`)
			type reply struct {
				code int
				typ  string
				body string
			}
			replies := make([]reply, racers)
			isVoid := func(i int) bool { return i%2 == 1 }
			var ready, done sync.WaitGroup
			start := make(chan struct{})
			for i := range racers {
				ready.Add(1)
				done.Go(func() {
					action := "/pay"
					if isVoid(i) {
						action = "/void"
					}
					ready.Done()
					<-start
					rec := s.do(t, http.MethodPost, "/invoices/"+inv.ID+action, "")
					r := reply{code: rec.Code, body: rec.Body.String()}
					if rec.Code != http.StatusOK {
						r.typ = decode[problemJSON](t, rec).Type
					}
					replies[i] = r
				})
			}
			ready.Wait()
			close(start)
			done.Wait()

			winner := -1
			for i, r := range replies {
				if r.code == http.StatusOK {
					if winner >= 0 {
						t.Errorf("round %d: requests %d and %d both succeeded", round, winner, i)
					}
					winner = i
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no request succeeded: %+v", round, replies)
			}
			wantStatus, wantEvent := "paid", invoice.PaidEventName
			// What a loser must be told, given the winner.
			wantType := map[bool]string{false: "/problems/already-paid", true: "/problems/already-paid"}
			if isVoid(winner) {
				wantStatus, wantEvent = "void", invoice.VoidedEventName
				wantType = map[bool]string{false: "/problems/invoice-void", true: "/problems/already-void"}
			}
			for i, r := range replies {
				if i == winner {
					continue
				}
				if r.code != http.StatusConflict || r.typ != wantType[isVoid(i)] {
					t.Errorf("round %d: request %d (void %t) after a %s won: %d %s, want 409 %s",
						round, i, isVoid(i), wantStatus, r.code, r.body, wantType[isVoid(i)])
				}
			}
			if got := decode[invoiceJSON](t, s.do(t, http.MethodGet, "/invoices/"+inv.ID, "")); got.Status != wantStatus || got.Version != 2 {
				t.Errorf("round %d: GET = %+v, want status %s at version 2", round, got, wantStatus)
			}
			stream, err := s.events.LoadStream(context.Background(), inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, ev := range stream {
				types = append(types, ev.Type)
			}
			if len(types) != 2 || types[0] != invoice.CreatedEventName || types[1] != wantEvent {
				t.Errorf("round %d: stream = %v, want [%s %s]", round, types, invoice.CreatedEventName, wantEvent)
			}
		}
	})
}
