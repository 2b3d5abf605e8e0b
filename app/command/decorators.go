package command

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"invoices/app/outcome"
	"invoices/ports"
)

// RetryOnConflict re-runs a handler that lost an optimistic-concurrency race,
// up to attempts times in all. Each run reloads the aggregate and decides
// again, so a second pay of one invoice ends as invoice.ErrAlreadyPaid rather
// than as a conflict. Only safe for handlers that load before they decide.
// A conditional command's failed precondition (ports.ErrPreconditionFailed)
// is never retried, even wrapped with a conflict: its caller asked for one
// version, and deciding again on another would do what it did not ask.
// onRetry, if not nil, is called before each re-run.
func RetryOnConflict[C any](next Handler[C], attempts int, onRetry func()) Handler[C] {
	return retryOnConflict[C]{next: next, attempts: attempts, onRetry: onRetry}
}

type retryOnConflict[C any] struct {
	next     Handler[C]
	attempts int
	onRetry  func()
}

func (d retryOnConflict[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	for attempt := 1; ; attempt++ {
		res, err := d.next.Handle(ctx, cmd)
		if err == nil || !errors.Is(err, ports.ErrConcurrencyConflict) || errors.Is(err, ports.ErrPreconditionFailed) ||
			attempt >= d.attempts || ctx.Err() != nil {
			return res, err
		}
		if d.onRetry != nil {
			d.onRetry()
		}
	}
}

// ProjectionWaiter blocks until the read model has applied every event up to
// a global position.
type ProjectionWaiter interface {
	WaitFor(ctx context.Context, position int64) error
}

// ReadYourWrites makes a handler return only once the read model has reached
// the events it appended, or timeout has passed. A timeout is not an error:
// the events are durable, so the result is returned with Projected false and
// the caller decides how to warn its client.
func ReadYourWrites[C any](next Handler[C], waiter ProjectionWaiter, timeout time.Duration, log *zap.Logger) Handler[C] {
	return readYourWrites[C]{next: next, waiter: waiter, timeout: timeout, log: log}
}

type readYourWrites[C any] struct {
	next    Handler[C]
	waiter  ProjectionWaiter
	timeout time.Duration
	log     *zap.Logger
}

func (d readYourWrites[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	res, err := d.next.Handle(ctx, cmd)
	if err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := d.waiter.WaitFor(wctx, res.Position); err != nil {
		// With no wait configured, lag is expected and not worth a log line.
		if ctx.Err() == nil && d.timeout > 0 {
			d.log.Warn("read model did not catch up before the reply",
				zap.Int64("position", res.Position), zap.Duration("waited", d.timeout))
		}
		return res, nil
	}
	res.Projected = true
	return res, nil
}

// Recorder receives command telemetry; the metrics adapter implements it.
type Recorder interface {
	CommandHandled(command, outcome string, d time.Duration)
	CommandRetried(command string)
}

// Outcome is the metrics label of a command's error: the label of its
// outcome.Classify class, the same class the HTTP problem is chosen by.
func Outcome(err error) string {
	return outcome.Classify(err).Label()
}

// Observe reports each command's outcome and latency to rec under name.
func Observe[C any](next Handler[C], name string, rec Recorder) Handler[C] {
	return observe[C]{next: next, name: name, rec: rec}
}

type observe[C any] struct {
	next Handler[C]
	name string
	rec  Recorder
}

func (d observe[C]) Handle(ctx context.Context, cmd C) (Result, error) {
	start := time.Now()
	res, err := d.next.Handle(ctx, cmd)
	d.rec.CommandHandled(d.name, Outcome(err), time.Since(start))
	return res, err
}
