package projection_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"invoices/app/projection"
	"invoices/domain/invoice"
	"invoices/ports"
)

// memRebuilder is an in-memory ports.ReadModelRebuilder over a
// memProjectionStore: it builds views in a map of its own and, on Swap,
// replaces the store's views and checkpoint and records the live model as
// built by this release's ports.ReadModelVersion. It checks batches as the
// real store does (in order, updates only of rows at FromVersion) and
// records what it was asked.
type memRebuilder struct {
	live *memProjectionStore

	mu       sync.Mutex
	applied  []appliedBatch
	starts   int
	swaps    int
	discards int
	ended    bool
	views    map[string]ports.InvoiceView
	pos      int64
	onApply  func(from, to int64) // called after each bulk batch commits

	// version is the ReadModelVersion that built the live model.
	version int
	// versions, when set, answers ReadModelVersion instead of version, one
	// read per value: the test decides what each read finds, and when.
	versions chan versionRead
	// startErr, while set, fails StartRebuild: another rebuild holds the
	// read database.
	startErr error
	// onStart and afterSwap, when set, run outside the lock at the start
	// of StartRebuild and after a successful Swap.
	onStart, afterSwap func()
}

// versionRead is one answer of ReadModelVersion.
type versionRead struct {
	version int
	err     error
}

// appliedBatch is one Apply call; InSwap marks the catch-up inside Swap.
type appliedBatch struct {
	From, To int64
	Changes  ports.InvoiceChanges
	InSwap   bool
}

var _ ports.ReadModelRebuilder = (*memRebuilder)(nil)

// newMemRebuilder returns a rebuilder of live, which an older release
// built (version 1).
func newMemRebuilder(live *memProjectionStore) *memRebuilder {
	return &memRebuilder{live: live, version: 1}
}

func (m *memRebuilder) ReadModelVersion(ctx context.Context) (int, error) {
	if m.versions != nil {
		select {
		case r := <-m.versions:
			return r.version, r.err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, nil
}

func (m *memRebuilder) StartRebuild(context.Context, string) (ports.InvoiceRebuild, error) {
	m.mu.Lock()
	onStart := m.onStart
	m.mu.Unlock()
	if onStart != nil {
		onStart()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.starts++
	if m.startErr != nil {
		return nil, m.startErr
	}
	m.views, m.pos, m.ended = map[string]ports.InvoiceView{}, 0, false
	return m, nil
}

func (m *memRebuilder) Apply(_ context.Context, from, to int64, c ports.InvoiceChanges) error {
	m.mu.Lock()
	err := m.applyLocked(from, to, c, false)
	m.mu.Unlock()
	if err == nil && m.onApply != nil {
		m.onApply(from, to)
	}
	return err
}

func (m *memRebuilder) applyLocked(from, to int64, c ports.InvoiceChanges, inSwap bool) error {
	if m.ended {
		return errors.New("rebuild ended")
	}
	if m.pos != from {
		return fmt.Errorf("rebuild at %d, not %d: %w", m.pos, from, ports.ErrConcurrencyConflict)
	}
	staged, err := applyChanges(maps.Clone(m.views), c)
	if err != nil {
		return err
	}
	m.views, m.pos = staged, to
	m.applied = append(m.applied, appliedBatch{From: from, To: to, Changes: c, InSwap: inSwap})
	return nil
}

func (m *memRebuilder) Swap(ctx context.Context, catchUp func(context.Context, int64, ports.RebuildWriter) error) (int64, error) {
	pos, err := m.swap(ctx, catchUp)
	if err == nil && m.afterSwap != nil {
		m.afterSwap()
	}
	return pos, err
}

func (m *memRebuilder) swap(ctx context.Context, catchUp func(context.Context, int64, ports.RebuildWriter) error) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.swaps++
	if m.ended {
		return 0, errors.New("rebuild ended")
	}
	live := m.live.checkpoint(projection.InvoicesProjector)
	views, pos, applied := m.views, m.pos, len(m.applied)
	if err := catchUp(ctx, live, swapWriter{m}); err != nil {
		m.views, m.pos, m.applied = views, pos, m.applied[:applied] // rolled back
		return 0, err
	}
	if m.pos < live {
		return 0, fmt.Errorf("rebuilt at %d, behind %d", m.pos, live)
	}
	m.live.mu.Lock()
	m.live.views = m.views
	m.live.checkpoints[projection.InvoicesProjector] = m.pos
	m.live.mu.Unlock()
	m.version = ports.ReadModelVersion
	m.ended = true
	return m.pos, nil
}

// swapWriter applies inside Swap, which already holds the lock.
type swapWriter struct{ m *memRebuilder }

func (w swapWriter) Apply(_ context.Context, from, to int64, c ports.InvoiceChanges) error {
	return w.m.applyLocked(from, to, c, true)
}

func (m *memRebuilder) Discard(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.discards++
	m.ended, m.views = true, nil
	return nil
}

func (m *memRebuilder) batches() []appliedBatch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.applied)
}

// counts returns how often StartRebuild, Swap and Discard were called.
func (m *memRebuilder) counts() (starts, swaps, discards int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.starts, m.swaps, m.discards
}

// liveVersion returns the version recorded for the live model.
func (m *memRebuilder) liveVersion() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

// manyInvoices is n invoices, each paid some events after its creation
// except every fourth, of which every other one is voided instead,
// interleaved as concurrent commands would leave them.
func manyInvoices(t *testing.T, n int) []ports.RecordedEvent {
	t.Helper()
	var out []ports.RecordedEvent
	pos := int64(0)
	for i := range n {
		id := fmt.Sprintf("inv-%03d", i)
		pos++
		out = append(out, rec(t, pos, id, 1, createdEvent(id, invoice.Amount(10000*(100+i)), createdA.Add(time.Duration(i)*time.Second))))
		// Settle the invoice created 3 steps ago: pay it, void it, or
		// leave it pending.
		j := i - 3
		if j < 0 {
			continue
		}
		jid := fmt.Sprintf("inv-%03d", j)
		switch {
		case j%4 != 3:
			pos++
			out = append(out, rec(t, pos, jid, 2, paidEvent(jid, paidA.Add(time.Duration(j)*time.Second))))
		case j%8 == 3:
			pos++
			out = append(out, rec(t, pos, jid, 2, voidedEvent(jid, fmt.Sprintf("void %d", j), voidedA.Add(time.Duration(j)*time.Second))))
		}
	}
	return out
}

// projectedByTheLiveProjector is what Step makes of records.
func projectedByTheLiveProjector(t *testing.T, records []ports.RecordedEvent) []ports.InvoiceView {
	t.Helper()
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(records...)
	p := newProjector(events, store, codec(t), 7)
	for {
		n, err := p.Step(context.Background())
		if err != nil {
			t.Fatalf("Step() error = %v", err)
		}
		if n == 0 {
			return store.snapshot()
		}
	}
}

func TestRebuildMatchesTheLiveProjector(t *testing.T) {
	records := manyInvoices(t, 40)
	want := projectedByTheLiveProjector(t, records)
	for _, size := range []int{1, 2, 3, 5, 16, 1000} {
		t.Run(fmt.Sprintf("batch size %d", size), func(t *testing.T) {
			events, live := &memEventStore{}, newMemProjectionStore()
			events.add(records...)
			// A stale, wrong model to replace.
			live.setCheckpoint(projection.InvoicesProjector, 5, pending("inv-000", 1, 9, 1, createdB), pending("ghost", 1, 1, 99, createdB))
			rb := newMemRebuilder(live)

			res, err := projection.Rebuild(context.Background(), events, rb, codec(t), projection.RebuildOptions{BatchSize: size})
			if err != nil {
				t.Fatalf("Rebuild() error = %v", err)
			}

			head := records[len(records)-1].Position
			if res.Position != head {
				t.Errorf("Rebuild() position = %d, want %d", res.Position, head)
			}
			if diff := cmp.Diff(want, live.snapshot(), viewOpts); diff != "" {
				t.Errorf("rebuilt model differs from the live projector's (-want +got):\n%s", diff)
			}
			if got := live.checkpoint(projection.InvoicesProjector); got != head {
				t.Errorf("checkpoint = %d, want %d", got, head)
			}
			batches := rb.batches()
			if wantN := (int(head) + size - 1) / size; len(batches) != wantN {
				t.Errorf("%d batches applied, want %d", len(batches), wantN)
			}
			for _, b := range batches {
				if b.To-b.From > int64(size) || b.InSwap {
					t.Errorf("batch %d-%d (in swap: %t) exceeds the size %d or was not bulk", b.From+1, b.To, b.InSwap, size)
				}
			}
		})
	}
}

// One batch folds an invoice's events into one row; pays of invoices from
// earlier batches become updates that name their event's position.
func TestRebuildFoldsEachBatch(t *testing.T) {
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
		rec(t, 3, "inv-a", 2, paidEvent("inv-a", paidA)),
		rec(t, 4, "inv-c", 1, createdEvent("inv-c", 30000, createdC)),
		rec(t, 5, "inv-b", 2, paidEvent("inv-b", paidC)),
	)
	rb := newMemRebuilder(live)

	if _, err := projection.Rebuild(context.Background(), events, rb, codec(t), projection.RebuildOptions{BatchSize: 4}); err != nil {
		t.Fatalf("Rebuild() error = %v", err)
	}

	want := []appliedBatch{
		{From: 0, To: 4, Changes: ports.InvoiceChanges{Inserts: []ports.InvoiceView{
			paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA),
			pending("inv-b", 25000, 1, 2, createdB),
			pending("inv-c", 30000, 1, 4, createdC),
		}}},
		{From: 4, To: 5, Changes: ports.InvoiceChanges{Updates: []ports.InvoiceUpdate{
			{ID: "inv-b", FromVersion: 1, Version: 2, Status: invoice.StatusPaid, UpdatedAt: paidC, PaidAt: &paidC, Position: 5},
		}}},
	}
	if diff := cmp.Diff(want, rb.batches(), cmpopts.EquateEmpty(), viewOpts); diff != "" {
		t.Errorf("batches mismatch (-want +got):\n%s", diff)
	}
}

// Events the fold refuses abort the rebuild naming their position. Events a
// store can hold but not decode or apply (an unknown type, a corrupt
// payload, a pay of an unknown invoice) are covered, on real stores, by
// adapters/store/storetest's TestRebuildAbortsOnAPoisonEventAndKeepsTheOldModel.
func TestRebuildAbortsWithThePositionAndKeepsTheLiveModel(t *testing.T) {
	tests := []struct {
		name    string
		records func(t *testing.T) []ports.RecordedEvent
		wantErr string
	}{
		{
			name: "gap",
			records: func(t *testing.T) []ports.RecordedEvent {
				return append(manyInvoices(t, 4)[:3], rec(t, 5, "inv-x", 1, createdEvent("inv-x", 1, createdC)))
			},
			wantErr: "gap in event positions: expected 4, found 5",
		},
		{
			name: "invoice created twice",
			records: func(t *testing.T) []ports.RecordedEvent {
				return append(manyInvoices(t, 4)[:3], rec(t, 4, "inv-000", 1, createdEvent("inv-000", 1, createdC)))
			},
			wantErr: "insert invoice inv-000: already exists",
		},
		{
			name: "pay at the wrong version in one batch",
			records: func(t *testing.T) []ports.RecordedEvent {
				return append(manyInvoices(t, 4)[:3], rec(t, 4, "inv-000", 3, paidEvent("inv-000", paidA)))
			},
			wantErr: "event at position 4: mark invoice inv-000 paid: no row at version 2",
		},
	}
	for _, tt := range tests {
		for _, size := range []int{2, 100} { // the bad event alone in its batch, or with others
			t.Run(fmt.Sprintf("%s/batch size %d", tt.name, size), func(t *testing.T) {
				events, live := &memEventStore{}, newMemProjectionStore()
				events.add(tt.records(t)...)
				old := pending("inv-old", 1, 1, 1, createdB)
				live.setCheckpoint(projection.InvoicesProjector, 2, old)
				rb := newMemRebuilder(live)

				_, err := projection.Rebuild(context.Background(), events, rb, codec(t), projection.RebuildOptions{BatchSize: size})

				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Rebuild() error = %v, want %q", err, tt.wantErr)
				}
				if diff := cmp.Diff([]ports.InvoiceView{old}, live.snapshot(), viewOpts); diff != "" {
					t.Errorf("live model changed (-want +got):\n%s", diff)
				}
				if got := live.checkpoint(projection.InvoicesProjector); got != 2 {
					t.Errorf("checkpoint = %d, want 2", got)
				}
				if rb.swaps != 0 || rb.discards != 1 {
					t.Errorf("swaps = %d, discards = %d; want 0 and 1", rb.swaps, rb.discards)
				}
			})
		}
	}
}

// A live checkpoint the event store cannot reach (the read model belongs to
// another event store, say) fails the swap rather than going live behind it.
func TestRebuildRefusesALiveCheckpointPastTheHead(t *testing.T) {
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(fiveInvoices(t)...)
	live.setCheckpoint(projection.InvoicesProjector, 9)
	rb := newMemRebuilder(live)

	_, err := projection.Rebuild(context.Background(), events, rb, codec(t), projection.RebuildOptions{})

	if err == nil || !strings.Contains(err.Error(), "catch up to 9: no events after 5") {
		t.Fatalf("Rebuild() error = %v, want a failed catch-up", err)
	}
	if got := live.checkpoint(projection.InvoicesProjector); got != 9 {
		t.Errorf("checkpoint = %d, want 9 untouched", got)
	}
}

func TestRebuildProgress(t *testing.T) {
	records := manyInvoices(t, 10) // 17 events
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(records...)
	var got []projection.RebuildProgress
	_, err := projection.Rebuild(context.Background(), events, newMemRebuilder(live), codec(t), projection.RebuildOptions{
		BatchSize: 5,
		Progress:  func(p projection.RebuildProgress) { got = append(got, p) },
	})
	if err != nil {
		t.Fatalf("Rebuild() error = %v", err)
	}
	type point struct {
		Position, Head int64
		Done           bool
	}
	var points []point
	for i, p := range got {
		points = append(points, point{p.Position, p.Head, p.Done})
		if i > 0 && p.Elapsed < got[i-1].Elapsed {
			t.Errorf("Elapsed went back from %s to %s", got[i-1].Elapsed, p.Elapsed)
		}
	}
	want := []point{{0, 17, false}, {5, 17, false}, {10, 17, false}, {15, 17, false}, {17, 17, false}, {17, 17, true}}
	if diff := cmp.Diff(want, points); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s", diff)
	}
}

func TestRebuildStopsWhenCancelled(t *testing.T) {
	records := manyInvoices(t, 40)
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(records...)
	old := pending("inv-old", 1, 1, 1, createdB)
	live.setCheckpoint(projection.InvoicesProjector, 1, old)
	rb := newMemRebuilder(live)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rb.onApply = func(_, to int64) {
		if to >= 10 {
			cancel()
		}
	}

	_, err := projection.Rebuild(ctx, events, rb, codec(t), projection.RebuildOptions{BatchSize: 5})

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Rebuild() error = %v, want context.Canceled", err)
	}
	if rb.swaps != 0 || rb.discards != 1 {
		t.Errorf("swaps = %d, discards = %d; want 0 and 1", rb.swaps, rb.discards)
	}
	if diff := cmp.Diff([]ports.InvoiceView{old}, live.snapshot(), viewOpts); diff != "" {
		t.Errorf("live model changed (-want +got):\n%s", diff)
	}
}
