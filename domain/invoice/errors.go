package invoice

import "errors"

// ErrAlreadyPaid is returned by Pay when the invoice is already paid.
var ErrAlreadyPaid = errors.New("invoice is already paid")

// ValidationError reports one invalid input field. Several may be joined with
// errors.Join when more than one field is wrong.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + " " + e.Reason }

// ErrAlreadyVoid is returned by Void when the invoice is already void.
var ErrAlreadyVoid = errors.New("invoice is already void")

// ErrInvoiceVoid is returned by Pay when the invoice is void.
var ErrInvoiceVoid = errors.New("invoice is void")
