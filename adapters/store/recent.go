package store

import (
	"sort"
	"sync"

	"invoices/ports"
)

// recentEvents keeps the events this process committed last, so that its
// projector, which reads every append right after it commits, reads them
// from memory instead of selecting them back and decoding them again
// (BENCHMARKS.md has the measured saving).
//
// It is exact, not a cache that could go stale: positions are assigned under
// the head-row lock and events are never changed or deleted, so an event
// added here after its transaction committed is the one stored at its
// position for good. Events committed by other processes are not here:
// EventStore.ReadAll reads on from the database where a run held here ends.
type recentEvents struct {
	mu     sync.Mutex
	events []ports.RecordedEvent // ascending positions, with gaps where others appended
	keep   int
}

func newRecentEvents(keep int) *recentEvents { return &recentEvents{keep: keep} }

// add records events just committed, in position order, all beyond those
// added before (commits are position-ordered).
func (r *recentEvents) add(events []ports.RecordedEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, events...)
	if len(r.events) > 2*r.keep {
		// Copy, so the dropped events' memory is released.
		r.events = append([]ports.RecordedEvent(nil), r.events[len(r.events)-r.keep:]...)
	}
}

// from returns up to limit events with consecutive positions starting at
// first, or none when first is not held here. It may return fewer than the
// store holds: the run stops where another process's events begin.
func (r *recentEvents) from(first int64, limit int) []ports.RecordedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.Search(len(r.events), func(i int) bool { return r.events[i].Position >= first })
	var out []ports.RecordedEvent
	for want := first; i < len(r.events) && len(out) < limit && r.events[i].Position == want; i, want = i+1, want+1 {
		out = append(out, r.events[i])
	}
	return out
}
