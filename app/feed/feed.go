package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"invoices/app/query"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

const (
	// DefaultLimit is a page's size when the query names none.
	DefaultLimit = query.DefaultLimit
	// MaxLimit is the largest page size.
	MaxLimit = query.MaxLimit
	// MaxScan bounds the events one filtered page reads: a filter matching
	// nothing still answers promptly, with an empty page whose next link
	// moves past what it scanned.
	MaxScan = 10_000
	// maxFilterValues bounds the values of each filter.
	maxFilterValues = 100
	// followBatch is how many events a follower reads from the log at a
	// time: its memory, whatever the backlog.
	followBatch = 256
)

// Item is one committed event as the feed shows it: the invoice history's
// event (payload upcast to its type's current schema) with its stream.
type Item struct {
	StreamID string
	query.HistoryEvent
}

// Filter narrows the feed; its fields combine with AND, the values of one
// field with OR, and an empty field does not filter.
type Filter struct {
	Types     []string
	StreamIDs []string
}

func (f Filter) match(rec ports.RecordedEvent) bool {
	return (len(f.Types) == 0 || slices.Contains(f.Types, rec.Type)) &&
		(len(f.StreamIDs) == 0 || slices.Contains(f.StreamIDs, rec.StreamID))
}

func (f Filter) matchItem(it Item) bool {
	return (len(f.Types) == 0 || slices.Contains(f.Types, it.Type)) &&
		(len(f.StreamIDs) == 0 || slices.Contains(f.StreamIDs, it.StreamID))
}

func (f Filter) empty() bool { return len(f.Types) == 0 && len(f.StreamIDs) == 0 }

// PageQuery asks for one page of the feed.
type PageQuery struct {
	// After is the position the page follows: 0 for the start of the log.
	After int64
	// Limit is the page's maximum number of items; 0 means DefaultLimit.
	Limit  int
	Filter Filter
}

// Page is one page of the feed.
type Page struct {
	Items []Item
	// Last is the last position the page scanned (at least the query's
	// After): the After of the next page. With a filter it may be past
	// the last item's position.
	Last int64
	// Complete is true when the page stopped at its limit or at MaxScan,
	// not at the end of the log: no later commit can change it.
	Complete bool
}

// Feed reads the global event log for consumers outside the service.
type Feed struct {
	events ports.EventStore
	codec  *event.Registry
	fanout *Broadcaster
	recent *recent
}

// New returns the feed over events; fanout, when not nil, wakes followers.
func New(events ports.EventStore, codec *event.Registry, fanout *Broadcaster) *Feed {
	return &Feed{events: events, codec: codec, fanout: fanout, recent: newRecent(recentSize)}
}

// Validate checks a filter: known event types, non-empty stream ids, and at
// most maxFilterValues of each. Errors are *invoice.ValidationError.
func (f *Feed) Validate(flt Filter) error {
	var errs []error
	if len(flt.Types) > maxFilterValues {
		errs = append(errs, &invoice.ValidationError{Field: "type", Reason: fmt.Sprintf("must appear at most %d times", maxFilterValues)})
	}
	for _, t := range flt.Types {
		if f.codec.Version(t) == 0 {
			errs = append(errs, &invoice.ValidationError{Field: "type", Reason: fmt.Sprintf("%q is not an event type (known: invoice.created, invoice.paid, invoice.voided)", t)})
			break
		}
	}
	if len(flt.StreamIDs) > maxFilterValues {
		errs = append(errs, &invoice.ValidationError{Field: "streamId", Reason: fmt.Sprintf("must appear at most %d times", maxFilterValues)})
	}
	for _, s := range flt.StreamIDs {
		if strings.TrimSpace(s) == "" || len(s) > 200 {
			errs = append(errs, &invoice.ValidationError{Field: "streamId", Reason: "must be a stream id of 1 to 200 characters"})
			break
		}
	}
	return errors.Join(errs...)
}

// Read returns the page after q.After. Errors: *invoice.ValidationError
// for "limit", "after" and the filter's fields; the store's errors.
func (f *Feed) Read(ctx context.Context, q PageQuery) (Page, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	var errs []error
	if limit < 1 || limit > MaxLimit {
		errs = append(errs, &invoice.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxLimit)})
	}
	if q.After < 0 {
		errs = append(errs, &invoice.ValidationError{Field: "after", Reason: "must be a position: an integer of at least 0"})
	}
	errs = append(errs, f.Validate(q.Filter))
	if err := errors.Join(errs...); err != nil {
		return Page{}, err
	}
	page := Page{Last: q.After, Items: []Item{}}
	batch := limit
	if !q.Filter.empty() {
		batch = MaxLimit // filtered: read ahead, most events may not match
	}
	for scanned := 0; ; {
		want := min(batch, MaxScan-scanned)
		recs, err := f.events.ReadAll(ctx, page.Last, want)
		if err != nil {
			return Page{}, fmt.Errorf("read the feed after %d: %w", page.Last, err)
		}
		for _, rec := range recs {
			scanned++
			page.Last = rec.Position
			if !q.Filter.match(rec) {
				continue
			}
			it, err := f.item(rec)
			if err != nil {
				return Page{}, err
			}
			page.Items = append(page.Items, it)
			if len(page.Items) == limit {
				page.Complete = true
				return page, nil
			}
		}
		if len(recs) < want {
			return page, nil // the end of the log
		}
		if scanned >= MaxScan {
			page.Complete = true
			return page, nil
		}
	}
}

func (f *Feed) item(rec ports.RecordedEvent) (Item, error) {
	e, err := query.HistoryEventOf(f.codec, rec)
	if err != nil {
		return Item{}, fmt.Errorf("event at position %d: %w", rec.Position, err)
	}
	return Item{StreamID: rec.StreamID, HistoryEvent: e}, nil
}

// Subscribe admits one follower, or fails with ErrTooManyFollowers or
// ErrClosed; pass the subscription to Follow, then close it.
func (f *Feed) Subscribe() (*Subscription, error) {
	if f.fanout == nil {
		return nil, ErrClosed
	}
	return f.fanout.Subscribe()
}

// Close ends every follow (they return ErrClosed) and refuses new ones:
// call it when the server begins to shut down.
func (f *Feed) Close() {
	if f.fanout != nil {
		f.fanout.Close()
	}
}

// Sink receives what a follow delivers. Its methods run on the follow's
// goroutine; an error ends the follow.
type Sink interface {
	// Event delivers the next matching event.
	Event(Item) error
	// Heartbeat is called every heartbeat interval.
	Heartbeat() error
	// Flush is called once the events ready to deliver are delivered,
	// before the follow waits for more.
	Flush() error
}

// FollowOptions say where a follow starts and what it delivers.
type FollowOptions struct {
	// After is the position to follow from: the last one the follower has.
	After  int64
	Filter Filter
	// Heartbeat is how long a follow may be silent; 0 never beats.
	Heartbeat time.Duration
}

// Follow delivers every matching event after o.After to sink, in position
// order, then waits for sub's wake-ups and delivers the events committed
// since, until ctx ends (its error), sub's broadcaster closes (ErrClosed),
// the store fails or sink fails (their error). Subscribe before reading
// anything the follower's position was taken from, so no commit is missed.
func (f *Feed) Follow(ctx context.Context, sub *Subscription, o FollowOptions, sink Sink) error {
	pos := o.After
	var beat <-chan time.Time
	if o.Heartbeat > 0 {
		t := time.NewTicker(o.Heartbeat)
		defer t.Stop()
		beat = t.C
	}
	for {
		for {
			// Caught up with the last notified head: nothing to read until
			// the next wake-up (no query per idle follower).
			if head, ok := sub.b.Head(); ok && pos >= head {
				break
			}
			items, fromLog, err := f.next(ctx, pos)
			if err != nil {
				return err
			}
			for _, it := range items {
				pos = it.Position
				if !o.Filter.matchItem(it) {
					continue
				}
				if err := sink.Event(it); err != nil {
					return err
				}
			}
			if err := sink.Flush(); err != nil {
				return err
			}
			if fromLog && len(items) < followBatch {
				break // the end of the log
			}
			select {
			case <-sub.Done():
				return ErrClosed
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
		if err := sink.Flush(); err != nil {
			return err
		}
		select {
		case <-sub.Wake():
		case <-beat:
			if err := sink.Heartbeat(); err != nil {
				return err
			}
		case <-sub.Done():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// next returns the events after pos, up to followBatch: from the ring of
// recent ones when it holds pos+1, otherwise read from the log (fromLog)
// and kept in the ring.
func (f *Feed) next(ctx context.Context, pos int64) (items []Item, fromLog bool, err error) {
	if items := f.recent.after(pos, followBatch); len(items) > 0 {
		return items, false, nil
	}
	recs, err := f.events.ReadAll(ctx, pos, followBatch)
	if err != nil {
		return nil, true, fmt.Errorf("follow the feed after %d: %w", pos, err)
	}
	items = make([]Item, len(recs))
	for i, rec := range recs {
		if items[i], err = f.item(rec); err != nil {
			return nil, true, err
		}
	}
	f.recent.put(items)
	return items, true, nil
}
