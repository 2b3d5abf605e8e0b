package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/app/outcome"
	"invoices/domain/invoice"
	"invoices/ports"
)

// TestOneClassFeedsLabelAndProblem is the error vocabulary at the boundary:
// for each sentinel, the metrics label and the problem document both follow
// from the one class outcome.Classify gives it.
func TestOneClassFeedsLabelAndProblem(t *testing.T) {
	unavailable := Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "a database is unreachable; retry shortly"}
	interrupted := Problem{Type: "/problems/unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "the request did not complete in time; retry it"}
	internal := Problem{Type: "/problems/internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "an unexpected error occurred; the request id identifies it in the server log"}
	tests := []struct {
		name      string
		err       error
		wantClass outcome.Class
		wantLabel string
		want      Problem
	}{
		{
			name:      "one invalid field",
			err:       &invoice.ValidationError{Field: "amount", Reason: "must be positive"},
			wantClass: outcome.Validation,
			wantLabel: "validation",
			want: Problem{Type: "/problems/validation", Title: "Invalid request", Status: http.StatusBadRequest,
				Detail: "amount must be positive", Errors: []FieldError{{Field: "amount", Message: "must be positive"}}},
		},
		{
			name: "joined invalid fields",
			err: fmt.Errorf("create: %w", errors.Join(
				&invoice.ValidationError{Field: "amount", Reason: "must be positive"},
				&invoice.ValidationError{Field: "customerId", Reason: "is required"})),
			wantClass: outcome.Validation,
			wantLabel: "validation",
			want: Problem{Type: "/problems/validation", Title: "Invalid request", Status: http.StatusBadRequest,
				Detail: "amount must be positive (and more: see errors)",
				Errors: []FieldError{{Field: "amount", Message: "must be positive"}, {Field: "customerId", Message: "is required"}}},
		},
		{
			name:      "not found",
			err:       fmt.Errorf("load: %w", ports.ErrNotFound),
			wantClass: outcome.NotFound,
			wantLabel: "not_found",
			want:      Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound, Detail: "no invoice has this id"},
		},
		{
			name:      "already paid",
			err:       invoice.ErrAlreadyPaid,
			wantClass: outcome.AlreadyPaid,
			wantLabel: "already_paid",
			want: Problem{Type: "/problems/already-paid", Title: "Invoice already paid", Status: http.StatusConflict,
				Detail: "the invoice is already paid"},
		},
		{
			name:      "conflict",
			err:       fmt.Errorf("append: %w", ports.ErrConcurrencyConflict),
			wantClass: outcome.Conflict,
			wantLabel: "conflict",
			want: Problem{Type: "/problems/conflict", Title: "Conflict", Status: http.StatusConflict,
				Detail: "the invoice was changed concurrently; retry the request"},
		},
		{
			name:      "no such version",
			err:       fmt.Errorf("invoice inv-1 as of version 3: %w", ports.ErrNoSuchVersion),
			wantClass: outcome.NoSuchVersion,
			wantLabel: "not_found",
			want: Problem{Type: "/problems/not-found", Title: "Not found", Status: http.StatusNotFound,
				Detail: "the invoice had no such version: it was not created by that time, or has not reached that version"},
		},
		{
			name:      "precondition failed",
			err:       fmt.Errorf("pay invoice inv-1: %w", ports.ErrPreconditionFailed),
			wantClass: outcome.PreconditionFailed,
			wantLabel: "precondition_failed",
			want: Problem{Type: "/problems/precondition-failed", Title: "Precondition failed", Status: http.StatusPreconditionFailed,
				Detail: "the invoice is not at the version If-Match names, so nothing was changed; GET it for its current version and ETag, and decide again"},
		},
		{
			name:      "unavailable",
			err:       fmt.Errorf("%w: connection refused", ports.ErrUnavailable),
			wantClass: outcome.Unavailable,
			wantLabel: "unavailable",
			want:      unavailable,
		},
		{
			name:      "store timed out",
			err:       fmt.Errorf("%w: %w", ports.ErrUnavailable, context.DeadlineExceeded),
			wantClass: outcome.Unavailable,
			wantLabel: "unavailable",
			want:      unavailable,
		},
		{
			name:      "deadline passed",
			err:       fmt.Errorf("wait: %w", context.DeadlineExceeded),
			wantClass: outcome.Interrupted,
			wantLabel: "error",
			want:      interrupted,
		},
		{
			name:      "canceled",
			err:       context.Canceled,
			wantClass: outcome.Interrupted,
			wantLabel: "error",
			want:      interrupted,
		},
		{
			name:      "anything else",
			err:       errors.New("disk on fire"),
			wantClass: outcome.Internal,
			wantLabel: "error",
			want:      internal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class := outcome.Classify(tt.err)
			if class != tt.wantClass {
				t.Fatalf("Classify(%v) = %d, want %d", tt.err, class, tt.wantClass)
			}
			if got := command.Outcome(tt.err); got != tt.wantLabel {
				t.Errorf("Outcome(%v) = %q, want %q", tt.err, got, tt.wantLabel)
			}
			if got := class.Label(); got != tt.wantLabel {
				t.Errorf("class %d: Label() = %q, want %q", class, got, tt.wantLabel)
			}
			if diff := cmp.Diff(tt.want, problemFor(tt.err)); diff != "" {
				t.Errorf("problemFor(%v) mismatch (-want +got):\n%s", tt.err, diff)
			}
			if got := classProblems[class].Type; got != tt.want.Type {
				t.Errorf("class %d: problem type %q, want %q", class, got, tt.want.Type)
			}
		})
	}
}

// Every class an error can have answers with a complete problem document
// and counts under a label; only OK, never an error, has no problem.
func TestEveryClassHasALabelAndAProblem(t *testing.T) {
	// outcome keeps Internal the last class (its own test checks that).
	for c := outcome.OK; c <= outcome.Internal; c++ {
		if c.Label() == "" {
			t.Errorf("class %d has no metrics label", c)
		}
		p, ok := classProblems[c]
		if c == outcome.OK {
			if ok {
				t.Errorf("OK has a problem %+v, want none", p)
			}
			continue
		}
		if !ok {
			t.Errorf("class %d (label %q) has no problem", c, c.Label())
			continue
		}
		if !strings.HasPrefix(p.Type, "/problems/") || p.Title == "" || p.Status < 400 {
			t.Errorf("class %d: problem %+v, want a /problems/ type, a title and a 4xx or 5xx status", c, p)
		}
		// A validation problem's detail names its first field (validationProblem).
		if p.Detail == "" && c != outcome.Validation {
			t.Errorf("class %d: problem %+v has no detail", c, p)
		}
	}
}

// An error that already knows its HTTP answer keeps it, even wrapped.
func TestProblemErrorPassesThrough(t *testing.T) {
	pe := newProblem(http.StatusRequestEntityTooLarge, typeTooLarge, "Payload too large", "the body is over 1 MiB")
	err := fmt.Errorf("decode: %w", pe)

	if diff := cmp.Diff(pe.p, problemFor(err)); diff != "" {
		t.Errorf("problemFor(%v) mismatch (-want +got):\n%s", err, diff)
	}
}

// A body with more invalid fields than maxFieldErrors lists only the first
// ones and says how many were left out.
func TestValidationProblemCapsItsFieldList(t *testing.T) {
	var errs []error
	for i := range maxFieldErrors + 5 {
		errs = append(errs, &invoice.ValidationError{Field: fmt.Sprintf("f%d", i), Reason: "is unknown"})
	}

	p := problemFor(errors.Join(errs...))

	if got := len(p.Errors); got != maxFieldErrors {
		t.Errorf("len(Errors) = %d, want %d", got, maxFieldErrors)
	}
	want := fmt.Sprintf("f0 is unknown (and %d more; the first %d are listed in errors)", maxFieldErrors+4, maxFieldErrors)
	if p.Detail != want {
		t.Errorf("Detail = %q, want %q", p.Detail, want)
	}
}
