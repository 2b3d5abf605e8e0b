package command_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/domain/invoice"
	"invoices/ports"
)

var voidedAt = time.Date(2024, 5, 4, 9, 15, 0, 123000, time.UTC)

// seedVoidHistory stores, in this global order:
//
//	1 inv-0 created, 2 inv-1 created, 3 inv-0 paid, 4 inv-2 created, 5 inv-2 voided
//
// so inv-0 is paid, inv-2 void, and inv-1 pending at version 1 with Seq 2.
func seedVoidHistory(t *testing.T, store *memEventStore) {
	t.Helper()
	seedPayHistory(t, store)
	store.seed(t, "inv-2", invoice.Created{InvoiceID: "inv-2", CustomerID: "cust-2", Amount: 500, Currency: eur, CreatedAt: createdAt})
	store.seed(t, "inv-2", invoice.Voided{InvoiceID: "inv-2", Reason: "first", VoidedAt: createdAt.Add(time.Hour)})
}

func TestVoidInvoiceHandlerAppendsVoidedEvent(t *testing.T) {
	tests := []struct {
		name       string
		reason     string
		wantReason string
	}{
		{name: "with a reason, trimmed", reason: "  issued to the wrong customer\n", wantReason: "issued to the wrong customer"},
		{name: "without a reason", reason: "", wantReason: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{}
			seedVoidHistory(t, store)
			h := command.NewVoidInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(voidedAt))
			ctx := command.WithCorrelationID(context.Background(), "req-9")

			got, err := h.Handle(ctx, command.VoidInvoice{ID: "inv-1", Reason: tt.reason})

			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			calls := store.appendCalls()
			if len(calls) != 1 {
				t.Fatalf("Append called %d times, want 1: %+v", len(calls), calls)
			}
			call := calls[0]
			if call.StreamID != "inv-1" {
				t.Errorf("Append stream = %q, want %q", call.StreamID, "inv-1")
			}
			if call.ExpectedVersion != 1 {
				t.Errorf("Append expected version = %d, want 1 (the version it was loaded at)", call.ExpectedVersion)
			}
			if diff := cmp.Diff(ports.Metadata{CorrelationID: "req-9", CausationID: "VoidInvoice"}, call.Metadata); diff != "" {
				t.Errorf("Append metadata mismatch (-want +got):\n%s", diff)
			}
			if len(call.Events) != 1 {
				t.Fatalf("Append got %d events, want 1: %+v", len(call.Events), call.Events)
			}
			wantEvent := invoice.Voided{InvoiceID: "inv-1", Reason: tt.wantReason, VoidedAt: voidedAt}
			if diff := cmp.Diff(wantEvent, decodeAppended(t, call.Events[0], invoice.VoidedEventName), viewOpts); diff != "" {
				t.Errorf("appended payload mismatch (-want +got):\n%s", diff)
			}
			at := voidedAt
			want := command.Result{
				Invoice: ports.InvoiceView{
					ID:         "inv-1",
					CustomerID: "cust-1",
					Amount:     12500,
					Currency:   kwd,
					DueDate:    date("2024-06-30"),
					Status:     invoice.StatusVoid,
					Version:    2,
					Seq:        2, // the position of inv-1's first event, not of the voided event
					CreatedAt:  createdAt,
					UpdatedAt:  voidedAt,
					VoidedAt:   &at,
					VoidReason: tt.wantReason,
				},
				Position: 6,
			}
			if diff := cmp.Diff(want, got, viewOpts); diff != "" {
				t.Errorf("Handle() result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVoidInvoiceHandlerErrors(t *testing.T) {
	tests := []struct {
		name        string
		cmd         command.VoidInvoice
		appendErr   error
		wantErr     error  // a sentinel, if set
		wantField   string // a ValidationError's field, if set
		wantAppends int
	}{
		{name: "unknown id", cmd: command.VoidInvoice{ID: "inv-404"}, wantErr: ports.ErrNotFound},
		{name: "already paid", cmd: command.VoidInvoice{ID: "inv-0", Reason: "too late"}, wantErr: invoice.ErrAlreadyPaid},
		{name: "already void", cmd: command.VoidInvoice{ID: "inv-2", Reason: "second"}, wantErr: invoice.ErrAlreadyVoid},
		{name: "reason too long", cmd: command.VoidInvoice{ID: "inv-1", Reason: strings.Repeat("x", 501)}, wantField: "reason"},
		{name: "control character in the reason", cmd: command.VoidInvoice{ID: "inv-1", Reason: "a\x07b"}, wantField: "reason"},
		{
			name:        "lost the race to another writer",
			cmd:         command.VoidInvoice{ID: "inv-1"},
			appendErr:   fmt.Errorf("append: %w", ports.ErrConcurrencyConflict),
			wantErr:     ports.ErrConcurrencyConflict,
			wantAppends: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{appendErr: tt.appendErr}
			seedVoidHistory(t, store)
			h := command.NewVoidInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(voidedAt))

			got, err := h.Handle(context.Background(), tt.cmd)

			if tt.wantField != "" {
				var ve *invoice.ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.wantField {
					t.Fatalf("Handle() error = %v, want a ValidationError for %q", err, tt.wantField)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Handle() error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
				t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
			}
			if calls := store.appendCalls(); len(calls) != tt.wantAppends {
				t.Errorf("Append called %d times, want %d: %+v", len(calls), tt.wantAppends, calls)
			}
			if head, _ := store.Head(context.Background()); head != 5 {
				t.Errorf("store head = %d, want 5 (nothing appended)", head)
			}
		})
	}
}

// Void and pay race for one pending invoice. The loser's append conflicts;
// retried as the application wires it, it loads the winner's state and
// decides again, ending with the domain's answer rather than a conflict.
func TestVoidInvoiceRetriedAfterAConflictDecidesAgain(t *testing.T) {
	tests := []struct {
		name     string
		winner   func(t *testing.T, store *memEventStore)
		wantErr  error
		wantLast string // the type of the stream's last event
	}{
		{
			name: "a pay committed first",
			winner: func(t *testing.T, store *memEventStore) {
				store.seed(t, "inv-1", invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt})
			},
			wantErr:  invoice.ErrAlreadyPaid,
			wantLast: invoice.PaidEventName,
		},
		{
			name: "another void committed first",
			winner: func(t *testing.T, store *memEventStore) {
				store.seed(t, "inv-1", invoice.Voided{InvoiceID: "inv-1", Reason: "other clerk", VoidedAt: paidAt})
			},
			wantErr:  invoice.ErrAlreadyVoid,
			wantLast: invoice.VoidedEventName,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{}
			seedVoidHistory(t, store)
			// The winner commits between the void's load and its append.
			store.interleave = func() { tt.winner(t, store) }
			retries := 0
			h := command.RetryOnConflict[command.VoidInvoice](
				command.NewVoidInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(voidedAt)), 3,
				func() { retries++ })

			got, err := h.Handle(context.Background(), command.VoidInvoice{ID: "inv-1", Reason: "duplicate"})

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Handle() error = %v, want %v", err, tt.wantErr)
			}
			if retries != 1 {
				t.Errorf("retried %d times, want 1", retries)
			}
			if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
				t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
			}
			// Only the first attempt reached Append: the second decided
			// against it.
			calls := store.appendCalls()
			if len(calls) != 1 || calls[0].ExpectedVersion != 1 {
				t.Errorf("Append calls = %+v, want one, at version 1", calls)
			}
			stream, _ := store.LoadStream(context.Background(), "inv-1")
			if len(stream) != 2 || stream[1].Type != tt.wantLast {
				t.Errorf("inv-1 stream = %+v, want created then the winner's %s", stream, tt.wantLast)
			}
		})
	}
}
