// Package event is the event-sourcing kernel: the versioned aggregate base,
// the rehydrator that folds a stream into an aggregate, and the codec registry
// that maps stable event names to payload types.
//
// It depends on the standard library only, so the domain stays pure.
package event

import (
	"errors"
	"fmt"
)

// Event is a domain event payload. Its name is stable: it is what the event
// store records, so renaming a Go type never renames stored events.
type Event interface {
	EventName() string
}

// Aggregate is implemented by event-sourced aggregates. Apply mutates state
// from one event and must not validate business rules: history is a fact.
type Aggregate interface {
	Apply(e Event) error
	root() *Root
}

// Root is embedded by every aggregate. It tracks the version of the last event
// applied and the events raised since the aggregate was loaded.
type Root struct {
	version     int
	uncommitted []Event
}

// root gives Raise and Rehydrate the embedded Root; being unexported, it also
// means only types embedding Root can be aggregates.
func (r *Root) root() *Root { return r } //nolint:unused // called through Aggregate, which the linter does not follow

// Version is the aggregate's current version: the number of events in its
// stream, including events raised but not yet committed.
func (r *Root) Version() int { return r.version }

// ExpectedVersion is the stream version the aggregate was loaded at; it is the
// optimistic-concurrency precondition for appending the uncommitted events.
func (r *Root) ExpectedVersion() int { return r.version - len(r.uncommitted) }

// Uncommitted returns the events raised since the aggregate was loaded.
func (r *Root) Uncommitted() []Event { return r.uncommitted }

// MarkCommitted forgets the uncommitted events once they are stored.
func (r *Root) MarkCommitted() { r.uncommitted = nil }

// Raise applies a new event to the aggregate and records it as uncommitted.
func Raise(a Aggregate, e Event) error {
	if err := a.Apply(e); err != nil {
		return err
	}
	r := a.root()
	r.version++
	r.uncommitted = append(r.uncommitted, e)
	return nil
}

// Rehydrate folds a stream's history, in version order, into a. The aggregate
// ends at version len(history) with nothing uncommitted.
func Rehydrate(a Aggregate, history []Event) error {
	r := a.root()
	if r.version != 0 || len(r.uncommitted) != 0 {
		return errors.New("rehydrate: aggregate is not new")
	}
	for i, e := range history {
		if err := a.Apply(e); err != nil {
			return fmt.Errorf("rehydrate: event %d (%s): %w", i+1, e.EventName(), err)
		}
		r.version++
	}
	return nil
}
