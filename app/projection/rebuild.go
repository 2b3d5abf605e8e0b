package projection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"invoices/domain/event"
	"invoices/ports"
)

// DefaultRebuildBatchSize is the number of events a rebuild reads, folds and
// writes per transaction when RebuildOptions.BatchSize is zero. Large
// batches are what make a rebuild fast: one multi-row INSERT per few
// thousand invoices instead of one statement per event.
const DefaultRebuildBatchSize = 10_000

// discardTimeout bounds dropping the rebuilt model after a failure, which
// runs even when the caller's context has ended.
const discardTimeout = 30 * time.Second

// RebuildOptions tunes Rebuild.
type RebuildOptions struct {
	// BatchSize is the most events folded and written in one transaction;
	// zero means DefaultRebuildBatchSize.
	BatchSize int
	// OnlyIfStale makes the rebuild a no-op (Skipped) when the live read
	// model is at this release's ports.ReadModelVersion once the rebuild
	// holds the store's exclusive lock: an instance that lost the race to
	// upgrade the model does not rebuild it a second time.
	OnlyIfStale bool
	// Progress, when set, is called after every batch the rebuilt model
	// commits, and once more with Done set after the swap. Calls come from
	// one goroutine, one at a time, and hold up the rebuild while they run.
	Progress func(RebuildProgress)
}

// RebuildProgress is how far a rebuild has got.
type RebuildProgress struct {
	// Position is the last event applied to the rebuilt model.
	Position int64
	// Head is the event store's head when last read; it grows while
	// commands append during the rebuild.
	Head int64
	// Elapsed is the time since the rebuild started.
	Elapsed time.Duration
	// Done is set on the last call, once the rebuilt model is live.
	Done bool
}

// RebuildResult describes a rebuild that completed.
type RebuildResult struct {
	// Position is the checkpoint the rebuilt read model went live at.
	Position int64
	// Elapsed is the rebuild's duration, the swap included.
	Elapsed time.Duration
	// Skipped reports that OnlyIfStale found the model current: nothing
	// was rebuilt.
	Skipped bool
}

// EventsPerSecond is the rebuild's throughput.
func (r RebuildResult) EventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Position) / r.Elapsed.Seconds()
}

// Rebuild replays the whole event store into a fresh invoice read model
// built beside the live one, then swaps it in atomically: readers see the old
// model until the new one is complete and at least as far as the live
// projector. It decodes and applies events exactly as the live projector
// does (same codec, same apply), so a gap, an undecodable event or one the
// read model refuses aborts it with the event's position, and the old model
// stays in place. A running service's projector carries on from the swapped
// checkpoint.
//
// Reading and folding the next batch overlaps with writing the previous one.
func Rebuild(ctx context.Context, events ports.EventStore, store ports.ReadModelRebuilder, codec *event.Registry, opts RebuildOptions) (res RebuildResult, err error) {
	start := time.Now()
	size := opts.BatchSize
	if size <= 0 {
		size = DefaultRebuildBatchSize
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(RebuildProgress) {}
	}
	rb, err := store.StartRebuild(ctx, InvoicesProjector)
	if err != nil {
		return res, fmt.Errorf("start rebuild: %w", err)
	}
	defer func() {
		// After a successful swap this only ends the rebuild; after a
		// failure it drops the half-built model.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
		defer cancel()
		if derr := rb.Discard(dctx); derr != nil {
			err = errors.Join(err, fmt.Errorf("discard rebuilt read model: %w", derr))
		}
	}()

	if opts.OnlyIfStale {
		version, err := store.ReadModelVersion(ctx)
		if err != nil {
			return res, err
		}
		if version == ports.ReadModelVersion {
			return RebuildResult{Skipped: true, Elapsed: time.Since(start)}, nil
		}
	}
	head, err := events.Head(ctx)
	if err != nil {
		return res, fmt.Errorf("read head: %w", err)
	}
	progress(RebuildProgress{Head: head, Elapsed: time.Since(start)})

	r := &replay{events: events, codec: codec, size: size}
	pos, head, err := r.bulk(ctx, rb, head, func(pos, head int64) {
		progress(RebuildProgress{Position: pos, Head: head, Elapsed: time.Since(start)})
	})
	if err != nil {
		return res, err
	}
	// Events appended since the bulk replay ran dry, and anything the live
	// projector has applied meanwhile, go in inside the swap transaction,
	// while the live checkpoint is locked.
	swapped, err := rb.Swap(ctx, func(ctx context.Context, live int64, w ports.RebuildWriter) error {
		h, err := events.Head(ctx)
		if err != nil {
			return fmt.Errorf("read head: %w", err)
		}
		head = max(h, head)
		target := max(live, h)
		// From pos every time: if the store retries the swap, the writes
		// of the failed attempt were rolled back with it.
		for at := pos; at < target; {
			b, err := r.next(ctx, at)
			if err != nil {
				return err
			}
			if b.n == 0 {
				return fmt.Errorf("catch up to %d: no events after %d", target, at)
			}
			if err := w.Apply(ctx, b.from, b.to, b.changes); err != nil {
				return fmt.Errorf("apply events %d-%d: %w", b.from+1, b.to, err)
			}
			at = b.to
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("swap in rebuilt read model: %w", err)
	}
	res = RebuildResult{Position: swapped, Elapsed: time.Since(start)}
	progress(RebuildProgress{Position: swapped, Head: max(head, swapped), Elapsed: res.Elapsed, Done: true})
	return res, nil
}

// replay reads, decodes and folds batches of events.
type replay struct {
	events ports.EventStore
	codec  *event.Registry
	size   int
}

// batch is the folded events at positions from+1..to.
type batch struct {
	from, to int64
	n        int
	head     int64
	changes  ports.InvoiceChanges
	err      error
}

// bulk replays the event store into w from position 0 until a read finds
// nothing new. It returns the position reached and the head last read,
// starting from head. A reader goroutine reads and folds the next batch
// while this one writes.
func (r *replay) bulk(ctx context.Context, w ports.RebuildWriter, head int64, progress func(pos, head int64)) (int64, int64, error) {
	var pos int64
	ctx, cancel := context.WithCancel(ctx)
	batches := make(chan batch, 1)
	defer func() {
		// Stop the reader and wait for it: nothing may use the event store
		// behind the caller's back once this returns.
		cancel()
		for range batches {
		}
	}()
	go func() {
		defer close(batches)
		var from int64
		for {
			b, err := r.next(ctx, from)
			if err == nil && b.n > 0 {
				b.head, err = r.events.Head(ctx)
				if err != nil {
					err = fmt.Errorf("read head: %w", err)
				}
			}
			if err != nil {
				b.err = err
			}
			if b.n == 0 && b.err == nil {
				return // caught up with the head
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
			from = b.to
		}
	}()
	for b := range batches {
		if b.err != nil {
			return pos, head, b.err
		}
		if err := ctx.Err(); err != nil {
			return pos, head, err
		}
		if err := w.Apply(ctx, b.from, b.to, b.changes); err != nil {
			return pos, head, fmt.Errorf("apply events %d-%d: %w", b.from+1, b.to, err)
		}
		pos, head = b.to, max(b.head, b.to)
		progress(pos, head)
	}
	// The reader also stops when ctx ends; that is not "caught up".
	if err := ctx.Err(); err != nil {
		return pos, head, err
	}
	return pos, head, nil
}

// next reads the batch after position from and folds it.
func (r *replay) next(ctx context.Context, from int64) (batch, error) {
	records, err := r.events.ReadAll(ctx, from, r.size)
	if err != nil {
		return batch{}, fmt.Errorf("read events after %d: %w", from, err)
	}
	changes, to, err := foldBatch(r.codec, from, records)
	if err != nil {
		return batch{}, err
	}
	return batch{from: from, to: to, n: len(records), changes: changes}, nil
}
