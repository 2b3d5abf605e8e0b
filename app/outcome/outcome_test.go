package outcome

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"invoices/domain/invoice"
	"invoices/ports"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, OK},
		{"one invalid field", &invoice.ValidationError{Field: "amount", Reason: "x"}, Validation},
		{"joined invalid fields", errors.Join(&invoice.ValidationError{Field: "amount", Reason: "x"}, &invoice.ValidationError{Field: "customerId", Reason: "y"}), Validation},
		{"wrapped not found", fmt.Errorf("load: %w", ports.ErrNotFound), NotFound},
		{"already paid", invoice.ErrAlreadyPaid, AlreadyPaid},
		{"already void", fmt.Errorf("void invoice inv-1: %w", invoice.ErrAlreadyVoid), AlreadyVoid},
		{"paying a void invoice", fmt.Errorf("pay invoice inv-1: %w", invoice.ErrInvoiceVoid), InvoiceVoid},
		{"wrapped conflict", fmt.Errorf("append: %w", ports.ErrConcurrencyConflict), Conflict},
		{"no such version", fmt.Errorf("invoice inv-1 as of version 3: %w", ports.ErrNoSuchVersion), NoSuchVersion},
		{"precondition failed", fmt.Errorf("pay invoice inv-1: %w", ports.ErrPreconditionFailed), PreconditionFailed},
		{"unavailable", fmt.Errorf("%w: connection refused", ports.ErrUnavailable), Unavailable},
		{"read model being rebuilt", fmt.Errorf("list invoices: %w", ports.ErrReadModelStale), Rebuilding},
		{"deadline", fmt.Errorf("append: %w", context.DeadlineExceeded), Interrupted},
		{"canceled", context.Canceled, Interrupted},
		{"other", errors.New("disk on fire"), Internal},
		// Precedence, for errors that wrap more than one sentinel.
		{"validation before not found", errors.Join(ports.ErrNotFound, &invoice.ValidationError{Field: "id", Reason: "x"}), Validation},
		{"unavailable before deadline", fmt.Errorf("%w: %w", ports.ErrUnavailable, context.DeadlineExceeded), Unavailable},
		// ErrNoSuchVersion wraps ErrNotFound; it is the more specific.
		{"no such version is not found", ports.ErrNoSuchVersion, NoSuchVersion},
		// A conditional command that lost a race was told exactly that version.
		{"precondition failed before conflict", fmt.Errorf("%w: %w", ports.ErrPreconditionFailed, ports.ErrConcurrencyConflict), PreconditionFailed},
		// ErrReadModelStale wraps ErrUnavailable; it is the more specific.
		{"rebuilding before unavailable", ports.ErrReadModelStale, Rebuilding},
		{"rebuilding before deadline", fmt.Errorf("%w: %w", ports.ErrReadModelStale, context.DeadlineExceeded), Rebuilding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// Callers cover every class by ranging from OK to Internal; a class added
// after Internal would silently fall outside their loops.
func TestInternalIsTheLastClass(t *testing.T) {
	if Internal != numClasses-1 {
		t.Errorf("Internal = %d, want the last class, %d", Internal, numClasses-1)
	}
}

func TestEveryClassHasALabel(t *testing.T) {
	for c := range numClasses {
		if c.Label() == "" {
			t.Errorf("class %d has no label", c)
		}
	}
	for _, c := range []Class{-1, numClasses} {
		if got, want := c.Label(), Internal.Label(); got != want {
			t.Errorf("Class(%d).Label() = %q, want Internal's %q", c, got, want)
		}
	}
}
