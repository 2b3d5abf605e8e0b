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

	var wakes, lastHead atomic.Int64
	local.OnCommit(p.Appended)
	l := NewListener(cfg, local.ID(), func(head int64) { wakes.Add(1); lastHead.Store(head); p.Appended(head) }, zap.NewNop())
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
	if got := lastHead.Load(); got != 1 {
		t.Errorf("notified head = %d, want 1, the head after the append", got)
	}
	if _, err := read.GetInvoice(ctx, id); err != nil {
		t.Errorf("invoice not projected: %v", err)
	}

	// This process's own appends wake the projector as they commit; their
	// notifications are not passed on (each would cost a needless read).
	heard := wakes.Load()
	own := uuid.NewString()
	if _, err := local.Append(ctx, own, 0, createdEvent(t, own), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the projector to apply this process's append", func() bool { return p.Position() == 2 })
	// The notification of a third append, from the other process, arrives
	// after this process's own: none but that one may have been passed on.
	third := uuid.NewString()
	if _, err := other.Append(ctx, third, 0, createdEvent(t, third), ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the other process's second notification", func() bool { return lastHead.Load() == 3 })
	if got := wakes.Load() - heard; got != 1 {
		t.Errorf("%d notifications passed on for one append by this process and one by the other, want 1", got)
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

func TestParseNotification(t *testing.T) {
	tests := []struct {
		payload string
		want    notification
	}{
		{notification{head: 42, from: "8c0e"}.payload(), notification{head: 42, from: "8c0e"}},
		{"42", notification{head: 42}}, // an older version's payload: the head alone
		{"x 8c0e", notification{from: "8c0e"}},
		{"-1 8c0e", notification{from: "8c0e"}},
		{"", notification{}},
	}
	for _, tt := range tests {
		if got := parseNotification(tt.payload); got != tt.want {
			t.Errorf("parseNotification(%q) = %+v, want %+v", tt.payload, got, tt.want)
		}
	}
}
