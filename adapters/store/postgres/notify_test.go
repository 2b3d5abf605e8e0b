package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/config"
	"invoices/domain/invoice"
	"invoices/ports"
)

// TestAppendNotificationWakesProjector: an append by another process (here,
// another EventStore on the same database) wakes a projector whose poll
// interval is an hour, through the store's NotifyCommits, which hears it
// by LISTEN. The store's own appends reach NotifyCommits once, as they
// commit, not a second time when their notification comes back.
func TestAppendNotificationWakesProjector(t *testing.T) {
	e := storetest.RequirePostgres(t)
	ctx := context.Background()
	cfg := e.Database(t, "events")
	local := openEventStore(t, e, cfg)
	other := openEventStore(t, e, cfg)
	read := e.OpenReadModel(t)

	codec := storetest.Codec(t)
	p := projection.New(local, read, codec, zap.NewNop(), projection.Options{BatchSize: 100, PollInterval: time.Hour})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })

	var mu sync.Mutex
	var heads []int64 // as local's NotifyCommits passed them on
	heard := func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(heads)
	}
	local.NotifyCommits(func(head int64) {
		mu.Lock()
		heads = append(heads, head)
		mu.Unlock()
		p.Committed(head)
	})

	// The 0 on connect says the listener is listening.
	waitFor(t, "the listener to connect", func() bool { return slices.Contains(heard(), 0) })

	id := uuid.NewString()
	if _, err := other.Append(ctx, id, 0, createdEvent(t, id), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the projector to apply the other process's append", func() bool { return p.Position() == 1 })
	if got := commits(heard()); !slices.Equal(got, []int64{1}) {
		t.Errorf("heads passed on = %v, want [1], the head after the other process's append", got)
	}
	if _, err := read.GetInvoice(ctx, id); err != nil {
		t.Errorf("invoice not projected: %v", err)
	}

	// This store's own append is passed on as it commits; its notification,
	// coming back by LISTEN, is not passed on again (each would cost the
	// projector a needless read).
	own := uuid.NewString()
	if _, err := local.Append(ctx, own, 0, createdEvent(t, own), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if got := commits(heard()); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("heads passed on once Append returned = %v, want [1 2]: its own commit, at once", got)
	}
	waitFor(t, "the projector to apply this process's append", func() bool { return p.Position() == 2 })
	// The notification of a third append, from the other process, arrives
	// after this store's own: once it is heard, the own one was dropped.
	third := uuid.NewString()
	if _, err := other.Append(ctx, third, 0, createdEvent(t, third), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other process's second notification", func() bool { return slices.Contains(heard(), 3) })
	if got := commits(heard()); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("heads passed on = %v, want [1 2 3]: each commit once", got)
	}
	waitFor(t, "the projector to apply the other process's second append", func() bool { return p.Position() == 3 })
}

// commits drops the 0s from heads: a 0 says notifications may have been
// missed (the listener connected), and may come whenever it reconnects.
func commits(heads []int64) []int64 {
	return slices.DeleteFunc(heads, func(h int64) bool { return h == 0 })
}

// openEventStore opens and migrates an event store on cfg, on a connection
// pool of its own, as another process would; closed when the test ends.
func openEventStore(t *testing.T, e storetest.Engine, cfg config.Database) *store.EventStore {
	t.Helper()
	ctx := context.Background()
	db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() {
		if err := store.Close(db); err != nil {
			t.Errorf("close database: %v", err)
		}
	})
	s := storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(t)
	t.Cleanup(s.Close) // before the database closes
	return s
}

func createdEvent(t *testing.T, id string) []ports.NewEvent {
	t.Helper()
	created := invoice.Created{InvoiceID: id, CustomerID: "cus", Amount: 100, Currency: invoice.MustCurrency("EUR"), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	return storetest.MustEncode(t, storetest.Codec(t), created)
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
