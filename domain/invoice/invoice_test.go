package invoice_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
)

var (
	createdAt = time.Date(2024, 5, 1, 10, 30, 0, 123456789, time.UTC)
	paidAt    = time.Date(2024, 5, 3, 8, 0, 0, 987654321, time.UTC)
)

func created() invoice.Created {
	return invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 1999, CreatedAt: createdAt}
}

func paid() invoice.Paid { return invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt} }

func TestCreate(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		customerID string
		amount     invoice.Amount
		want       invoice.Created
	}{
		{
			name: "plain", id: "inv-1", customerID: "cust-1", amount: 1999,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 1999, CreatedAt: createdAt},
		},
		{
			name: "customer id is trimmed", id: "inv-1", customerID: " \t cust-1 \n", amount: 1999,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 1999, CreatedAt: createdAt},
		},
		{
			name: "smallest amount", id: "inv-1", customerID: "c", amount: 1,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 1, CreatedAt: createdAt},
		},
		{
			name: "largest amount", id: "inv-1", customerID: "c", amount: invoice.MaxAmount,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: invoice.MaxAmount, CreatedAt: createdAt},
		},
		{
			name: "255 ASCII characters", id: "inv-1", customerID: strings.Repeat("a", 255), amount: 1999,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("a", 255), Amount: 1999, CreatedAt: createdAt},
		},
		{
			// 510 bytes: the limit counts characters, not bytes.
			name: "255 two-byte characters", id: "inv-1", customerID: strings.Repeat("é", 255), amount: 1999,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("é", 255), Amount: 1999, CreatedAt: createdAt},
		},
		{
			// Trimming happens before the length check.
			name: "255 characters plus surrounding space", id: "inv-1", customerID: "  " + strings.Repeat("é", 255) + "  ", amount: 1999,
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("é", 255), Amount: 1999, CreatedAt: createdAt},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// When
			inv, err := invoice.Create(tt.id, tt.customerID, tt.amount, createdAt)

			// Then
			if err != nil {
				t.Fatalf("Create() error = %v, want nil", err)
			}
			if diff := cmp.Diff([]event.Event{tt.want}, inv.Uncommitted()); diff != "" {
				t.Errorf("Create() raised events mismatch (-want +got):\n%s", diff)
			}
			if got := inv.Version(); got != 1 {
				t.Errorf("Version() = %d, want 1", got)
			}
			if got := inv.ExpectedVersion(); got != 0 {
				t.Errorf("ExpectedVersion() = %d, want 0", got)
			}
			assertState(t, inv, state{
				id: tt.want.InvoiceID, customerID: tt.want.CustomerID, amount: tt.want.Amount,
				status: invoice.StatusPending, createdAt: createdAt, updatedAt: createdAt,
			})
		})
	}
}

func TestCreateRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		customerID string
		amount     invoice.Amount
		wantFields []string
	}{
		{name: "empty id", id: "", customerID: "cust-1", amount: 1999, wantFields: []string{"id"}},
		{name: "blank id", id: "  \t", customerID: "cust-1", amount: 1999, wantFields: []string{"id"}},
		{name: "empty customer id", id: "inv-1", customerID: "", amount: 1999, wantFields: []string{"customerId"}},
		{name: "blank customer id", id: "inv-1", customerID: "   ", amount: 1999, wantFields: []string{"customerId"}},
		{name: "256 ASCII characters", id: "inv-1", customerID: strings.Repeat("a", 256), amount: 1999, wantFields: []string{"customerId"}},
		{name: "256 two-byte characters", id: "inv-1", customerID: strings.Repeat("é", 256), amount: 1999, wantFields: []string{"customerId"}},
		{name: "invalid UTF-8 customer id", id: "inv-1", customerID: "cust-\xff", amount: 1999, wantFields: []string{"customerId"}},
		{name: "zero amount", id: "inv-1", customerID: "cust-1", amount: 0, wantFields: []string{"amount"}},
		{name: "negative amount", id: "inv-1", customerID: "cust-1", amount: -1, wantFields: []string{"amount"}},
		{name: "amount over max", id: "inv-1", customerID: "cust-1", amount: invoice.MaxAmount + 1, wantFields: []string{"amount"}},
		{name: "customer id and amount", id: "inv-1", customerID: "   ", amount: 0, wantFields: []string{"amount", "customerId"}},
		{name: "id and amount", id: "", customerID: "cust-1", amount: -5, wantFields: []string{"amount", "id"}},
		{name: "every field", id: "", customerID: "", amount: 0, wantFields: []string{"amount", "customerId", "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// When
			inv, err := invoice.Create(tt.id, tt.customerID, tt.amount, createdAt)

			// Then
			if err == nil {
				t.Fatalf("Create() = %+v, want an error for %v", inv.Uncommitted(), tt.wantFields)
			}
			if inv != nil {
				t.Errorf("Create() returned an invoice alongside error %v, want nil", err)
			}
			var ve *invoice.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("errors.As(%v, *ValidationError) = false, want true", err)
			}
			if !slices.Contains(tt.wantFields, ve.Field) {
				t.Errorf("errors.As found Field %q, want one of %v", ve.Field, tt.wantFields)
			}
			var gotFields []string
			for _, v := range validationErrors(err) {
				gotFields = append(gotFields, v.Field)
				if v.Reason == "" {
					t.Errorf("ValidationError for %q has an empty Reason", v.Field)
				}
			}
			slices.Sort(gotFields)
			if diff := cmp.Diff(tt.wantFields, gotFields); diff != "" {
				t.Errorf("invalid fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateCustomerID(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantReason string // empty means valid
	}{
		{name: "plain", in: "cust-1"},
		{name: "255 ASCII characters", in: strings.Repeat("a", 255)},
		{name: "255 two-byte characters", in: strings.Repeat("é", 255)},
		{name: "255 four-byte characters", in: strings.Repeat("😀", 255)},
		{name: "255 characters plus surrounding space", in: " " + strings.Repeat("a", 255) + " "},
		{name: "empty", in: "", wantReason: "must not be empty"},
		{name: "blank", in: " \t\n ", wantReason: "must not be empty"},
		{name: "256 ASCII characters", in: strings.Repeat("a", 256), wantReason: "must be at most 255 characters"},
		{name: "256 two-byte characters", in: strings.Repeat("é", 256), wantReason: "must be at most 255 characters"},
		{name: "invalid UTF-8", in: "\xff\xfe", wantReason: "must be valid UTF-8"},
		{name: "NUL inside", in: "cus\x00tomer", wantReason: "must not contain control characters"},
		{name: "escape character", in: "cus\x1b[31m", wantReason: "must not contain control characters"},
		{name: "C1 control", in: "cus\u0085x", wantReason: "must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := invoice.ValidateCustomerID(tt.in)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ValidateCustomerID() error = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateCustomerID() = nil, want %q", tt.wantReason)
			}
			if ve := requireValidationError(t, err, "customerId"); ve.Reason != tt.wantReason {
				t.Errorf("ValidateCustomerID() reason = %q, want %q", ve.Reason, tt.wantReason)
			}
		})
	}
}

func TestPay(t *testing.T) {
	tests := []struct {
		name        string
		given       []event.Event
		wantEvents  []event.Event
		wantErr     error
		wantVersion int
		wantState   state
	}{
		{
			name:        "pending invoice is paid",
			given:       []event.Event{created()},
			wantEvents:  []event.Event{paid()},
			wantVersion: 2,
			wantState: state{
				id: "inv-1", customerID: "cust-1", amount: 1999, status: invoice.StatusPaid,
				createdAt: createdAt, updatedAt: paidAt, paidAt: paidAt, isPaid: true,
			},
		},
		{
			name:        "paid invoice is already paid",
			given:       []event.Event{created(), paid()},
			wantErr:     invoice.ErrAlreadyPaid,
			wantVersion: 2,
			wantState: state{
				id: "inv-1", customerID: "cust-1", amount: 1999, status: invoice.StatusPaid,
				createdAt: createdAt, updatedAt: paidAt, paidAt: paidAt, isPaid: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Given
			inv := rehydrate(t, tt.given...)

			// When
			err := inv.Pay(paidAt)

			// Then
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Pay() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantEvents, inv.Uncommitted()); diff != "" {
				t.Errorf("Pay() raised events mismatch (-want +got):\n%s", diff)
			}
			if got := inv.Version(); got != tt.wantVersion {
				t.Errorf("Version() = %d, want %d", got, tt.wantVersion)
			}
			if got, want := inv.ExpectedVersion(), len(tt.given); got != want {
				t.Errorf("ExpectedVersion() = %d, want %d (the loaded stream's length)", got, want)
			}
			assertState(t, inv, tt.wantState)
		})
	}
}

func TestPayIsRejectedOnUncreatedInvoice(t *testing.T) {
	inv := &invoice.Invoice{}

	err := inv.Pay(paidAt)

	if err == nil {
		t.Fatal("Pay() on an invoice with no history = nil, want an error")
	}
	if errors.Is(err, invoice.ErrAlreadyPaid) {
		t.Errorf("Pay() error = %v, want something other than ErrAlreadyPaid", err)
	}
	if got := inv.Uncommitted(); len(got) != 0 {
		t.Errorf("Uncommitted() = %v, want none", got)
	}
	if got := inv.Version(); got != 0 {
		t.Errorf("Version() = %d, want 0", got)
	}
}

func TestCreateThenPayBeforeCommit(t *testing.T) {
	inv, err := invoice.Create("inv-1", "cust-1", 1999, createdAt)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}

	if err := inv.Pay(paidAt); err != nil {
		t.Fatalf("Pay() error = %v, want nil", err)
	}
	if err := inv.Pay(paidAt.Add(time.Hour)); !errors.Is(err, invoice.ErrAlreadyPaid) {
		t.Fatalf("second Pay() error = %v, want ErrAlreadyPaid", err)
	}

	if diff := cmp.Diff([]event.Event{created(), paid()}, inv.Uncommitted()); diff != "" {
		t.Errorf("raised events mismatch (-want +got):\n%s", diff)
	}
	if got := inv.Version(); got != 2 {
		t.Errorf("Version() = %d, want 2", got)
	}
	if got := inv.ExpectedVersion(); got != 0 {
		t.Errorf("ExpectedVersion() = %d, want 0", got)
	}
}

func TestRehydratedState(t *testing.T) {
	tests := []struct {
		name  string
		given []event.Event
		want  state
	}{
		{
			name:  "created",
			given: []event.Event{created()},
			want: state{
				id: "inv-1", customerID: "cust-1", amount: 1999, status: invoice.StatusPending,
				createdAt: createdAt, updatedAt: createdAt,
			},
		},
		{
			name:  "created and paid",
			given: []event.Event{created(), paid()},
			want: state{
				id: "inv-1", customerID: "cust-1", amount: 1999, status: invoice.StatusPaid,
				createdAt: createdAt, updatedAt: paidAt, paidAt: paidAt, isPaid: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := rehydrate(t, tt.given...)

			assertState(t, inv, tt.want)
			if got, want := inv.Version(), len(tt.given); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
			if got := inv.Uncommitted(); len(got) != 0 {
				t.Errorf("Uncommitted() = %v, want none after rehydrate", got)
			}
		})
	}
}

func TestApplyRejectsImpossibleHistory(t *testing.T) {
	tests := []struct {
		name  string
		given []event.Event
	}{
		{"paid before created", []event.Event{paid()}},
		{"created twice", []event.Event{created(), created()}},
		{"foreign event", []event.Event{created(), foreignEvent{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &invoice.Invoice{}
			if err := event.Rehydrate(inv, tt.given); err == nil {
				t.Errorf("Rehydrate(%v) = nil, want an error", tt.given)
			}
		})
	}
}

// foreignEvent belongs to no invoice stream.
type foreignEvent struct{}

func (foreignEvent) EventName() string { return "other.happened" }

// state is everything an Invoice exposes through its getters.
type state struct {
	id, customerID       string
	amount               invoice.Amount
	status               invoice.Status
	createdAt, updatedAt time.Time
	paidAt               time.Time
	isPaid               bool
}

func assertState(t *testing.T, inv *invoice.Invoice, want state) {
	t.Helper()
	paidAt, isPaid := inv.PaidAt()
	got := state{
		id: inv.ID(), customerID: inv.CustomerID(), amount: inv.Amount(), status: inv.Status(),
		createdAt: inv.CreatedAt(), updatedAt: inv.UpdatedAt(), paidAt: paidAt, isPaid: isPaid,
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(state{})); diff != "" {
		t.Errorf("invoice state mismatch (-want +got):\n%s", diff)
	}
}

// rehydrate loads an invoice from history, as a repository would.
func rehydrate(t *testing.T, history ...event.Event) *invoice.Invoice {
	t.Helper()
	inv := &invoice.Invoice{}
	if err := event.Rehydrate(inv, history); err != nil {
		t.Fatalf("Rehydrate(%v) error = %v", history, err)
	}
	return inv
}

// validationErrors walks an error tree, including errors.Join's multiple
// branches, and returns every *ValidationError in it.
func validationErrors(err error) []*invoice.ValidationError {
	var out []*invoice.ValidationError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) { //nolint:errorlint // walks the tree itself, one node at a time
		case nil:
		case *invoice.ValidationError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
