package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"invoices/domain/invoice"
	"invoices/ports"
)

// CreateInvoiceRequest documents the body of POST /invoices for Swagger.
// decodeCreate reads the same two keys from a map of raw JSON values, so it
// can tell a missing field from null from a wrong type, report every unknown
// key, and never parse the amount through a float.
type CreateInvoiceRequest struct {
	// CustomerID is trimmed; 1 to 255 characters.
	CustomerID json.RawMessage `json:"customerId" swaggertype:"string" example:"cus_1" minLength:"1" maxLength:"255"`
	// Amount is a JSON number > 0 with at most 2 decimal places, at most 999999999999.99.
	Amount json.RawMessage `json:"amount" swaggertype:"number" example:"19.99" minimum:"0.01" maximum:"999999999999.99"`
}

// InvoiceResponse is an invoice as the API returns it.
type InvoiceResponse struct {
	ID         string `json:"id" format:"uuid" example:"0b6f1d4e-8a63-4b8c-9e57-2f4b3f7f6d21"`
	CustomerID string `json:"customerId" example:"cus_1"`
	// Amount is exact: it is written from decimal text, never from a float.
	Amount json.Number `json:"amount" swaggertype:"number" example:"19.99"`
	Status string      `json:"status" enums:"pending,paid" example:"pending"`
	// Paid is true once status is paid (kept for the original API's clients).
	Paid      bool      `json:"paid" example:"false"`
	Version   int       `json:"version" example:"1"`
	CreatedAt time.Time `json:"createdAt" example:"2026-11-25T20:00:00.000000Z"`
	UpdatedAt time.Time `json:"updatedAt" example:"2026-11-25T20:00:00.000000Z"`
	// PaidAt is null until the invoice is paid.
	PaidAt *time.Time `json:"paidAt" extensions:"x-nullable" example:"2026-11-25T20:05:00.000000Z"`
}

func invoiceResponse(v ports.InvoiceView) InvoiceResponse {
	return InvoiceResponse{
		ID:         v.ID,
		CustomerID: v.CustomerID,
		Amount:     json.Number(v.Amount.String()),
		Status:     string(v.Status),
		Paid:       v.Status == invoice.StatusPaid,
		Version:    v.Version,
		CreatedAt:  v.CreatedAt,
		UpdatedAt:  v.UpdatedAt,
		PaidAt:     v.PaidAt,
	}
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
const invoiceJSONSize = 320

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
	b = v.Amount.Append(b)
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
	if v.PaidAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, *v.PaidAt)
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

// appendTime appends t as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
