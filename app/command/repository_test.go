package command_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"invoices/app/command"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

func TestRepositoryLoad(t *testing.T) {
	type raw struct {
		typ     string
		version int // the payload's schema version
		data    string
	}
	// Version 1 is what releases before currencies wrote: the codec reads
	// it in the legacy currency, EUR here.
	createdV1 := raw{invoice.CreatedEventName, 1, `{"invoiceId":"inv-1","customerId":"cust-1","amount":19.99,"createdAt":"2024-05-01T10:30:00Z"}`}
	created := raw{invoice.CreatedEventName, 2, `{"invoiceId":"inv-1","customerId":"cust-1","amount":19.990,"currency":"KWD","dueDate":"2024-06-30","createdAt":"2024-05-01T10:30:00Z"}`}
	paid := raw{invoice.PaidEventName, 1, `{"invoiceId":"inv-1","paidAt":"2024-05-03T08:00:00Z"}`}
	voided := raw{invoice.VoidedEventName, 1, `{"invoiceId":"inv-1","reason":"issued twice","voidedAt":"2024-05-03T08:00:00Z"}`}
	tests := []struct {
		name         string
		stream       []raw
		wantErr      bool
		wantErrIs    error
		wantVersion  int
		wantStatus   invoice.Status
		wantCurrency string
		wantDueDate  string
	}{
		{
			name:         "created",
			stream:       []raw{created},
			wantVersion:  1,
			wantStatus:   invoice.StatusPending,
			wantCurrency: "KWD",
			wantDueDate:  "2024-06-30",
		},
		{
			name:         "created at schema version 1",
			stream:       []raw{createdV1},
			wantVersion:  1,
			wantStatus:   invoice.StatusPending,
			wantCurrency: "EUR",
		},
		{
			name:         "created and paid",
			stream:       []raw{created, paid},
			wantVersion:  2,
			wantStatus:   invoice.StatusPaid,
			wantCurrency: "KWD",
			wantDueDate:  "2024-06-30",
		},
		{
			name:         "created at schema version 1 and voided",
			stream:       []raw{createdV1, voided},
			wantVersion:  2,
			wantStatus:   invoice.StatusVoid,
			wantCurrency: "EUR",
		},
		{
			name:      "unknown id",
			wantErr:   true,
			wantErrIs: ports.ErrNotFound,
		},
		{
			name:      "unknown event type first",
			stream:    []raw{{"invoice.refunded", 1, `{"invoiceId":"inv-1"}`}},
			wantErr:   true,
			wantErrIs: event.ErrUnknownType,
		},
		{
			name:      "unknown event type after created",
			stream:    []raw{created, {"invoice.refunded", 1, `{"invoiceId":"inv-1"}`}},
			wantErr:   true,
			wantErrIs: event.ErrUnknownType,
		},
		{
			name:    "corrupt JSON",
			stream:  []raw{{invoice.CreatedEventName, 2, `{"invoiceId":`}},
			wantErr: true,
		},
		{
			name:    "amount the domain rejects",
			stream:  []raw{{invoice.CreatedEventName, 2, `{"invoiceId":"inv-1","customerId":"c","amount":-1,"currency":"EUR","createdAt":"2024-05-01T10:30:00Z"}`}},
			wantErr: true,
		},
		{
			// Only version 1 lacks a currency; a later payload without one
			// is corrupt, not legacy.
			name:    "schema version 2 without a currency",
			stream:  []raw{{invoice.CreatedEventName, 2, `{"invoiceId":"inv-1","customerId":"c","amount":1,"createdAt":"2024-05-01T10:30:00Z"}`}},
			wantErr: true,
		},
		{
			name:    "schema version from a later release",
			stream:  []raw{{invoice.CreatedEventName, 3, created.data}},
			wantErr: true,
		},
		{
			name:    "paid after void",
			stream:  []raw{created, voided, {invoice.PaidEventName, 1, `{"invoiceId":"inv-1","paidAt":"2024-05-04T08:00:00Z"}`}},
			wantErr: true,
		},
		{
			name:    "paid before created",
			stream:  []raw{paid},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{}
			store.seed(t, "inv-0", invoice.Created{InvoiceID: "inv-0", CustomerID: "c", Amount: 500, Currency: eur, CreatedAt: createdAt})
			for _, r := range tt.stream {
				store.seedRaw("inv-1", r.typ, r.version, []byte(r.data))
			}
			repo := command.NewRepository(store, codec(t))

			inv, seq, err := repo.Load(context.Background(), "inv-1")

			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load() = %+v, %d, nil; want an error", inv, seq)
				}
				if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
					t.Errorf("Load() error = %v, want errors.Is %v", err, tt.wantErrIs)
				}
				if !strings.Contains(err.Error(), "inv-1") {
					t.Errorf("Load() error = %q, want it to name the invoice %q", err, "inv-1")
				}
				if inv != nil {
					t.Errorf("Load() returned an invoice alongside error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() error = %v, want nil", err)
			}
			if seq != 2 {
				t.Errorf("Load() seq = %d, want 2 (the position of the stream's first event)", seq)
			}
			if got := inv.Version(); got != tt.wantVersion {
				t.Errorf("Version() = %d, want %d", got, tt.wantVersion)
			}
			if got := inv.ExpectedVersion(); got != tt.wantVersion {
				t.Errorf("ExpectedVersion() = %d, want %d", got, tt.wantVersion)
			}
			if got := inv.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %q, want %q", got, tt.wantStatus)
			}
			if got := inv.Amount(); got != 199900 {
				t.Errorf("Amount() = %d, want 199900 (19.99)", got)
			}
			if got := inv.Currency().Code(); got != tt.wantCurrency {
				t.Errorf("Currency() = %q, want %q", got, tt.wantCurrency)
			}
			if got := inv.DueDate().String(); got != tt.wantDueDate {
				t.Errorf("DueDate() = %q, want %q", got, tt.wantDueDate)
			}
		})
	}
}
