package invoice

import (
	"time"

	"invoices/domain/event"
)

// Stable event names. They are stored with every event and must never change.
const (
	CreatedEventName = "invoice.created"
	PaidEventName    = "invoice.paid"
)

// Created records that an invoice was issued. Its json tags are the stored schema.
type Created struct {
	InvoiceID  string    `json:"invoiceId"`
	CustomerID string    `json:"customerId"`
	Amount     Amount    `json:"amount"`
	CreatedAt  time.Time `json:"createdAt"`
}

// EventName implements event.Event.
func (Created) EventName() string { return CreatedEventName }

// Paid records that an invoice was paid. Its json tags are the stored schema.
type Paid struct {
	InvoiceID string    `json:"invoiceId"`
	PaidAt    time.Time `json:"paidAt"`
}

// EventName implements event.Event.
func (Paid) EventName() string { return PaidEventName }

// Events lists a prototype of every invoice event, for the codec registry.
func Events() []event.Event { return []event.Event{Created{}, Paid{}} }
