package command_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/domain/invoice"
	"invoices/ports"
)

var createdAt = time.Date(2024, 5, 1, 10, 30, 0, 123456000, time.UTC)

func TestCreateInvoiceHandlerAppendsCreatedEvent(t *testing.T) {
	tests := []struct {
		name         string
		ctx          context.Context
		cmd          command.CreateInvoice
		wantMetadata ports.Metadata
		wantCreated  invoice.Created
	}{
		{
			name:         "correlation id from the context",
			ctx:          command.WithCorrelationID(context.Background(), "req-42"),
			cmd:          command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: eur}},
			wantMetadata: ports.Metadata{CorrelationID: "req-42", CausationID: "CreateInvoice"},
			wantCreated:  invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt},
		},
		{
			name:         "customer id is trimmed",
			ctx:          command.WithCorrelationID(context.Background(), "req-43"),
			cmd:          command.CreateInvoice{ID: "inv-1", CustomerID: " \t cust-1 \n", Terms: invoice.Terms{Amount: 100, Currency: eur}},
			wantMetadata: ports.Metadata{CorrelationID: "req-43", CausationID: "CreateInvoice"},
			wantCreated:  invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 100, Currency: eur, CreatedAt: createdAt},
		},
		{
			name:         "no correlation id",
			ctx:          context.Background(),
			cmd:          command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: eur.MaxAmount(), Currency: eur}},
			wantMetadata: ports.Metadata{CausationID: "CreateInvoice"},
			wantCreated:  invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: eur.MaxAmount(), Currency: eur, CreatedAt: createdAt},
		},
		{
			name: "JPY with a due date",
			ctx:  context.Background(),
			cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{
				Amount: 5_000_000, Currency: jpy, DueDate: date("2024-05-31"),
			}},
			wantMetadata: ports.Metadata{CausationID: "CreateInvoice"},
			wantCreated: invoice.Created{
				InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 5_000_000, Currency: jpy, DueDate: date("2024-05-31"), CreatedAt: createdAt,
			},
		},
		{
			name: "KWD due on the issue date",
			ctx:  context.Background(),
			cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{
				Amount: 12500, Currency: kwd, DueDate: date("2024-05-01"),
			}},
			wantMetadata: ports.Metadata{CausationID: "CreateInvoice"},
			wantCreated: invoice.Created{
				InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 12500, Currency: kwd, DueDate: date("2024-05-01"), CreatedAt: createdAt,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Given: two events of other invoices, so the new event's global
			// position (3) differs from its stream version (1).
			store := &memEventStore{}
			store.seed(t, "inv-0", invoice.Created{InvoiceID: "inv-0", CustomerID: "c", Amount: 500, Currency: eur, CreatedAt: createdAt})
			store.seed(t, "inv-0", invoice.Paid{InvoiceID: "inv-0", PaidAt: createdAt})
			h := command.NewCreateInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(createdAt))

			// When
			got, err := h.Handle(tt.ctx, tt.cmd)

			// Then
			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			calls := store.appendCalls()
			if len(calls) != 1 {
				t.Fatalf("Append called %d times, want 1: %+v", len(calls), calls)
			}
			call := calls[0]
			if call.StreamID != tt.cmd.ID {
				t.Errorf("Append stream = %q, want %q", call.StreamID, tt.cmd.ID)
			}
			if call.ExpectedVersion != 0 {
				t.Errorf("Append expected version = %d, want 0 (a new stream)", call.ExpectedVersion)
			}
			if diff := cmp.Diff(tt.wantMetadata, call.Metadata); diff != "" {
				t.Errorf("Append metadata mismatch (-want +got):\n%s", diff)
			}
			if len(call.Events) != 1 {
				t.Fatalf("Append got %d events, want 1: %+v", len(call.Events), call.Events)
			}
			if diff := cmp.Diff(tt.wantCreated, decodeAppended(t, call.Events[0], invoice.CreatedEventName), viewOpts); diff != "" {
				t.Errorf("appended payload mismatch (-want +got):\n%s", diff)
			}
			want := command.Result{
				Invoice: ports.InvoiceView{
					ID:         tt.wantCreated.InvoiceID,
					CustomerID: tt.wantCreated.CustomerID,
					Amount:     tt.wantCreated.Amount,
					Currency:   tt.wantCreated.Currency,
					DueDate:    tt.wantCreated.DueDate,
					Status:     invoice.StatusPending,
					Version:    1,
					Seq:        3,
					CreatedAt:  createdAt,
					UpdatedAt:  createdAt,
				},
				Position: 3,
			}
			if diff := cmp.Diff(want, got, viewOpts); diff != "" {
				t.Errorf("Handle() result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCreateInvoiceHandlerRejectsInvalidCommand(t *testing.T) {
	tests := []struct {
		name      string
		cmd       command.CreateInvoice
		wantField string
	}{
		{name: "empty id", cmd: command.CreateInvoice{ID: "", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: eur}}, wantField: "id"},
		{name: "blank customer id", cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "  ", Terms: invoice.Terms{Amount: 199900, Currency: eur}}, wantField: "customerId"},
		{name: "no currency", cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900}}, wantField: "currency"},
		{name: "zero amount", cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Currency: eur}}, wantField: "amount"},
		{name: "amount over max", cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: eur.MaxAmount() + 100, Currency: eur}}, wantField: "amount"},
		{name: "decimals JPY does not have", cmd: command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: jpy}}, wantField: "amount"},
		{
			name:      "due before the issue date",
			cmd:       command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2024-04-30")}},
			wantField: "dueDate",
		},
		{
			name:      "due more than five years after the issue date",
			cmd:       command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2029-05-02")}},
			wantField: "dueDate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{}
			h := command.NewCreateInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(createdAt))

			got, err := h.Handle(context.Background(), tt.cmd)

			var ve *invoice.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Handle() error = %v, want a *invoice.ValidationError", err)
			}
			if ve.Field != tt.wantField {
				t.Errorf("ValidationError.Field = %q, want %q", ve.Field, tt.wantField)
			}
			if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
				t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
			}
			if calls := store.appendCalls(); len(calls) != 0 {
				t.Errorf("Append called %d times, want 0: %+v", len(calls), calls)
			}
		})
	}
}

func TestCreateInvoiceHandlerReportsAnExistingIDAsConflict(t *testing.T) {
	store := &memEventStore{}
	store.seed(t, "inv-1", invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 500, Currency: eur, CreatedAt: createdAt})
	h := command.NewCreateInvoiceHandler(command.NewRepository(store, codec(t)), clockAt(createdAt))

	got, err := h.Handle(context.Background(), command.CreateInvoice{ID: "inv-1", CustomerID: "cust-1", Terms: invoice.Terms{Amount: 199900, Currency: eur}})

	if !errors.Is(err, ports.ErrConcurrencyConflict) {
		t.Fatalf("Handle() error = %v, want ports.ErrConcurrencyConflict", err)
	}
	if diff := cmp.Diff(command.Result{}, got, viewOpts); diff != "" {
		t.Errorf("Handle() returned a result alongside an error (-want +got):\n%s", diff)
	}
	if head, _ := store.Head(context.Background()); head != 1 {
		t.Errorf("store head = %d after a conflicting create, want 1", head)
	}
}
