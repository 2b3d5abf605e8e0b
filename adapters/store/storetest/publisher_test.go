package storetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"invoices/adapters/store/postgres"
	"invoices/adapters/store/storetest"
	"invoices/ports"
)

func TestPublisherCheckpoint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := e.OpenEventStore(t)
		ctx := context.Background()
		if cp, err := s.PublisherCheckpoint(ctx, "nats"); err != nil || cp != 0 {
			t.Fatalf("new checkpoint = %d, %v; want 0", cp, err)
		}
		if err := s.AdvancePublisher(ctx, "nats", 0, 7); err != nil {
			t.Fatal(err)
		}
		if err := s.AdvancePublisher(ctx, "nats", 0, 9); !errors.Is(err, ports.ErrConcurrencyConflict) {
			t.Errorf("advance from a stale position: %v, want ErrConcurrencyConflict", err)
		}
		if cp, err := s.PublisherCheckpoint(ctx, "nats"); err != nil || cp != 7 {
			t.Errorf("checkpoint = %d, %v; want 7", cp, err)
		}
	})
}

func TestLeaseIsExclusive(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		s := e.OpenEventStore(t)
		ctx := context.Background()
		l, ok, err := s.TryAcquire(ctx, "nats")
		if err != nil || !ok {
			t.Fatalf("TryAcquire() = %v, %v; want the lease", ok, err)
		}
		if _, ok, err := s.TryAcquire(ctx, "nats"); err != nil || ok {
			t.Fatalf("second TryAcquire() = %v, %v; want it refused", ok, err)
		}
		if other, ok, err := s.TryAcquire(ctx, "other"); err != nil || !ok {
			t.Fatalf("TryAcquire(other) = %v, %v; want it granted", ok, err)
		} else {
			other.Release()
		}
		l.Release()
		l.Release()
		l2, ok, err := s.TryAcquire(ctx, "nats")
		if err != nil || !ok {
			t.Fatalf("TryAcquire() after Release = %v, %v; want the lease", ok, err)
		}
		l2.Release()
	})
}

// TestPostgresLeaseHeldAndLost shows that a held lease stays held past
// several checks, and that it is lost when its session ends (the server
// terminated it, as when the connection drops), after which another
// process can take it.
func TestPostgresLeaseHeldAndLost(t *testing.T) {
	e := storetest.RequirePostgres(t)
	s := e.OpenEventStore(t)
	ctx := context.Background()
	l, ok, err := s.TryAcquire(ctx, "nats")
	if err != nil || !ok {
		t.Fatalf("TryAcquire() = %v, %v", ok, err)
	}
	defer l.Release()
	select {
	case <-l.Lost():
		t.Fatal("lease lost while its session lives")
	case <-time.After(2500 * time.Millisecond):
	}
	err = s.DB().Exec(`SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = ?`, postgres.LeaseKey("nats")).Error
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("lease not lost 5 s after its session ended")
	}
	l2, ok, err := s.TryAcquire(ctx, "nats")
	if err != nil || !ok {
		t.Fatalf("TryAcquire() after the holder's session ended = %v, %v", ok, err)
	}
	l2.Release()
}
