package command_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"invoices/app/command"
	"invoices/domain/invoice"
	"invoices/ports"
)

// scriptedHandler answers each call with respond(call number, ctx) and
// counts the calls.
type scriptedHandler struct {
	mu      sync.Mutex
	calls   int
	respond func(ctx context.Context, call int) (command.Result, error)
}

func (h *scriptedHandler) Handle(ctx context.Context, _ command.PayInvoice) (command.Result, error) {
	h.mu.Lock()
	h.calls++
	call := h.calls
	h.mu.Unlock()
	return h.respond(ctx, call)
}

func (h *scriptedHandler) callCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls
}

var okResult = command.Result{Invoice: ports.InvoiceView{ID: "inv-1", Version: 2, Seq: 7}, Position: 9}

func TestRetryOnConflict(t *testing.T) {
	conflict := ports.ErrConcurrencyConflict
	diskErr := errors.New("disk on fire")
	tests := []struct {
		name      string
		attempts  int
		failures  int   // calls that fail before one succeeds
		failWith  error // the error of each failing call
		wantCalls int
		wantErr   error // nil means the success result is returned
	}{
		{name: "success first time", attempts: 3, failures: 0, failWith: conflict, wantCalls: 1},
		{name: "one conflict then success", attempts: 3, failures: 1, failWith: conflict, wantCalls: 2},
		{name: "success on the last attempt", attempts: 3, failures: 2, failWith: conflict, wantCalls: 3},
		{name: "attempts exhausted", attempts: 3, failures: 3, failWith: conflict, wantCalls: 3, wantErr: conflict},
		{name: "attempts exhausted long before success", attempts: 3, failures: 10, failWith: conflict, wantCalls: 3, wantErr: conflict},
		{name: "single attempt is not retried", attempts: 1, failures: 1, failWith: conflict, wantCalls: 1, wantErr: conflict},
		{
			name: "wrapped conflict is retried", attempts: 3, failures: 2,
			failWith: fmt.Errorf("append invoice inv-1: %w", conflict), wantCalls: 3,
		},
		{
			name: "wrapped conflict exhausts attempts", attempts: 2, failures: 5,
			failWith: fmt.Errorf("append invoice inv-1: %w", conflict), wantCalls: 2, wantErr: conflict,
		},
		{name: "already paid is not retried", attempts: 3, failures: 1, failWith: invoice.ErrAlreadyPaid, wantCalls: 1, wantErr: invoice.ErrAlreadyPaid},
		{name: "not found is not retried", attempts: 3, failures: 1, failWith: ports.ErrNotFound, wantCalls: 1, wantErr: ports.ErrNotFound},
		{name: "unexpected error is not retried", attempts: 3, failures: 1, failWith: diskErr, wantCalls: 1, wantErr: diskErr},
		{
			name: "failed precondition is not retried", attempts: 3, failures: 1,
			failWith: ports.ErrPreconditionFailed, wantCalls: 1, wantErr: ports.ErrPreconditionFailed,
		},
		{
			name: "failed precondition wrapping a conflict is not retried", attempts: 3, failures: 1,
			failWith: fmt.Errorf("%w: %w", ports.ErrPreconditionFailed, conflict), wantCalls: 1, wantErr: ports.ErrPreconditionFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &scriptedHandler{respond: func(_ context.Context, call int) (command.Result, error) {
				if call <= tt.failures {
					return command.Result{}, tt.failWith
				}
				return okResult, nil
			}}
			retries := 0
			h := command.RetryOnConflict[command.PayInvoice](inner, tt.attempts, func() { retries++ })

			got, err := h.Handle(context.Background(), command.PayInvoice{ID: "inv-1"})

			if n := inner.callCount(); n != tt.wantCalls {
				t.Errorf("inner handler called %d times, want %d", n, tt.wantCalls)
			}
			if want := tt.wantCalls - 1; retries != want {
				t.Errorf("onRetry called %d times, want %d (once before each re-run)", retries, want)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Handle() error = %v, want errors.Is %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if diff := cmp.Diff(okResult, got, viewOpts); diff != "" {
				t.Errorf("Handle() result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryOnConflictStopsWhenTheContextEnds(t *testing.T) {
	tests := []struct {
		name         string
		cancelOnCall int // 0 cancels before Handle is called
		wantCalls    int
	}{
		{name: "cancelled before the first attempt", cancelOnCall: 0, wantCalls: 1},
		{name: "cancelled during the first attempt", cancelOnCall: 1, wantCalls: 1},
		{name: "cancelled during the second attempt", cancelOnCall: 2, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelOnCall == 0 {
				cancel()
			}
			inner := &scriptedHandler{respond: func(_ context.Context, call int) (command.Result, error) {
				if call == tt.cancelOnCall {
					cancel()
				}
				return command.Result{}, ports.ErrConcurrencyConflict
			}}
			h := command.RetryOnConflict[command.PayInvoice](inner, 10, nil) // nil onRetry is allowed

			_, err := h.Handle(ctx, command.PayInvoice{ID: "inv-1"})

			if !errors.Is(err, ports.ErrConcurrencyConflict) {
				t.Errorf("Handle() error = %v, want the last conflict", err)
			}
			if n := inner.callCount(); n != tt.wantCalls {
				t.Errorf("inner handler called %d times, want %d", n, tt.wantCalls)
			}
		})
	}
}

// fakeWaiter is a command.ProjectionWaiter that records the positions it was
// asked for and the context error it saw when it returned.
type fakeWaiter struct {
	mu        sync.Mutex
	positions []int64
	ctxErrs   []error
	wait      func(ctx context.Context) error
}

func (w *fakeWaiter) WaitFor(ctx context.Context, position int64) error {
	err := w.wait(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.positions = append(w.positions, position)
	w.ctxErrs = append(w.ctxErrs, ctx.Err())
	return err
}

func (w *fakeWaiter) seen() (positions []int64, ctxErrs []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.positions, w.ctxErrs
}

// reached models a read model that is already at the position.
func reached(context.Context) error { return nil }

// lagging models a read model that never reaches the position: it waits for
// the context to end. The five-second escape only keeps a broken decorator
// from hanging the test; the assertions then report that the wait was never
// cut short.
func lagging(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
		return errors.New("wait was not bounded by the decorator's timeout")
	}
}

func TestReadYourWrites(t *testing.T) {
	innerErr := fmt.Errorf("append invoice inv-1: %w", ports.ErrConcurrencyConflict)
	tests := []struct {
		name          string
		innerErr      error
		wait          func(context.Context) error
		timeout       time.Duration
		cancelCaller  bool
		wantProjected bool
		wantErr       error
		wantWaits     []int64
		wantCtxErr    error // when set, the context error the waiter must have seen on return
		wantWarnings  int
	}{
		{
			name:          "read model reaches the position",
			wait:          reached,
			timeout:       time.Millisecond,
			wantProjected: true,
			wantWaits:     []int64{okResult.Position},
		},
		{
			name:       "read model lags past the timeout",
			wait:       lagging,
			timeout:    time.Millisecond,
			wantWaits:  []int64{okResult.Position},
			wantCtxErr: context.DeadlineExceeded,
			// The client is answered without the projection; the operator is told.
			wantWarnings: 1,
		},
		{
			name:         "waiter fails",
			wait:         func(context.Context) error { return errors.New("projector stopped") },
			timeout:      time.Millisecond,
			wantWaits:    []int64{okResult.Position},
			wantWarnings: 1,
		},
		{
			name:         "caller gives up",
			wait:         lagging,
			timeout:      time.Millisecond,
			cancelCaller: true,
			wantWaits:    []int64{okResult.Position},
			wantCtxErr:   context.Canceled,
			// The caller left; there is no reply to warn about.
			wantWarnings: 0,
		},
		{
			name:          "no wait configured, read model already there",
			wait:          reached,
			timeout:       0,
			wantProjected: true,
			wantWaits:     []int64{okResult.Position},
		},
		{
			// Lag is expected without a wait, so it is not logged.
			name:         "no wait configured, read model behind",
			wait:         lagging,
			timeout:      0,
			wantWaits:    []int64{okResult.Position},
			wantCtxErr:   context.DeadlineExceeded,
			wantWarnings: 0,
		},
		{
			name:     "inner error passes through without waiting",
			innerErr: innerErr,
			wait:     reached,
			timeout:  time.Millisecond,
			wantErr:  innerErr,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			inner := &scriptedHandler{respond: func(context.Context, int) (command.Result, error) {
				if tt.innerErr != nil {
					return command.Result{}, tt.innerErr
				}
				if tt.cancelCaller {
					cancel()
				}
				return okResult, nil
			}}
			waiter := &fakeWaiter{wait: tt.wait}
			core, logs := observer.New(zapcore.WarnLevel)
			h := command.ReadYourWrites[command.PayInvoice](inner, waiter, tt.timeout, zap.New(core))

			got, err := h.Handle(ctx, command.PayInvoice{ID: "inv-1"})

			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Handle() error = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			want := command.Result{}
			if tt.innerErr == nil {
				want = okResult
				want.Projected = tt.wantProjected
			}
			if diff := cmp.Diff(want, got, viewOpts); diff != "" {
				t.Errorf("Handle() result mismatch (-want +got):\n%s", diff)
			}
			positions, ctxErrs := waiter.seen()
			if diff := cmp.Diff(tt.wantWaits, positions); diff != "" {
				t.Errorf("WaitFor positions mismatch (-want +got):\n%s", diff)
			}
			if tt.wantCtxErr != nil && len(ctxErrs) == 1 && !errors.Is(ctxErrs[0], tt.wantCtxErr) {
				t.Errorf("WaitFor returned with context error %v, want %v", ctxErrs[0], tt.wantCtxErr)
			}
			if got := logs.Len(); got != tt.wantWarnings {
				t.Errorf("logged %d warnings, want %d: %v", got, tt.wantWarnings, logs.All())
			}
		})
	}
}
