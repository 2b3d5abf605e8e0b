package event_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
)

var (
	createdAt = time.Date(2024, 5, 1, 10, 30, 0, 123456789, time.UTC)
	paidAt    = time.Date(2024, 5, 3, 8, 0, 0, 0, time.UTC)
)

var eur = invoice.MustCurrency("EUR")

func created() invoice.Created {
	return invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt}
}

func paid() invoice.Paid { return invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt} }

// tick is a minimal event for exercising the kernel without invoice rules.
type tick struct{ N int }

func (tick) EventName() string { return "test.tick" }

var errRejected = errors.New("rejected by test aggregate")

// tally records what it applied and rejects ticks numbered reject (if non-zero).
type tally struct {
	event.Root
	applied []int
	reject  int
}

func (a *tally) Apply(e event.Event) error {
	t, ok := e.(tick)
	if !ok {
		return errors.New("tally cannot apply " + e.EventName())
	}
	if a.reject != 0 && t.N == a.reject {
		return errRejected
	}
	a.applied = append(a.applied, t.N)
	return nil
}

func TestRehydrate(t *testing.T) {
	tests := []struct {
		name        string
		given       []event.Event
		wantApplied []int
	}{
		{name: "empty stream", given: nil, wantApplied: nil},
		{name: "one event", given: []event.Event{tick{1}}, wantApplied: []int{1}},
		{name: "folds in order", given: []event.Event{tick{3}, tick{1}, tick{2}}, wantApplied: []int{3, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &tally{}

			if err := event.Rehydrate(a, tt.given); err != nil {
				t.Fatalf("Rehydrate() error = %v", err)
			}

			if diff := cmp.Diff(tt.wantApplied, a.applied); diff != "" {
				t.Errorf("applied events mismatch (-want +got):\n%s", diff)
			}
			if got, want := a.Version(), len(tt.given); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
			if got, want := a.ExpectedVersion(), len(tt.given); got != want {
				t.Errorf("ExpectedVersion() = %d, want %d", got, want)
			}
			if got := a.Uncommitted(); len(got) != 0 {
				t.Errorf("Uncommitted() = %v, want none", got)
			}
		})
	}
}

func TestRehydrateInvoice(t *testing.T) {
	tests := []struct {
		name       string
		given      []event.Event
		wantStatus invoice.Status
	}{
		{"created", []event.Event{created()}, invoice.StatusPending},
		{"created and paid", []event.Event{created(), paid()}, invoice.StatusPaid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &invoice.Invoice{}

			if err := event.Rehydrate(inv, tt.given); err != nil {
				t.Fatalf("Rehydrate() error = %v", err)
			}

			if got := inv.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %q, want %q", got, tt.wantStatus)
			}
			if got, want := inv.Version(), len(tt.given); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
			if got := inv.Uncommitted(); len(got) != 0 {
				t.Errorf("Uncommitted() = %v, want none", got)
			}
		})
	}
}

func TestRehydratePropagatesApplyErrors(t *testing.T) {
	tests := []struct {
		name     string
		agg      event.Aggregate
		given    []event.Event
		wantIs   error  // if set, errors.Is must hold
		wantText string // the failing event's position and name
	}{
		{
			name: "paid before created", agg: &invoice.Invoice{},
			given: []event.Event{paid()}, wantText: "event 1 (invoice.paid)",
		},
		{
			name: "created twice", agg: &invoice.Invoice{},
			given: []event.Event{created(), created()}, wantText: "event 2 (invoice.created)",
		},
		{
			name: "unknown event", agg: &invoice.Invoice{},
			given: []event.Event{created(), tick{1}}, wantText: "event 2 (test.tick)",
		},
		{
			name: "wrapped sentinel", agg: &tally{reject: 3},
			given: []event.Event{tick{1}, tick{2}, tick{3}, tick{4}}, wantIs: errRejected, wantText: "event 3 (test.tick)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := event.Rehydrate(tt.agg, tt.given)

			if err == nil {
				t.Fatal("Rehydrate() = nil, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Rehydrate() error = %v, want it to wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Rehydrate() error = %q, want it to name %q", err, tt.wantText)
			}
		})
	}
}

func TestRehydrateRejectsNonNewAggregate(t *testing.T) {
	tests := []struct {
		name  string
		given func(t *testing.T) *tally
	}{
		{"already rehydrated", func(t *testing.T) *tally {
			t.Helper()
			a := &tally{}
			if err := event.Rehydrate(a, []event.Event{tick{1}}); err != nil {
				t.Fatalf("Rehydrate() error = %v", err)
			}
			return a
		}},
		{"has uncommitted events", func(t *testing.T) *tally {
			t.Helper()
			a := &tally{}
			if err := event.Raise(a, tick{1}); err != nil {
				t.Fatalf("Raise() error = %v", err)
			}
			return a
		}},
		{"raised then committed", func(t *testing.T) *tally {
			t.Helper()
			a := &tally{}
			if err := event.Raise(a, tick{1}); err != nil {
				t.Fatalf("Raise() error = %v", err)
			}
			a.MarkCommitted()
			return a
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.given(t)
			wantVersion, wantApplied := a.Version(), append([]int(nil), a.applied...)

			err := event.Rehydrate(a, []event.Event{tick{2}})

			if err == nil {
				t.Fatal("Rehydrate() on a non-new aggregate = nil, want an error")
			}
			if got := a.Version(); got != wantVersion {
				t.Errorf("Version() = %d, want %d (unchanged)", got, wantVersion)
			}
			if diff := cmp.Diff(wantApplied, a.applied); diff != "" {
				t.Errorf("applied events changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRaise(t *testing.T) {
	tests := []struct {
		name            string
		history         []event.Event
		raise           []event.Event
		wantVersion     int
		wantExpected    int
		wantUncommitted []event.Event
	}{
		{
			name: "on a new aggregate", raise: []event.Event{tick{1}},
			wantVersion: 1, wantExpected: 0, wantUncommitted: []event.Event{tick{1}},
		},
		{
			name: "several in order", raise: []event.Event{tick{1}, tick{2}, tick{3}},
			wantVersion: 3, wantExpected: 0, wantUncommitted: []event.Event{tick{1}, tick{2}, tick{3}},
		},
		{
			name: "after rehydrate", history: []event.Event{tick{1}, tick{2}}, raise: []event.Event{tick{3}},
			wantVersion: 3, wantExpected: 2, wantUncommitted: []event.Event{tick{3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &tally{}
			if err := event.Rehydrate(a, tt.history); err != nil {
				t.Fatalf("Rehydrate() error = %v", err)
			}

			for _, e := range tt.raise {
				if err := event.Raise(a, e); err != nil {
					t.Fatalf("Raise(%v) error = %v", e, err)
				}
			}

			if diff := cmp.Diff(tt.wantUncommitted, a.Uncommitted()); diff != "" {
				t.Errorf("Uncommitted() mismatch (-want +got):\n%s", diff)
			}
			if got := a.Version(); got != tt.wantVersion {
				t.Errorf("Version() = %d, want %d", got, tt.wantVersion)
			}
			if got := a.ExpectedVersion(); got != tt.wantExpected {
				t.Errorf("ExpectedVersion() = %d, want %d", got, tt.wantExpected)
			}
			if got, want := len(a.applied), len(tt.history)+len(tt.raise); got != want {
				t.Errorf("applied %d events, want %d", got, want)
			}
		})
	}
}

func TestRaiseRecordsNothingWhenApplyFails(t *testing.T) {
	tests := []struct {
		name  string
		agg   event.Aggregate
		raise event.Event
	}{
		{"rejected by Apply", &tally{reject: 1}, tick{1}},
		{"invoice paid before created", &invoice.Invoice{}, paid()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := event.Raise(tt.agg, tt.raise)

			if err == nil {
				t.Fatal("Raise() = nil, want the Apply error")
			}
			r := tt.agg.(interface {
				Version() int
				Uncommitted() []event.Event
			})
			if got := r.Version(); got != 0 {
				t.Errorf("Version() = %d, want 0", got)
			}
			if got := r.Uncommitted(); len(got) != 0 {
				t.Errorf("Uncommitted() = %v, want none", got)
			}
		})
	}
}

func TestMarkCommitted(t *testing.T) {
	inv, err := invoice.Create("inv-1", "cust-1", invoice.Terms{Amount: 199900, Currency: eur}, createdAt)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	if err := inv.Pay(paidAt); err != nil {
		t.Fatalf("Pay() error = %v", err)
	}
	if got, want := len(inv.Uncommitted()), 2; got != want {
		t.Fatalf("len(Uncommitted()) = %d before commit, want %d", got, want)
	}

	inv.MarkCommitted()

	if got := inv.Uncommitted(); len(got) != 0 {
		t.Errorf("Uncommitted() = %v after MarkCommitted, want none", got)
	}
	if got := inv.Version(); got != 2 {
		t.Errorf("Version() = %d, want 2", got)
	}
	if got := inv.ExpectedVersion(); got != inv.Version() {
		t.Errorf("ExpectedVersion() = %d, want Version() = %d", got, inv.Version())
	}

	// Events raised after a commit are measured from the committed version.
	a := &tally{}
	for i := 1; i <= 2; i++ {
		if err := event.Raise(a, tick{i}); err != nil {
			t.Fatalf("Raise() error = %v", err)
		}
	}
	a.MarkCommitted()
	if err := event.Raise(a, tick{3}); err != nil {
		t.Fatalf("Raise() error = %v", err)
	}
	if diff := cmp.Diff([]event.Event{tick{3}}, a.Uncommitted()); diff != "" {
		t.Errorf("Uncommitted() after commit and raise mismatch (-want +got):\n%s", diff)
	}
	if got, want := a.ExpectedVersion(), 2; got != want {
		t.Errorf("ExpectedVersion() = %d, want %d", got, want)
	}
	if got, want := a.Version(), 3; got != want {
		t.Errorf("Version() = %d, want %d", got, want)
	}
}
