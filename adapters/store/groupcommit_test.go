package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/ports"
)

// TestGroupCommitBatch drives one batch directly, so what shares a
// transaction is deterministic: requests on one stream see each other's
// versions, a conflict or a bad request fails alone, a caller that gave up
// while queued stores nothing, and positions stay gapless.
func TestGroupCommitBatch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		// reader, which appends nothing, reads what the database holds.
		stores := eventStores(t, e, 2)
		s, reader := stores[0], stores[1]
		existing := newEvents("seed")
		if _, err := s.Append(ctx, uuid.NewString(), 0, existing, ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		streamA, streamB := uuid.NewString(), uuid.NewString()
		req := func(ctx context.Context, stream string, expected int, events []ports.NewEvent) store.BatchAppend {
			return store.BatchAppend{Ctx: ctx, StreamID: stream, Expected: expected, Events: events}
		}
		outcomes := store.CommitBatch(s,
			req(ctx, streamA, 0, newEvents("a1")),       // ok: A at 1
			req(ctx, streamA, 1, newEvents("a2", "a3")), // ok: sees a1 in the same batch, A at 3
			req(ctx, streamA, 1, newEvents("late")),     // conflict: A is at 3 by now
			req(ctx, streamB, 0, existing),              // duplicate event id: fails alone
			req(cancelled, uuid.NewString(), 0, newEvents("gone")),
			req(ctx, streamB, 0, newEvents("b1")), // ok
		)
		type want struct {
			res      ports.AppendResult
			conflict bool
			fail     bool
		}
		wants := []want{
			{res: ports.AppendResult{Position: 2, Version: 1}},
			{res: ports.AppendResult{Position: 4, Version: 3}},
			{conflict: true},
			{fail: true},
			{fail: true},
			{res: ports.AppendResult{Position: 5, Version: 1}},
		}
		if len(outcomes) != len(wants) {
			t.Fatalf("%d outcomes for %d requests", len(outcomes), len(wants))
		}
		for i, out := range outcomes {
			w := wants[i]
			switch {
			case w.conflict:
				if !errors.Is(out.Err, ports.ErrConcurrencyConflict) {
					t.Errorf("request %d: err = %v, want a conflict", i, out.Err)
				}
			case w.fail:
				if out.Err == nil {
					t.Errorf("request %d succeeded, want it to fail", i)
				}
			case out.Err != nil || out.Result != w.res:
				t.Errorf("request %d = %+v, %v; want %+v", i, out.Result, out.Err, w.res)
			}
		}
		all, err := reader.ReadAll(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 5 {
			t.Fatalf("store holds %d events, want 5 (seed, a1, a2, a3, b1)", len(all))
		}
		for i, ev := range all {
			if ev.Position != int64(i+1) {
				t.Errorf("event %d at position %d: not gapless", i, ev.Position)
			}
		}
		if head, _ := s.Head(ctx); head != 5 {
			t.Errorf("head = %d, want 5", head)
		}
	})
}
