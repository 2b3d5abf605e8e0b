package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"invoices/ports"
)

// PublisherCheckpointRow records how far a publisher has handed the event
// log to a broker, acknowledged. It lives in the event store's database:
// what it counts is the event log, whatever database the read model uses.
type PublisherCheckpointRow struct {
	Name      string    `gorm:"primaryKey;size:128"`
	Position  int64     `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null;autoUpdateTime:false"`
}

// TableName implements gorm's schema.Tabler.
func (PublisherCheckpointRow) TableName() string { return "publisher_checkpoints" }

// LeaseTaker is an Engine's optional way to grant leases across the
// processes sharing a database (a session advisory lock on PostgreSQL).
// Without it the database has one process (SQLite's file), and a lease is
// held as soon as asked for.
type LeaseTaker interface {
	TryLease(ctx context.Context, db *gorm.DB, name string) (ports.Lease, bool, error)
}

var (
	_ ports.PublisherCheckpoints = (*EventStore)(nil)
	_ ports.Leaser               = (*EventStore)(nil)
)

// PublisherCheckpoint implements ports.PublisherCheckpoints.
func (s *EventStore) PublisherCheckpoint(ctx context.Context, publisher string) (int64, error) {
	db := s.db.WithContext(ctx)
	seed := `INSERT INTO publisher_checkpoints (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING`
	if err := db.Exec(seed, publisher, time.Now().UTC()).Error; err != nil {
		return 0, fmt.Errorf("create publisher checkpoint %s: %w", publisher, Translate(ctx, err))
	}
	var row PublisherCheckpointRow
	if err := db.Where("name = ?", publisher).Take(&row).Error; err != nil {
		return 0, fmt.Errorf("read publisher checkpoint %s: %w", publisher, Translate(ctx, err))
	}
	return row.Position, nil
}

// AdvancePublisher implements ports.PublisherCheckpoints with a
// compare-and-set on the position.
func (s *EventStore) AdvancePublisher(ctx context.Context, publisher string, from, to int64) error {
	res := s.db.WithContext(ctx).Model(&PublisherCheckpointRow{}).
		Where("name = ? AND position = ?", publisher, from).
		Updates(map[string]any{"position": to, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("advance publisher checkpoint %s to %d: %w", publisher, to, Translate(ctx, res.Error))
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("publisher checkpoint %s is no longer at %d: %w", publisher, from, ports.ErrConcurrencyConflict)
	}
	return nil
}

// TryAcquire implements ports.Leaser on the event store's database.
func (s *EventStore) TryAcquire(ctx context.Context, name string) (ports.Lease, bool, error) {
	if s.leases == nil {
		return s.local.acquire(name)
	}
	l, ok, err := s.leases.TryLease(ctx, s.db, name)
	if err != nil {
		return nil, false, Translate(ctx, err)
	}
	return l, ok, nil
}

// localLeases grants leases within one process, for engines whose database
// only one process opens.
type localLeases struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *localLeases) acquire(name string) (ports.Lease, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil, false, nil
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[name] = true
	return &localLease{release: func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.held, name)
	}, lost: make(chan struct{})}, true, nil
}

type localLease struct {
	once    sync.Once
	release func()
	lost    chan struct{}
}

func (l *localLease) Lost() <-chan struct{} { return l.lost }
func (l *localLease) Release()              { l.once.Do(l.release) }
