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
	StatusVoid    Status = "void"
)

// Statuses lists every status, in lifecycle order.
func Statuses() []Status { return []Status{StatusPending, StatusPaid, StatusVoid} }

// ParseStatus returns the status named s, or a ValidationError for field.
func ParseStatus(field, s string) (Status, error) {
	for _, st := range Statuses() {
		if string(st) == s {
			return st, nil
		}
	}
	return "", &ValidationError{Field: field, Reason: "must be one of pending, paid, void"}
}

// MaxVoidReasonLength is the longest void reason, in characters.
const MaxVoidReasonLength = 500

// MaxDueYears is how far ahead of its issue date a due date may be.
const MaxDueYears = 5

// Invoice is the event-sourced invoice aggregate. Its state changes only by
// applying events; commands (Create, Pay) decide which events to raise.
type Invoice struct {
	event.Root

	id         string
	customerID string
	amount     Amount
	currency   Currency
	dueDate    Date
	status     Status
	createdAt  time.Time
	updatedAt  time.Time
	paidAt     time.Time
	voidedAt   time.Time
	voidReason string
}

// Terms are what an invoice is issued for: its amount in a currency, and
// when it falls due (zero: no due date).
type Terms struct {
	Amount   Amount
	Currency Currency
	DueDate  Date
}

// Create issues a new invoice at now. customerID is trimmed; it must be
// non-empty and at most MaxCustomerIDLength characters. The amount must be
// positive and fit the currency (ParseAmountIn enforces the same rules on
// input); a due date may not be before the issue date (UTC) nor more than
// MaxDueYears after it. Every invalid field is reported, joined.
func Create(id, customerID string, terms Terms, now time.Time) (*Invoice, error) {
	var errs []error
	if strings.TrimSpace(id) == "" {
		errs = append(errs, &ValidationError{Field: "id", Reason: "must not be empty"})
	}
	customerID = strings.TrimSpace(customerID)
	if err := ValidateCustomerID(customerID); err != nil {
		errs = append(errs, err)
	}
	switch {
	case terms.Currency.IsZero():
		errs = append(errs, &ValidationError{Field: "currency", Reason: "is required"})
	case !terms.Currency.Fits(terms.Amount):
		errs = append(errs, &ValidationError{Field: "amount", Reason: fmt.Sprintf(
			"must be greater than 0 and at most %s, with at most %d decimal places",
			terms.Currency.Format(terms.Currency.MaxAmount()), terms.Currency.Digits())})
	}
	if err := ValidateDueDate(terms.DueDate, now); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	inv := &Invoice{}
	err := event.Raise(inv, Created{
		InvoiceID: id, CustomerID: customerID, Amount: terms.Amount, Currency: terms.Currency,
		DueDate: terms.DueDate, CreatedAt: now,
	})
	return inv, err
}

// ValidateDueDate checks a due date for an invoice issued at now: none, or
// a day from the issue date (UTC) to MaxDueYears after it.
func ValidateDueDate(due Date, now time.Time) error {
	if due.IsZero() {
		return nil
	}
	issued := DateOf(now)
	switch {
	case due.Before(issued):
		return &ValidationError{Field: "dueDate", Reason: "must not be before the issue date " + issued.String()}
	case issued.AddYears(MaxDueYears).Before(due):
		return &ValidationError{Field: "dueDate", Reason: fmt.Sprintf("must be at most %d years after the issue date, %s at the latest",
			MaxDueYears, issued.AddYears(MaxDueYears))}
	}
	return nil
}

// ValidateVoidReason checks a void reason: at most MaxVoidReasonLength
// characters of valid UTF-8, without control characters other than line
// breaks and tabs.
func ValidateVoidReason(reason string) error {
	bad := ""
	switch {
	case !utf8.ValidString(reason):
		bad = "must be valid UTF-8"
	case utf8.RuneCountInString(reason) > MaxVoidReasonLength:
		bad = fmt.Sprintf("must be at most %d characters", MaxVoidReasonLength)
	case strings.ContainsFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }):
		bad = "must not contain control characters other than line breaks and tabs"
	default:
		return nil
	}
	return &ValidationError{Field: "reason", Reason: bad}
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

// Pay marks a pending invoice paid. Paying a paid invoice is
// ErrAlreadyPaid, a void one ErrInvoiceVoid.
func (i *Invoice) Pay(now time.Time) error {
	switch i.status {
	case StatusPaid:
		return ErrAlreadyPaid
	case StatusVoid:
		return ErrInvoiceVoid
	}
	return event.Raise(i, Paid{InvoiceID: i.id, PaidAt: now})
}

// Void cancels a pending invoice, with an optional reason (trimmed; see
// ValidateVoidReason). Voiding a paid invoice is ErrAlreadyPaid, a void one
// ErrAlreadyVoid.
func (i *Invoice) Void(reason string, now time.Time) error {
	reason = strings.TrimSpace(reason)
	if err := ValidateVoidReason(reason); err != nil {
		return err
	}
	switch i.status {
	case StatusPaid:
		return ErrAlreadyPaid
	case StatusVoid:
		return ErrAlreadyVoid
	}
	return event.Raise(i, Voided{InvoiceID: i.id, Reason: reason, VoidedAt: now})
}

// Apply implements event.Aggregate.
func (i *Invoice) Apply(e event.Event) error {
	switch e := e.(type) {
	case Created:
		if i.id != "" {
			return fmt.Errorf("invoice %s: created twice", i.id)
		}
		i.id, i.customerID, i.amount, i.currency, i.dueDate = e.InvoiceID, e.CustomerID, e.Amount, e.Currency, e.DueDate
		i.status, i.createdAt, i.updatedAt = StatusPending, e.CreatedAt, e.CreatedAt
	case Paid:
		if i.id == "" {
			return errors.New("invoice paid before it was created")
		}
		if i.status != StatusPending {
			return fmt.Errorf("invoice %s: paid while %s", i.id, i.status)
		}
		i.status, i.paidAt, i.updatedAt = StatusPaid, e.PaidAt, e.PaidAt
	case Voided:
		if i.id == "" {
			return errors.New("invoice voided before it was created")
		}
		if i.status != StatusPending {
			return fmt.Errorf("invoice %s: voided while %s", i.id, i.status)
		}
		i.status, i.voidedAt, i.voidReason, i.updatedAt = StatusVoid, e.VoidedAt, e.Reason, e.VoidedAt
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

// Currency returns the currency of the amount.
func (i *Invoice) Currency() Currency { return i.currency }

// DueDate returns the due date; zero when there is none.
func (i *Invoice) DueDate() Date { return i.dueDate }

// Status returns the lifecycle state.
func (i *Invoice) Status() Status { return i.status }

// CreatedAt returns when the invoice was issued.
func (i *Invoice) CreatedAt() time.Time { return i.createdAt }

// UpdatedAt returns when the last event happened.
func (i *Invoice) UpdatedAt() time.Time { return i.updatedAt }

// PaidAt returns when the invoice was paid, and false while it is pending.
func (i *Invoice) PaidAt() (time.Time, bool) { return i.paidAt, i.status == StatusPaid }

// VoidedAt returns when the invoice was voided and why, and false unless it
// is void.
func (i *Invoice) VoidedAt() (at time.Time, reason string, ok bool) {
	return i.voidedAt, i.voidReason, i.status == StatusVoid
}
