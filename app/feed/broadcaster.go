// Package feed is the global event feed: pages of committed events in
// position order, for any consumer, and live following of the log, woken by
// the event store's commit notifications through one fan-out per process.
//
// Followers never receive events from the fan-out: it only tells them that
// the log moved, and each reads the log from its own position. A follower
// that falls behind therefore costs the process nothing but its position;
// nothing is queued for it.
package feed

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrTooManyFollowers is Subscribe's error when the cap on concurrent
// followers is reached.
var ErrTooManyFollowers = errors.New("too many event stream clients")

// ErrClosed is Subscribe's error, and a follow's end, once the broadcaster
// is closed (the server is shutting down).
var ErrClosed = errors.New("event feed closed: the server is shutting down")

// Broadcaster fans commit notifications out to followers. Register its
// Committed once with the event store's ports.CommitNotifier.
type Broadcaster struct {
	max int

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	done   chan struct{}
	// head is the last head a notification reported, 0 when unknown (none
	// yet, or one said some commits may have been missed).
	head int64
}

// NewBroadcaster returns a broadcaster admitting at most maxFollowers
// subscriptions at a time (at least 1).
func NewBroadcaster(maxFollowers int) *Broadcaster {
	return &Broadcaster{max: max(maxFollowers, 1), subs: map[*Subscription]struct{}{}, done: make(chan struct{})}
}

// Subscription is one follower's wake-up channel.
type Subscription struct {
	b    *Broadcaster
	wake chan struct{}
	once sync.Once
}

// Subscribe registers a follower. Subscribe before the first read of the
// log, so that a commit between that read and the first wait still wakes.
func (b *Broadcaster) Subscribe() (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if len(b.subs) >= b.max {
		return nil, ErrTooManyFollowers
	}
	s := &Subscription{b: b, wake: make(chan struct{}, 1)}
	b.subs[s] = struct{}{}
	return s, nil
}

// Committed is the ports.CommitNotifier callback: it wakes every follower
// without blocking. Each wake channel holds one token, so any number of
// commits while a follower is busy leave it exactly one wake-up, after
// which it reads everything they committed.
func (b *Broadcaster) Committed(head int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if head == 0 {
		b.head = 0
	} else {
		b.head = max(b.head, head)
	}
	for s := range b.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Head is the head the last notification reported, and whether it is
// known: a follower at or past it has nothing to read until woken again.
func (b *Broadcaster) Head() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.head, b.head != 0
}

// Open is the number of current subscriptions.
func (b *Broadcaster) Open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends every subscription (their Done channel closes) and refuses new
// ones. It is idempotent.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}

// Wake receives a token after a commit that may concern the follower.
func (s *Subscription) Wake() <-chan struct{} { return s.wake }

// Done is closed when the broadcaster closes.
func (s *Subscription) Done() <-chan struct{} { return s.b.done }

// Close unregisters the follower. It is idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
	})
}

// PollHead wakes followers whenever head reports a position past the last
// one seen, checking every interval until ctx ends: the fan-out of an event
// store without commit notifications.
func (b *Broadcaster) PollHead(ctx context.Context, head func(context.Context) (int64, error), every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var seen int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h, err := head(ctx); err == nil && h > seen {
			seen = h
			b.Committed(h)
		}
	}
}
