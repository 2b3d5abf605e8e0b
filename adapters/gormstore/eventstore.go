package gormstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

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
type EventStore struct {
	db  *gorm.DB
	now func() time.Time
	// writeMu queues appends in-process on SQLite (nil on PostgreSQL).
	// SQLite admits one writer; its busy handler makes the others sleep with
	// a backoff of up to 100 ms, leaving the lock idle, which collapsed
	// throughput at 32 writers (about 56 appends/s). A Go mutex hands the
	// lock straight to the next writer.
	writeMu *sync.Mutex
}

var _ ports.EventStore = (*EventStore)(nil)

// NewEventStore migrates the schema on db and returns the store.
func NewEventStore(ctx context.Context, db *gorm.DB) (*EventStore, error) {
	db = db.WithContext(ctx)
	if err := db.AutoMigrate(&eventRow{}, &headRow{}); err != nil {
		return nil, fmt.Errorf("migrate event store: %w", err)
	}
	// Seed the counter; MAX(position) covers events stored before it existed.
	// "WHERE true" resolves SQLite's INSERT ... SELECT ... ON CONFLICT parse ambiguity.
	seed := `INSERT INTO event_store_head (id, position)
		SELECT 1, COALESCE(MAX(position), 0) FROM events WHERE true
		ON CONFLICT (id) DO NOTHING`
	if err := db.Exec(seed).Error; err != nil {
		return nil, fmt.Errorf("seed event store head: %w", err)
	}
	s := &EventStore{db: db.WithContext(context.Background()), now: func() time.Time {
		return time.Now().UTC().Truncate(time.Microsecond)
	}}
	if !isPostgres(db) {
		s.writeMu = &sync.Mutex{}
	}
	return s, nil
}

// Append implements ports.EventStore.
func (s *EventStore) Append(ctx context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	if len(events) == 0 {
		return ports.AppendResult{}, errors.New("append: no events")
	}
	meta, err := json.Marshal(metadataJSON(md))
	if err != nil {
		return ports.AppendResult{}, fmt.Errorf("append: metadata: %w", err)
	}
	if s.writeMu != nil {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	var res ports.AppendResult
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		res, err = appendTx(tx, streamID, expectedVersion, events, meta, s.now())
		return err
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// UNIQUE(stream_id, version) is the backstop for the version check.
		err = ports.ErrConcurrencyConflict
	}
	if err != nil {
		return ports.AppendResult{}, fmt.Errorf("append to stream %s: %w", streamID, err)
	}
	return res, nil
}

// appendTx performs an append inside tx. It is separate so tests can hold the
// transaction open and prove readers never skip an event.
func appendTx(tx *gorm.DB, streamID string, expectedVersion int, events []ports.NewEvent, meta []byte, now time.Time) (ports.AppendResult, error) {
	var last int64
	err := tx.Raw(`UPDATE event_store_head SET position = position + ? WHERE id = 1 RETURNING position`, len(events)).
		Row().Scan(&last)
	if err != nil {
		return ports.AppendResult{}, fmt.Errorf("allocate positions: %w", err)
	}
	// Appends are serialised by the head lock, so this check cannot race.
	var current int
	err = tx.Raw(`SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?`, streamID).Row().Scan(&current)
	if err != nil {
		return ports.AppendResult{}, fmt.Errorf("read stream version: %w", err)
	}
	if current != expectedVersion {
		return ports.AppendResult{}, fmt.Errorf("%w: stream is at version %d, expected %d", ports.ErrConcurrencyConflict, current, expectedVersion)
	}
	first := last - int64(len(events)) + 1
	rows := make([]eventRow, len(events))
	for i, e := range events {
		rows[i] = eventRow{
			Position:   first + int64(i),
			EventID:    uuidText(e.ID),
			StreamID:   uuidText(streamID),
			Version:    expectedVersion + i + 1,
			Type:       e.Type,
			Data:       jsonText(e.Data),
			Metadata:   jsonText(meta),
			RecordedAt: now,
		}
	}
	if err := tx.Create(&rows).Error; err != nil {
		return ports.AppendResult{}, err
	}
	return ports.AppendResult{Position: last, Version: expectedVersion + len(events)}, nil
}

// LoadStream implements ports.EventStore.
func (s *EventStore) LoadStream(ctx context.Context, streamID string) ([]ports.RecordedEvent, error) {
	var rows []eventRow
	err := s.db.WithContext(ctx).Where("stream_id = ?", streamID).Order("version").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load stream %s: %w", streamID, err)
	}
	return recorded(rows)
}

// ReadAll implements ports.EventStore.
func (s *EventStore) ReadAll(ctx context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	var rows []eventRow
	err := s.db.WithContext(ctx).Where("position > ?", after).Order("position").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	return recorded(rows)
}

// Head implements ports.EventStore. The counter is updated in the appending
// transaction, so a committed value never covers an uncommitted event.
func (s *EventStore) Head(ctx context.Context) (int64, error) {
	var pos int64
	if err := s.db.WithContext(ctx).Raw(`SELECT position FROM event_store_head WHERE id = 1`).Row().Scan(&pos); err != nil {
		return 0, fmt.Errorf("read head: %w", err)
	}
	return pos, nil
}

// Ping implements ports.EventStore.
func (s *EventStore) Ping(ctx context.Context) error { return ping(ctx, s.db) }

// SQLDB returns the connection pool, for pool statistics.
func (s *EventStore) SQLDB() (*sql.DB, error) { return s.db.DB() }

func recorded(rows []eventRow) ([]ports.RecordedEvent, error) {
	out := make([]ports.RecordedEvent, len(rows))
	for i, r := range rows {
		var md metadataJSON
		if err := json.Unmarshal(r.Metadata, &md); err != nil {
			return nil, fmt.Errorf("event %d: metadata: %w", r.Position, err)
		}
		out[i] = ports.RecordedEvent{
			Position:   r.Position,
			ID:         string(r.EventID),
			StreamID:   string(r.StreamID),
			Version:    r.Version,
			Type:       r.Type,
			Data:       r.Data,
			Metadata:   ports.Metadata(md),
			RecordedAt: r.RecordedAt.UTC(),
		}
	}
	return out, nil
}
