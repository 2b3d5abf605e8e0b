package ports

import (
	"context"
	"time"
)

// Metadata travels with every stored event.
type Metadata struct {
	// CorrelationID is the id of the request that caused the event.
	CorrelationID string
	// CausationID names the command that raised the event.
	CausationID string
	// IdempotencyKey is the Idempotency-Key of the request, if it had one.
	IdempotencyKey string
	// Idempotency, when set, is recorded by Append in the same transaction
	// as the events (it is not part of the stored metadata): see
	// IdempotencyRecord.
	Idempotency *IdempotencyRecord
}

// NewEvent is an event about to be appended, already serialised.
type NewEvent struct {
	ID   string // unique event id (UUID)
	Type string // stable event name, e.g. "invoice.created"
	// SchemaVersion is the version of Type's payload schema Data is written
	// in (0 is stored as 1, the first).
	SchemaVersion int
	Data          []byte // JSON payload
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	// Position is the global, gapless, commit-ordered position (1-based).
	Position int64
	ID       string
	StreamID string
	Version  int // 1-based version within the stream
	Type     string
	// SchemaVersion is the payload's schema version as stored: readers
	// upcast Data from it to the current schema before decoding.
	SchemaVersion int
	Data          []byte
	Metadata      Metadata
	RecordedAt    time.Time
}

// AppendResult describes a successful append.
type AppendResult struct {
	// Position is the global position of the last appended event.
	Position int64
	// Version is the stream version after the append.
	Version int
}

// EventStore stores event streams with optimistic concurrency.
type EventStore interface {
	// Append adds events to a stream if the stream is at expectedVersion
	// (0 for a new stream); otherwise it fails with ErrConcurrencyConflict and
	// stores nothing. Positions are allocated so that an event with a lower
	// position is never committed after one with a higher position.
	Append(ctx context.Context, streamID string, expectedVersion int, events []NewEvent, md Metadata) (AppendResult, error)
	// LoadStream returns a stream's events in version order; an unknown
	// stream yields an empty slice.
	LoadStream(ctx context.Context, streamID string) ([]RecordedEvent, error)
	// ReadAll returns the committed events with a position greater than
	// after, in position order, at most limit of them. Fewer than limit
	// means there were no more when it read.
	ReadAll(ctx context.Context, after int64, limit int) ([]RecordedEvent, error)
	// Head returns the position of the last committed event (0 when empty).
	Head(ctx context.Context) (int64, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}

// CommitNotifier is an EventStore's optional way to say that appends have
// committed, so a reader of the event log (the projector) can read at once
// instead of polling. The application checks for it once, when it wires
// the projector.
type CommitNotifier interface {
	// NotifyCommits registers fn, called with the head position after each
	// batch of appends commits, once ReadAll returns its events. Where
	// other processes append to the same store, fn hears of their commits
	// too, and is called with 0 (unknown) whenever some may have been
	// missed. A notification is a hint to read now, never a position to
	// trust. fn must not block.
	NotifyCommits(fn func(head int64))
}

// RecordedDefaults are settings the event store recorded once, when it was
// first migrated by a release that knew them, because what events stored
// before then mean depends on them. They never change afterwards.
type RecordedDefaults struct {
	// LegacyCurrency is the ISO 4217 code of invoices created before
	// invoices carried a currency: DEFAULT_CURRENCY when it was recorded.
	LegacyCurrency string
}

// IdempotencyRecord is the outcome of the first request made with an
// idempotency key: which command, on which stream, to which version. The
// event store records it with the request's events, in their transaction,
// so no crash or lost acknowledgement can separate the two.
type IdempotencyRecord struct {
	// Scope and Key identify it: Scope is the caller (its API key's
	// digest, or "" without authentication), Key the header's value.
	Scope, Key string
	// Fingerprint digests the request (method, path, body): a retry must
	// be the same request.
	Fingerprint string
	// Command names the command that ran.
	Command string
	// StreamID, Version and Position are the stream, its version after
	// the append, and the global position of its last event. Append fills
	// them in.
	StreamID string
	Version  int
	Position int64
	// CreatedAt is when it was recorded; ExpiresAt when it lapses, after
	// which the key may be used again.
	CreatedAt, ExpiresAt time.Time
}

// IdempotencyKeyUsedError is Append's error when its Metadata.Idempotency
// key already has a live record (another request with the key committed
// first): nothing was appended, and Record is the earlier outcome.
type IdempotencyKeyUsedError struct {
	Record IdempotencyRecord
}

func (e *IdempotencyKeyUsedError) Error() string {
	return "idempotency key " + e.Record.Key + " was used by an earlier request"
}

// IdempotencyStore reads the records Append keeps.
type IdempotencyStore interface {
	// LookupIdempotency returns the live (unexpired) record of scope and
	// key, or ErrNotFound.
	LookupIdempotency(ctx context.Context, scope, key string) (IdempotencyRecord, error)
}
