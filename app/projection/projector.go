// Package projection folds the event stream into the invoice read model.
package projection

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"invoices/domain/event"
	"invoices/ports"
)

// InvoicesProjector is the checkpoint name of the invoice read-model projector.
const InvoicesProjector = "invoices"

// Options tunes a Projector.
type Options struct {
	// BatchSize is the most events applied in one read-model transaction.
	BatchSize int
	// PollInterval is how often the projector looks for events appended by
	// other processes; appends in this process wake it at once.
	PollInterval time.Duration
	// Rebuilder, when set, lets the projector upgrade a read model built
	// by an older ports.ReadModelVersion (rebuild it, or wait for another
	// instance's rebuild) before it projects into it.
	Rebuilder ports.ReadModelRebuilder
}

// Projector applies events to the invoice read model in position order.
// Each batch and the checkpoint commit in one read-database transaction, so
// a crash neither loses nor repeats a projection, and the projector resumes
// from its checkpoint on start.
type Projector struct {
	events ports.EventStore
	store  ports.ProjectionStore
	codec  *event.Registry
	log    *zap.Logger
	opts   Options

	wake chan struct{}

	mu       sync.Mutex
	pos      int64
	advanced chan struct{} // closed and replaced whenever pos moves
	running  bool
	lastErr  error // the error that stalls the projector, nil when healthy
	// upgrading says what the read model's upgrade is doing; "" once the
	// model is current.
	upgrading string

	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a stopped projector.
func New(events ports.EventStore, store ports.ProjectionStore, codec *event.Registry, log *zap.Logger, opts Options) *Projector {
	return &Projector{
		events:   events,
		store:    store,
		codec:    codec,
		log:      log.Named("projector"),
		opts:     opts,
		wake:     make(chan struct{}, 1),
		advanced: make(chan struct{}),
	}
}

// LoadCheckpoint sets the projector's position to its durable checkpoint,
// creating it at 0 when new. Start does it first; tests that drive Step
// themselves call it instead of starting the loop.
func (p *Projector) LoadCheckpoint(ctx context.Context) error {
	pos, err := p.store.Checkpoint(ctx, InvoicesProjector)
	if err != nil {
		return err
	}
	p.setPosition(pos)
	return nil
}

// Start loads the checkpoint and starts catching up in the background,
// first upgrading a read model an older release built (see
// Options.Rebuilder): the service starts, and reports itself unready
// until that is done.
func (p *Projector) Start(ctx context.Context) error {
	if err := p.LoadCheckpoint(ctx); err != nil {
		return err
	}
	if p.opts.Rebuilder != nil {
		p.setUpgrading("checking the read model's version")
	}
	pos := p.Position()
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(runCtx)
	p.log.Info("projector started", zap.Int64("checkpoint", pos))
	return nil
}

// Stop ends the background loop after the batch in flight, if any, commits
// or rolls back.
func (p *Projector) Stop(ctx context.Context) error {
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

// Position returns the checkpoint: every event up to it is in the read model.
func (p *Projector) Position() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pos
}

// Wake asks the projector to look for new events now.
func (p *Projector) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Committed tells the projector that events up to head are committed (see
// ports.CommitNotifier): it wakes unless it has applied them already (its
// own process's appends notify too, usually after their commands have woken
// it). A head of 0 means unknown, and always wakes it.
func (p *Projector) Committed(head int64) {
	if head == 0 || head > p.Position() {
		p.Wake()
	}
}

// WaitFor blocks until the read model has applied position, or ctx ends.
func (p *Projector) WaitFor(ctx context.Context, position int64) error {
	for {
		p.mu.Lock()
		cur, advanced := p.pos, p.advanced
		p.mu.Unlock()
		if cur >= position {
			return nil
		}
		p.Wake()
		select {
		case <-advanced:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Projector) setRunning(r bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = r
}

func (p *Projector) setErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastErr = err
}

// Status describes how far the read model is behind the event store.
type Status struct {
	Name       string
	Running    bool
	Checkpoint int64
	Head       int64
	LagEvents  int64
	// LagSeconds is the age of the oldest event not yet projected; 0 when
	// caught up.
	LagSeconds float64
	// Error is why the projector is stalled; empty when it is healthy.
	Error string
	// Upgrading, when not empty, says that the read model is being rebuilt
	// for this release (or waits for another instance's rebuild), and how
	// far it has got: the service cannot serve reads until it is done.
	Upgrading string
}

// Status reports the projector's progress. It reads the event store's head,
// and the oldest unprojected event when behind.
func (p *Projector) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	st := Status{Name: InvoicesProjector, Running: p.running, Checkpoint: p.pos, Upgrading: p.upgrading}
	if p.lastErr != nil {
		st.Error = p.lastErr.Error()
	}
	p.mu.Unlock()
	err := fillLag(ctx, p.events, &st)
	return st, err
}

// StoredStatus reports a projector's progress from its durable checkpoint,
// for tools that run beside the service (invoices projections status).
// Running is unknown there and left false. Error says why the projector
// cannot advance when the next events show it: whatever stops the live
// projector's fold of them (a gap, an event it cannot decode or apply).
func StoredStatus(ctx context.Context, events ports.EventStore, store ports.ProjectionStore, codec *event.Registry) (Status, error) {
	st := Status{Name: InvoicesProjector}
	var err error
	if st.Checkpoint, err = store.Checkpoint(ctx, InvoicesProjector); err != nil {
		return st, err
	}
	if err := fillLag(ctx, events, &st); err != nil || st.LagEvents == 0 {
		return st, err
	}
	// The live projector applies a batch all or nothing, so an event it
	// cannot apply anywhere in the next batch holds it at the checkpoint.
	next, err := events.ReadAll(ctx, st.Checkpoint, stallScanLimit)
	if err != nil {
		return st, err
	}
	if _, _, err := foldBatch(codec, st.Checkpoint, next); err != nil {
		st.Error = err.Error()
	}
	return st, nil
}

// stallScanLimit is how far past the checkpoint StoredStatus looks for an
// event that stops the projector; at least one batch (PROJECTION_BATCH_SIZE
// is at most 10,000).
const stallScanLimit = 10_000

// fillLag sets Head, LagEvents and LagSeconds from st.Checkpoint.
func fillLag(ctx context.Context, events ports.EventStore, st *Status) error {
	head, err := events.Head(ctx)
	if err != nil {
		return err
	}
	st.Head = head
	st.LagEvents = max(0, head-st.Checkpoint)
	if st.LagEvents > 0 {
		next, err := events.ReadAll(ctx, st.Checkpoint, 1)
		if err != nil {
			return err
		}
		if len(next) == 1 {
			st.LagSeconds = max(0, time.Since(next[0].RecordedAt).Seconds())
		}
	}
	return nil
}

func (p *Projector) setPosition(pos int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos != p.pos {
		p.pos = pos
		close(p.advanced)
		p.advanced = make(chan struct{})
	}
}

func (p *Projector) run(ctx context.Context) {
	p.setRunning(true)
	defer func() {
		p.setRunning(false)
		close(p.done)
	}()
	if p.opts.Rebuilder != nil {
		p.upgrade(ctx)
		if ctx.Err() != nil {
			return
		}
	}
	ticker := time.NewTicker(p.opts.PollInterval)
	defer ticker.Stop()
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for {
		n, err := p.Step(ctx)
		if ctx.Err() != nil {
			return
		}
		p.setErr(err)
		if err != nil {
			// Never skip past an event: log and try the same batch again. An
			// unreachable store is an outage, logged as a warning; anything
			// else (a gap, an event it cannot apply) is an error.
			level, wake := zap.ErrorLevel, (<-chan struct{})(nil)
			if errors.Is(err, ports.ErrUnavailable) {
				// A command waiting on the projector means the store may be
				// back: retry at once instead of sleeping out the backoff.
				// Other errors stay put however often they are woken.
				level, wake = zap.WarnLevel, p.wake
			}
			p.log.Log(level, "projection stalled", zap.Int64("checkpoint", p.Position()), zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-wake:
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		if n == p.opts.BatchSize {
			continue // more may be waiting
		}
		// Caught up. A commit notification, a command waiting for a later
		// position, or the poll below brings it back.
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-ticker.C:
		}
	}
}

// Step applies the next batch of events after the checkpoint and returns how
// many it applied. It must not run concurrently with itself in one process;
// the background loop is its only caller outside tests.
func (p *Projector) Step(ctx context.Context) (int, error) {
	from := p.Position()
	records, err := p.events.ReadAll(ctx, from, p.opts.BatchSize)
	if err != nil || len(records) == 0 {
		return 0, err
	}
	changes, to, err := foldBatch(p.codec, from, records)
	if err != nil {
		return 0, err
	}
	err = p.store.Project(ctx, InvoicesProjector, from, to, changes)
	if errors.Is(err, ports.ErrConcurrencyConflict) {
		// Another projector (or a rebuild's swap) moved the checkpoint;
		// resume from there.
		if err := p.LoadCheckpoint(ctx); err != nil {
			return 0, err
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	p.setPosition(to)
	return len(records), nil
}
