package command_test

import (
	"errors"
	"fmt"
	"testing"

	"invoices/app/command"
	"invoices/domain/invoice"
	"invoices/ports"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{errors.Join(&invoice.ValidationError{Field: "amount", Reason: "x"}), "validation"},
		{fmt.Errorf("load: %w", ports.ErrNotFound), "not_found"},
		{invoice.ErrAlreadyPaid, "already_paid"},
		{fmt.Errorf("void: %w", invoice.ErrAlreadyVoid), "already_void"},
		{fmt.Errorf("pay: %w", invoice.ErrInvoiceVoid), "invoice_void"},
		// A read model being rebuilt is the outage it is to a caller, and
		// keeps the label dashboards already know.
		{fmt.Errorf("list: %w", ports.ErrReadModelStale), "unavailable"},
		{fmt.Errorf("append: %w", ports.ErrConcurrencyConflict), "conflict"},
		{fmt.Errorf("%w: connection refused", ports.ErrUnavailable), "unavailable"},
		{errors.New("disk on fire"), "error"},
	}
	for _, tt := range tests {
		if got := command.Outcome(tt.err); got != tt.want {
			t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
