package storetest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/ports"
)

// claim is an idempotency record as a command asks Append to keep it.
func claim(key string, expires time.Time) *ports.IdempotencyRecord {
	return &ports.IdempotencyRecord{Scope: "caller", Key: key, Fingerprint: "fp-" + key, Command: "CreateInvoice", ExpiresAt: expires}
}

// recordOpts compares records without the times the store stamps.
var recordOpts = cmpopts.IgnoreFields(ports.IdempotencyRecord{}, "CreatedAt", "ExpiresAt")

func TestEventStoreRecordsIdempotencyKeysWithTheirEvents(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := e.OpenEventStore(t)
		stream := uuid.NewString()
		later := time.Now().Add(time.Hour)

		res, err := s.Append(ctx, stream, 0, newEvents("invoice.created"), ports.Metadata{CausationID: "CreateInvoice", IdempotencyKey: "k1", Idempotency: claim("k1", later)})
		if err != nil {
			t.Fatal(err)
		}
		want := ports.IdempotencyRecord{Scope: "caller", Key: "k1", Fingerprint: "fp-k1", Command: "CreateInvoice",
			StreamID: stream, Version: 1, Position: res.Position}
		got, err := s.LookupIdempotency(ctx, "caller", "k1")
		if err != nil {
			t.Fatalf("LookupIdempotency() error = %v", err)
		}
		if diff := cmp.Diff(want, got, recordOpts); diff != "" {
			t.Errorf("LookupIdempotency() mismatch (-want +got):\n%s", diff)
		}
		if _, err := s.LookupIdempotency(ctx, "another caller", "k1"); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("LookupIdempotency(another scope) error = %v, want ErrNotFound", err)
		}
		events, err := s.LoadStream(ctx, stream)
		if err != nil || len(events) != 1 || events[0].Metadata.IdempotencyKey != "k1" || events[0].Metadata.Idempotency != nil {
			t.Errorf("LoadStream() = %+v, %v; want one event whose stored metadata has the key and no record", events, err)
		}

		// The key again, on another stream: nothing appended, the first
		// outcome returned.
		head, _ := s.Head(ctx)
		_, err = s.Append(ctx, uuid.NewString(), 0, newEvents("invoice.created"), ports.Metadata{Idempotency: claim("k1", later)})
		var used *ports.IdempotencyKeyUsedError
		if !errors.As(err, &used) {
			t.Fatalf("Append(used key) error = %v, want *ports.IdempotencyKeyUsedError", err)
		}
		if diff := cmp.Diff(want, used.Record, recordOpts); diff != "" {
			t.Errorf("IdempotencyKeyUsedError.Record mismatch (-want +got):\n%s", diff)
		}
		if h, _ := s.Head(ctx); h != head {
			t.Errorf("head moved from %d to %d on a used key", head, h)
		}

		// An append that fails its version check records no key.
		_, err = s.Append(ctx, stream, 0, newEvents("invoice.paid"), ports.Metadata{Idempotency: claim("k2", later)})
		if !errors.Is(err, ports.ErrConcurrencyConflict) {
			t.Fatalf("Append(wrong version) error = %v, want ErrConcurrencyConflict", err)
		}
		if _, err := s.LookupIdempotency(ctx, "caller", "k2"); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("a failed append recorded its key: LookupIdempotency error = %v", err)
		}
	})
}

// Concurrent appends with one key land in one group-commit batch or in
// several; either way exactly one appends.
func TestEventStoreOneAppendPerIdempotencyKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := e.OpenEventStore(t)
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = s.Append(ctx, uuid.NewString(), 0, newEvents("invoice.created"), ports.Metadata{Idempotency: claim("same", time.Now().Add(time.Hour))})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			var used *ports.IdempotencyKeyUsedError
			switch {
			case err == nil:
				ok++
			case !errors.As(err, &used):
				t.Errorf("Append() error = %v, want nil or *ports.IdempotencyKeyUsedError", err)
			}
		}
		if head, _ := s.Head(ctx); ok != 1 || head != 1 {
			t.Errorf("%d appends succeeded, head %d; want exactly one", ok, head)
		}
	})
}

func TestEventStoreExpiredIdempotencyKeys(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := e.OpenEventStore(t)
		past := time.Now().Add(-time.Second)
		if _, err := s.Append(ctx, uuid.NewString(), 0, newEvents("invoice.created"), ports.Metadata{Idempotency: claim("old", past)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupIdempotency(ctx, "caller", "old"); !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("LookupIdempotency(expired) error = %v, want ErrNotFound", err)
		}
		// An expired key may be used again; its new record replaces the old.
		stream := uuid.NewString()
		if _, err := s.Append(ctx, stream, 0, newEvents("invoice.created"), ports.Metadata{Idempotency: claim("old", time.Now().Add(time.Hour))}); err != nil {
			t.Fatalf("Append(expired key) error = %v", err)
		}
		if got, err := s.LookupIdempotency(ctx, "caller", "old"); err != nil || got.StreamID != stream {
			t.Errorf("LookupIdempotency() = %+v, %v; want the new record for stream %s", got, err, stream)
		}
		if _, err := s.Append(ctx, uuid.NewString(), 0, newEvents("invoice.created"), ports.Metadata{Idempotency: claim("gone", past)}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PurgeExpired(ctx)
		if err != nil || n != 1 {
			t.Errorf("PurgeExpired() = %d, %v; want the one expired record", n, err)
		}
		if got, err := s.LookupIdempotency(ctx, "caller", "old"); err != nil || got.StreamID != stream {
			t.Errorf("PurgeExpired removed a live record: %+v, %v", got, err)
		}
	})
}

var _ ports.IdempotencyStore = (*store.EventStore)(nil)
