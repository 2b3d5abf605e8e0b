package store

import (
	"context"

	"invoices/ports"
)

// What the external tests (package store_test, which may import storetest)
// need of the package's insides.

// Redact is redact.
var Redact = redact

// RecentFrom returns what s's ring of recent appends holds from position
// first, at most limit events (see recentEvents.from).
func RecentFrom(s *EventStore, first int64, limit int) []ports.RecordedEvent {
	return s.recent.from(first, limit)
}

// BatchAppend is one caller's append in a batch that CommitBatch commits.
type BatchAppend struct {
	Ctx      context.Context
	StreamID string
	Expected int
	Events   []ports.NewEvent
}

// BatchOutcome is what a BatchAppend's caller is told.
type BatchOutcome struct {
	Result ports.AppendResult
	Err    error
}

// CommitBatch commits reqs as the writer commits one batch, synchronously,
// and returns their outcomes in order. s must have no append in flight: the
// writer goroutine, idle, is the only other caller of commit.
func CommitBatch(s *EventStore, reqs ...BatchAppend) []BatchOutcome {
	batch := make([]*appendRequest, len(reqs))
	for i, r := range reqs {
		batch[i] = &appendRequest{ctx: r.Ctx, streamID: r.StreamID, expected: r.Expected, events: r.Events,
			meta: []byte(`{}`), done: make(chan appendOutcome, 1)}
	}
	s.commit(batch)
	out := make([]BatchOutcome, len(batch))
	for i, r := range batch {
		o := <-r.done
		out[i] = BatchOutcome{Result: o.res, Err: o.err}
	}
	return out
}
