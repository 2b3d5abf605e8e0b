package httpapi

import (
	"encoding/json"
	"time"

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
