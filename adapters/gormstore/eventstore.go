package gormstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"invoices/ports"
)

// eventRow is one stored event.
type eventRow struct {
	Position   int64     `gorm:"primaryKey;autoIncrement:false"`
	EventID    uuidText  `gorm:"column:event_id;not null;uniqueIndex:events_event_id"`
	StreamID   uuidText  `gorm:"column:stream_id;not null;uniqueIndex:events_stream_version,priority:1"`
	Version    int       `gorm:"not null;uniqueIndex:events_stream_version,priority:2"`
	Type       string    `gorm:"not null;size:128"`
	Data       jsonText  `gorm:"not null"`
	Metadata   jsonText  `gorm:"not null"`
	RecordedAt time.Time `gorm:"not null;autoCreateTime:false"`
}

func (eventRow) TableName() string { return "events" }

// headRow is the single-row position counter. Every append updates it first,
// which serialises appends: positions are gapless (the update rolls back with
// a failed append) and commit-ordered (the next appender waits for this
// transaction's commit), so a reader that sees position N has seen 1..N-1.
// A bare bigserial is not enough: a lower value can commit after a higher one
// and a projector reading "position > checkpoint" would skip it for good.
type headRow struct {
	ID       int   `gorm:"primaryKey;autoIncrement:false"`
	Position int64 `gorm:"not null"`
}

func (headRow) TableName() string { return "event_store_head" }

// metadataJSON is the stored metadata document.
type metadataJSON struct {
	CorrelationID string `json:"correlationId,omitempty"`
	CausationID   string `json:"causationId,omitempty"`
}

// EventStore is the GORM event store.
//
// Appends are group-committed: callers queue their appends, and one writer
// goroutine commits everything queued in a single transaction under the
// head-row lock. Positions stay gapless and commit-ordered (one transaction
// holds the lock at a time, across processes too), but concurrent appends
// share one commit and its WAL flush instead of each waiting for its own,
// which was the cost of the head lock. On SQLite it also queues writers in
// Go rather than in SQLite's busy handler, whose sleeping backoff left the
// write lock idle (32 writers once fell to ~56 appends/s).
type EventStore struct {
	db     *gorm.DB
	pool   *sql.DB // PostgreSQL only: LoadStream queries it through pgx
	now    func() time.Time
	recent *recentEvents
	// id tells this store's append notifications from other processes'.
	id       string
	onCommit atomic.Pointer[func(head int64)]

	queue    chan *appendRequest
	start    sync.Once
	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// recentKeep is how many of its own latest events the store keeps for its
// projector: several batches of PROJECTION_BATCH_SIZE's default.
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

var _ ports.EventStore = (*EventStore)(nil)

// NewEventStore migrates the schema on db and returns the store. Close stops
// its writer goroutine.
func NewEventStore(ctx context.Context, db *gorm.DB) (*EventStore, error) {
	err := migrate(ctx, db, migrateEventStoreLock, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&eventRow{}, &headRow{}); err != nil {
			return err
		}
		// Seed the counter; MAX(position) covers events stored before it
		// existed. "WHERE true" resolves SQLite's INSERT ... SELECT ... ON
		// CONFLICT parse ambiguity.
		return tx.Exec(`INSERT INTO event_store_head (id, position)
			SELECT 1, COALESCE(MAX(position), 0) FROM events WHERE true
			ON CONFLICT (id) DO NOTHING`).Error
	})
	if err != nil {
		return nil, fmt.Errorf("migrate event store: %w", err)
	}
	return newEventStore(db.WithContext(context.Background())), nil
}

func newEventStore(db *gorm.DB) *EventStore {
	var pool *sql.DB
	if isPostgres(db) {
		pool, _ = db.DB() // an error leaves LoadStream on GORM
	}
	return &EventStore{
		db:      db,
		pool:    pool,
		now:     func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		recent:  newRecentEvents(recentKeep),
		id:      uuid.NewString(),
		queue:   make(chan *appendRequest), // unbuffered: see writer
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
}

// Close stops the writer after the batch in flight; appends waiting to be
// queued, and appends after Close, fail.
func (s *EventStore) Close() {
	s.start.Do(func() { close(s.stopped) }) // never started: nothing to wait for
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.stopped
}

// OnCommit sets fn to be called with the new head position after each
// committed batch of this store's appends, once its events can be read
// (ReadAll serves them from memory by then). The local projector is woken
// this way; other processes learn of the batch from its notification.
func (s *EventStore) OnCommit(fn func(head int64)) { s.onCommit.Store(&fn) }

// ID identifies this store in its append notifications (see Listener).
func (s *EventStore) ID() string { return s.id }

// Append implements ports.EventStore.
func (s *EventStore) Append(ctx context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	if len(events) == 0 {
		return ports.AppendResult{}, errors.New("append: no events")
	}
	meta, err := json.Marshal(metadataJSON(md))
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
// append commits at once.
func (s *EventStore) writer() {
	defer close(s.stopped)
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
	var rows []eventRow
	var err error
	if s.pool != nil {
		outcomes, rows, err = s.pgAppend(ctx, live)
	} else {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			outcomes, rows, err = appendTx(tx, live, s.now(), s.id)
			return err
		})
	}
	if err == nil {
		// Committed: these rows are what the database holds at their
		// positions.
		s.recent.add(committed(live, outcomes, rows))
		if fn := s.onCommit.Load(); fn != nil && len(rows) > 0 {
			(*fn)(rows[len(rows)-1].Position)
		}
	}
	if err != nil && len(live) > 1 {
		// One request's failure (a duplicate event id, say) must not fail
		// the others: commit each on its own to find out whose it is.
		for _, r := range live {
			s.commit([]*appendRequest{r})
		}
		return
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) || isUniqueViolation(err) {
		// UNIQUE(stream_id, version) backs up the version check.
		err = ports.ErrConcurrencyConflict
	}
	for i, r := range live {
		if err != nil {
			// The batch ran on its own context, so even a deadline here is
			// the store being slow or gone, not the caller giving up.
			r.done <- appendOutcome{err: translate(context.Background(), err)}
		} else {
			r.done <- outcomes[i]
		}
	}
}

// appendTx appends reqs inside tx, in order, and returns each one's outcome;
// a request whose stream is not at its expected version gets a conflict and
// stores nothing. It is separate so tests can hold the transaction open and
// prove readers never skip an event.
func appendTx(tx *gorm.DB, reqs []*appendRequest, now time.Time, from string) ([]appendOutcome, []eventRow, error) {
	// Lock the head row before anything else: it serialises appenders, so
	// the version checks below cannot race and positions are commit-ordered.
	var head int64
	if err := tx.Raw(lockHeadSQL).Row().Scan(&head); err != nil {
		return nil, nil, fmt.Errorf("lock head: %w", err)
	}
	versions, err := streamVersions(tx, reqs)
	if err != nil {
		return nil, nil, err
	}
	outcomes, rows, pos := planAppend(reqs, head, versions, now)
	if len(rows) == 0 {
		return outcomes, nil, nil
	}
	if isPostgres(tx) {
		// The pipelined append's statements (see pgAppend), on this
		// transaction's connection.
		conn, ctx := tx.Statement.ConnPool, tx.Statement.Context
		if _, err := conn.ExecContext(ctx, pgInsertEventsSQL, eventArrays(rows)...); err != nil {
			return nil, nil, err
		}
		if _, err := conn.ExecContext(ctx, pgAdvanceSQL, pos, appendChannel, notification{head: pos, from: from}.payload()); err != nil {
			return nil, nil, fmt.Errorf("advance head: %w", err)
		}
		return outcomes, rows, nil
	}
	if err := tx.CreateInBatches(&rows, 1000).Error; err != nil {
		return nil, nil, err
	}
	if err := tx.Exec(`UPDATE event_store_head SET position = ? WHERE id = 1`, pos).Error; err != nil {
		return nil, nil, fmt.Errorf("advance head: %w", err)
	}
	return outcomes, rows, nil
}

// planAppend decides a batch under the head lock: each request whose stream
// is at its expected version gets the next positions and versions, in
// order; the others get a conflict and store nothing. It returns the rows
// to insert and the new head.
func planAppend(reqs []*appendRequest, head int64, versions map[string]int, now time.Time) ([]appendOutcome, []eventRow, int64) {
	outcomes := make([]appendOutcome, len(reqs))
	var rows []eventRow
	pos := head
	for i, r := range reqs {
		if cur := versions[r.streamID]; cur != r.expected {
			outcomes[i].err = fmt.Errorf("%w: stream is at version %d, expected %d", ports.ErrConcurrencyConflict, cur, r.expected)
			continue
		}
		for j, e := range r.events {
			pos++
			rows = append(rows, eventRow{
				Position:   pos,
				EventID:    uuidText(e.ID),
				StreamID:   uuidText(r.streamID),
				Version:    r.expected + j + 1,
				Type:       e.Type,
				Data:       jsonText(e.Data),
				Metadata:   jsonText(r.meta),
				RecordedAt: now,
			})
		}
		versions[r.streamID] = r.expected + len(r.events)
		outcomes[i].res = ports.AppendResult{Position: pos, Version: versions[r.streamID]}
	}
	return outcomes, rows, pos
}

// The statements of an append. lockHeadSQL runs on both engines; the others
// are PostgreSQL's, in its own parameter syntax, for pgAppend and appendTx.
const (
	lockHeadSQL = `UPDATE event_store_head SET position = position WHERE id = 1 RETURNING position`
	// One statement text for any batch size, and a per-stream index probe
	// the planner cannot trade for a scan: pgx prepares each statement once
	// per connection, and the plan PostgreSQL picked for "stream_id IN ($1,
	// ...)" while the table was nearly empty was a sequential scan, kept as
	// the table grew (half of PostgreSQL's CPU in a create run).
	pgVersionsSQL = `SELECT s.id::text, COALESCE((SELECT MAX(e.version) FROM events e WHERE e.stream_id = s.id), 0)
		FROM unnest($1::text::uuid[]) AS s(id)`
	// One INSERT ... SELECT FROM unnest(...) of array literals: one
	// statement text for any batch size, and no reflection per row.
	pgInsertEventsSQL = `INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
		SELECT * FROM unnest($1::text::bigint[], $2::text::uuid[], $3::text::uuid[], $4::text::bigint[], $5::text::text[],
			$6::text::jsonb[], $7::text::jsonb[], $8::text::timestamptz[])`
	// Advancing the head also notifies every listening process (see
	// Listener); PostgreSQL delivers the notification at commit.
	pgAdvanceSQL = `UPDATE event_store_head SET position = $1 WHERE id = 1 RETURNING pg_notify($2, $3)`
)

// eventArrays returns pgInsertEventsSQL's parameters for rows.
func eventArrays(rows []eventRow) []any {
	var position, eventID, streamID, version, typ, data, metadata, recordedAt pgArray
	for i := range rows {
		r := &rows[i]
		position.add(strconv.FormatInt(r.Position, 10))
		eventID.add(string(r.EventID))
		streamID.add(string(r.StreamID))
		version.add(strconv.Itoa(r.Version))
		typ.add(r.Type)
		data.add(string(r.Data))
		metadata.add(string(r.Metadata))
		recordedAt.addTime(&r.RecordedAt)
	}
	return []any{position.String(), eventID.String(), streamID.String(), version.String(), typ.String(),
		data.String(), metadata.String(), recordedAt.String()}
}

// streamIDArray is pgVersionsSQL's parameter: the distinct streams of reqs.
func streamIDArray(reqs []*appendRequest) string {
	var arr pgArray
	for _, id := range streamIDs(reqs) {
		arr.add(id)
	}
	return arr.String()
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

// pgAppend appends reqs on PostgreSQL in two round trips, where appendTx
// takes six (BEGIN, lock, versions, insert, advance, COMMIT): pgx sends
// BEGIN, the head lock and the version check as one pipeline, and once the
// batch is decided, the insert, the advance and COMMIT as a second. Within a
// pipeline each statement starts after the previous one finished, so the
// version check still reads after the lock is held.
func (s *EventStore) pgAppend(ctx context.Context, reqs []*appendRequest) ([]appendOutcome, []eventRow, error) {
	var outcomes []appendOutcome
	var rows []eventRow
	err := withPgx(ctx, s.pool, func(c *pgx.Conn) (err error) {
		defer rollbackOnError(c, &err)
		first := &pgx.Batch{}
		first.Queue("BEGIN")
		first.Queue(lockHeadSQL)
		first.Queue(pgVersionsSQL, streamIDArray(reqs))
		var head int64
		versions := make(map[string]int, len(reqs))
		err = runBatch(ctx, c, first, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			if err := br.QueryRow().Scan(&head); err != nil {
				return fmt.Errorf("lock head: %w", err)
			}
			vr, err := br.Query()
			if err != nil {
				return fmt.Errorf("read stream versions: %w", err)
			}
			var id string
			var v int
			_, err = pgx.ForEachRow(vr, []any{&id, &v}, func() error { versions[id] = v; return nil })
			if err != nil {
				return fmt.Errorf("read stream versions: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		var pos int64
		outcomes, rows, pos = planAppend(reqs, head, versions, s.now())
		second := &pgx.Batch{}
		if len(rows) > 0 {
			second.Queue(pgInsertEventsSQL, eventArrays(rows)...)
			second.Queue(pgAdvanceSQL, pos, appendChannel, notification{head: pos, from: s.id}.payload())
		}
		second.Queue("COMMIT")
		return runBatch(ctx, c, second, func(br pgx.BatchResults) error {
			for range second.Len() {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, nil, err
	}
	return outcomes, rows, nil
}

// rollbackOnError ends the transaction a failed pipeline left open (or
// aborted: a pipeline stops at its first error) before the connection goes
// back to the pool; a connection that cannot even do that is closed, and
// the pool then discards it. Deferred with the caller's named error.
func rollbackOnError(c *pgx.Conn, err *error) {
	if *err == nil || c.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rerr := c.Exec(ctx, "ROLLBACK"); rerr != nil {
		_ = c.Close(ctx)
	}
}

// runBatch sends b on c, lets read consume its results, and closes them.
func runBatch(ctx context.Context, c *pgx.Conn, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := c.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// streamVersions returns the current version of every stream in reqs
// (absent streams are at 0).
func streamVersions(tx *gorm.DB, reqs []*appendRequest) (map[string]int, error) {
	var rows *sql.Rows
	var err error
	if isPostgres(tx) {
		rows, err = tx.Statement.ConnPool.QueryContext(tx.Statement.Context, pgVersionsSQL, streamIDArray(reqs))
	} else {
		rows, err = tx.Raw(`SELECT stream_id, MAX(version) FROM events WHERE stream_id IN ? GROUP BY stream_id`, streamIDs(reqs)).Rows()
	}
	if err != nil {
		return nil, fmt.Errorf("read stream versions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	versions := make(map[string]int, len(reqs))
	for rows.Next() {
		var id uuidText
		var v int
		if err := rows.Scan(&id, &v); err != nil {
			return nil, fmt.Errorf("read stream versions: %w", err)
		}
		versions[string(id)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stream versions: %w", err)
	}
	return versions, nil
}

// LoadStream implements ports.EventStore.
func (s *EventStore) LoadStream(ctx context.Context, streamID string) ([]ports.RecordedEvent, error) {
	var rows []eventRow
	var err error
	if s.pool != nil {
		// Every pay loads its stream first: scanned by pgx, not GORM.
		err = withPgx(ctx, s.pool, func(c *pgx.Conn) error {
			res, err := c.Query(ctx, `SELECT position, event_id, stream_id, version, type, data, metadata, recorded_at
				FROM events WHERE stream_id = $1 ORDER BY version`, uuidText(streamID))
			if err != nil {
				return err
			}
			defer res.Close()
			for res.Next() {
				var r eventRow
				var eventID, stream string
				var data, metadata []byte
				if err := res.Scan(&r.Position, &eventID, &stream, &r.Version, &r.Type, &data, &metadata, &r.RecordedAt); err != nil {
					return err
				}
				r.EventID, r.StreamID, r.Data, r.Metadata = uuidText(eventID), uuidText(stream), jsonText(data), jsonText(metadata)
				rows = append(rows, r)
			}
			return res.Err()
		})
	} else {
		err = s.db.WithContext(ctx).Where("stream_id = ?", uuidText(streamID)).Order("version").Find(&rows).Error
	}
	if err != nil {
		return nil, fmt.Errorf("load stream %s: %w", streamID, translate(ctx, err))
	}
	return recorded(rows)
}

// ReadAll implements ports.EventStore.
//
// Events this process appended last come from memory (see recentEvents), so
// a call may return fewer than limit events while more are stored: callers
// read on from the last position returned.
func (s *EventStore) ReadAll(ctx context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	if events := s.recent.from(after+1, limit); len(events) > 0 {
		return events, nil
	}
	var rows []eventRow
	err := s.db.WithContext(ctx).Where("position > ?", after).Order("position").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, translate(ctx, err))
	}
	return recorded(rows)
}

// Head implements ports.EventStore. The counter is updated in the appending
// transaction, so a committed value never covers an uncommitted event.
func (s *EventStore) Head(ctx context.Context) (int64, error) {
	var pos int64
	if err := s.db.WithContext(ctx).Raw(`SELECT position FROM event_store_head WHERE id = 1`).Row().Scan(&pos); err != nil {
		return 0, fmt.Errorf("read head: %w", translate(ctx, err))
	}
	return pos, nil
}

// Ping implements ports.EventStore.
func (s *EventStore) Ping(ctx context.Context) error { return translate(ctx, ping(ctx, s.db)) }

// SQLDB returns the connection pool, for pool statistics.
func (s *EventStore) SQLDB() (*sql.DB, error) { return s.db.DB() }

func recorded(rows []eventRow) ([]ports.RecordedEvent, error) {
	out := make([]ports.RecordedEvent, len(rows))
	for i, r := range rows {
		var md metadataJSON
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			return nil, fmt.Errorf("event %d: metadata: %w", r.Position, err)
		}
		out[i] = r.recorded(ports.Metadata(md))
	}
	return out, nil
}

// committed returns the events of a committed batch: rows as planAppend
// made them, in request order, with each request's metadata as given
// rather than decoded back from the JSON written for it.
func committed(reqs []*appendRequest, outcomes []appendOutcome, rows []eventRow) []ports.RecordedEvent {
	out := make([]ports.RecordedEvent, 0, len(rows))
	for i, r := range reqs {
		if outcomes[i].err != nil {
			continue // stored nothing
		}
		for range r.events {
			out = append(out, rows[len(out)].recorded(r.md))
		}
	}
	return out
}

// recorded is the row as the port returns it.
func (r eventRow) recorded(md ports.Metadata) ports.RecordedEvent {
	return ports.RecordedEvent{
		Position:   r.Position,
		ID:         string(r.EventID),
		StreamID:   string(r.StreamID),
		Version:    r.Version,
		Type:       r.Type,
		Data:       r.Data,
		Metadata:   md,
		RecordedAt: r.RecordedAt.UTC(),
	}
}
