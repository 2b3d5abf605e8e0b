// Package outcome classifies the errors the application returns, once, for
// every caller that must tell them apart: a command's metrics label and a
// request's HTTP problem both come from Classify, so the two cannot disagree
// about what an error is.
package outcome

import (
	"context"
	"errors"

	"invoices/domain/invoice"
	"invoices/ports"
)

// Class is the kind of result a command or query ended with.
type Class int

// The classes. Internal stays last: callers that must cover every class
// range from OK to Internal.
const (
	// OK is success: no error.
	OK Class = iota
	// Validation is invalid input: the error holds one or more
	// *invoice.ValidationError (the domain joins one per field).
	Validation
	// NotFound is ports.ErrNotFound: no invoice has the id.
	NotFound
	// NoSuchVersion is ports.ErrNoSuchVersion: the invoice exists, but a
	// read as of a version or time asked for one it never had.
	NoSuchVersion
	// AlreadyPaid is invoice.ErrAlreadyPaid.
	AlreadyPaid
	// AlreadyVoid is invoice.ErrAlreadyVoid: voiding a void invoice.
	AlreadyVoid
	// InvoiceVoid is invoice.ErrInvoiceVoid: paying a void invoice.
	InvoiceVoid
	// Conflict is ports.ErrConcurrencyConflict: another writer won the race
	// for the stream, and the retries, if any, ran out.
	Conflict
	// PreconditionFailed is ports.ErrPreconditionFailed: a conditional
	// command (If-Match) found the invoice at another version. It is never
	// retried, so it is never a Conflict.
	PreconditionFailed
	// IdempotencyKeyReused is ports.ErrIdempotencyKeyReused: a key sent
	// again with a different request.
	IdempotencyKeyReused
	// Unavailable is ports.ErrUnavailable: a store could not be reached.
	Unavailable
	// Rebuilding is ports.ErrReadModelStale: the read model is being
	// rebuilt for this release and cannot be read yet.
	Rebuilding
	// Interrupted is a context that ended, past its deadline or canceled,
	// before the work did, with no store reporting an outage.
	Interrupted
	// Internal is any other error: a bug, or a failure no adapter translated.
	Internal

	numClasses
)

// labels are the metrics outcome labels. Interrupted shares Internal's
// "error": the command metrics have always counted it so, and a new label
// value is a new series that dashboards and alerts would have to learn.
// NoSuchVersion, which only queries raise, counts as the not_found it is.
var labels = [numClasses]string{
	OK:                   "ok",
	Validation:           "validation",
	NotFound:             "not_found",
	NoSuchVersion:        "not_found",
	AlreadyPaid:          "already_paid",
	AlreadyVoid:          "already_void",
	InvoiceVoid:          "invoice_void",
	Conflict:             "conflict",
	PreconditionFailed:   "precondition_failed",
	IdempotencyKeyReused: "idempotency_key_reused",
	Unavailable:          "unavailable",
	Rebuilding:           "unavailable",
	Interrupted:          "error",
	Internal:             "error",
}

// Label is the class's value for the outcome label of the command metrics.
// A value outside the classes is labelled as Internal.
func (c Class) Label() string {
	if c < 0 || c >= numClasses {
		return labels[Internal]
	}
	return labels[c]
}

// Classify returns err's class. The order of the checks decides errors that
// wrap more than one sentinel.
func Classify(err error) Class {
	var ve *invoice.ValidationError
	switch {
	case err == nil:
		return OK
	case errors.As(err, &ve):
		return Validation
	case errors.Is(err, ports.ErrNoSuchVersion):
		// Before NotFound, which it wraps.
		return NoSuchVersion
	case errors.Is(err, ports.ErrNotFound):
		return NotFound
	case errors.Is(err, invoice.ErrAlreadyPaid):
		return AlreadyPaid
	case errors.Is(err, invoice.ErrAlreadyVoid):
		return AlreadyVoid
	case errors.Is(err, invoice.ErrInvoiceVoid):
		return InvoiceVoid
	case errors.Is(err, ports.ErrPreconditionFailed):
		// Before Conflict: a conditional command that lost a race failed
		// its precondition, whatever else its error says.
		return PreconditionFailed
	case errors.Is(err, ports.ErrIdempotencyKeyReused):
		return IdempotencyKeyReused
	case errors.Is(err, ports.ErrConcurrencyConflict):
		return Conflict
	case errors.Is(err, ports.ErrReadModelStale):
		return Rebuilding
	case errors.Is(err, ports.ErrUnavailable):
		// Before Interrupted: a store call that timed out is reported as the
		// outage it most likely is.
		return Unavailable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Interrupted
	default:
		return Internal
	}
}
