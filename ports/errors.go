package ports

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound means the requested stream or read-model record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConcurrencyConflict means an optimistic-concurrency precondition failed:
	// the stream moved past the expected version, or another projector moved
	// the checkpoint.
	ErrConcurrencyConflict = errors.New("concurrency conflict")
	// ErrPreconditionFailed means a conditional command found the stream at
	// another version than the one its caller made it conditional on (an
	// HTTP If-Match), or lost the race to append at it. It is never retried:
	// the caller asked for that exact version, and only it can decide again.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrNoSuchVersion means a stream exists but had no such version: a read
	// as of a version it never reached, or of a time before it began. It
	// wraps ErrNotFound, as the state asked for does not exist.
	ErrNoSuchVersion = fmt.Errorf("no such version: %w", ErrNotFound)
	// ErrUnavailable means a store could not be reached (refused or dropped
	// connection, server shutting down or starting up, call timed out). The
	// operation may or may not have taken effect; retrying later is safe for
	// idempotent calls. Adapters wrap it around the driver's error, so the
	// original text stays in the message.
	ErrUnavailable = errors.New("store unavailable")
	// ErrIdempotencyKeyReused means an idempotency key came back with a
	// different request (another command, path or body) than the one it
	// was first used for.
	ErrIdempotencyKeyReused = errors.New("idempotency key was first used for a different request")
	// ErrRebuildRunning means another rebuild of the read model is running.
	ErrRebuildRunning = errors.New("another rebuild of the read model is running")
	// ErrReadModelStale means the live read model was built by an older
	// ReadModelVersion and is being rebuilt: it wraps ErrUnavailable, as
	// the service cannot answer from it until the rebuild swaps in.
	ErrReadModelStale = fmt.Errorf("read model is being rebuilt for this release: %w", ErrUnavailable)
)
