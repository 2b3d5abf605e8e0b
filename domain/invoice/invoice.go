// Package invoice holds the Invoice aggregate: its events, business rules and
// errors. It depends on the standard library and the event kernel only.
package invoice

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"invoices/domain/event"
)

// MaxCustomerIDLength is the longest accepted customer id, in characters.
const MaxCustomerIDLength = 255

// Status is the lifecycle state of an invoice.
type Status string

// Invoice statuses.
const (
	StatusPending Status = "pending"
	StatusPaid    Status = "paid"
)

// Invoice is the event-sourced invoice aggregate. Its state changes only by
// applying events; commands (Create, Pay) decide which events to raise.
type Invoice struct {
	event.Root

	id         string
	customerID string
	amount     Amount
	status     Status
	createdAt  time.Time
	updatedAt  time.Time
	paidAt     time.Time
}

// Create issues a new invoice. customerID is trimmed; it must be non-empty and
// at most MaxCustomerIDLength characters. amount must be positive (ParseAmount
// enforces the remaining money rules). Every invalid field is reported, joined.
func Create(id, customerID string, amount Amount, now time.Time) (*Invoice, error) {
	var errs []error
	if strings.TrimSpace(id) == "" {
		errs = append(errs, &ValidationError{Field: "id", Reason: "must not be empty"})
	}
	customerID = strings.TrimSpace(customerID)
	if err := ValidateCustomerID(customerID); err != nil {
		errs = append(errs, err)
	}
	if amount <= 0 || amount > MaxAmount {
		errs = append(errs, &ValidationError{Field: "amount", Reason: "must be greater than 0 and at most 999999999999.99"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	inv := &Invoice{}
	err := event.Raise(inv, Created{InvoiceID: id, CustomerID: customerID, Amount: amount, CreatedAt: now})
	return inv, err
}

// ValidateCustomerID checks a customer id after trimming surrounding space:
// it must be non-empty valid UTF-8 of at most MaxCustomerIDLength characters,
// without control characters.
func ValidateCustomerID(customerID string) error {
	customerID = strings.TrimSpace(customerID)
	reason := ""
	switch {
	case customerID == "":
		reason = "must not be empty"
	case !utf8.ValidString(customerID):
		reason = "must be valid UTF-8"
	case utf8.RuneCountInString(customerID) > MaxCustomerIDLength:
		reason = fmt.Sprintf("must be at most %d characters", MaxCustomerIDLength)
	case strings.ContainsFunc(customerID, unicode.IsControl):
		// Control characters are never part of an id; NUL in particular
		// cannot be stored in PostgreSQL text or jsonb at all.
		reason = "must not contain control characters"
	default:
		return nil
	}
	return &ValidationError{Field: "customerId", Reason: reason}
}

// Pay marks the invoice paid. Paying twice is ErrAlreadyPaid.
func (i *Invoice) Pay(now time.Time) error {
	if i.status == StatusPaid {
		return ErrAlreadyPaid
	}
	return event.Raise(i, Paid{InvoiceID: i.id, PaidAt: now})
}

// Apply implements event.Aggregate.
func (i *Invoice) Apply(e event.Event) error {
	switch e := e.(type) {
	case Created:
		if i.id != "" {
			return fmt.Errorf("invoice %s: created twice", i.id)
		}
		i.id, i.customerID, i.amount = e.InvoiceID, e.CustomerID, e.Amount
		i.status, i.createdAt, i.updatedAt = StatusPending, e.CreatedAt, e.CreatedAt
	case Paid:
		if i.id == "" {
			return errors.New("invoice paid before it was created")
		}
		i.status, i.paidAt, i.updatedAt = StatusPaid, e.PaidAt, e.PaidAt
	default:
		return fmt.Errorf("invoice cannot apply %q", e.EventName())
	}
	return nil
}

// ID returns the invoice id.
func (i *Invoice) ID() string { return i.id }

// CustomerID returns the trimmed customer id.
func (i *Invoice) CustomerID() string { return i.customerID }

// Amount returns the invoiced amount.
func (i *Invoice) Amount() Amount { return i.amount }

// Status returns the lifecycle state.
func (i *Invoice) Status() Status { return i.status }

// CreatedAt returns when the invoice was issued.
func (i *Invoice) CreatedAt() time.Time { return i.createdAt }

// UpdatedAt returns when the last event happened.
func (i *Invoice) UpdatedAt() time.Time { return i.updatedAt }

// PaidAt returns when the invoice was paid, and false while it is pending.
func (i *Invoice) PaidAt() (time.Time, bool) { return i.paidAt, i.status == StatusPaid }
