package invoice_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"invoices/domain/invoice"
)

// Reasons ParseAmount gives; the HTTP layer shows them to clients verbatim.
const (
	reasonNotNumber   = "must be a number"
	reasonNotPositive = "must be greater than 0"
	reasonDecimals    = "must have at most 2 decimal places"
	reasonTooLarge    = "must be at most 999999999999.99"
)

func TestParseAmountAcceptsExactJSONNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want invoice.Amount
	}{
		{"19.99", 1999},
		{"20", 2000},
		{"0.01", 1},
		{"1.5e1", 1500},
		{"1E2", 10000},
		{"1e+2", 10000},
		{"1.50", 150},
		{"1.500", 150},
		{"999999999999.99", invoice.MaxAmount},
		{"999999999999.990", invoice.MaxAmount},
		{"9.9999999999999e11", invoice.MaxAmount},
		{"0.10e1", 100},
		{"100e-2", 100},
		{"1e-2", 1},
		{"0.000001e4", 1},
		{"1e0", 100},
		{"1e-0", 100},
		{"1e00002", 10000},
		{"10000e-4", 100},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := invoice.ParseAmount(tt.in)
			if err != nil {
				t.Fatalf("ParseAmount(%q) error = %v, want %d", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseAmount(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseAmountRejectsInvalidInput(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantReason string
	}{
		{"zero", "0", reasonNotPositive},
		{"negative", "-1", reasonNotPositive},
		{"negative zero", "-0", reasonNotPositive},
		{"zero with decimals", "0.00", reasonNotPositive},
		{"zero with exponent", "0e5", reasonNotPositive},
		{"negative cents", "-0.01", reasonNotPositive},
		{"sub-cent", "0.001", reasonDecimals},
		{"three decimals", "1.999", reasonDecimals},
		{"decimals from exponent", "1e-3", reasonDecimals},
		{"tiny exponent", "1e-9999999", reasonDecimals},
		{"one over max by a tenth of a cent", "999999999999.991", reasonDecimals},
		{"one trillion", "1000000000000", reasonTooLarge},
		{"one cent over max", "1000000000000.00", reasonTooLarge},
		{"exponent over max", "1e13", reasonTooLarge},
		{"exponent just over max", "1e12", reasonTooLarge},
		{"many digits", "123456789012345678901234567890", reasonTooLarge},
		{"huge exponent", "1e9999999999", reasonTooLarge},
		{"huge exponent with leading zeros", "1e0000000000000000000000000000013", reasonTooLarge},
		{"word", "abc", reasonNotNumber},
		{"empty", "", reasonNotNumber},
		{"leading zero", "01", reasonNotNumber},
		{"trailing dot", "1.", reasonNotNumber},
		{"leading dot", ".5", reasonNotNumber},
		{"plus sign", "+1", reasonNotNumber},
		{"empty exponent", "1e", reasonNotNumber},
		{"signed empty exponent", "1e-", reasonNotNumber},
		{"double exponent", "1e2e3", reasonNotNumber},
		{"two dots", "1.2.3", reasonNotNumber},
		{"double minus", "--1", reasonNotNumber},
		{"lone minus", "-", reasonNotNumber},
		{"NaN", "NaN", reasonNotNumber},
		{"Infinity", "Infinity", reasonNotNumber},
		{"hex", "0x10", reasonNotNumber},
		{"underscore", "1_000", reasonNotNumber},
		{"comma decimal", "1,50", reasonNotNumber},
		{"space", " 1", reasonNotNumber},
		{"JSON string", `"19.99"`, reasonNotNumber},
		{"JSON null", "null", reasonNotNumber},
		{"unicode digit", "١", reasonNotNumber},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := invoice.ParseAmount(tt.in)
			if err == nil {
				t.Fatalf("ParseAmount(%q) = %d, want error %q", tt.in, got, tt.wantReason)
			}
			ve := requireValidationError(t, err, "amount")
			if ve.Reason != tt.wantReason {
				t.Errorf("ParseAmount(%q) reason = %q, want %q", tt.in, ve.Reason, tt.wantReason)
			}
			if got != 0 {
				t.Errorf("ParseAmount(%q) = %d alongside an error, want 0", tt.in, got)
			}
		})
	}
}

// A literal's exponent may be cancelled out by a long mantissa, so any
// shortcut taken for large exponents must still give the exact value (or
// reject the literal outright); silently returning a different sum of money
// is never acceptable. The HTTP body limit (1 MiB by default) lets these in.
func TestParseAmountIsExactForLongMantissaWithLargeExponent(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want invoice.Amount
	}{
		{"1 then 10000 zeros, e-10000", "1" + strings.Repeat("0", 10000) + "e-10000", 100},
		{"0.(10000 zeros)1e10001", "0." + strings.Repeat("0", 10000) + "1e10001", 100},
		{"0.(9998 zeros)1e10000", "0." + strings.Repeat("0", 9998) + "1e10000", 1000},
		{"1 then 10002 zeros, e-10000", "1" + strings.Repeat("0", 10002) + "e-10000", 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := invoice.ParseAmount(tt.in)
			if err != nil {
				// Rejecting an absurdly long literal is a legitimate choice.
				_ = requireValidationError(t, err, "amount")
				return
			}
			if got != tt.want {
				t.Errorf("ParseAmount(%s) = %d (%s), want %d (%s) or a ValidationError", tt.name, got, got, tt.want, tt.want)
			}
		})
	}
}

// Hostile inputs must cost time linear in their length. A regression here
// shows up as the test binary's timeout, not as a timing assertion.
func TestParseAmountRejectsHostileInputWithoutHanging(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantReason string
	}{
		{"exponent with a million digits", "1e" + strings.Repeat("9", 1<<20), reasonTooLarge},
		{"negative exponent with a million digits", "1e-" + strings.Repeat("9", 1<<20), reasonDecimals},
		{"a million digits", strings.Repeat("9", 1<<20), reasonTooLarge},
		{"a million decimals", "1." + strings.Repeat("1", 1<<20), reasonDecimals},
		{"a million trailing zeros", "1." + strings.Repeat("0", 1<<20), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := invoice.ParseAmount(tt.in)
			if tt.wantReason == "" {
				if err != nil || got != 100 {
					t.Fatalf("ParseAmount(%s) = %d, %v; want 100, nil", tt.name, got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseAmount(%s) = %d, want error %q", tt.name, got, tt.wantReason)
			}
			if ve := requireValidationError(t, err, "amount"); ve.Reason != tt.wantReason {
				t.Errorf("ParseAmount(%s) reason = %q, want %q", tt.name, ve.Reason, tt.wantReason)
			}
		})
	}
}

func TestAmountString(t *testing.T) {
	tests := []struct {
		in   invoice.Amount
		want string
	}{
		{1990, "19.90"},
		{1999, "19.99"},
		{1, "0.01"},
		{10, "0.10"},
		{2000, "20.00"},
		{0, "0.00"},
		{-150, "-1.50"},
		{invoice.MaxAmount, "999999999999.99"},
		{-5, "-0.05"},
		{math.MinInt64, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Amount(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
			if got := string(tt.in.Append([]byte("x="))); got != "x="+tt.want {
				t.Errorf("Amount(%d).Append(x=) = %q, want %q", int64(tt.in), got, "x="+tt.want)
			}
		})
	}
}

func TestAmountJSONRoundTrip(t *testing.T) {
	type payload struct {
		Amount invoice.Amount `json:"amount"`
	}
	tests := []struct {
		in       invoice.Amount
		wantJSON string
	}{
		{1999, `{"amount":19.99}`},
		{1990, `{"amount":19.90}`},
		{1, `{"amount":0.01}`},
		{2000, `{"amount":20.00}`},
		{invoice.MaxAmount, `{"amount":999999999999.99}`},
	}
	for _, tt := range tests {
		t.Run(tt.wantJSON, func(t *testing.T) {
			b, err := json.Marshal(payload{Amount: tt.in})
			if err != nil {
				t.Fatalf("Marshal(%d) error = %v", tt.in, err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("Marshal(%d) = %s, want %s", tt.in, b, tt.wantJSON)
			}
			var got payload
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s) error = %v", b, err)
			}
			if got.Amount != tt.in {
				t.Errorf("Unmarshal(%s) = %d, want %d", b, got.Amount, tt.in)
			}
		})
	}
}

func TestAmountUnmarshalJSON(t *testing.T) {
	type payload struct {
		Amount invoice.Amount `json:"amount"`
	}
	tests := []struct {
		in      string
		want    invoice.Amount
		wantErr bool
	}{
		{in: `{"amount":19.99}`, want: 1999},
		{in: `{"amount":1.5e1}`, want: 1500},
		{in: `{"amount": 20 }`, want: 2000},
		{in: `{"amount":0}`, wantErr: true},
		{in: `{"amount":-5}`, wantErr: true},
		{in: `{"amount":0.001}`, wantErr: true},
		{in: `{"amount":1e13}`, wantErr: true},
		{in: `{"amount":"19.99"}`, wantErr: true},
		{in: `{"amount":true}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got payload
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %d, want error", tt.in, got.Amount)
				}
				_ = requireValidationError(t, err, "amount")
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s) error = %v, want %d", tt.in, err, tt.want)
			}
			if got.Amount != tt.want {
				t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, got.Amount, tt.want)
			}
		})
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"19.99", "20", "0.01", "1.5e1", "1E2", "1.50", "999999999999.99", "0.10e1", "100e-2",
		"0", "-1", "0.001", "1000000000000", "1e13", "1e9999999999", "1e-9999999",
		"abc", "", "01", "1.", ".5", "+1", "1e", "--1", "NaN", "Infinity",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := invoice.ParseAmount(s)
		if err != nil {
			_ = requireValidationError(t, err, "amount")
			if got != 0 {
				t.Errorf("ParseAmount(%q) = %d alongside an error, want 0", s, got)
			}
			return
		}
		if got <= 0 || got > invoice.MaxAmount {
			t.Fatalf("ParseAmount(%q) = %d, want a value in (0, %d]", s, got, invoice.MaxAmount)
		}
		again, err := invoice.ParseAmount(got.String())
		if err != nil || again != got {
			t.Fatalf("ParseAmount(%q) = %d, but ParseAmount(%q) = %d, %v", s, got, got.String(), again, err)
		}
		// Cross-check the value against math/big unless the exponent is so
		// large that building it would itself be the hang we guard against.
		if want, ok := exactCents(s); ok && want.Cmp(big.NewInt(int64(got))) != 0 {
			t.Fatalf("ParseAmount(%q) = %d cents, exact value is %s cents", s, got, want)
		}
	})
}

// exactCents returns the exact value of a JSON number literal in cents, and
// false when it is not an integer number of cents or has an exponent too long
// to evaluate cheaply.
func exactCents(s string) (*big.Int, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(strings.TrimLeft(s[i+1:], "+-"), "0")) > 6 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() {
		return nil, false
	}
	return r.Num(), true
}

// requireValidationError fails the test unless err wraps a *ValidationError
// for field, and returns it.
func requireValidationError(t *testing.T, err error, field string) *invoice.ValidationError {
	t.Helper()
	var ve *invoice.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want a *invoice.ValidationError", err, err)
	}
	if ve.Field != field {
		t.Fatalf("ValidationError.Field = %q, want %q (error %v)", ve.Field, field, err)
	}
	if ve.Reason == "" {
		t.Errorf("ValidationError for %q has an empty Reason", field)
	}
	return ve
}
