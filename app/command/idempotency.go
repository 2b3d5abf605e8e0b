package command

import (
	"context"
	"errors"
	"time"

	"invoices/ports"
)

// Idempotency is the idempotency key a command's request came with.
type Idempotency struct {
	// Scope is the caller (its API key's digest; "" without
	// authentication), Key the header's value, Fingerprint a digest of
	// the request (method, path, body).
	Scope, Key, Fingerprint string
}

type idempotencyKey struct{}

// WithIdempotency returns a context whose command is made idempotent by
// the Idempotent decorator with key.
func WithIdempotency(ctx context.Context, key Idempotency) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, key)
}

type claimKey struct{}

// idempotencyClaim is the record Idempotent asked the repository to store
// with the command's events, nil for none.
func idempotencyClaim(ctx context.Context) *ports.IdempotencyRecord {
	c, _ := ctx.Value(claimKey{}).(*ports.IdempotencyRecord)
	return c
}

// Idempotent makes a command named name answer a retry of a request with
// the same idempotency key (see WithIdempotency) as it answered the first,
// without running it again: the first run's outcome is recorded with its
// events, in their transaction, and a retry within ttl replays it: the
// invoice as of the version that run left it at, Result.Replayed set. A key
// reused for another request is ports.ErrIdempotencyKeyReused. A run that
// appended nothing (a validation error, an unknown invoice) records
// nothing, so the key can be used again. Without a key it is next.
//
// A command on an existing invoice looks its key up before it runs: run
// again, a pay that succeeded would fail as already paid before reaching
// the append that would find the key. A create (creates true) skips that
// read: its append finds the key under the head lock, and only when it
// fails before that does it look the key up.
//
// asOf returns an invoice as it was at a version: the event store's as-of
// read, so a replay shows what a GET with asOfVersion would.
func Idempotent[C any](next Handler[C], name string, creates bool, keys ports.IdempotencyStore, asOf AsOf, ttl time.Duration, now Clock) Handler[C] {
	return idempotent[C]{next: next, name: name, lookup: !creates, keys: keys, asOf: asOf, ttl: ttl, now: now}
}

// AsOf returns invoice id as it was at version.
type AsOf func(ctx context.Context, id string, version int) (ports.InvoiceView, error)

type idempotent[C any] struct {
	next   Handler[C]
	name   string
	lookup bool
	keys   ports.IdempotencyStore
	asOf   AsOf
	ttl    time.Duration
	now    Clock
}

func (h idempotent[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	key, ok := ctx.Value(idempotencyKey{}).(Idempotency)
	if !ok {
		return h.next.Handle(ctx, cmd)
	}
	if h.lookup {
		rec, err := h.keys.LookupIdempotency(ctx, key.Scope, key.Key)
		switch {
		case err == nil:
			return h.replay(ctx, key, rec)
		case !errors.Is(err, ports.ErrNotFound):
			return Result{}, err
		}
	}
	claim := &ports.IdempotencyRecord{
		Scope: key.Scope, Key: key.Key, Fingerprint: key.Fingerprint, Command: h.name,
		ExpiresAt: h.now().Add(h.ttl),
	}
	res, err := h.next.Handle(context.WithValue(ctx, claimKey{}, claim), cmd)
	// A request with the same key committed between the lookup and this
	// append (on another instance, say): its outcome is the answer.
	if used := (*ports.IdempotencyKeyUsedError)(nil); errors.As(err, &used) {
		return h.replay(ctx, key, used.Record)
	}
	// After an append whose outcome is unknown (the connection broke
	// before COMMIT was answered), the key's record tells: if it is this
	// run's own, the append committed. And a create refused before its
	// append (its due date has passed since the first run, say) may still
	// be the retry of one that ran.
	if err != nil && (!h.lookup || errors.Is(err, ports.ErrUnavailable)) {
		if rec, lerr := h.keys.LookupIdempotency(ctx, key.Scope, key.Key); lerr == nil {
			if claim.StreamID != "" && rec.StreamID == claim.StreamID && rec.Version == claim.Version {
				res, err := h.replay(ctx, key, rec)
				res.Replayed = false // this request's own outcome, recovered
				return res, err
			}
			return h.replay(ctx, key, rec)
		}
	}
	return res, err
}

// replay answers key's request from rec, the outcome of its first run.
func (h idempotent[C]) replay(ctx context.Context, key Idempotency, rec ports.IdempotencyRecord) (Result, error) {
	if rec.Fingerprint != key.Fingerprint || rec.Command != h.name {
		return Result{}, ports.ErrIdempotencyKeyReused
	}
	v, err := h.asOf(ctx, rec.StreamID, rec.Version)
	if err != nil {
		return Result{}, err
	}
	return Result{Invoice: v, Position: rec.Position, Replayed: true}, nil
}
