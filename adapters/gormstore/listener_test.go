package gormstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/adapters/gormstore/storetest"
	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// TestAppendNotificationWakesProjector: an append by another process (here,
// another EventStore on the same database) wakes a projector whose poll
// interval is an hour, through NOTIFY/LISTEN.
func TestAppendNotificationWakesProjector(t *testing.T) {
	e, ok := storetest.Postgres()
	if !ok {
		t.Skip("PostgreSQL tests skipped: set " + storetest.EnvVar + " to run them")
	}
	ctx := context.Background()
	cfg := e.Database(t, "events")
	edb := storetest.Must(Open(ctx, cfg))(t)
	t.Cleanup(func() { closeDB(t, edb) })
	local := storetest.Must(NewEventStore(ctx, edb))(t)
	t.Cleanup(local.Close)
	odb := storetest.Must(Open(ctx, cfg))(t)
	t.Cleanup(func() { closeDB(t, odb) })
	other := storetest.Must(NewEventStore(ctx, odb))(t)
	t.Cleanup(other.Close)
	read := openReadModel(t, e)

	codec := storetest.Must(event.NewRegistry(invoice.Events()...))(t)
	p := projection.New(local, read, codec, zap.NewNop(), projection.Options{BatchSize: 100, PollInterval: time.Hour})
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })

	var wakes atomic.Int64
	l := NewListener(cfg, func() { wakes.Add(1); p.Wake() }, zap.NewNop())
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); l.Run(lctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The backlog wake on connect says the listener is listening.
	waitFor(t, "the listener to connect", func() bool { return wakes.Load() >= 1 })

	id := uuid.NewString()
	if _, err := other.Append(ctx, id, 0, createdEvent(t, id), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the projector to apply the other process's append", func() bool { return p.Position() == 1 })
	if _, err := read.GetInvoice(ctx, id); err != nil {
		t.Errorf("invoice not projected: %v", err)
	}
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
