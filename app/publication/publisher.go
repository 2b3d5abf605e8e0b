// Package publication hands the event log to a message broker: a durable
// publisher that reads events by position, as the projector does, and
// moves its checkpoint only over events the broker acknowledged.
package publication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"invoices/domain/event"
	"invoices/ports"
)

// Options tunes a Publisher.
type Options struct {
	// Name is the publisher's checkpoint and lease name.
	Name string
	// BatchSize is the most events read, published and checkpointed at once.
	BatchSize int
	// Window is the most publishes awaiting their acknowledgement.
	Window int
	// PollInterval is how often a caught-up publisher looks for new events,
	// and a standby instance for a free lease.
	PollInterval time.Duration
}

// Publisher publishes every event of the log to a broker exactly in
// position order, at least once: a publish is retried from the checkpoint
// until acknowledged, and the broker drops the duplicates by event id. At
// most one instance across processes publishes at a time (a lease).
type Publisher struct {
	events      ports.EventStore
	checkpoints ports.PublisherCheckpoints
	leaser      ports.Leaser
	broker      ports.Broker
	codec       *event.Registry
	log         *zap.Logger
	opts        Options

	wake chan struct{}

	mu      sync.Mutex
	pos     int64
	state   string
	lastErr error

	cancel context.CancelFunc
	done   chan struct{}
}

// States a Publisher reports.
const (
	StateStopped    = "stopped"
	StateStandby    = "standby"    // another instance holds the lease
	StatePublishing = "publishing" // holds the lease and publishes
	StateRetrying   = "retrying"   // holds the lease, waits to retry after an error
)

// New returns a stopped publisher.
func New(events ports.EventStore, checkpoints ports.PublisherCheckpoints, leaser ports.Leaser, broker ports.Broker,
	codec *event.Registry, log *zap.Logger, opts Options,
) *Publisher {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Window <= 0 {
		opts.Window = 256
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	return &Publisher{
		events: events, checkpoints: checkpoints, leaser: leaser, broker: broker, codec: codec,
		log: log.Named("publisher"), opts: opts, wake: make(chan struct{}, 1), state: StateStopped,
	}
}

// Start runs the publisher in the background until Stop. It never fails on
// an unreachable broker: it retries.
func (p *Publisher) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(ctx)
	return nil
}

// Stop ends the background loop and gives the lease up.
func (p *Publisher) Stop(ctx context.Context) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Committed is a ports.CommitNotifier callback: new events may be there.
func (p *Publisher) Committed(int64) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Status is a publisher's progress.
type Status struct {
	Name       string
	State      string
	Checkpoint int64
	Head       int64
	// LagEvents is how many committed events are not yet acknowledged;
	// only the instance holding the lease knows its checkpoint up to date.
	LagEvents int64
	// Error is why the publisher retries; empty when it is healthy.
	Error string
}

// Up reports whether this instance publishes without an error.
func (s Status) Up() bool { return s.State == StatePublishing && s.Error == "" }

// Status reports the publisher's state and lag. A standby instance reads
// the durable checkpoint, which the active one moves.
func (p *Publisher) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	st := Status{Name: p.opts.Name, State: p.state, Checkpoint: p.pos}
	if p.lastErr != nil {
		st.Error = p.lastErr.Error()
	}
	p.mu.Unlock()
	if st.State != StatePublishing && st.State != StateRetrying {
		cp, err := p.checkpoints.PublisherCheckpoint(ctx, p.opts.Name)
		if err != nil {
			return st, err
		}
		st.Checkpoint = cp
	}
	head, err := p.events.Head(ctx)
	if err != nil {
		return st, err
	}
	st.Head, st.LagEvents = head, max(0, head-st.Checkpoint)
	return st, nil
}

func (p *Publisher) set(state string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.lastErr = state, err
}

func (p *Publisher) setPosition(pos int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pos = pos
}

func (p *Publisher) run(ctx context.Context) {
	defer close(p.done)
	defer p.set(StateStopped, nil)
	for ctx.Err() == nil {
		lease, ok, err := p.leaser.TryAcquire(ctx, p.opts.Name)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				p.log.Warn("publisher lease unavailable", zap.Error(err))
			}
			p.set(StateStandby, err)
			p.sleep(ctx, p.opts.PollInterval, nil)
			continue
		}
		p.log.Info("publisher lease acquired", zap.String("publisher", p.opts.Name))
		p.whileHeld(ctx, lease)
		lease.Release()
		if ctx.Err() == nil {
			p.log.Warn("publisher lease lost", zap.String("publisher", p.opts.Name))
		}
	}
}

// whileHeld publishes until ctx ends or the lease is lost, retrying from
// the checkpoint with backoff after any error.
func (p *Publisher) whileHeld(parent context.Context, lease ports.Lease) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	go func() {
		select {
		case <-lease.Lost():
			cancel()
		case <-ctx.Done():
		}
	}()
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	p.set(StatePublishing, nil)
	for ctx.Err() == nil {
		caughtUp, err := p.catchUp(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.set(StateRetrying, err)
			p.log.Warn("publication stalled, retrying from the checkpoint", zap.Int64("checkpoint", p.position()),
				zap.Duration("backoff", backoff), zap.Error(err))
			p.sleep(ctx, backoff, nil)
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		p.set(StatePublishing, nil)
		if caughtUp {
			p.sleep(ctx, p.opts.PollInterval, p.wake)
		}
	}
}

func (p *Publisher) position() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pos
}

func (p *Publisher) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

// catchUp reconciles the checkpoint with the broker, then publishes batches
// until none is full. It reports whether it caught up with the log.
func (p *Publisher) catchUp(ctx context.Context) (bool, error) {
	cp, err := p.reconcile(ctx)
	if err != nil {
		return false, err
	}
	for {
		// Read the event at the checkpoint too: its id chains the first
		// publish to what the broker holds.
		from := max(0, cp-1)
		records, err := p.events.ReadAll(ctx, from, p.opts.BatchSize+1)
		if err != nil {
			return false, err
		}
		prevID := ""
		if cp > 0 {
			if len(records) == 0 || records[0].Position != cp {
				return false, fmt.Errorf("event at checkpoint %d not found", cp)
			}
			prevID, records = records[0].ID, records[1:]
		}
		if len(records) == 0 {
			return true, nil
		}
		acked, perr := p.PublishBatch(ctx, cp, prevID, records)
		if acked > cp {
			if err := p.checkpoints.AdvancePublisher(ctx, p.opts.Name, cp, acked); err != nil {
				return false, fmt.Errorf("advance checkpoint: %w", err)
			}
			cp = acked
			p.setPosition(cp)
		}
		if perr != nil {
			return false, perr
		}
		if len(records) < p.opts.BatchSize {
			return true, nil
		}
	}
}

// reconcile reads the durable checkpoint and moves it up to the last event
// the broker holds: the broker only stores an event after its predecessor
// (PrevEventID), so every event up to that one is there, in order. This
// drops re-publishes even beyond the broker's duplicate window.
func (p *Publisher) reconcile(ctx context.Context) (int64, error) {
	cp, err := p.checkpoints.PublisherCheckpoint(ctx, p.opts.Name)
	if err != nil {
		return 0, err
	}
	last, err := p.broker.LastPosition(ctx)
	if err != nil {
		return cp, fmt.Errorf("broker's last position: %w", err)
	}
	if head, err := p.events.Head(ctx); err != nil {
		return cp, err
	} else if last > head {
		return cp, fmt.Errorf("the broker holds position %d beyond the event store's head %d: is it another store's stream?", last, head)
	}
	if last > cp {
		if err := p.checkpoints.AdvancePublisher(ctx, p.opts.Name, cp, last); err != nil {
			return cp, fmt.Errorf("advance checkpoint to the broker's last position: %w", err)
		}
		p.log.Info("checkpoint moved to the broker's last event", zap.Int64("from", cp), zap.Int64("to", last))
		cp = last
	}
	p.setPosition(cp)
	return cp, nil
}

// Payload is the JSON document published for an event: the shape the
// HTTP API gives events (see query.HistoryEvent), with the payload upcast
// to the current schema of its type.
type Payload struct {
	Position      int64           `json:"position"`
	ID            string          `json:"id"`
	StreamID      string          `json:"streamId"`
	Version       int             `json:"version"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	Payload       json.RawMessage `json:"payload"`
	Metadata      PayloadMetadata `json:"metadata"`
	RecordedAt    time.Time       `json:"recordedAt"`
}

// PayloadMetadata is what the command recorded with the event.
type PayloadMetadata struct {
	CorrelationID  string `json:"correlationId,omitempty"`
	CausationID    string `json:"causationId,omitempty"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// Encode returns the message body of rec, its payload upcast through codec.
func Encode(codec *event.Registry, rec ports.RecordedEvent) ([]byte, error) {
	e, err := codec.Decode(rec.Type, rec.SchemaVersion, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("event %d: %w", rec.Position, err)
	}
	_, data, err := codec.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("event %d: %w", rec.Position, err)
	}
	return json.Marshal(Payload{
		Position: rec.Position, ID: rec.ID, StreamID: rec.StreamID, Version: rec.Version, Type: rec.Type,
		SchemaVersion: rec.SchemaVersion, Payload: data,
		Metadata: PayloadMetadata{
			CorrelationID: rec.Metadata.CorrelationID, CausationID: rec.Metadata.CausationID,
			IdempotencyKey: rec.Metadata.IdempotencyKey,
		},
		RecordedAt: rec.RecordedAt.UTC(),
	})
}

// errGap means the log did not continue at the next position.
var errGap = errors.New("gap in the event log")

// PublishBatch publishes records, which follow position from (whose event
// has id prevID), keeping up to Window publishes in flight, and waits for
// their acknowledgements in position order. It returns the highest
// position whose publish and every predecessor's were acknowledged (from
// when none was) and the first error, after which it publishes nothing
// more: the caller retries from the returned position.
func (p *Publisher) PublishBatch(ctx context.Context, from int64, prevID string, records []ports.RecordedEvent) (int64, error) {
	type inflight struct {
		pos int64
		ack ports.PendingAck
	}
	// Waiting for the oldest publish keeps the in-flight window bounded;
	// each later one is waited for after it, so acked is always a prefix.
	queue := make([]inflight, 0, min(p.opts.Window, len(records)))
	acked := from
	waitOldest := func() error {
		head := queue[0]
		queue = queue[1:]
		if err := head.ack.Wait(ctx); err != nil {
			return fmt.Errorf("publish event %d: %w", head.pos, err)
		}
		acked = head.pos
		return nil
	}
	// Before an event it cannot publish, it still collects the acks of
	// those in flight. After a failed publish the rest in flight are
	// abandoned: whatever they stored is refused (out of order) or found
	// again by position (reconcile) or dropped as a duplicate.
	drain := func(cause error) (int64, error) {
		for len(queue) > 0 {
			if err := waitOldest(); err != nil {
				return acked, err
			}
		}
		return acked, cause
	}
	next := from + 1
	for _, rec := range records {
		if rec.Position != next {
			return drain(fmt.Errorf("%w: expected position %d, read %d", errGap, next, rec.Position))
		}
		body, err := Encode(p.codec, rec)
		if err != nil {
			return drain(err)
		}
		if len(queue) == p.opts.Window {
			if err := waitOldest(); err != nil {
				return acked, err
			}
		}
		ack, err := p.broker.Publish(ctx, ports.BrokerMessage{
			Position: rec.Position, EventID: rec.ID, Type: rec.Type, PrevEventID: prevID, Payload: body,
		})
		if err != nil {
			return acked, fmt.Errorf("publish event %d: %w", rec.Position, err)
		}
		queue = append(queue, inflight{pos: rec.Position, ack: ack})
		prevID, next = rec.ID, next+1
	}
	return drain(nil)
}
