package command_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

var paidAt = time.Date(2024, 5, 3, 8, 0, 0, 987654000, time.UTC)

// seedPayHistory stores, in this global order:
//
//	1 inv-0 created, 2 inv-1 created, 3 inv-0 paid
//
// so inv-0 is paid, and inv-1 is pending at version 1 with Seq 2.
func seedPayHistory(t *testing.T, store *memEventStore) {
	t.Helper()
	store.seed(t, "inv-0", invoice.Created{InvoiceID: "inv-0", CustomerID: "cust-0", Amount: 50000, Currency: eur, CreatedAt: createdAt})
	store.seed(t, "inv-1", invoice.Created{
		InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 12500, Currency: kwd, DueDate: date("2024-06-30"), CreatedAt: createdAt,
	})
	store.seed(t, "inv-0", invoice.Paid{InvoiceID: "inv-0", PaidAt: createdAt.Add(time.Hour)})
}

func TestPayInvoiceHandlerAppendsPaidEvent(t *testing.T) {
	store := &memEventStore{}
	seedPayHistory(t, store)
	h := command.NewPayInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(paidAt))
	ctx := command.WithCorrelationID(context.Background(), "req-7")

	got, err := h.Handle(ctx, command.PayInvoice{ID: "inv-1"})

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
	if diff := cmp.Diff(ports.Metadata{CorrelationID: "req-7", CausationID: "PayInvoice"}, call.Metadata); diff != "" {
		t.Errorf("Append metadata mismatch (-want +got):\n%s", diff)
	}
	if len(call.Events) != 1 {
		t.Fatalf("Append got %d events, want 1: %+v", len(call.Events), call.Events)
	}
	if diff := cmp.Diff(invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt}, decodeAppended(t, call.Events[0], invoice.PaidEventName), viewOpts); diff != "" {
		t.Errorf("appended payload mismatch (-want +got):\n%s", diff)
	}
	paid := paidAt
	want := command.Result{
		Invoice: ports.InvoiceView{
			ID:         "inv-1",
			CustomerID: "cust-1",
			Amount:     12500,
			Currency:   kwd,
			DueDate:    date("2024-06-30"),
			Status:     invoice.StatusPaid,
			Version:    2,
			Seq:        2, // the position of inv-1's first event, not of the paid event
			CreatedAt:  createdAt,
			UpdatedAt:  paidAt,
			PaidAt:     &paid,
		},
		Position: 4,
	}
	if diff := cmp.Diff(want, got, viewOpts); diff != "" {
		t.Errorf("Handle() result mismatch (-want +got):\n%s", diff)
	}
}

func TestPayInvoiceHandlerErrors(t *testing.T) {
	tests := []struct {
		name        string
		id          string
		appendErr   error
		wantErr     error
		wantAppends int
	}{
		{name: "unknown id", id: "inv-404", wantErr: ports.ErrNotFound},
		{name: "already paid", id: "inv-0", wantErr: invoice.ErrAlreadyPaid},
		{name: "void", id: "inv-void", wantErr: invoice.ErrInvoiceVoid},
		{name: "unknown event type in the stream", id: "inv-bad", wantErr: event.ErrUnknownType},
		{
			name:        "lost the race to another writer",
			id:          "inv-1",
			appendErr:   fmt.Errorf("append: %w", ports.ErrConcurrencyConflict),
			wantErr:     ports.ErrConcurrencyConflict,
			wantAppends: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{appendErr: tt.appendErr}
			seedPayHistory(t, store)
			store.seed(t, "inv-bad", invoice.Created{InvoiceID: "inv-bad", CustomerID: "c", Amount: 500, Currency: eur, CreatedAt: createdAt})
			store.seedRaw("inv-bad", "invoice.refunded", 1, []byte(`{"invoiceId":"inv-bad"}`))
			store.seed(t, "inv-void", invoice.Created{InvoiceID: "inv-void", CustomerID: "c", Amount: 500, Currency: eur, CreatedAt: createdAt})
			store.seed(t, "inv-void", invoice.Voided{InvoiceID: "inv-void", VoidedAt: createdAt.Add(time.Hour)})
			h := command.NewPayInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(paidAt))

			got, err := h.Handle(context.Background(), command.PayInvoice{ID: tt.id})

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Handle() error = %v, want errors.Is %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
				t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
			}
			if calls := store.appendCalls(); len(calls) != tt.wantAppends {
				t.Errorf("Append called %d times, want %d: %+v", len(calls), tt.wantAppends, calls)
			}
			if head, _ := store.Head(context.Background()); head != 7 {
				t.Errorf("store head = %d, want 7 (nothing appended)", head)
			}
		})
	}
}

// Two payers load the same version; the store lets only the first append.
func TestPayInvoiceHandlerAppendsAtTheLoadedVersion(t *testing.T) {
	store := &memEventStore{}
	seedPayHistory(t, store)
	h := command.NewPayInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(paidAt))
	if _, err := h.Handle(context.Background(), command.PayInvoice{ID: "inv-1"}); err != nil {
		t.Fatalf("first Handle() error = %v, want nil", err)
	}

	_, err := h.Handle(context.Background(), command.PayInvoice{ID: "inv-1"})

	if !errors.Is(err, invoice.ErrAlreadyPaid) {
		t.Errorf("second Handle() error = %v, want invoice.ErrAlreadyPaid", err)
	}
	if calls := store.appendCalls(); len(calls) != 1 {
		t.Errorf("Append called %d times, want 1", len(calls))
	}
}
