package gormstore

import (
	"context"
	"encoding/json"
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

func createdEvent(t *testing.T, id string) []ports.NewEvent {
	t.Helper()
	data, err := json.Marshal(invoice.Created{InvoiceID: id, CustomerID: "cus", Amount: 100, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	return []ports.NewEvent{{ID: uuid.NewString(), Type: invoice.CreatedEventName, Data: data}}
}

func newProjector(t *testing.T, s *EventStore, m *ReadModel) *projection.Projector {
	t.Helper()
	codec, err := event.NewRegistry(invoice.Events()...)
	if err != nil {
		t.Fatal(err)
	}
	return projection.New(s, m, codec, zap.NewNop(), projection.Options{BatchSize: 100, PollInterval: time.Hour})
}

// TestProjectorNeverSkipsAnOutOfOrderCommit is the regression test for the
// bug most PostgreSQL event stores shipped: writer A allocates a position and
// stays open, writer B allocates a later one and commits, the projector moves
// past B, and A's event is never projected. Here A holds the head counter, so
// B cannot commit before A; the projector sees nothing, then both, in order,
// exactly once.
func TestProjectorNeverSkipsAnOutOfOrderCommit(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s := openEventStore(t, e)
		m := openReadModel(t, e)
		p := newProjector(t, s, m)
		if _, err := m.Checkpoint(ctx, projection.InvoicesProjector); err != nil {
			t.Fatal(err)
		}
		streamA, streamB := uuid.NewString(), uuid.NewString()

		// Writer A inserts its event and does not commit yet.
		txA := s.db.Begin()
		if txA.Error != nil {
			t.Fatal(txA.Error)
		}
		reqA := &appendRequest{ctx: ctx, streamID: streamA, events: createdEvent(t, streamA), meta: []byte(`{}`)}
		if _, _, err := appendTx(txA, []*appendRequest{reqA}, time.Now().UTC(), "test"); err != nil {
			t.Fatal(err)
		}

		// Writer B tries to append and commit meanwhile.
		bDone := make(chan error, 1)
		go func() {
			_, err := s.Append(ctx, streamB, 0, createdEvent(t, streamB), ports.Metadata{})
			bDone <- err
		}()

		// The projector polls while A is open.
		n, err := p.Step(ctx)
		if err != nil {
			t.Fatalf("poll while A is open: %v", err)
		}
		if n != 0 || p.Position() != 0 {
			t.Fatalf("projector applied %d events (checkpoint %d) while A was uncommitted", n, p.Position())
		}
		select {
		case err := <-bDone:
			t.Fatalf("B committed (err=%v) while A still held an earlier position", err)
		default:
		}

		// A commits; B goes through after it.
		if err := txA.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if err := <-bDone; err != nil {
			t.Fatalf("writer B: %v", err)
		}

		n, err = p.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || p.Position() != 2 {
			t.Fatalf("second poll applied %d events up to %d, want 2 up to 2", n, p.Position())
		}
		for _, id := range []string{streamA, streamB} {
			v, err := m.GetInvoice(ctx, id)
			if err != nil {
				t.Fatalf("invoice %s not projected: %v", id, err)
			}
			if v.Version != 1 {
				t.Errorf("invoice %s at version %d, want 1", id, v.Version)
			}
		}
		if a, _ := m.GetInvoice(ctx, streamA); a.Seq != 1 {
			t.Errorf("A has seq %d, want 1 (A allocated first)", a.Seq)
		}

		// Nothing is applied twice, also by a projector restarted from the
		// durable checkpoint.
		if n, err := p.Step(ctx); n != 0 || err != nil {
			t.Errorf("third poll = %d, %v; want 0, nil", n, err)
		}
		restarted := newProjector(t, s, m)
		if err := restarted.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = restarted.Stop(context.Background()) })
		if got := restarted.Position(); got != 2 {
			t.Errorf("restarted projector resumes at %d, want 2", got)
		}
	})
}
