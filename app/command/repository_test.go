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
		typ  string
		data string
	}
	created := `{"invoiceId":"inv-1","customerId":"cust-1","amount":19.99,"createdAt":"2024-05-01T10:30:00Z"}`
	paid := `{"invoiceId":"inv-1","paidAt":"2024-05-03T08:00:00Z"}`
	tests := []struct {
		name        string
		stream      []raw
		wantErr     bool
		wantErrIs   error
		wantVersion int
		wantStatus  invoice.Status
	}{
		{
			name:        "created",
			stream:      []raw{{invoice.CreatedEventName, created}},
			wantVersion: 1,
			wantStatus:  invoice.StatusPending,
		},
		{
			name:        "created and paid",
			stream:      []raw{{invoice.CreatedEventName, created}, {invoice.PaidEventName, paid}},
			wantVersion: 2,
			wantStatus:  invoice.StatusPaid,
		},
		{
			name:      "unknown id",
			wantErr:   true,
			wantErrIs: ports.ErrNotFound,
		},
		{
			name:      "unknown event type first",
			stream:    []raw{{"invoice.voided", `{"invoiceId":"inv-1"}`}},
			wantErr:   true,
			wantErrIs: event.ErrUnknownType,
		},
		{
			name:      "unknown event type after created",
			stream:    []raw{{invoice.CreatedEventName, created}, {"invoice.voided", `{"invoiceId":"inv-1"}`}},
			wantErr:   true,
			wantErrIs: event.ErrUnknownType,
		},
		{
			name:    "corrupt JSON",
			stream:  []raw{{invoice.CreatedEventName, `{"invoiceId":`}},
			wantErr: true,
		},
		{
			name:    "amount the domain rejects",
			stream:  []raw{{invoice.CreatedEventName, `{"invoiceId":"inv-1","customerId":"c","amount":-1,"createdAt":"2024-05-01T10:30:00Z"}`}},
			wantErr: true,
		},
		{
			name:    "paid before created",
			stream:  []raw{{invoice.PaidEventName, paid}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memEventStore{}
			store.seed(t, "inv-0", invoice.Created{InvoiceID: "inv-0", CustomerID: "c", Amount: 5, CreatedAt: createdAt})
			for _, r := range tt.stream {
				store.seedRaw("inv-1", r.typ, []byte(r.data))
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
			if got := inv.Amount(); got != 1999 {
				t.Errorf("Amount() = %d, want 1999", got)
			}
		})
	}
}
