package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"invoices/ports"
)

// lostAck commits nothing, but plans every batch and then fails as a
// connection does when it breaks after COMMIT was sent: the store cannot
// tell whether the batch committed.
type lostAck struct{ batches int }

func (a *lostAck) AppendBatch(_ context.Context, b Batch, plan PlanFunc) error {
	a.batches++
	plan(Locked{Versions: make(map[string]int, len(b.Streams))})
	return fmt.Errorf("commit: %w", io.ErrUnexpectedEOF)
}

// A batch whose outcome is unknown is answered unavailable for every
// request, and never retried request by request: a retry would find the
// committed events and answer an append that is stored with a conflict.
func TestLostCommitAckAnswersTheWholeBatchUnavailable(t *testing.T) {
	engine := &lostAck{}
	s := &EventStore{engine: engine, recent: newRecentEvents(8), now: time.Now}
	reqs := make([]*appendRequest, 3)
	for i := range reqs {
		reqs[i] = &appendRequest{ctx: context.Background(), streamID: fmt.Sprintf("stream-%d", i),
			events: []ports.NewEvent{{ID: fmt.Sprintf("event-%d", i), Type: "invoice.created"}}, meta: []byte(`{}`),
			done: make(chan appendOutcome, 1)}
	}
	s.commit(reqs)
	for i, r := range reqs {
		if out := <-r.done; !errors.Is(out.err, ports.ErrUnavailable) {
			t.Errorf("request %d: error = %v, want ports.ErrUnavailable", i, out.err)
		}
	}
	if engine.batches != 1 {
		t.Errorf("%d transactions tried, want the one batch and no retry of its requests", engine.batches)
	}
}
