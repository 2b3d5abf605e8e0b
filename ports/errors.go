package ports

import "errors"

var (
	// ErrNotFound means the requested stream or read-model record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConcurrencyConflict means an optimistic-concurrency precondition failed:
	// the stream moved past the expected version, or another projector moved
	// the checkpoint.
	ErrConcurrencyConflict = errors.New("concurrency conflict")
)
