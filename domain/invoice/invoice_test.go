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
	voidedAt  = time.Date(2024, 5, 4, 9, 15, 0, 5, time.UTC)

	eur = invoice.MustCurrency("EUR")
	jpy = invoice.MustCurrency("JPY")
	kwd = invoice.MustCurrency("KWD")
)

// eventOpts compares events and values holding a Currency or a Date (whose
// fields are unexported) by what they say: the code, and the day.
var eventOpts = cmp.Options{
	cmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() }),
	cmp.Transformer("Date", func(d invoice.Date) string { return d.String() }),
}

func created() invoice.Created {
	return invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt}
}

func paid() invoice.Paid { return invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt} }

func voided(reason string) invoice.Voided {
	return invoice.Voided{InvoiceID: "inv-1", Reason: reason, VoidedAt: voidedAt}
}

// date parses a YYYY-MM-DD literal of a test table.
func date(s string) invoice.Date {
	d, err := invoice.ParseDate("date", s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		customerID string
		terms      invoice.Terms
		now        time.Time // createdAt when zero
		want       invoice.Created
	}{
		{
			name: "plain", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 199900, Currency: eur},
			want: created(),
		},
		{
			name: "customer id is trimmed", id: "inv-1", customerID: " \t cust-1 \n", terms: invoice.Terms{Amount: 199900, Currency: eur},
			want: created(),
		},
		{
			name: "smallest EUR amount", id: "inv-1", customerID: "c", terms: invoice.Terms{Amount: 100, Currency: eur},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 100, Currency: eur, CreatedAt: createdAt},
		},
		{
			name: "largest EUR amount", id: "inv-1", customerID: "c", terms: invoice.Terms{Amount: eur.MaxAmount(), Currency: eur},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: eur.MaxAmount(), Currency: eur, CreatedAt: createdAt},
		},
		{
			name: "whole JPY amount", id: "inv-1", customerID: "c", terms: invoice.Terms{Amount: 5_000_000, Currency: jpy},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 5_000_000, Currency: jpy, CreatedAt: createdAt},
		},
		{
			name: "KWD amount to the fils", id: "inv-1", customerID: "c", terms: invoice.Terms{Amount: 12500, Currency: kwd},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: 12500, Currency: kwd, CreatedAt: createdAt},
		},
		{
			name: "largest KWD amount", id: "inv-1", customerID: "c", terms: invoice.Terms{Amount: kwd.MaxAmount(), Currency: kwd},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: "c", Amount: kwd.MaxAmount(), Currency: kwd, CreatedAt: createdAt},
		},
		{
			name: "due on the issue date", id: "inv-1", customerID: "cust-1",
			terms: invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2024-05-01")},
			want:  invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, DueDate: date("2024-05-01"), CreatedAt: createdAt},
		},
		{
			name: "due five years after the issue date", id: "inv-1", customerID: "cust-1",
			terms: invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2029-05-01")},
			want:  invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, DueDate: date("2029-05-01"), CreatedAt: createdAt},
		},
		{
			// 22:00 in New York on 1 May is 2 May in UTC, the issue date.
			name: "issue date is the UTC day", id: "inv-1", customerID: "cust-1",
			now:   time.Date(2024, 5, 1, 22, 0, 0, 0, time.FixedZone("EDT", -4*3600)),
			terms: invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2024-05-02")},
			want: invoice.Created{
				InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, DueDate: date("2024-05-02"),
				CreatedAt: time.Date(2024, 5, 1, 22, 0, 0, 0, time.FixedZone("EDT", -4*3600)),
			},
		},
		{
			name: "255 ASCII characters", id: "inv-1", customerID: strings.Repeat("a", 255), terms: invoice.Terms{Amount: 199900, Currency: eur},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("a", 255), Amount: 199900, Currency: eur, CreatedAt: createdAt},
		},
		{
			// 510 bytes: the limit counts characters, not bytes.
			name: "255 two-byte characters", id: "inv-1", customerID: strings.Repeat("é", 255), terms: invoice.Terms{Amount: 199900, Currency: eur},
			want: invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("é", 255), Amount: 199900, Currency: eur, CreatedAt: createdAt},
		},
		{
			// Trimming happens before the length check.
			name: "255 characters plus surrounding space", id: "inv-1", customerID: "  " + strings.Repeat("é", 255) + "  ",
			terms: invoice.Terms{Amount: 199900, Currency: eur},
			want:  invoice.Created{InvoiceID: "inv-1", CustomerID: strings.Repeat("é", 255), Amount: 199900, Currency: eur, CreatedAt: createdAt},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			if now.IsZero() {
				now = createdAt
			}

			// When
			inv, err := invoice.Create(tt.id, tt.customerID, tt.terms, now)

			// Then
			if err != nil {
				t.Fatalf("Create() error = %v, want nil", err)
			}
			if diff := cmp.Diff([]event.Event{tt.want}, inv.Uncommitted(), eventOpts); diff != "" {
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
				currency: tt.want.Currency.Code(), dueDate: tt.want.DueDate.String(),
				status: invoice.StatusPending, createdAt: now, updatedAt: now,
			})
		})
	}
}

func TestCreateRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name       string
		id         string
		customerID string
		terms      invoice.Terms
		wantFields []string
		wantText   string // the error must contain it, if set
	}{
		{name: "empty id", id: "", customerID: "cust-1", terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"id"}},
		{name: "blank id", id: "  \t", customerID: "cust-1", terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"id"}},
		{name: "empty customer id", id: "inv-1", customerID: "", terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"customerId"}},
		{name: "blank customer id", id: "inv-1", customerID: "   ", terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"customerId"}},
		{name: "256 ASCII characters", id: "inv-1", customerID: strings.Repeat("a", 256), terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"customerId"}},
		{name: "256 two-byte characters", id: "inv-1", customerID: strings.Repeat("é", 256), terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"customerId"}},
		{name: "invalid UTF-8 customer id", id: "inv-1", customerID: "cust-\xff", terms: invoice.Terms{Amount: 199900, Currency: eur}, wantFields: []string{"customerId"}},
		{
			name: "no currency", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 199900},
			wantFields: []string{"currency"}, wantText: "currency is required",
		},
		{name: "zero amount", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 0, Currency: eur}, wantFields: []string{"amount"}},
		{name: "negative amount", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: -100, Currency: eur}, wantFields: []string{"amount"}},
		{
			name: "amount over the EUR maximum", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: eur.MaxAmount() + 100, Currency: eur},
			wantFields: []string{"amount"}, wantText: "at most 999999999999.99",
		},
		{name: "amount over any maximum", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: invoice.MaxAmount + 1, Currency: eur}, wantFields: []string{"amount"}},
		{
			name: "three decimals in EUR", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 199990, Currency: eur},
			wantFields: []string{"amount"}, wantText: "at most 2 decimal places",
		},
		{
			name: "decimals in JPY", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 195000, Currency: jpy},
			wantFields: []string{"amount"}, wantText: "at most 0 decimal places",
		},
		{
			name: "four decimals in KWD", id: "inv-1", customerID: "cust-1", terms: invoice.Terms{Amount: 12345, Currency: kwd},
			wantFields: []string{"amount"}, wantText: "at most 3 decimal places",
		},
		{
			name: "due the day before the issue date", id: "inv-1", customerID: "cust-1",
			terms:      invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2024-04-30")},
			wantFields: []string{"dueDate"}, wantText: "before the issue date 2024-05-01",
		},
		{
			name: "due a day after five years", id: "inv-1", customerID: "cust-1",
			terms:      invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("2029-05-02")},
			wantFields: []string{"dueDate"}, wantText: "2029-05-01 at the latest",
		},
		{
			name: "due in the distant past", id: "inv-1", customerID: "cust-1",
			terms:      invoice.Terms{Amount: 199900, Currency: eur, DueDate: date("1999-12-31")},
			wantFields: []string{"dueDate"},
		},
		{
			name: "customer id and amount", id: "inv-1", customerID: "   ", terms: invoice.Terms{Amount: 0, Currency: eur},
			wantFields: []string{"amount", "customerId"},
		},
		{
			name: "id and amount", id: "", customerID: "cust-1", terms: invoice.Terms{Amount: -5, Currency: eur},
			wantFields: []string{"amount", "id"},
		},
		{
			name: "every field", id: "", customerID: "",
			terms:      invoice.Terms{Amount: 0, Currency: eur, DueDate: date("2024-04-30")},
			wantFields: []string{"amount", "customerId", "dueDate", "id"},
		},
		{
			name: "no currency and a bad due date", id: "inv-1", customerID: "cust-1",
			terms:      invoice.Terms{Amount: 199900, DueDate: date("2030-01-01")},
			wantFields: []string{"currency", "dueDate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// When
			inv, err := invoice.Create(tt.id, tt.customerID, tt.terms, createdAt)

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
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Create() error = %q, want it to contain %q", err, tt.wantText)
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

func TestParseStatus(t *testing.T) {
	for _, st := range invoice.Statuses() {
		got, err := invoice.ParseStatus("status", string(st))
		if err != nil || got != st {
			t.Errorf("ParseStatus(%q) = %q, %v; want %q, nil", st, got, err, st)
		}
	}
	for _, bad := range []string{"", "PAID", "Pending", "voided", "cancelled", " paid"} {
		got, err := invoice.ParseStatus("status", bad)
		if err == nil {
			t.Errorf("ParseStatus(%q) = %q, want an error", bad, got)
			continue
		}
		_ = requireValidationError(t, err, "status")
	}
	if diff := cmp.Diff([]invoice.Status{invoice.StatusPending, invoice.StatusPaid, invoice.StatusVoid}, invoice.Statuses()); diff != "" {
		t.Errorf("Statuses() mismatch (-want +got):\n%s", diff)
	}
}

var (
	pendingState = state{
		id: "inv-1", customerID: "cust-1", amount: 199900, currency: "EUR", status: invoice.StatusPending,
		createdAt: createdAt, updatedAt: createdAt,
	}
	paidState = state{
		id: "inv-1", customerID: "cust-1", amount: 199900, currency: "EUR", status: invoice.StatusPaid,
		createdAt: createdAt, updatedAt: paidAt, paidAt: paidAt, isPaid: true,
	}
)

// voidState is the state after voided(reason).
func voidState(reason string) state {
	return state{
		id: "inv-1", customerID: "cust-1", amount: 199900, currency: "EUR", status: invoice.StatusVoid,
		createdAt: createdAt, updatedAt: voidedAt, voidedAt: voidedAt, voidReason: reason, isVoid: true,
	}
}

func TestPay(t *testing.T) {
	tests := []struct {
		name       string
		given      []event.Event
		wantEvents []event.Event
		wantErr    error
		wantState  state
	}{
		{
			name:       "pending invoice is paid",
			given:      []event.Event{created()},
			wantEvents: []event.Event{paid()},
			wantState:  paidState,
		},
		{
			name:      "paid invoice is already paid",
			given:     []event.Event{created(), paid()},
			wantErr:   invoice.ErrAlreadyPaid,
			wantState: paidState,
		},
		{
			name:      "void invoice cannot be paid",
			given:     []event.Event{created(), voided("duplicate")},
			wantErr:   invoice.ErrInvoiceVoid,
			wantState: voidState("duplicate"),
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
			if diff := cmp.Diff(tt.wantEvents, inv.Uncommitted(), eventOpts); diff != "" {
				t.Errorf("Pay() raised events mismatch (-want +got):\n%s", diff)
			}
			if got, want := inv.Version(), len(tt.given)+len(tt.wantEvents); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
			if got, want := inv.ExpectedVersion(), len(tt.given); got != want {
				t.Errorf("ExpectedVersion() = %d, want %d (the loaded stream's length)", got, want)
			}
			assertState(t, inv, tt.wantState)
		})
	}
}

func TestVoid(t *testing.T) {
	tests := []struct {
		name       string
		given      []event.Event
		reason     string
		wantEvents []event.Event
		wantErr    error  // a sentinel, if any
		wantField  string // a ValidationError's field, if any
		wantState  state
	}{
		{
			name:       "pending invoice is voided with its reason trimmed",
			given:      []event.Event{created()},
			reason:     "  issued twice \n",
			wantEvents: []event.Event{voided("issued twice")},
			wantState:  voidState("issued twice"),
		},
		{
			name:       "without a reason",
			given:      []event.Event{created()},
			wantEvents: []event.Event{voided("")},
			wantState:  voidState(""),
		},
		{
			name:       "blank reason is no reason",
			given:      []event.Event{created()},
			reason:     " \t\n",
			wantEvents: []event.Event{voided("")},
			wantState:  voidState(""),
		},
		{
			name:       "line breaks and tabs inside the reason",
			given:      []event.Event{created()},
			reason:     "issued twice:\r\n\tsee inv-2",
			wantEvents: []event.Event{voided("issued twice:\r\n\tsee inv-2")},
			wantState:  voidState("issued twice:\r\n\tsee inv-2"),
		},
		{
			// 1000 bytes: the limit counts characters, not bytes.
			name:       "500 two-byte characters",
			given:      []event.Event{created()},
			reason:     strings.Repeat("é", 500),
			wantEvents: []event.Event{voided(strings.Repeat("é", 500))},
			wantState:  voidState(strings.Repeat("é", 500)),
		},
		{
			// Trimming happens before the length check.
			name:       "500 characters plus surrounding space",
			given:      []event.Event{created()},
			reason:     "  " + strings.Repeat("a", 500) + "\n",
			wantEvents: []event.Event{voided(strings.Repeat("a", 500))},
			wantState:  voidState(strings.Repeat("a", 500)),
		},
		{
			name:      "501 characters",
			given:     []event.Event{created()},
			reason:    strings.Repeat("a", 501),
			wantField: "reason",
			wantState: pendingState,
		},
		{
			name:      "control character",
			given:     []event.Event{created()},
			reason:    "issued\x00twice",
			wantField: "reason",
			wantState: pendingState,
		},
		{
			name:      "terminal escape",
			given:     []event.Event{created()},
			reason:    "issued \x1b[31mtwice",
			wantField: "reason",
			wantState: pendingState,
		},
		{
			name:      "invalid UTF-8",
			given:     []event.Event{created()},
			reason:    "issued \xff twice",
			wantField: "reason",
			wantState: pendingState,
		},
		{
			name:      "paid invoice cannot be voided",
			given:     []event.Event{created(), paid()},
			reason:    "too late",
			wantErr:   invoice.ErrAlreadyPaid,
			wantState: paidState,
		},
		{
			name:      "void invoice is already void",
			given:     []event.Event{created(), voided("first")},
			reason:    "second",
			wantErr:   invoice.ErrAlreadyVoid,
			wantState: voidState("first"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Given
			inv := rehydrate(t, tt.given...)

			// When
			err := inv.Void(tt.reason, voidedAt)

			// Then
			switch {
			case tt.wantField != "":
				_ = requireValidationError(t, err, tt.wantField)
			case !errors.Is(err, tt.wantErr):
				t.Fatalf("Void() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantEvents, inv.Uncommitted(), eventOpts); diff != "" {
				t.Errorf("Void() raised events mismatch (-want +got):\n%s", diff)
			}
			if got, want := inv.Version(), len(tt.given)+len(tt.wantEvents); got != want {
				t.Errorf("Version() = %d, want %d", got, want)
			}
			if got, want := inv.ExpectedVersion(), len(tt.given); got != want {
				t.Errorf("ExpectedVersion() = %d, want %d (the loaded stream's length)", got, want)
			}
			assertState(t, inv, tt.wantState)
		})
	}
}

func TestCommandsAreRejectedOnAnUncreatedInvoice(t *testing.T) {
	tests := []struct {
		name string
		do   func(*invoice.Invoice) error
	}{
		{"pay", func(inv *invoice.Invoice) error { return inv.Pay(paidAt) }},
		{"void", func(inv *invoice.Invoice) error { return inv.Void("x", voidedAt) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &invoice.Invoice{}

			err := tt.do(inv)

			if err == nil {
				t.Fatalf("%s on an invoice with no history = nil, want an error", tt.name)
			}
			for _, sentinel := range []error{invoice.ErrAlreadyPaid, invoice.ErrAlreadyVoid, invoice.ErrInvoiceVoid} {
				if errors.Is(err, sentinel) {
					t.Errorf("%s error = %v, want something other than %v", tt.name, err, sentinel)
				}
			}
			if got := inv.Uncommitted(); len(got) != 0 {
				t.Errorf("Uncommitted() = %v, want none", got)
			}
			if got := inv.Version(); got != 0 {
				t.Errorf("Version() = %d, want 0", got)
			}
		})
	}
}

func TestCreateThenPayBeforeCommit(t *testing.T) {
	inv, err := invoice.Create("inv-1", "cust-1", invoice.Terms{Amount: 199900, Currency: eur}, createdAt)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}

	if err := inv.Pay(paidAt); err != nil {
		t.Fatalf("Pay() error = %v, want nil", err)
	}
	if err := inv.Pay(paidAt.Add(time.Hour)); !errors.Is(err, invoice.ErrAlreadyPaid) {
		t.Fatalf("second Pay() error = %v, want ErrAlreadyPaid", err)
	}
	if err := inv.Void("late", voidedAt); !errors.Is(err, invoice.ErrAlreadyPaid) {
		t.Fatalf("Void() after Pay() error = %v, want ErrAlreadyPaid", err)
	}

	if diff := cmp.Diff([]event.Event{created(), paid()}, inv.Uncommitted(), eventOpts); diff != "" {
		t.Errorf("raised events mismatch (-want +got):\n%s", diff)
	}
	if got := inv.Version(); got != 2 {
		t.Errorf("Version() = %d, want 2", got)
	}
	if got := inv.ExpectedVersion(); got != 0 {
		t.Errorf("ExpectedVersion() = %d, want 0", got)
	}
}

func TestCreateThenVoidBeforeCommit(t *testing.T) {
	inv, err := invoice.Create("inv-1", "cust-1", invoice.Terms{Amount: 199900, Currency: eur}, createdAt)
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}

	if err := inv.Void("wrong customer", voidedAt); err != nil {
		t.Fatalf("Void() error = %v, want nil", err)
	}
	if err := inv.Pay(paidAt); !errors.Is(err, invoice.ErrInvoiceVoid) {
		t.Fatalf("Pay() after Void() error = %v, want ErrInvoiceVoid", err)
	}
	if err := inv.Void("again", voidedAt); !errors.Is(err, invoice.ErrAlreadyVoid) {
		t.Fatalf("second Void() error = %v, want ErrAlreadyVoid", err)
	}

	if diff := cmp.Diff([]event.Event{created(), voided("wrong customer")}, inv.Uncommitted(), eventOpts); diff != "" {
		t.Errorf("raised events mismatch (-want +got):\n%s", diff)
	}
	assertState(t, inv, voidState("wrong customer"))
}

func TestRehydratedState(t *testing.T) {
	kwdCreated := invoice.Created{
		InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 12500, Currency: kwd, DueDate: date("2024-06-30"), CreatedAt: createdAt,
	}
	tests := []struct {
		name  string
		given []event.Event
		want  state
	}{
		{name: "created", given: []event.Event{created()}, want: pendingState},
		{
			name:  "created in KWD with a due date",
			given: []event.Event{kwdCreated},
			want: state{
				id: "inv-1", customerID: "cust-1", amount: 12500, currency: "KWD", dueDate: "2024-06-30",
				status: invoice.StatusPending, createdAt: createdAt, updatedAt: createdAt,
			},
		},
		{name: "created and paid", given: []event.Event{created(), paid()}, want: paidState},
		{name: "created and voided", given: []event.Event{created(), voided("issued twice")}, want: voidState("issued twice")},
		{name: "created and voided without a reason", given: []event.Event{created(), voided("")}, want: voidState("")},
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
		{"voided before created", []event.Event{voided("x")}},
		{"created twice", []event.Event{created(), created()}},
		{"paid twice", []event.Event{created(), paid(), paid()}},
		{"voided twice", []event.Event{created(), voided("x"), voided("y")}},
		{"paid after void", []event.Event{created(), voided("x"), paid()}},
		{"voided after paid", []event.Event{created(), paid(), voided("x")}},
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
	currency, dueDate    string
	status               invoice.Status
	createdAt, updatedAt time.Time
	paidAt               time.Time
	isPaid               bool
	voidedAt             time.Time
	voidReason           string
	isVoid               bool
}

func assertState(t *testing.T, inv *invoice.Invoice, want state) {
	t.Helper()
	paidAt, isPaid := inv.PaidAt()
	voidedAt, reason, isVoid := inv.VoidedAt()
	got := state{
		id: inv.ID(), customerID: inv.CustomerID(), amount: inv.Amount(),
		currency: inv.Currency().Code(), dueDate: inv.DueDate().String(), status: inv.Status(),
		createdAt: inv.CreatedAt(), updatedAt: inv.UpdatedAt(), paidAt: paidAt, isPaid: isPaid,
		voidedAt: voidedAt, voidReason: reason, isVoid: isVoid,
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
