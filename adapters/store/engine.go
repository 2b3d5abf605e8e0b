// Package store is the engine-free part of the event store and the invoice
// read model: the GORM models and their migration, opening with retry and
// DSN redaction, error translation, the group-commit queue, the ring of
// recent appends, checkpoints and the rebuild's swap. What differs per
// database engine sits behind Engine, implemented once per engine by
// adapters/store/postgres and adapters/store/sqlite.
package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"invoices/config"
	"invoices/ports"
)

// Engine is one database engine's side of the seam.
type Engine interface {
	// Dialector returns the GORM dialector for cfg. It implements
	// ColumnTyper, so the models' engine-dependent columns resolve.
	Dialector(cfg config.Database) (gorm.Dialector, error)
	// Remote reports whether the database is a server, which may be
	// unreachable for a while (start-up waits for it), rather than a file.
	Remote() bool
	// LockSchema serialises schema migrations across processes; it runs
	// first in the migration's transaction tx.
	LockSchema(tx *gorm.DB, key int64) error
	// NewAppender returns the engine's writer of append batches on db.
	// storeID identifies the EventStore in what it tells other processes.
	NewAppender(db *gorm.DB, cfg config.Database, storeID string) (Appender, error)
	// NewWriter returns the engine's read-model writer on db.
	NewWriter(db *gorm.DB) (Writer, error)
}

// Batch is what an append transaction reads once it holds the head lock.
type Batch struct {
	// Streams are the streams whose current versions it reads.
	Streams []string
	// Keys are the idempotency keys whose records it reads, if live at
	// Now (expires_at after it).
	Keys []IdempotencyKey
	Now  time.Time
}

// Locked is what an append transaction read under the head lock.
type Locked struct {
	Head int64
	// Versions holds each stream's current version; absent streams are
	// at 0. The plan may change the map.
	Versions map[string]int
	// Keys holds the live records of the batch's keys.
	Keys map[IdempotencyKey]IdempotencyRow
}

// Plan is what an append transaction writes: the event rows, the
// idempotency records (each replacing an expired record of its key, if
// any), and the new head.
type Plan struct {
	Rows []EventRow
	Keys []IdempotencyRow
	Head int64
}

// PlanFunc decides a batch of appends once the head is locked.
type PlanFunc func(Locked) Plan

// Appender commits one group-commit batch.
type Appender interface {
	// AppendBatch runs one append transaction: lock the head row, read
	// what b asks for, call plan, insert the rows and records it returns,
	// advance the head to its new position and commit. When plan returns
	// no rows the transaction stores nothing.
	AppendBatch(ctx context.Context, b Batch, plan PlanFunc) error
}

// StreamLoader is an Appender's optional faster way to load one stream; the
// EventStore uses GORM without it.
type StreamLoader interface {
	LoadStream(ctx context.Context, streamID string) ([]EventRow, error)
}

// CommitWatcher is an Appender's optional way to hear of other processes'
// commits. WatchCommits calls notify with the new head after every batch
// another EventStore (not self) commits, and with 0 (unknown) whenever
// notifications may have been missed (after every connect); it returns
// when ctx ends. Engines without other processes lack it.
type CommitWatcher interface {
	WatchCommits(ctx context.Context, self string, notify func(head int64))
}

// Writer is an engine's read-model writer.
type Writer interface {
	// WriteChanges writes c into table inside tx: the inserts first, then
	// the updates, each only if its row is at the update's FromVersion;
	// it fails, naming one, unless every update matched (see
	// UpdateRows).
	WriteChanges(tx *gorm.DB, table string, c ports.InvoiceChanges) error
	// Shadow returns how the engine builds a rebuilt table beside the live
	// one and swaps it in.
	Shadow() Shadow
}

// Projector is a Writer's optional own implementation of
// ports.ProjectionStore.Project (a pipelined transaction, say). Without it
// Project is one GORM transaction around WriteChanges. When not every
// update matched its row it may store nothing and return
// ErrUnmatchedUpdates: the batch then runs again as that GORM
// transaction, whose WriteChanges names the event that cannot apply.
type Projector interface {
	Project(ctx context.Context, projector string, from, to int64, c ports.InvoiceChanges) error
}

// InvoiceQueries is a Writer's optional own implementation of the two hot
// reads; without it they go through GORM.
type InvoiceQueries interface {
	GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error)
	ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error)
}

// Shadow is an engine's way of rebuilding the invoice table beside the live
// one (see Rebuild).
type Shadow interface {
	// Table names the fresh table.
	Table() string
	// Lock makes the rebuild of projector exclusive where the engine can,
	// until release; an engine that cannot returns a no-op release.
	Lock(ctx context.Context, db *gorm.DB, projector string) (release func(), err error)
	// Create creates the fresh, empty table without its secondary index;
	// Drop removes it and whatever an interrupted rebuild left, if any.
	Create(tx *gorm.DB) error
	Drop(tx *gorm.DB) error
	// BulkTx prepares a transaction that loads a batch into the fresh
	// table, which is disposable until the swap.
	BulkTx(tx *gorm.DB) error
	// BeforeSwap runs once before the swap transactions, outside them.
	BeforeSwap(ctx context.Context, db *gorm.DB) error
	// SwapTx prepares a swap transaction; LockCheckpoint adds to q (a
	// select of the live checkpoint) what keeps the live projector from
	// moving it until the transaction ends.
	SwapTx(tx *gorm.DB) error
	LockCheckpoint(q *gorm.DB) *gorm.DB
	// ReplaceLive drops the live table and puts the fresh one, with its
	// indexes, in its place.
	ReplaceLive(tx *gorm.DB) error
	// Retryable reports whether a failed swap attempt may be tried again
	// (a lock wait that timed out).
	Retryable(err error) bool
}

// ErrUnmatchedUpdates is a Projector's way of saying that an updated
// invoice's row was not at its FromVersion, without naming it.
var ErrUnmatchedUpdates = errors.New("an updated invoice's row is not at the version before its event")
