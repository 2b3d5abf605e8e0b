package projection_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"invoices/app/projection"
	"invoices/ports"
)

// upgradeFixture is a read model an older release built: it projected
// events 1-2 of 3 into rows of its own shape (the ghost stands for
// whatever the old shape held), and its checkpoint is behind, so a Step
// run before the upgrade would show up as a Project of event 3 into it.
type upgradeFixture struct {
	events *memEventStore
	live   *memProjectionStore
	rb     *memRebuilder
}

func newUpgradeFixture(t *testing.T) upgradeFixture {
	t.Helper()
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
		rec(t, 3, "inv-a", 2, paidEvent("inv-a", paidA)),
	)
	live.setCheckpoint(projection.InvoicesProjector, 2, pending("ghost", 1, 1, 99, createdB))
	return upgradeFixture{events: events, live: live, rb: newMemRebuilder(live)}
}

// rebuiltModel is the read model of the fixture's events 1-3.
func rebuiltModel() []ports.InvoiceView {
	return []ports.InvoiceView{
		paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA),
		pending("inv-b", 25000, 1, 2, createdB),
	}
}

// start starts a projector that upgrades through f.rb, and stops it when
// the test ends. The poll interval is short because waiting for another
// instance's rebuild is paced by it.
func (f upgradeFixture) start(t *testing.T) *projection.Projector {
	t.Helper()
	p := projection.New(f.events, f.live, codec(t), zap.NewNop(), projection.Options{
		BatchSize: 100, PollInterval: time.Millisecond, Rebuilder: f.rb,
	})
	if err := p.Start(context.Background()); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("Stop() error = %v", err)
		}
	})
	return p
}

func status(t *testing.T, p *projection.Projector) projection.Status {
	t.Helper()
	st, err := p.Status(context.Background())
	if err != nil {
		t.Fatalf("Status() error = %v", err)
	}
	return st
}

// answer gives the projector's next read of the read model's version r.
// The timeout only keeps a broken projector from hanging the test.
func answer(t *testing.T, rb *memRebuilder, r versionRead) {
	t.Helper()
	select {
	case rb.versions <- r:
	case <-time.After(5 * time.Second):
		t.Fatalf("the projector never read the read model's version (to get %+v)", r)
	}
}

func await(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting until %s", what)
	}
}

// A read model an older release built is rebuilt and swapped in before
// the projector writes to it; meanwhile the projector says it is
// upgrading, which keeps the service unready.
func TestStartRebuildsAStaleReadModelBeforeProjecting(t *testing.T) {
	f := newUpgradeFixture(t)
	started, proceed := make(chan struct{}), make(chan struct{})
	f.rb.onStart = func() {
		close(started)
		<-proceed
	}
	// A command appends after the swap: the projector takes it from the
	// swapped-in checkpoint.
	f.rb.afterSwap = func() { f.events.add(rec(t, 4, "inv-c", 1, createdEvent("inv-c", 30000, createdC))) }

	p := f.start(t)
	await(t, "the rebuild starts", started)

	st := status(t, p)
	if !strings.Contains(st.Upgrading, "rebuilding") || !st.Running || st.Error != "" {
		t.Errorf("Status() during the rebuild = %+v, want running and upgrading (rebuilding), without an error", st)
	}
	if calls := f.live.projectCalls(); len(calls) != 0 {
		t.Errorf("Project called %v during the rebuild, want no write to the stale model", calls)
	}
	close(proceed)
	waitUntil(t, "the projector projects the event appended after the swap", func() bool {
		return p.Position() == 4 && status(t, p).Upgrading == ""
	})

	if st := status(t, p); st.Error != "" || !st.Running {
		t.Errorf("Status() after the upgrade = %+v, want running without an error", st)
	}
	if starts, swaps, _ := f.rb.counts(); starts != 1 || swaps != 1 {
		t.Errorf("StartRebuild called %d times, Swap %d; want 1 and 1", starts, swaps)
	}
	if got := f.rb.liveVersion(); got != ports.ReadModelVersion {
		t.Errorf("read model version = %d after the upgrade, want %d", got, ports.ReadModelVersion)
	}
	// The only live projection is of event 4, from the rebuilt checkpoint.
	if diff := cmp.Diff([]projectCall{{From: 3, To: 4}}, f.live.projectCalls()); diff != "" {
		t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
	}
	want := append(rebuiltModel(), pending("inv-c", 30000, 1, 4, createdC))
	if diff := cmp.Diff(want, f.live.snapshot(), viewOpts); diff != "" {
		t.Errorf("read model mismatch (-want +got):\n%s", diff)
	}
}

// While another instance holds the rebuild, the projector waits for it
// rather than starting its own, and carries on from the checkpoint that
// rebuild swapped in once the read model's version is current.
func TestStartWaitsForAnotherInstancesRebuild(t *testing.T) {
	f := newUpgradeFixture(t)
	f.rb.versions = make(chan versionRead)
	f.rb.startErr = fmt.Errorf("lock read model: %w", ports.ErrRebuildRunning)

	p := f.start(t)
	answer(t, f.rb, versionRead{version: 1})
	waitUntil(t, "the projector waits for the other rebuild", func() bool {
		return strings.Contains(status(t, p).Upgrading, "waiting")
	})

	if st := status(t, p); st.Error != "" || !st.Running {
		t.Errorf("Status() while waiting = %+v, want running without an error", st)
	}
	if starts, swaps, _ := f.rb.counts(); starts != 1 || swaps != 0 {
		t.Errorf("while waiting: StartRebuild called %d times, Swap %d; want 1 and 0", starts, swaps)
	}
	if calls := f.live.projectCalls(); len(calls) != 0 {
		t.Errorf("Project called %v while waiting, want no write to the stale model", calls)
	}
	// The other instance swaps its rebuilt model in, and a command appends.
	f.live.replaceModel(projection.InvoicesProjector, 3, rebuiltModel()...)
	f.events.add(rec(t, 4, "inv-c", 1, createdEvent("inv-c", 30000, createdC)))
	answer(t, f.rb, versionRead{version: ports.ReadModelVersion})
	waitUntil(t, "the projector projects the new event", func() bool {
		return p.Position() == 4 && status(t, p).Upgrading == ""
	})

	if starts, swaps, _ := f.rb.counts(); starts != 1 || swaps != 0 {
		t.Errorf("StartRebuild called %d times, Swap %d; want 1 and 0: the other instance rebuilt it", starts, swaps)
	}
	// From the swapped-in checkpoint: never from the stale one it loaded
	// at Start.
	if diff := cmp.Diff([]projectCall{{From: 3, To: 4}}, f.live.projectCalls()); diff != "" {
		t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
	}
	want := append(rebuiltModel(), pending("inv-c", 30000, 1, 4, createdC))
	if diff := cmp.Diff(want, f.live.snapshot(), viewOpts); diff != "" {
		t.Errorf("read model mismatch (-want +got):\n%s", diff)
	}
}

// A current read model is not rebuilt, but the projector only projects,
// and stops reporting an upgrade, once it has checked the version.
func TestStartOnACurrentReadModelChecksItsVersionFirst(t *testing.T) {
	events, live := &memEventStore{}, newMemProjectionStore()
	events.add(fiveInvoices(t)[:3]...)
	rb := newMemRebuilder(live)
	rb.versions = make(chan versionRead)
	f := upgradeFixture{events: events, live: live, rb: rb}

	p := f.start(t)

	if st := status(t, p); st.Upgrading == "" {
		t.Errorf("Status() before the version is read = %+v, want Upgrading set", st)
	}
	if calls := live.projectCalls(); len(calls) != 0 {
		t.Errorf("Project called %v before the version was read, want none", calls)
	}
	answer(t, rb, versionRead{version: ports.ReadModelVersion})
	waitUntil(t, "the projector catches up", func() bool { return p.Position() == 3 && status(t, p).Upgrading == "" })

	if starts, _, _ := rb.counts(); starts != 0 {
		t.Errorf("StartRebuild called %d times on a current read model, want 0", starts)
	}
	if diff := cmp.Diff([]projectCall{{From: 0, To: 3}}, live.projectCalls()); diff != "" {
		t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
	}
}

// A failed version read is reported and retried, never taken for a
// current model.
func TestUpgradeRetriesAFailedVersionRead(t *testing.T) {
	f := newUpgradeFixture(t)
	f.rb.versions = make(chan versionRead)
	f.live.replaceModel(projection.InvoicesProjector, 3, rebuiltModel()...)

	p := f.start(t)
	answer(t, f.rb, versionRead{err: fmt.Errorf("read version: %w", ports.ErrUnavailable)})
	waitUntil(t, "the failure is reported", func() bool { return strings.Contains(status(t, p).Error, "read version") })

	if st := status(t, p); st.Upgrading == "" {
		t.Errorf("Status() after a failed version read = %+v, want Upgrading still set", st)
	}
	if calls := f.live.projectCalls(); len(calls) != 0 {
		t.Errorf("Project called %v after a failed version read, want none", calls)
	}
	f.events.add(rec(t, 4, "inv-c", 1, createdEvent("inv-c", 30000, createdC)))
	answer(t, f.rb, versionRead{version: ports.ReadModelVersion})
	waitUntil(t, "the projector recovers", func() bool {
		st := status(t, p)
		return p.Position() == 4 && st.Upgrading == "" && st.Error == ""
	})
	if starts, _, _ := f.rb.counts(); starts != 0 {
		t.Errorf("StartRebuild called %d times, want 0", starts)
	}
}

// A read model a newer release built is not this release's to rebuild or
// write: the projector reports it and stays put.
func TestUpgradeRefusesAReadModelFromANewerRelease(t *testing.T) {
	f := newUpgradeFixture(t)
	f.rb.versions = make(chan versionRead)

	p := f.start(t)
	answer(t, f.rb, versionRead{version: ports.ReadModelVersion + 1})
	waitUntil(t, "the refusal is reported", func() bool { return strings.Contains(status(t, p).Error, "newer release") })

	if st := status(t, p); st.Upgrading == "" {
		t.Errorf("Status() = %+v, want Upgrading still set", st)
	}
	if starts, _, _ := f.rb.counts(); starts != 0 {
		t.Errorf("StartRebuild called %d times, want 0", starts)
	}
	if calls := f.live.projectCalls(); len(calls) != 0 {
		t.Errorf("Project called %v, want none", calls)
	}
}
