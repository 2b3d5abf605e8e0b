package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"invoices/domain/invoice"
	"invoices/ports"
)

// Problem is an RFC 9457 problem document, the body of every error response.
type Problem struct {
	// Type identifies the kind of problem; see the README for the list.
	Type   string `json:"type" example:"/problems/validation"`
	Title  string `json:"title" example:"Invalid request"`
	Status int    `json:"status" example:"400"`
	Detail string `json:"detail" example:"amount must have at most 2 decimal places"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty" example:"/invoices"`
	// RequestID matches the X-Request-ID response header and the server log.
	RequestID string `json:"requestId,omitempty" example:"6f1c2a8e-3b7d-4c5e-9f0a-1b2c3d4e5f60"`
	// Errors lists each invalid field (validation problems only).
	Errors []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field" example:"amount"`
	Message string `json:"message" example:"must have at most 2 decimal places"`
}

// Problem types. They are stable identifiers, documented in the README.
const (
	typeValidation       = "/problems/validation"
	typeMalformed        = "/problems/malformed-request"
	typeNotFound         = "/problems/not-found"
	typeAlreadyPaid      = "/problems/already-paid"
	typeConflict         = "/problems/conflict"
	typeTooLarge         = "/problems/payload-too-large"
	typeUnsupportedMedia = "/problems/unsupported-media-type"
	typeMethodNotAllowed = "/problems/method-not-allowed"
	typeUnavailable      = "/problems/unavailable"
	typeInternal         = "/problems/internal"
)

// problemError is an error that already knows its HTTP answer; request
// decoding produces these.
type problemError struct{ p Problem }

func (e *problemError) Error() string { return e.p.Detail }

func newProblem(status int, typ, title, detail string) *problemError {
	return &problemError{Problem{Type: typ, Title: title, Status: status, Detail: detail}}
}

// maxFieldErrors caps the errors list, so a body of a million unknown keys
// does not get a response five times its size.
const maxFieldErrors = 20

func validationProblem(fields []FieldError) *problemError {
	p := newProblem(http.StatusBadRequest, typeValidation, "Invalid request", "")
	p.p.Detail = fields[0].Field + " " + fields[0].Message
	switch {
	case len(fields) > maxFieldErrors:
		p.p.Detail += fmt.Sprintf(" (and %d more; the first %d are listed in errors)", len(fields)-1, maxFieldErrors)
		fields = fields[:maxFieldErrors]
	case len(fields) > 1:
		p.p.Detail += " (and more: see errors)"
	}
	p.p.Errors = fields
	return p
}

// writeError is the one place that maps errors to HTTP. Only 5xx is logged,
// once, with the request id.
func writeError(c *gin.Context, log *zap.Logger, err error) {
	p := problemFor(err)
	if p.Status >= 500 {
		// An outage is expected to pass and is visible in readiness and
		// metrics: a warning per request, not an error.
		level := zap.ErrorLevel
		if errors.Is(err, ports.ErrUnavailable) {
			level = zap.WarnLevel
		}
		log.Log(level, "request failed",
			zap.String("request_id", requestID(c)),
			zap.String("method", c.Request.Method),
			zap.String("route", c.FullPath()),
			zap.Error(err))
	}
	writeProblem(c, p)
}

func problemFor(err error) Problem {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe.p
	}
	if fields := validationErrors(err); len(fields) > 0 {
		return validationProblem(fields).p
	}
	switch {
	case errors.Is(err, ports.ErrNotFound):
		return Problem{Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: "no invoice has this id"}
	case errors.Is(err, invoice.ErrAlreadyPaid):
		return Problem{Type: typeAlreadyPaid, Title: "Invoice already paid", Status: http.StatusConflict, Detail: "the invoice is already paid"}
	case errors.Is(err, ports.ErrConcurrencyConflict):
		return Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: "the invoice was changed concurrently; retry the request"}
	case errors.Is(err, ports.ErrUnavailable):
		// Checked before the context case: a store call that timed out is
		// reported as the outage it most likely is.
		return Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "a database is unreachable; retry shortly"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Problem{Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the request did not complete in time; retry it"}
	default:
		return internalProblem()
	}
}

func internalProblem() Problem {
	return Problem{Type: typeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "an unexpected error occurred; the request id identifies it in the server log"}
}

// validationErrors collects every *invoice.ValidationError in err's tree
// (the domain joins one per invalid field).
func validationErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		// errors.As stops at the first match; walk errors.Join's branches to
		// collect them all.
		if joined, ok := e.(interface{ Unwrap() []error }); ok { //nolint:errorlint // deliberate: one node at a time
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
			return
		}
		var ve *invoice.ValidationError
		if errors.As(e, &ve) {
			out = append(out, FieldError{Field: ve.Field, Message: ve.Reason})
		}
	}
	walk(err)
	return out
}

func writeProblem(c *gin.Context, p Problem) {
	p.Instance = c.Request.URL.Path
	p.RequestID = requestID(c)
	if p.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	c.Header("Content-Type", "application/problem+json")
	c.JSON(p.Status, p)
	c.Abort()
}
