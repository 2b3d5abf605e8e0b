package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/config"
	"invoices/ports"
)

// metadataJSON is the stored metadata document.
type metadataJSON struct {
	CorrelationID  string `json:"correlationId,omitempty"`
	CausationID    string `json:"causationId,omitempty"`
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

func storedMetadata(md ports.Metadata) metadataJSON {
	return metadataJSON{CorrelationID: md.CorrelationID, CausationID: md.CausationID, IdempotencyKey: md.IdempotencyKey}
}

func (m metadataJSON) metadata() ports.Metadata {
	return ports.Metadata{CorrelationID: m.CorrelationID, CausationID: m.CausationID, IdempotencyKey: m.IdempotencyKey}
}

// EventStore is the event store on any engine.
//
// Appends are group-committed: callers queue their appends, and one writer
// goroutine commits everything queued in a single transaction under the
// head-row lock. Positions stay gapless and commit-ordered (one transaction
// holds the lock at a time, across processes too), but concurrent appends
// share one commit and its WAL flush instead of each waiting for its own.
// On SQLite it also queues writers in Go rather than in SQLite's busy
// handler, whose sleeping backoff leaves the write lock idle.
type EventStore struct {
	recorded ports.RecordedDefaults
	log      *zap.Logger // for what no caller hears of: the purger's errors
	db       *gorm.DB
	engine   Appender
	// leases grants the engine's cross-process leases; nil means the
	// database has one process and local grants them.
	leases LeaseTaker
	local  localLeases
	now    func() time.Time
	recent *recentEvents
	// id tells this store's commit notifications from other processes'.
	id string

	notifyMu    sync.Mutex
	notify      []func(head int64)
	stopWatch   context.CancelFunc // ends the CommitWatcher; nil until it runs
	watcherDone chan struct{}

	queue    chan *appendRequest
	start    sync.Once
	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// recentKeep is how many of its own latest events the store keeps in
// memory: several batches of PROJECTION_BATCH_SIZE's default.
const recentKeep = 2048

// maxBatch bounds the appends committed in one transaction.
const maxBatch = 256

// batchTimeout bounds one group-commit transaction. Callers wait for their
// batch even if their own context ends: once queued, an append's outcome
// must be known, not guessed.
const batchTimeout = 15 * time.Second

// appendRequest is one caller's append waiting for its batch to commit.
type appendRequest struct {
	ctx      context.Context
	streamID string
	expected int
	events   []ports.NewEvent
	md       ports.Metadata
	meta     []byte // md as stored
	done     chan appendOutcome
}

type appendOutcome struct {
	res ports.AppendResult
	err error
}

var (
	_ ports.EventStore       = (*EventStore)(nil)
	_ ports.CommitNotifier   = (*EventStore)(nil)
	_ ports.IdempotencyStore = (*EventStore)(nil)
)

// NewEventStore migrates the event store's schema on db and returns the
// store on engine e. defaults are recorded if the store has none yet;
// Recorded returns the ones it has. Close stops its goroutines.
func NewEventStore(ctx context.Context, e Engine, db *gorm.DB, cfg config.Database, defaults ports.RecordedDefaults) (*EventStore, error) {
	recorded, err := migrateEventStore(ctx, db, e, defaults)
	if err != nil {
		return nil, err
	}
	id := uuid.NewString()
	a, err := e.NewAppender(db, cfg, id)
	if err != nil {
		return nil, err
	}
	leases, _ := e.(LeaseTaker)
	return &EventStore{
		leases:   leases,
		recorded: recorded,
		log:      zap.NewNop(),
		db:       db.WithContext(context.Background()),
		engine:   a,
		now:      func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		recent:   newRecentEvents(recentKeep),
		id:       id,
		queue:    make(chan *appendRequest), // unbuffered: see writer
		stop:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}, nil
}

// LookupIdempotency implements ports.IdempotencyStore.
func (s *EventStore) LookupIdempotency(ctx context.Context, scope, key string) (ports.IdempotencyRecord, error) {
	var row IdempotencyRow
	err := s.db.WithContext(ctx).Where("scope = ? AND idempotency_key = ? AND expires_at > ?", scope, key, s.now()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ports.IdempotencyRecord{}, fmt.Errorf("idempotency key %s: %w", key, ports.ErrNotFound)
	}
	if err != nil {
		return ports.IdempotencyRecord{}, fmt.Errorf("look up idempotency key: %w", Translate(ctx, err))
	}
	return row.Record(), nil
}

// Expired idempotency records are deleted purgeChunk at a time every
// purgeInterval, outside any append: the deletes lock only expired rows,
// which appends never read (they read live records, and replace an
// expired one only when its key is claimed again).
const (
	purgeInterval = time.Minute
	purgeChunk    = 1000
)

// purger deletes expired idempotency records until the store stops, then
// closes done.
func (s *EventStore) purger(done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.PurgeExpired(context.Background()); err != nil {
				s.log.Warn("purge expired idempotency keys", zap.Error(err))
			}
		}
	}
}

// PurgeExpired deletes the idempotency records expired by now, a chunk per
// statement, and returns how many it deleted.
func (s *EventStore) PurgeExpired(ctx context.Context) (int64, error) {
	var total int64
	for {
		res := s.db.WithContext(ctx).Exec(`DELETE FROM idempotency_keys WHERE (scope, idempotency_key) IN
			(SELECT scope, idempotency_key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`, s.now(), purgeChunk)
		if res.Error != nil {
			return total, Translate(ctx, res.Error)
		}
		total += res.RowsAffected
		if res.RowsAffected < purgeChunk {
			return total, nil
		}
		select {
		case <-s.stop:
			return total, nil
		default:
		}
	}
}

// Recorded returns the defaults the store recorded when first migrated.
func (s *EventStore) Recorded() ports.RecordedDefaults { return s.recorded }

// Close stops the writer after the batch in flight, and the commit watcher;
// appends waiting to be queued, and appends after Close, fail.
func (s *EventStore) Close() {
	s.start.Do(func() { close(s.stopped) }) // never started: nothing to wait for
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
	s.notifyMu.Lock()
	stopWatch, done := s.stopWatch, s.watcherDone
	s.stopWatch = func() {} // a later NotifyCommits starts none
	s.notifyMu.Unlock()
	if stopWatch != nil && done != nil {
		stopWatch()
		<-done
	}
}

// NotifyCommits implements ports.CommitNotifier: fn hears of this store's
// own batches as they commit, once ReadAll can return their events, and,
// where the engine is a server others append to, of theirs through its
// CommitWatcher.
func (s *EventStore) NotifyCommits(fn func(head int64)) {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	s.notify = append(s.notify, fn)
	w, ok := s.engine.(CommitWatcher)
	if !ok || s.stopWatch != nil {
		return // nothing to watch, already watching, or closed
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopWatch, s.watcherDone = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		w.WatchCommits(ctx, s.id, s.committed)
	}(s.watcherDone)
}

// committed tells every subscriber that events up to head are committed.
func (s *EventStore) committed(head int64) {
	s.notifyMu.Lock()
	fns := s.notify
	s.notifyMu.Unlock()
	for _, fn := range fns {
		fn(head)
	}
}

// Append implements ports.EventStore.
func (s *EventStore) Append(ctx context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	if len(events) == 0 {
		return ports.AppendResult{}, errors.New("append: no events")
	}
	meta, err := json.Marshal(storedMetadata(md))
	if err != nil {
		return ports.AppendResult{}, fmt.Errorf("append: metadata: %w", err)
	}
	s.start.Do(func() { go s.writer() })
	req := &appendRequest{ctx: ctx, streamID: streamID, expected: expectedVersion, events: events, md: md, meta: meta, done: make(chan appendOutcome, 1)}
	select {
	case s.queue <- req:
	case <-s.stop:
		return ports.AppendResult{}, fmt.Errorf("append to stream %s: event store closed", streamID)
	case <-ctx.Done():
		return ports.AppendResult{}, fmt.Errorf("append to stream %s: %w", streamID, ctx.Err())
	}
	out := <-req.done
	if out.err != nil {
		return ports.AppendResult{}, fmt.Errorf("append to stream %s: %w", streamID, out.err)
	}
	return out.res, nil
}

// writer commits appends one transaction at a time. The queue is
// unbuffered, so while a batch commits, new callers wait in their send; the
// next batch is every caller waiting then. No timer adds latency: a lone
// append commits at once. The writer runs the purger of expired
// idempotency records beside it, on its own goroutine.
func (s *EventStore) writer() {
	purged := make(chan struct{})
	go s.purger(purged)
	defer func() {
		<-purged
		close(s.stopped)
	}()
	for {
		var batch []*appendRequest
		select {
		case r := <-s.queue:
			batch = append(batch, r)
		case <-s.stop:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// commit appends a batch in one transaction and answers every request.
func (s *EventStore) commit(batch []*appendRequest) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- appendOutcome{err: err} // gave up while queued: nothing stored
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	var outcomes []appendOutcome
	var rows []EventRow
	now := s.now()
	err := s.engine.AppendBatch(ctx, Batch{Streams: streamIDs(live), Keys: idempotencyKeys(live), Now: now}, func(l Locked) Plan {
		var p Plan
		outcomes, p = planAppend(live, l, now)
		rows = p.Rows
		return p
	})
	if err == nil {
		// Committed: these rows are what the database holds at their
		// positions.
		s.recent.add(committed(live, outcomes, rows))
		if len(rows) > 0 {
			s.committed(rows[len(rows)-1].Position)
		}
	}
	if err != nil && len(live) > 1 && !outcomeUnknown(err) {
		// One request's failure (a duplicate event id, say) must not fail
		// the others: commit each on its own to find out whose it is. Not
		// after a lost connection or a timeout, though: the batch may have
		// committed, and a retry alone would answer a stored append with
		// a conflict. Every request then hears the store was unavailable,
		// as a lone append does.
		for _, r := range live {
			s.commit([]*appendRequest{r})
		}
		return
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// UNIQUE(stream_id, version) backs up the version check.
		err = ports.ErrConcurrencyConflict
	}
	for i, r := range live {
		if err != nil {
			// The batch ran on its own context, so even a deadline here is
			// the store being slow or gone, not the caller giving up.
			r.done <- appendOutcome{err: Translate(context.Background(), err)}
		} else {
			r.done <- outcomes[i]
		}
	}
}

// outcomeUnknown reports whether a batch that failed with err may still
// have committed: the connection broke, or a deadline passed, before the
// answer to its COMMIT arrived.
func outcomeUnknown(err error) bool {
	return errors.Is(Translate(context.Background(), err), ports.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// planAppend decides a batch under the head lock. A request whose
// idempotency key has a live record (stored, or claimed by an earlier
// request of the batch) gets that record and stores nothing, whatever its
// stream's version. Otherwise a request whose stream is at its expected
// version gets the next positions and versions, in order, and its key's
// record; the others get a conflict and store nothing.
func planAppend(reqs []*appendRequest, l Locked, now time.Time) ([]appendOutcome, Plan) {
	outcomes := make([]appendOutcome, len(reqs))
	p := Plan{Head: l.Head}
	versions := l.Versions
	claimed := make(map[IdempotencyKey]ports.IdempotencyRecord)
	for k, row := range l.Keys {
		claimed[k] = row.Record()
	}
	for i, r := range reqs {
		claim := r.md.Idempotency
		if claim != nil {
			if rec, ok := claimed[IdempotencyKey{Scope: claim.Scope, Key: claim.Key}]; ok {
				outcomes[i].err = &ports.IdempotencyKeyUsedError{Record: rec}
				continue
			}
		}
		if cur := versions[r.streamID]; cur != r.expected {
			outcomes[i].err = fmt.Errorf("%w: stream is at version %d, expected %d", ports.ErrConcurrencyConflict, cur, r.expected)
			continue
		}
		for j, e := range r.events {
			p.Head++
			p.Rows = append(p.Rows, EventRow{
				Position:      p.Head,
				EventID:       UUID(e.ID),
				StreamID:      UUID(r.streamID),
				Version:       r.expected + j + 1,
				Type:          e.Type,
				SchemaVersion: max(e.SchemaVersion, 1),
				Data:          JSON(e.Data),
				Metadata:      JSON(r.meta),
				RecordedAt:    now,
			})
		}
		versions[r.streamID] = r.expected + len(r.events)
		outcomes[i].res = ports.AppendResult{Position: p.Head, Version: versions[r.streamID]}
		if claim != nil {
			rec := *claim
			rec.StreamID, rec.Version, rec.Position, rec.CreatedAt = r.streamID, versions[r.streamID], p.Head, now
			claimed[IdempotencyKey{Scope: rec.Scope, Key: rec.Key}] = rec
			p.Keys = append(p.Keys, NewIdempotencyRow(rec))
		}
	}
	return outcomes, p
}

// idempotencyKeys returns the idempotency keys the requests claim.
func idempotencyKeys(reqs []*appendRequest) []IdempotencyKey {
	var keys []IdempotencyKey
	for _, r := range reqs {
		if c := r.md.Idempotency; c != nil {
			keys = append(keys, IdempotencyKey{Scope: c.Scope, Key: c.Key})
		}
	}
	return keys
}

// streamIDs returns the distinct streams of reqs.
func streamIDs(reqs []*appendRequest) []string {
	ids := make([]string, 0, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		if !seen[r.streamID] {
			seen[r.streamID] = true
			ids = append(ids, r.streamID)
		}
	}
	return ids
}

// LoadStream implements ports.EventStore.
func (s *EventStore) LoadStream(ctx context.Context, streamID string) ([]ports.RecordedEvent, error) {
	var rows []EventRow
	var err error
	if l, ok := s.engine.(StreamLoader); ok {
		rows, err = l.LoadStream(ctx, streamID)
	} else {
		err = s.db.WithContext(ctx).Where("stream_id = ?", UUID(streamID)).Order("version").Find(&rows).Error
	}
	if err != nil {
		return nil, fmt.Errorf("load stream %s: %w", streamID, Translate(ctx, err))
	}
	return recorded(rows)
}

// ReadAll implements ports.EventStore. A run of this store's own latest
// appends comes from memory (see recentEvents); the rest of the page, from
// where that run ends, from the database.
func (s *EventStore) ReadAll(ctx context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	out := s.recent.from(after+1, limit)
	if len(out) == limit {
		return out, nil
	}
	if n := len(out); n > 0 {
		after = out[n-1].Position
	}
	var rows []EventRow
	err := s.db.WithContext(ctx).Where("position > ?", after).Order("position").Limit(limit - len(out)).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, Translate(ctx, err))
	}
	rest, err := recorded(rows)
	if err != nil {
		return nil, err
	}
	return append(out, rest...), nil
}

// Head implements ports.EventStore. The counter is updated in the appending
// transaction, so a committed value never covers an uncommitted event.
func (s *EventStore) Head(ctx context.Context) (int64, error) {
	var head HeadRow
	if err := s.db.WithContext(ctx).Take(&head, 1).Error; err != nil {
		return 0, fmt.Errorf("read head: %w", Translate(ctx, err))
	}
	return head.Position, nil
}

// Ping implements ports.EventStore.
func (s *EventStore) Ping(ctx context.Context) error { return Translate(ctx, ping(ctx, s.db)) }

// DB returns the store's database handle, for pool statistics.
func (s *EventStore) DB() *gorm.DB { return s.db }

func recorded(rows []EventRow) ([]ports.RecordedEvent, error) {
	out := make([]ports.RecordedEvent, len(rows))
	for i, r := range rows {
		var md metadataJSON
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			return nil, fmt.Errorf("event %d: metadata: %w", r.Position, err)
		}
		out[i] = r.recorded(md.metadata())
	}
	return out, nil
}

// committed returns the events of a committed batch: rows as planAppend
// made them, in request order, with each request's metadata as given
// rather than decoded back from the JSON written for it.
func committed(reqs []*appendRequest, outcomes []appendOutcome, rows []EventRow) []ports.RecordedEvent {
	out := make([]ports.RecordedEvent, 0, len(rows))
	for i, r := range reqs {
		if outcomes[i].err != nil {
			continue // stored nothing
		}
		for range r.events {
			out = append(out, rows[len(out)].recorded(storedMetadata(r.md).metadata()))
		}
	}
	return out
}

// recorded is the row as the port returns it.
func (r EventRow) recorded(md ports.Metadata) ports.RecordedEvent {
	return ports.RecordedEvent{
		Position:      r.Position,
		ID:            string(r.EventID),
		StreamID:      string(r.StreamID),
		Version:       r.Version,
		Type:          r.Type,
		SchemaVersion: r.SchemaVersion,
		Data:          r.Data,
		Metadata:      md,
		RecordedAt:    r.RecordedAt.UTC(),
	}
}
