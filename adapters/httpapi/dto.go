package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"invoices/app/query"
	"invoices/domain/invoice"
	"invoices/ports"
)

// CreateInvoiceRequest documents the body of POST /invoices for Swagger.
// decodeCreate reads the same keys from a map of raw JSON values, so it can
// tell a missing field from null from a wrong type, report every unknown
// key, and never parse the amount through a float.
type CreateInvoiceRequest struct {
	// CustomerID is trimmed; 1 to 255 characters.
	CustomerID json.RawMessage `json:"customerId" validate:"required" swaggertype:"string" example:"cus_1" minLength:"1" maxLength:"255"`
	// Amount is a JSON number > 0, below 1000000000000, with at most the
	// currency's minor-unit decimal places (JPY 0, EUR 2, KWD 3).
	Amount json.RawMessage `json:"amount" validate:"required" swaggertype:"number" example:"19.99" minimum:"0.001" maximum:"999999999999.999"`
	// Currency is an ISO 4217 code in any case; DEFAULT_CURRENCY when absent.
	// Funds, metals and testing codes (XAU, XTS, XXX…) are refused.
	Currency json.RawMessage `json:"currency,omitempty" swaggertype:"string" example:"EUR" minLength:"3" maxLength:"3"`
	// DueDate is optional: YYYY-MM-DD, from the issue date (UTC) to 5 years after it.
	DueDate json.RawMessage `json:"dueDate,omitempty" swaggertype:"string" format:"date" example:"2026-12-31"`
}

// VoidInvoiceRequest is the optional body of POST /invoices/{id}/void.
type VoidInvoiceRequest struct {
	// Reason says why the invoice is voided: at most 500 characters.
	Reason string `json:"reason,omitempty" example:"issued in error" maxLength:"500"`
}

// InvoiceResponse is an invoice as the API returns it.
type InvoiceResponse struct {
	ID         string `json:"id" format:"uuid" example:"0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"`
	CustomerID string `json:"customerId" example:"cus_1"`
	// Amount is exact, written with the currency's minor unit of decimal
	// places (5.00 EUR, 500 JPY, 1.250 KWD), never from a float.
	Amount json.Number `json:"amount" swaggertype:"number" example:"19.99"`
	// Currency is the ISO 4217 code, upper case.
	Currency string `json:"currency" example:"EUR"`
	// DueDate is null when the invoice has none.
	DueDate *string `json:"dueDate" format:"date" extensions:"x-nullable" example:"2026-12-31"`
	Status  string  `json:"status" enums:"pending,paid,void" example:"pending"`
	// Paid is true once status is paid (kept for the original API's clients).
	Paid      bool      `json:"paid" example:"false"`
	Version   int       `json:"version" example:"1"`
	CreatedAt time.Time `json:"createdAt" example:"2026-11-25T20:00:00.000000Z"`
	UpdatedAt time.Time `json:"updatedAt" example:"2026-11-25T20:00:00.000000Z"`
	// PaidAt is null until the invoice is paid.
	PaidAt *time.Time `json:"paidAt" extensions:"x-nullable" example:"2026-11-25T20:05:00.000000Z"`
	// VoidedAt is null unless the invoice is void.
	VoidedAt *time.Time `json:"voidedAt" extensions:"x-nullable" example:"2026-11-25T20:05:00.000000Z"`
	// VoidReason is null unless the invoice was voided with a reason.
	VoidReason *string `json:"voidReason" extensions:"x-nullable" example:"issued in error"`
}

func invoiceResponse(v ports.InvoiceView) InvoiceResponse {
	r := InvoiceResponse{
		ID:         v.ID,
		CustomerID: v.CustomerID,
		Amount:     json.Number(v.Currency.Format(v.Amount)),
		Currency:   v.Currency.Code(),
		Status:     string(v.Status),
		Paid:       v.Status == invoice.StatusPaid,
		Version:    v.Version,
		CreatedAt:  v.CreatedAt,
		UpdatedAt:  v.UpdatedAt,
		PaidAt:     v.PaidAt,
		VoidedAt:   v.VoidedAt,
	}
	if !v.DueDate.IsZero() {
		d := v.DueDate.String()
		r.DueDate = &d
	}
	if v.VoidReason != "" {
		r.VoidReason = &v.VoidReason
	}
	return r
}

// The invoice routes write their bodies with appendInvoice rather than
// json.Marshal of InvoiceResponse: for a 100-invoice page, reflection and
// re-validating every time.Time's MarshalJSON output were most of the
// encoding cost (BenchmarkEncodeInvoicePage). The bytes are exactly
// json.Marshal's (TestAppendInvoiceMatchesEncodingJSON), and InvoiceResponse
// still documents them for Swagger.

// writeJSON sends body, already encoded, as gin's c.JSON would, with its
// length: net/http would otherwise send a page (over 2 KiB) chunked.
func writeJSON(c *gin.Context, code int, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(code, "application/json; charset=utf-8", body)
}

// invoiceJSONSize is about what one invoice takes, to size buffers once.
const invoiceJSONSize = 400

// invoiceJSON returns v as json.Marshal(invoiceResponse(v)) writes it.
func invoiceJSON(v ports.InvoiceView) []byte {
	return appendInvoice(make([]byte, 0, invoiceJSONSize), v)
}

// appendInvoice appends v as json.Marshal(invoiceResponse(v)) writes it.
func appendInvoice(b []byte, v ports.InvoiceView) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, v.ID)
	b = append(b, `,"customerId":`...)
	b = appendString(b, v.CustomerID)
	b = append(b, `,"amount":`...)
	b = v.Currency.Append(b, v.Amount)
	b = append(b, `,"currency":`...)
	b = appendString(b, v.Currency.Code())
	b = append(b, `,"dueDate":`...)
	if v.DueDate.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = v.DueDate.Time().AppendFormat(b, invoice.DateLayout)
		b = append(b, '"')
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(v.Status))
	b = append(b, `,"paid":`...)
	b = strconv.AppendBool(b, v.Status == invoice.StatusPaid)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(v.Version), 10)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, v.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, v.UpdatedAt)
	b = append(b, `,"paidAt":`...)
	b = appendOptionalTime(b, v.PaidAt)
	b = append(b, `,"voidedAt":`...)
	b = appendOptionalTime(b, v.VoidedAt)
	b = append(b, `,"voidReason":`...)
	if v.VoidReason == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, v.VoidReason)
	}
	return append(b, '}')
}

// appendInvoices appends vs as a JSON array of appendInvoice objects.
func appendInvoices(b []byte, vs []ports.InvoiceView) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendInvoice(b, v)
	}
	return append(b, ']')
}

// appendString appends s quoted and escaped by encoding/json itself (HTML
// characters, U+2028, invalid UTF-8 and all); a string always encodes.
// Ids and statuses are plain ASCII and skip it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendOptionalTime appends t as appendTime does, or null for nil.
func appendOptionalTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendTime appends t as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// InvoiceEventResponse is one event of an invoice's history.
type InvoiceEventResponse struct {
	// Position is the event's global position in the event store.
	Position int64 `json:"position" example:"3"`
	// ID is the event's unique id.
	ID string `json:"id" format:"uuid" example:"5d1e7a2c-9b4f-4e3a-8c6d-0f1e2d3c4b5a"`
	// Version is the invoice version the event made (1 is its creation).
	Version int `json:"version" example:"1"`
	// Type is the stable event name: invoice.created, invoice.paid or invoice.voided.
	Type string `json:"type" example:"invoice.created"`
	// SchemaVersion is the version of the type's schema the payload is
	// stored at; payload itself is always in the current one.
	SchemaVersion int `json:"schemaVersion" example:"1"`
	// RecordedAt is when the event store appended the event.
	RecordedAt time.Time `json:"recordedAt" example:"2026-11-25T20:00:00.000000Z"`
	// Payload is the event's payload in its type's current schema (the
	// README's event table).
	Payload  json.RawMessage       `json:"payload" swaggertype:"object"`
	Metadata EventMetadataResponse `json:"metadata"`
}

// EventMetadataResponse is what the command that made an event recorded
// with it.
type EventMetadataResponse struct {
	// CorrelationID is the X-Request-ID of the request.
	CorrelationID string `json:"correlationId" example:"6f1c2a8e-3b7d-4c5e-9f0a-1b2c3d4e5f60"`
	// CausationID names the command.
	CausationID string `json:"causationId" example:"CreateInvoice"`
	// IdempotencyKey is the request's Idempotency-Key; absent without one.
	IdempotencyKey string `json:"idempotencyKey,omitempty" example:"create-inv-2026-0042"`
}

func invoiceEventResponse(e query.HistoryEvent) InvoiceEventResponse {
	return InvoiceEventResponse{
		Position: e.Position, ID: e.ID, Version: e.Version, Type: e.Type, SchemaVersion: e.SchemaVersion,
		RecordedAt: e.RecordedAt.UTC(), Payload: e.Payload,
		Metadata: EventMetadataResponse{
			CorrelationID: e.Metadata.CorrelationID, CausationID: e.Metadata.CausationID, IdempotencyKey: e.Metadata.IdempotencyKey,
		},
	}
}
