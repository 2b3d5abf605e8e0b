package projection_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"invoices/app/projection"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

var (
	createdA = time.Date(2024, 5, 1, 10, 0, 0, 111111000, time.UTC)
	createdB = time.Date(2024, 5, 1, 11, 0, 0, 222222000, time.UTC)
	createdC = time.Date(2024, 5, 1, 12, 0, 0, 333333000, time.UTC)
	paidA    = time.Date(2024, 5, 2, 9, 0, 0, 444444000, time.UTC)
	paidC    = time.Date(2024, 5, 2, 10, 0, 0, 555555000, time.UTC)
)

func createdEvent(id string, amount invoice.Amount, at time.Time) invoice.Created {
	return invoice.Created{InvoiceID: id, CustomerID: "cust-" + id, Amount: amount, Currency: eur, CreatedAt: at}
}

func paidEvent(id string, at time.Time) invoice.Paid {
	return invoice.Paid{InvoiceID: id, PaidAt: at}
}

func newProjector(events ports.EventStore, store ports.ProjectionStore, c *event.Registry, batchSize int) *projection.Projector {
	// The poll interval is long so that only Wake (or WaitFor) drives the
	// background loop in tests.
	return projection.New(events, store, c, zap.NewNop(), projection.Options{BatchSize: batchSize, PollInterval: time.Hour})
}

func pending(id string, amount invoice.Amount, version int, seq int64, at time.Time) ports.InvoiceView {
	return ports.InvoiceView{
		ID: id, CustomerID: "cust-" + id, Amount: amount, Currency: eur, Status: invoice.StatusPending,
		Version: version, Seq: seq, CreatedAt: at, UpdatedAt: at,
	}
}

func paid(v ports.InvoiceView, version int, at time.Time) ports.InvoiceView {
	v.Status, v.Version, v.UpdatedAt, v.PaidAt = invoice.StatusPaid, version, at, &at
	return v
}

func TestStepAppliesEventsInOrder(t *testing.T) {
	tests := []struct {
		name    string
		records func(t *testing.T) []ports.RecordedEvent
		want    []ports.InvoiceView
	}{
		{
			name: "created",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA))}
			},
			want: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA)},
		},
		{
			name: "created then paid",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-a", 2, paidEvent("inv-a", paidA)),
				}
			},
			want: []ports.InvoiceView{paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA)},
		},
		{
			name: "interleaved streams",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
					rec(t, 3, "inv-a", 2, paidEvent("inv-a", paidA)),
					rec(t, 4, "inv-c", 1, createdEvent("inv-c", invoice.MaxAmount, createdC)),
					rec(t, 5, "inv-c", 2, paidEvent("inv-c", paidC)),
				}
			},
			want: []ports.InvoiceView{
				paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA),
				pending("inv-b", 25000, 1, 2, createdB),
				paid(pending("inv-c", invoice.MaxAmount, 1, 4, createdC), 2, paidC),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, store := &memEventStore{}, newMemProjectionStore()
			records := tt.records(t)
			events.add(records...)
			p := newProjector(events, store, codec(t), 100)
			last := records[len(records)-1].Position

			n, err := p.Step(context.Background())

			if err != nil {
				t.Fatalf("Step() error = %v, want nil", err)
			}
			if n != len(records) {
				t.Errorf("Step() = %d, want %d", n, len(records))
			}
			if got := p.Position(); got != last {
				t.Errorf("Position() = %d, want %d", got, last)
			}
			if got := store.checkpoint(projection.InvoicesProjector); got != last {
				t.Errorf("stored checkpoint = %d, want %d", got, last)
			}
			if diff := cmp.Diff([]projectCall{{From: 0, To: last}}, store.projectCalls()); diff != "" {
				t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, store.snapshot(), viewOpts); diff != "" {
				t.Errorf("read model mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A batch that cannot be applied in full is not applied at all, and the
// projector never moves past it: the next Step fails the same way.
func TestStepStopsAtABadEvent(t *testing.T) {
	createdJSON := func(id string) string {
		return `{"invoiceId":"` + id + `","customerId":"c","amount":1,"createdAt":"2024-05-01T10:00:00Z"}`
	}
	tests := []struct {
		name         string
		batchSize    int
		records      []ports.RecordedEvent
		wantErrIn    string // a substring the error must contain
		wantErrIs    error
		wantPosition int64
		wantStatus   map[string]invoice.Status // the read model, by id
	}{
		{
			name:      "gap in positions",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-b", 1, invoice.CreatedEventName, createdJSON("inv-b")),
				raw(4, "inv-c", 1, invoice.CreatedEventName, createdJSON("inv-c")),
			},
			wantErrIn:  "4",
			wantStatus: map[string]invoice.Status{},
		},
		{
			name:      "gap in a later batch",
			batchSize: 2,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-b", 1, invoice.CreatedEventName, createdJSON("inv-b")),
				raw(4, "inv-c", 1, invoice.CreatedEventName, createdJSON("inv-c")),
				raw(5, "inv-d", 1, invoice.CreatedEventName, createdJSON("inv-d")),
			},
			wantErrIn:    "4",
			wantPosition: 2,
			wantStatus:   map[string]invoice.Status{"inv-a": invoice.StatusPending, "inv-b": invoice.StatusPending},
		},
		{
			name:      "first position missing",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(2, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
			},
			wantStatus: map[string]invoice.Status{},
		},
		{
			name:      "unknown event type",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-a", 2, "invoice.refunded", `{"invoiceId":"inv-a"}`),
			},
			wantErrIn:  "position 2",
			wantErrIs:  event.ErrUnknownType,
			wantStatus: map[string]invoice.Status{},
		},
		{
			name:      "corrupt JSON",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-b", 1, invoice.CreatedEventName, `{"invoiceId":`),
			},
			wantErrIn:  "position 2",
			wantStatus: map[string]invoice.Status{},
		},
		{
			name:      "payload the domain rejects",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-b", 1, invoice.CreatedEventName, `{"invoiceId":"inv-b","customerId":"c","amount":0,"createdAt":"2024-05-01T10:00:00Z"}`),
			},
			wantErrIn:  "position 2",
			wantStatus: map[string]invoice.Status{},
		},
		{
			// Decoding succeeds; the read model refuses the change inside the
			// transaction, so the created event before it must roll back too.
			name:      "paid for an invoice the read model lacks",
			batchSize: 10,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-x", 2, invoice.PaidEventName, `{"invoiceId":"inv-x","paidAt":"2024-05-02T09:00:00Z"}`),
			},
			wantErrIn:  "position 2",
			wantErrIs:  ports.ErrNotFound,
			wantStatus: map[string]invoice.Status{},
		},
		{
			name:      "unknown event type in a later batch",
			batchSize: 2,
			records: []ports.RecordedEvent{
				raw(1, "inv-a", 1, invoice.CreatedEventName, createdJSON("inv-a")),
				raw(2, "inv-b", 1, invoice.CreatedEventName, createdJSON("inv-b")),
				raw(3, "inv-a", 2, invoice.PaidEventName, `{"invoiceId":"inv-a","paidAt":"2024-05-02T09:00:00Z"}`),
				raw(4, "inv-a", 3, "invoice.refunded", `{"invoiceId":"inv-a"}`),
			},
			wantErrIn:    "position 4",
			wantErrIs:    event.ErrUnknownType,
			wantPosition: 2,
			// inv-a's payment shares the failing batch, so it is not applied.
			wantStatus: map[string]invoice.Status{"inv-a": invoice.StatusPending, "inv-b": invoice.StatusPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			events, store := &memEventStore{}, newMemProjectionStore()
			events.add(tt.records...)
			p := newProjector(events, store, codec(t), tt.batchSize)

			var err error
			for range len(tt.records) + 1 {
				var n int
				if n, err = p.Step(ctx); err != nil || n == 0 {
					break
				}
			}

			if err == nil {
				t.Fatalf("Step() never failed; Position() = %d", p.Position())
			}
			if !strings.Contains(err.Error(), tt.wantErrIn) {
				t.Errorf("Step() error = %q, want it to mention %q", err, tt.wantErrIn)
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Errorf("Step() error = %v, want errors.Is %v", err, tt.wantErrIs)
			}
			assertStalled(t, p, store, tt.wantPosition, tt.wantStatus)

			// The projector retries the same batch rather than skipping it.
			n, err := p.Step(ctx)
			if err == nil || n != 0 {
				t.Errorf("Step() again = %d, %v; want 0 and the same error", n, err)
			}
			assertStalled(t, p, store, tt.wantPosition, tt.wantStatus)
		})
	}
}

func assertStalled(t *testing.T, p *projection.Projector, store *memProjectionStore, wantPosition int64, wantStatus map[string]invoice.Status) {
	t.Helper()
	if got := p.Position(); got != wantPosition {
		t.Errorf("Position() = %d, want %d", got, wantPosition)
	}
	if got := store.checkpoint(projection.InvoicesProjector); got != wantPosition {
		t.Errorf("stored checkpoint = %d, want %d", got, wantPosition)
	}
	gotStatus := map[string]invoice.Status{}
	for _, v := range store.snapshot() {
		gotStatus[v.ID] = v.Status
	}
	if diff := cmp.Diff(wantStatus, gotStatus); diff != "" {
		t.Errorf("read model mismatch (-want +got):\n%s", diff)
	}
}

// Another projector (another process) applied events 1-2 first; this one
// must notice, adopt the stored checkpoint and continue from event 3 without
// applying 1-2 twice.
func TestStepReloadsTheCheckpointAfterAConflict(t *testing.T) {
	ctx := context.Background()
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
		rec(t, 3, "inv-a", 2, paidEvent("inv-a", paidA)),
		rec(t, 4, "inv-c", 1, createdEvent("inv-c", 30000, createdC)),
	)
	store.setCheckpoint(projection.InvoicesProjector, 2,
		pending("inv-a", 199900, 1, 1, createdA),
		pending("inv-b", 25000, 1, 2, createdB),
	)
	p := newProjector(events, store, codec(t), 100)

	n, err := p.Step(ctx)

	if err != nil || n != 0 {
		t.Fatalf("Step() on a stale checkpoint = %d, %v; want 0, nil", n, err)
	}
	if got := p.Position(); got != 2 {
		t.Fatalf("Position() after the conflict = %d, want 2 (reloaded from the store)", got)
	}

	n, err = p.Step(ctx)

	if err != nil || n != 2 {
		t.Fatalf("Step() after reloading = %d, %v; want 2, nil", n, err)
	}
	if got := p.Position(); got != 4 {
		t.Errorf("Position() = %d, want 4", got)
	}
	if diff := cmp.Diff([]projectCall{{From: 0, To: 4}, {From: 2, To: 4}}, store.projectCalls()); diff != "" {
		t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
	}
	want := []ports.InvoiceView{
		paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA),
		pending("inv-b", 25000, 1, 2, createdB),
		pending("inv-c", 30000, 1, 4, createdC),
	}
	if diff := cmp.Diff(want, store.snapshot(), viewOpts); diff != "" {
		t.Errorf("read model mismatch (-want +got):\n%s", diff)
	}
}

func TestStepRespectsBatchSize(t *testing.T) {
	tests := []struct {
		batchSize    int
		wantCounts   []int
		wantProjects []projectCall
	}{
		{batchSize: 1, wantCounts: []int{1, 1, 1, 1, 1, 0}, wantProjects: []projectCall{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}},
		{batchSize: 2, wantCounts: []int{2, 2, 1, 0}, wantProjects: []projectCall{{0, 2}, {2, 4}, {4, 5}}},
		{batchSize: 5, wantCounts: []int{5, 0}, wantProjects: []projectCall{{0, 5}}},
		{batchSize: 100, wantCounts: []int{5, 0}, wantProjects: []projectCall{{0, 5}}},
	}
	for _, tt := range tests {
		t.Run("batch size "+strconv.Itoa(tt.batchSize), func(t *testing.T) {
			events, store := &memEventStore{}, newMemProjectionStore()
			events.add(fiveInvoices(t)...)
			p := newProjector(events, store, codec(t), tt.batchSize)

			var counts []int
			var positions []int64
			for range tt.wantCounts {
				n, err := p.Step(context.Background())
				if err != nil {
					t.Fatalf("Step() error = %v", err)
				}
				counts = append(counts, n)
				positions = append(positions, p.Position())
			}

			if diff := cmp.Diff(tt.wantCounts, counts); diff != "" {
				t.Errorf("Step() counts mismatch (-want +got):\n%s", diff)
			}
			var wantPositions []int64
			var sum int64
			for _, n := range tt.wantCounts {
				sum += int64(n)
				wantPositions = append(wantPositions, sum)
			}
			if diff := cmp.Diff(wantPositions, positions); diff != "" {
				t.Errorf("Position() after each Step mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantProjects, store.projectCalls()); diff != "" {
				t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
			}
			if got := len(store.snapshot()); got != 5 {
				t.Errorf("read model holds %d invoices, want 5", got)
			}
		})
	}
}

// fiveInvoices is five created events at positions 1-5.
func fiveInvoices(t *testing.T) []ports.RecordedEvent {
	t.Helper()
	var out []ports.RecordedEvent
	for i, id := range []string{"inv-1", "inv-2", "inv-3", "inv-4", "inv-5"} {
		out = append(out, rec(t, int64(i+1), id, 1, createdEvent(id, 100, createdA.Add(time.Duration(i)*time.Minute))))
	}
	return out
}

func TestWaitForReturnsAtOnceWhenAlreadyThere(t *testing.T) {
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(fiveInvoices(t)[:3]...)
	p := newProjector(events, store, codec(t), 100)
	if _, err := p.Step(context.Background()); err != nil {
		t.Fatalf("Step() error = %v", err)
	}
	for _, position := range []int64{0, 1, 3} {
		// Nothing else advances the projector, so only an immediate return
		// beats the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := p.WaitFor(ctx, position)
		cancel()
		if err != nil {
			t.Errorf("WaitFor(%d) at position 3 = %v, want nil", position, err)
		}
	}
}

func TestWaitForReturnsOnceAStepPassesThePosition(t *testing.T) {
	tests := []struct {
		name      string
		batchSize int
		position  int64
	}{
		{name: "one step", batchSize: 100, position: 3},
		{name: "several steps", batchSize: 1, position: 3},
		{name: "position inside a batch", batchSize: 2, position: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, store := &memEventStore{}, newMemProjectionStore()
			events.add(fiveInvoices(t)...)
			p := newProjector(events, store, codec(t), tt.batchSize)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			type result struct {
				err error
				at  int64
			}
			done := make(chan result, 1)
			go func() {
				err := p.WaitFor(ctx, tt.position)
				done <- result{err: err, at: p.Position()}
			}()

			// Step in this goroutine; the waiter must not return before the
			// position is reached.
			for p.Position() < tt.position {
				select {
				case r := <-done:
					t.Fatalf("WaitFor(%d) returned %v at position %d, before the position was reached", tt.position, r.err, r.at)
				default:
				}
				if _, err := p.Step(ctx); err != nil {
					t.Fatalf("Step() error = %v", err)
				}
			}
			r := <-done

			if r.err != nil {
				t.Errorf("WaitFor(%d) = %v, want nil", tt.position, r.err)
			}
			if r.at < tt.position {
				t.Errorf("WaitFor(%d) returned at position %d", tt.position, r.at)
			}
		})
	}
}

// WaitFor must not take "the position moved" for "the position was
// reached". The projector stops short of the position and the caller then
// gives up, so the only right answer is the context error. Whether the
// waiter is already blocked when the projector moves depends on scheduling,
// so the scenario repeats; a correct WaitFor passes every round.
func TestWaitForKeepsWaitingWhileShortOfThePosition(t *testing.T) {
	for round := range 50 {
		events, store := &memEventStore{}, newMemProjectionStore()
		events.add(fiveInvoices(t)...)
		p := newProjector(events, store, codec(t), 1)
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			close(started)
			done <- p.WaitFor(ctx, 3)
		}()
		<-started
		runtime.Gosched()

		for range 2 { // to position 2 of 3
			if _, err := p.Step(context.Background()); err != nil {
				t.Fatalf("Step() error = %v", err)
			}
		}
		cancel()

		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: WaitFor(3) at position %d = %v, want context.Canceled", round, p.Position(), err)
		}
	}
}

func TestWaitForReturnsTheContextError(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name: "deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Millisecond)
			},
			wantErr: context.DeadlineExceeded,
		},
		{
			name: "cancelled",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, store := &memEventStore{}, newMemProjectionStore()
			events.add(fiveInvoices(t)...)
			p := newProjector(events, store, codec(t), 100) // never stepped
			ctx, cancel := tt.ctx()
			defer cancel()

			err := p.WaitFor(ctx, 1)

			if !errors.Is(err, tt.wantErr) {
				t.Errorf("WaitFor() = %v, want %v", err, tt.wantErr)
			}
			if got := p.Position(); got != 0 {
				t.Errorf("Position() = %d, want 0", got)
			}
		})
	}
}

// Start resumes from the stored checkpoint, the loop projects what is
// appended after a Wake, and Stop ends the loop.
func TestStartProjectsNewEventsUntilStop(t *testing.T) {
	ctx := context.Background()
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
	)
	// A previous run projected 1-2.
	store.setCheckpoint(projection.InvoicesProjector, 2,
		pending("inv-a", 199900, 1, 1, createdA),
		pending("inv-b", 25000, 1, 2, createdB),
	)
	p := newProjector(events, store, codec(t), 100)

	if err := p.Start(ctx); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = p.Stop(context.Background())
		}
	})
	if got := p.Position(); got != 2 {
		t.Errorf("Position() after Start = %d, want the stored checkpoint 2", got)
	}
	// Let the loop finish its catch-up read, so the events below arrive
	// while it idles and only Wake can bring them in (the poll is an hour).
	waitUntil(t, "the loop read the store", func() bool { return events.readAllCalls() >= 1 })

	events.add(
		rec(t, 3, "inv-c", 1, createdEvent("inv-c", 30000, createdC)),
		rec(t, 4, "inv-c", 2, paidEvent("inv-c", paidC)),
	)
	p.Wake()
	waitUntil(t, "Position() reaches the head 4", func() bool { return p.Position() == 4 })

	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := p.Stop(stopCtx); err != nil {
		t.Fatalf("Stop() error = %v", err)
	}
	stopped = true

	if diff := cmp.Diff([]projectCall{{From: 2, To: 4}}, store.projectCalls()); diff != "" {
		t.Errorf("Project calls mismatch (-want +got):\n%s", diff)
	}
	want := []ports.InvoiceView{
		pending("inv-a", 199900, 1, 1, createdA),
		pending("inv-b", 25000, 1, 2, createdB),
		paid(pending("inv-c", 30000, 1, 3, createdC), 2, paidC),
	}
	if diff := cmp.Diff(want, store.snapshot(), viewOpts); diff != "" {
		t.Errorf("read model mismatch (-want +got):\n%s", diff)
	}
}

// A stalled loop (retrying a bad event with backoff) still stops promptly.
func TestStopEndsAStalledLoop(t *testing.T) {
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(raw(1, "inv-a", 1, "invoice.refunded", `{}`))
	p := newProjector(events, store, codec(t), 100)
	if err := p.Start(context.Background()); err != nil {
		t.Fatalf("Start() error = %v", err)
	}
	waitUntil(t, "the loop read the store", func() bool { return events.readAllCalls() >= 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop() error = %v, want nil", err)
	}
	if got := p.Position(); got != 0 {
		t.Errorf("Position() = %d, want 0", got)
	}
}

func TestStartFailsWhenTheCheckpointCannotBeRead(t *testing.T) {
	events, store := &memEventStore{}, newMemProjectionStore()
	store.checkpointErr = errCheckpointUnavailable
	p := newProjector(events, store, codec(t), 100)

	if err := p.Start(context.Background()); !errors.Is(err, errCheckpointUnavailable) {
		t.Fatalf("Start() error = %v, want %v", err, errCheckpointUnavailable)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop() after a failed Start = %v, want nil", err)
	}
	if got := events.readAllCalls(); got != 0 {
		t.Errorf("ReadAll called %d times after a failed Start, want 0", got)
	}
}

func TestStopWithoutStart(t *testing.T) {
	p := newProjector(&memEventStore{}, newMemProjectionStore(), codec(t), 100)
	if err := p.Stop(context.Background()); err != nil {
		t.Errorf("Stop() = %v, want nil", err)
	}
}

// Committed (a commit notification) wakes the loop only for events it has
// not applied: its own appends' notifications arrive after their commands
// woke it, and each needless wake costs a read of the event store.
func TestCommittedWakesOnlyWhenBehind(t *testing.T) {
	ctx := context.Background()
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
	)
	store.setCheckpoint(projection.InvoicesProjector, 2,
		pending("inv-a", 199900, 1, 1, createdA),
		pending("inv-b", 25000, 1, 2, createdB),
	)
	p := newProjector(events, store, codec(t), 100)
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	waitUntil(t, "the loop read the store", func() bool { return events.readAllCalls() >= 1 })

	calls := events.readAllCalls()
	p.Committed(1)
	p.Committed(2)
	time.Sleep(100 * time.Millisecond) // a wake would read within microseconds
	if got := events.readAllCalls(); got != calls {
		t.Errorf("Committed(head <= checkpoint) read the store %d more times, want none", got-calls)
	}

	events.add(rec(t, 3, "inv-c", 1, createdEvent("inv-c", 30000, createdC)))
	p.Committed(3)
	waitUntil(t, "Position() reaches the notified head 3", func() bool { return p.Position() == 3 })

	calls = events.readAllCalls()
	p.Committed(0) // unknown head, as after a reconnect
	waitUntil(t, "Committed(0) wakes the loop", func() bool { return events.readAllCalls() > calls })
}
