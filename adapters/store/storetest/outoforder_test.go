package storetest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/adapters/store/storetest"
	"invoices/app/projection"
	"invoices/domain/invoice"
	"invoices/ports"
)

// createdEvent is a valid invoice.created event for invoice id, as the
// command side stores it.
func createdEvent(t testing.TB, id string) ports.NewEvent {
	t.Helper()
	created := invoice.Created{InvoiceID: id, CustomerID: "cus", Amount: 100, Currency: eur, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	return storetest.MustEncode(t, storetest.Codec(t), created)[0]
}

func newProjector(t testing.TB, s ports.EventStore, m ports.ProjectionStore) *projection.Projector {
	t.Helper()
	return projection.New(s, m, storetest.Codec(t), zap.NewNop(), projection.Options{BatchSize: 100, PollInterval: time.Hour})
}

// TestProjectorNeverSkipsAnOutOfOrderCommit is the regression test for the
// bug most PostgreSQL event stores shipped: writer A allocates a position and
// stays open, writer B allocates a later one and commits, the projector moves
// past B, and A's event is never projected. Here A holds the head counter, so
// B cannot commit before A; the projector sees nothing, then both, in order,
// exactly once.
//
// Writer A is a raw SQL transaction doing what an append does (advance the
// head, insert its event at the new position); writer B appends through the
// port.
func TestProjectorNeverSkipsAnOutOfOrderCommit(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		s, raw := openEventStoreSQL(t, e)
		var reader readModel = e.OpenReadModel(t)
		var m ports.ProjectionStore = reader
		p := newProjector(t, s, m)
		if err := p.LoadCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		streamA, streamB := uuid.NewString(), uuid.NewString()

		// Writer A inserts its event and does not commit yet. On SQLite
		// its transaction is IMMEDIATE (the store's DSN), so it holds the
		// database's write lock; on PostgreSQL it holds the head row's.
		txA := raw.WithContext(ctx).Begin()
		if txA.Error != nil {
			t.Fatal(txA.Error)
		}
		t.Cleanup(func() { txA.Rollback() }) // after a failure; a no-op once committed
		var posA int64
		if err := txA.Raw(`UPDATE event_store_head SET position = position + 1 WHERE id = 1 RETURNING position`).Row().Scan(&posA); err != nil {
			t.Fatalf("writer A: advance head: %v", err)
		}
		evA := createdEvent(t, streamA)
		err := txA.Exec(`INSERT INTO events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at)
			VALUES (?, ?, ?, 1, ?, ?, ?, '{}', ?)`,
			posA, evA.ID, streamA, evA.Type, evA.SchemaVersion, string(evA.Data), time.Now().UTC()).Error
		if err != nil {
			t.Fatalf("writer A: insert event: %v", err)
		}

		// Writer B tries to append and commit meanwhile.
		bDone := make(chan error, 1)
		evB := []ports.NewEvent{createdEvent(t, streamB)}
		go func() {
			_, err := s.Append(ctx, streamB, 0, evB, ports.Metadata{})
			bDone <- err
		}()
		waitForLockWaiter(t, e, raw)

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
			v, err := reader.GetInvoice(ctx, id)
			if err != nil {
				t.Fatalf("invoice %s not projected: %v", id, err)
			}
			if v.Version != 1 {
				t.Errorf("invoice %s at version %d, want 1", id, v.Version)
			}
		}
		if a, _ := reader.GetInvoice(ctx, streamA); a.Seq != 1 {
			t.Errorf("A has seq %d, want 1 (A allocated first)", a.Seq)
		}
		if b, _ := reader.GetInvoice(ctx, streamB); b.Seq != 2 {
			t.Errorf("B has seq %d, want 2 (after A's)", b.Seq)
		}

		// Nothing is applied twice, also by a projector restarted from the
		// durable checkpoint.
		if n, err := p.Step(ctx); n != 0 || err != nil {
			t.Errorf("third poll = %d, %v; want 0, nil", n, err)
		}
		restarted := newProjector(t, s, m)
		if err := restarted.LoadCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if got := restarted.Position(); got != 2 {
			t.Errorf("restarted projector resumes at %d, want 2", got)
		}
		if n, err := restarted.Step(ctx); n != 0 || err != nil {
			t.Errorf("restarted projector's poll = %d, %v; want 0, nil", n, err)
		}
	})
}

// waitForLockWaiter returns once a session of db's database waits for a
// lock (writer B for the head row), so the test knows B's append really
// runs while A is open. SQLite shows no waiting writers: there it gives B a
// moment to reach its BEGIN IMMEDIATE. Were B late, it would still commit
// after A, and the test would prove less but never fail wrongly.
func waitForLockWaiter(t *testing.T, e storetest.Engine, db *gorm.DB) {
	t.Helper()
	if e.Name != "postgres" {
		time.Sleep(50 * time.Millisecond)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var waiting int64
		err := db.WithContext(ctx).Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Row().Scan(&waiting)
		if err != nil {
			t.Fatalf("waiting for writer B to queue on the head lock: %v", err)
		}
		if waiting > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("writer B never queued on the head lock")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
