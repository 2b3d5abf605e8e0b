package command_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/domain/invoice"
	"invoices/ports"
)

// conditionalCommands are pay and void, each made conditional on ifVersion
// and wrapped as the application wires them (RetryOnConflict, 3 attempts).
var conditionalCommands = []struct {
	name   string
	handle func(t *testing.T, store *memEventStore, retried func(), id string, ifVersion int) (command.Result, error)
	want   string // the event type a successful command appends
}{
	{
		name: "pay",
		handle: func(t *testing.T, store *memEventStore, retried func(), id string, ifVersion int) (command.Result, error) {
			h := command.RetryOnConflict[command.PayInvoice](
				command.NewPayInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(paidAt)), 3, retried)
			return h.Handle(context.Background(), command.PayInvoice{ID: id, IfVersion: ifVersion})
		},
		want: invoice.PaidEventName,
	},
	{
		name: "void",
		handle: func(t *testing.T, store *memEventStore, retried func(), id string, ifVersion int) (command.Result, error) {
			h := command.RetryOnConflict[command.VoidInvoice](
				command.NewVoidInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(voidedAt)), 3, retried)
			return h.Handle(context.Background(), command.VoidInvoice{ID: id, IfVersion: ifVersion})
		},
		want: invoice.VoidedEventName,
	},
}

// A conditional pay or void runs only on the version it names: any other
// is ports.ErrPreconditionFailed, checked before the domain decides, never
// retried, and nothing is appended. inv-0 is paid at version 2, inv-1
// pending at version 1 (seedPayHistory).
func TestConditionalCommands(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		ifVersion int
		// winner, if set, commits to the stream between the command's load
		// and its append.
		winner      func(t *testing.T, store *memEventStore)
		wantErr     error // nil: success
		wantAppends int   // Append calls the command made
	}{
		{name: "the current version", id: "inv-1", ifVersion: 1, wantAppends: 1},
		{name: "unconditional", id: "inv-1", ifVersion: command.AnyVersion, wantAppends: 1},
		{name: "a version it has not reached", id: "inv-1", ifVersion: 2, wantErr: ports.ErrPreconditionFailed},
		{name: "no version", id: "inv-1", ifVersion: command.NoVersion, wantErr: ports.ErrPreconditionFailed},
		{name: "another negative version", id: "inv-1", ifVersion: -7, wantErr: ports.ErrPreconditionFailed},
		{
			// Stale, and paid since: the caller hears its version is stale,
			// not what the newer state makes of its command.
			name: "a stale version of a paid invoice", id: "inv-0", ifVersion: 1, wantErr: ports.ErrPreconditionFailed,
		},
		{name: "the current version of a paid invoice", id: "inv-0", ifVersion: 2, wantErr: invoice.ErrAlreadyPaid},
		{name: "unknown invoice", id: "inv-404", ifVersion: 1, wantErr: ports.ErrNotFound},
		{name: "unknown invoice, no version", id: "inv-404", ifVersion: command.NoVersion, wantErr: ports.ErrNotFound},
		{
			name: "lost the race to append at its version", id: "inv-1", ifVersion: 1,
			winner: func(t *testing.T, store *memEventStore) {
				store.seed(t, "inv-1", invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt})
			},
			wantErr:     ports.ErrPreconditionFailed,
			wantAppends: 1,
		},
	}
	for _, c := range conditionalCommands {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				store := &memEventStore{}
				seedPayHistory(t, store)
				if tt.winner != nil {
					store.interleave = func() { tt.winner(t, store) }
				}
				retries := 0

				got, err := c.handle(t, store, func() { retries++ }, tt.id, tt.ifVersion)

				calls := store.appendCalls()
				if len(calls) != tt.wantAppends {
					t.Errorf("Append called %d times, want %d: %+v", len(calls), tt.wantAppends, calls)
				}
				if retries != 0 {
					t.Errorf("retried %d times, want 0", retries)
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Handle() error = %v, want errors.Is %v", err, tt.wantErr)
					}
					if errors.Is(err, ports.ErrPreconditionFailed) && errors.Is(err, ports.ErrConcurrencyConflict) {
						t.Errorf("Handle() error = %v is also a concurrency conflict, which callers would retry", err)
					}
					if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
						t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatalf("Handle() error = %v, want nil", err)
				}
				if got.Invoice.Version != 2 {
					t.Errorf("result version = %d, want 2", got.Invoice.Version)
				}
				// The append expects the version the precondition named.
				if calls[0].ExpectedVersion != 1 || len(calls[0].Events) != 1 || calls[0].Events[0].Type != c.want {
					t.Errorf("Append call = %+v, want one %s at expected version 1", calls[0], c.want)
				}
			})
		}
	}
}
