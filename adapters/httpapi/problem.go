package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"invoices/app/outcome"
	"invoices/domain/invoice"
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
	typeValidation         = "/problems/validation"
	typeMalformed          = "/problems/malformed-request"
	typeNotFound           = "/problems/not-found"
	typeAlreadyPaid        = "/problems/already-paid"
	typeAlreadyVoid        = "/problems/already-void"
	typeInvoiceVoid        = "/problems/invoice-void"
	typeConflict           = "/problems/conflict"
	typePreconditionFailed = "/problems/precondition-failed"

	typeIdempotencyKeyInUse  = "/problems/idempotency-key-in-use"
	typeIdempotencyKeyReused = "/problems/idempotency-key-reused"
	typeTooLarge             = "/problems/payload-too-large"
	typeUnsupportedMedia     = "/problems/unsupported-media-type"
	typeMethodNotAllowed     = "/problems/method-not-allowed"
	typeUnavailable          = "/problems/unavailable"
	typeInternal             = "/problems/internal"
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
	p := &problemError{classProblems[outcome.Validation]}
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
		if outcome.Classify(err) == outcome.Unavailable {
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

// classProblems is the problem each error class answers with; OK, never
// an error, has none. A validation problem starts from its entry and lists
// the invalid fields (validationProblem).
var classProblems = map[outcome.Class]Problem{
	outcome.Validation:  {Type: typeValidation, Title: "Invalid request", Status: http.StatusBadRequest},
	outcome.NotFound:    {Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: "no invoice has this id"},
	outcome.AlreadyPaid: {Type: typeAlreadyPaid, Title: "Invoice already paid", Status: http.StatusConflict, Detail: "the invoice is already paid"},
	outcome.AlreadyVoid: {Type: typeAlreadyVoid, Title: "Invoice already void", Status: http.StatusConflict, Detail: "the invoice is already void"},
	outcome.InvoiceVoid: {Type: typeInvoiceVoid, Title: "Invoice is void", Status: http.StatusConflict, Detail: "the invoice is void and cannot be paid"},
	outcome.Conflict: {Type: typeConflict, Title: "Conflict", Status: http.StatusConflict,
		Detail: "the invoice was changed concurrently; retry the request"},
	outcome.NoSuchVersion: {Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound,
		Detail: "the invoice had no such version: it was not created by that time, or has not reached that version"},
	outcome.PreconditionFailed: {Type: typePreconditionFailed, Title: "Precondition failed", Status: http.StatusPreconditionFailed,
		Detail: "the invoice is not at the version If-Match names, so nothing was changed; GET it for its current version and ETag, and decide again"},
	outcome.Unavailable: {Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "a database is unreachable; retry shortly"},
	outcome.IdempotencyKeyReused: {Type: typeIdempotencyKeyReused, Title: "Idempotency key reused", Status: http.StatusUnprocessableEntity,
		Detail: "this Idempotency-Key was first used for a different request; use a new key for a new request"},
	outcome.Rebuilding: {Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "the read model is being rebuilt for this release; retry shortly"},
	outcome.Interrupted: {Type: typeUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: "the request did not complete in time; retry it"},
	outcome.Internal: {Type: typeInternal, Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "an unexpected error occurred; the request id identifies it in the server log"},
}

// problemFor answers err with the problem of its outcome.Classify class,
// unless err already knows its answer (a *problemError from decoding).
func problemFor(err error) Problem {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe.p
	}
	class := outcome.Classify(err)
	if class == outcome.Validation {
		// List every invalid field, not only the first one Classify found.
		if fields := validationErrors(err); len(fields) > 0 {
			return validationProblem(fields).p
		}
		// Only a ValidationError hidden behind a custom As method reaches
		// here: with no field to name, it is answered as a bug.
		return internalProblem()
	}
	if p, ok := classProblems[class]; ok {
		return p
	}
	return internalProblem()
}

func internalProblem() Problem { return classProblems[outcome.Internal] }

// validationErrors collects every *invoice.ValidationError in err's tree
// (the domain joins one per invalid field).
func validationErrors(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		// errors.As stops at the first match; walk the tree one node at a
		// time to collect them all, through wrappers too, so a handler that
		// adds context to the domain's joined errors loses no field.
		switch node := e.(type) { //nolint:errorlint // deliberate: one node at a time
		case *invoice.ValidationError:
			out = append(out, FieldError{Field: node.Field, Message: node.Reason})
		case interface{ Unwrap() []error }:
			for _, inner := range node.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(node.Unwrap())
		default:
			// A leaf may still match through its own As method.
			var ve *invoice.ValidationError
			if errors.As(e, &ve) {
				out = append(out, FieldError{Field: ve.Field, Message: ve.Reason})
			}
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
