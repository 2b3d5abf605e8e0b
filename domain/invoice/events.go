package invoice

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"invoices/domain/event"
)

// Stable event names. They are stored with every event and must never change.
const (
	CreatedEventName = "invoice.created"
	PaidEventName    = "invoice.paid"
	VoidedEventName  = "invoice.voided"
)

// Created records that an invoice was issued. Its stored schema is at
// version 2 (see createdJSON); version 1, written before invoices had a
// currency or a due date, is upcast by the chain Upcasters returns.
type Created struct {
	InvoiceID  string
	CustomerID string
	Amount     Amount
	Currency   Currency
	DueDate    Date // zero: none
	CreatedAt  time.Time
}

// createdJSON is invoice.created's stored schema, version 2. The amount is
// an exact decimal written with the currency's minor unit ("amount": 5.00,
// "currency": "EUR"), never minor units: a count of cents would change
// meaning if ISO ever changed the currency's minor unit, a decimal cannot.
// dueDate is omitted when there is none.
type createdJSON struct {
	InvoiceID  string          `json:"invoiceId"`
	CustomerID string          `json:"customerId"`
	Amount     json.RawMessage `json:"amount"`
	Currency   Currency        `json:"currency"`
	DueDate    *Date           `json:"dueDate,omitempty"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// CreatedSchemaVersion is the version of invoice.created's stored schema.
const CreatedSchemaVersion = 2

// EventName implements event.Event.
func (Created) EventName() string { return CreatedEventName }

// SchemaVersion implements event.Versioned.
func (Created) SchemaVersion() int { return CreatedSchemaVersion }

// MarshalJSON writes the version 2 schema.
func (e Created) MarshalJSON() ([]byte, error) {
	j := createdJSON{
		InvoiceID: e.InvoiceID, CustomerID: e.CustomerID, Amount: e.Currency.Append(nil, e.Amount),
		Currency: e.Currency, CreatedAt: e.CreatedAt,
	}
	if !e.DueDate.IsZero() {
		j.DueDate = &e.DueDate
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the version 2 schema.
func (e *Created) UnmarshalJSON(b []byte) error {
	var j createdJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Currency.IsZero() {
		return errors.New("invoice.created: currency is missing")
	}
	var amount Amount
	if err := amount.UnmarshalJSON(j.Amount); err != nil {
		return fmt.Errorf("invoice.created: %w", err)
	}
	*e = Created{InvoiceID: j.InvoiceID, CustomerID: j.CustomerID, Amount: amount, Currency: j.Currency, CreatedAt: j.CreatedAt}
	if j.DueDate != nil {
		e.DueDate = *j.DueDate
	}
	return nil
}

// Paid records that an invoice was paid. Its json tags are the stored schema.
type Paid struct {
	InvoiceID string    `json:"invoiceId"`
	PaidAt    time.Time `json:"paidAt"`
}

// EventName implements event.Event.
func (Paid) EventName() string { return PaidEventName }

// Voided records that a pending invoice was cancelled. Its json tags are
// the stored schema; reason is omitted when none was given.
type Voided struct {
	InvoiceID string    `json:"invoiceId"`
	Reason    string    `json:"reason,omitempty"`
	VoidedAt  time.Time `json:"voidedAt"`
}

// EventName implements event.Event.
func (Voided) EventName() string { return VoidedEventName }

// Events lists a prototype of every invoice event, for the codec registry.
func Events() []event.Event { return []event.Event{Created{}, Paid{}, Voided{}} }

// Upcasters returns the chain that brings every stored invoice payload to
// its current schema. legacy is the currency of invoices created before
// they carried one: the event store records it once, when a release that
// knows about currencies first migrates it (DEFAULT_CURRENCY at that
// moment), so changing DEFAULT_CURRENCY later never changes what an old
// invoice was issued in.
func Upcasters(legacy Currency) []event.Upcaster {
	return []event.Upcaster{{Type: CreatedEventName, From: 1, Up: createdV1ToV2(legacy)}}
}

// createdV1ToV2 adds the currency version 1 left implicit. Version 1 had no
// due date, which version 2 writes as none.
func createdV1ToV2(legacy Currency) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		if legacy.IsZero() {
			return nil, errors.New("no legacy currency recorded for version 1 invoices")
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil {
			return nil, err
		}
		if _, ok := fields["currency"]; ok {
			return nil, errors.New("version 1 payload already has a currency")
		}
		code, err := json.Marshal(legacy.Code())
		if err != nil {
			return nil, err
		}
		fields["currency"] = code
		return json.Marshal(fields)
	}
}

// NewCodec returns the registry of every invoice event with the upcaster
// chain for legacy, the currency of version 1 invoices (see Upcasters).
func NewCodec(legacy Currency) (*event.Registry, error) {
	r, err := event.NewRegistry(Events()...)
	if err != nil {
		return nil, err
	}
	return r.WithUpcasters(Upcasters(legacy)...)
}
