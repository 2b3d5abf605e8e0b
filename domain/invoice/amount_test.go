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
	reasonDecimals    = "must have at most 4 decimal places"
	reasonTooLarge    = "must be at most 999999999999.9999"
)

func TestParseAmountAcceptsExactJSONNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want invoice.Amount
	}{
		{"19.99", 199900},
		{"20", 200000},
		{"0.01", 100},
		{"0.0001", 1},
		{"1.2345", 12345},
		{"1.5e1", 150000},
		{"1E2", 1000000},
		{"1e+2", 1000000},
		{"1.50", 15000},
		{"1.500", 15000},
		{"1.23450000", 12345},
		{"999999999999.99", 9_999_999_999_999_900},
		{"999999999999.9999", invoice.MaxAmount},
		{"999999999999.99990", invoice.MaxAmount},
		{"9.999999999999999e11", invoice.MaxAmount},
		{"0.10e1", 10000},
		{"100e-2", 10000},
		{"1e-2", 100},
		{"1e-4", 1},
		{"0.00000001e4", 1},
		{"1e0", 10000},
		{"1e-0", 10000},
		{"1e00002", 1000000},
		{"10000e-4", 10000},
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
		{"zero with decimals", "0.0000", reasonNotPositive},
		{"zero with exponent", "0e5", reasonNotPositive},
		{"negative ten-thousandth", "-0.0001", reasonNotPositive},
		{"below a ten-thousandth", "0.00001", reasonDecimals},
		{"five decimals", "1.99999", reasonDecimals},
		{"decimals from exponent", "1e-5", reasonDecimals},
		{"tiny exponent", "1e-9999999", reasonDecimals},
		{"max plus a hundred-thousandth", "999999999999.99991", reasonDecimals},
		{"one trillion", "1000000000000", reasonTooLarge},
		{"one trillion with decimals", "1000000000000.0000", reasonTooLarge},
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

// ParseAmountIn is what a request's amount goes through: at most the
// currency's minor unit of decimals, and at most its MaxAmount.
func TestParseAmountIn(t *testing.T) {
	tests := []struct {
		currency   string
		in         string
		want       invoice.Amount
		wantFormat string // the currency's Format of the result
		wantReason string // empty means valid
	}{
		{currency: "EUR", in: "19.99", want: 199900, wantFormat: "19.99"},
		{currency: "EUR", in: "19.9", want: 199000, wantFormat: "19.90"},
		{currency: "EUR", in: "5", want: 50000, wantFormat: "5.00"},
		{currency: "EUR", in: "999999999999.99", want: 9_999_999_999_999_900, wantFormat: "999999999999.99"},
		{currency: "EUR", in: "19.999", wantReason: "must have at most 2 decimal places"},
		{currency: "EUR", in: "1000000000000", wantReason: "must be at most 999999999999.99"},
		{currency: "EUR", in: "1e12", wantReason: "must be at most 999999999999.99"},
		{currency: "EUR", in: "0", wantReason: reasonNotPositive},
		{currency: "EUR", in: "abc", wantReason: reasonNotNumber},
		{currency: "JPY", in: "500", want: 5_000_000, wantFormat: "500"},
		{currency: "JPY", in: "5e2", want: 5_000_000, wantFormat: "500"},
		// Trailing zeros are not decimal places: the value is whole.
		{currency: "JPY", in: "500.00", want: 5_000_000, wantFormat: "500"},
		{currency: "JPY", in: "999999999999", want: 9_999_999_999_990_000, wantFormat: "999999999999"},
		{currency: "JPY", in: "19.5", wantReason: "must be a whole number (the currency has no minor unit)"},
		{currency: "JPY", in: "0.5", wantReason: "must be a whole number (the currency has no minor unit)"},
		{currency: "JPY", in: "1000000000000", wantReason: "must be at most 999999999999"},
		{currency: "KWD", in: "1.25", want: 12500, wantFormat: "1.250"},
		{currency: "KWD", in: "1.234", want: 12340, wantFormat: "1.234"},
		{currency: "KWD", in: "999999999999.999", want: 9_999_999_999_999_990, wantFormat: "999999999999.999"},
		{currency: "KWD", in: "1.2345", wantReason: "must have at most 3 decimal places"},
		{currency: "KWD", in: "999999999999.9999", wantReason: "must have at most 3 decimal places"},
		{currency: "KWD", in: "1000000000000", wantReason: "must be at most 999999999999.999"},
	}
	for _, tt := range tests {
		t.Run(tt.currency+" "+tt.in, func(t *testing.T) {
			c := invoice.MustCurrency(tt.currency)

			got, err := invoice.ParseAmountIn(tt.in, c)

			if tt.wantReason != "" {
				if err == nil {
					t.Fatalf("ParseAmountIn(%q, %s) = %d, want error %q", tt.in, c, got, tt.wantReason)
				}
				if ve := requireValidationError(t, err, "amount"); ve.Reason != tt.wantReason {
					t.Errorf("ParseAmountIn(%q, %s) reason = %q, want %q", tt.in, c, ve.Reason, tt.wantReason)
				}
				if got != 0 {
					t.Errorf("ParseAmountIn(%q, %s) = %d alongside an error, want 0", tt.in, c, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAmountIn(%q, %s) error = %v, want %d", tt.in, c, err, tt.want)
			}
			if got != tt.want {
				t.Errorf("ParseAmountIn(%q, %s) = %d, want %d", tt.in, c, got, tt.want)
			}
			if f := c.Format(got); f != tt.wantFormat {
				t.Errorf("%s.Format(%d) = %q, want %q", c, got, f, tt.wantFormat)
			}
			if !c.Fits(got) {
				t.Errorf("%s.Fits(%d) = false for an amount ParseAmountIn accepted", c, got)
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
		{"1 then 10000 zeros, e-10000", "1" + strings.Repeat("0", 10000) + "e-10000", 10000},
		{"0.(10000 zeros)1e10001", "0." + strings.Repeat("0", 10000) + "1e10001", 10000},
		{"0.(9998 zeros)1e10000", "0." + strings.Repeat("0", 9998) + "1e10000", 100000},
		{"1 then 10002 zeros, e-10000", "1" + strings.Repeat("0", 10002) + "e-10000", 1000000},
		{"1 then 10000 zeros, e-10004", "1" + strings.Repeat("0", 10000) + "e-10004", 1},
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
				if err != nil || got != 10000 {
					t.Fatalf("ParseAmount(%s) = %d, %v; want 10000, nil", tt.name, got, err)
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

// String writes as few decimals as the amount needs: it is what the stores
// keep, so it must be exact for every value, negative ones included.
func TestAmountString(t *testing.T) {
	tests := []struct {
		in   invoice.Amount
		want string
	}{
		{199000, "19.9"},
		{199900, "19.99"},
		{12345, "1.2345"},
		{1, "0.0001"},
		{1000, "0.1"},
		{200000, "20"},
		{0, "0"},
		{-15000, "-1.5"},
		{-5, "-0.0005"},
		{invoice.MaxAmount, "999999999999.9999"},
		{math.MinInt64, "-922337203685477.5808"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Amount(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
		})
	}
}

// Format and Append write at least the given decimals (a currency's minor
// unit), more only when the amount has them: an amount is never cut short.
func TestAmountFormat(t *testing.T) {
	tests := []struct {
		in       invoice.Amount
		decimals int
		want     string
	}{
		{199000, 2, "19.90"},
		{199900, 2, "19.99"},
		{200000, 2, "20.00"},
		{5_000_000, 0, "500"},
		{12500, 3, "1.250"},
		{199900, 4, "19.9900"},
		{12345, 2, "1.2345"},
		{1, 0, "0.0001"},
		{0, 2, "0.00"},
		{-150, 2, "-0.015"},
		{199900, 9, "19.9900"}, // never more than AmountScale
		{199900, -1, "19.99"},  // never fewer than the amount has
		{invoice.MaxAmount, 2, "999999999999.9999"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.Format(tt.decimals); got != tt.want {
				t.Errorf("Amount(%d).Format(%d) = %q, want %q", int64(tt.in), tt.decimals, got, tt.want)
			}
			if got := string(tt.in.Append([]byte("x="), tt.decimals)); got != "x="+tt.want {
				t.Errorf("Amount(%d).Append(x=, %d) = %q, want %q", int64(tt.in), tt.decimals, got, "x="+tt.want)
			}
		})
	}
}

func TestAmountDecimals(t *testing.T) {
	tests := []struct {
		in   invoice.Amount
		want int
	}{
		{12345, 4},
		{12340, 3},
		{12300, 2},
		{12000, 1},
		{10000, 0},
		{5_000_000, 0},
		{0, 0},
		{1, 4},
		{-150, 3},
	}
	for _, tt := range tests {
		if got := tt.in.Decimals(); got != tt.want {
			t.Errorf("Amount(%d).Decimals() = %d, want %d", int64(tt.in), got, tt.want)
		}
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
		{199900, `{"amount":19.99}`},
		{199000, `{"amount":19.9}`},
		{1, `{"amount":0.0001}`},
		{12500, `{"amount":1.25}`},
		{200000, `{"amount":20}`},
		{invoice.MaxAmount, `{"amount":999999999999.9999}`},
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
		{in: `{"amount":19.99}`, want: 199900},
		{in: `{"amount":1.5e1}`, want: 150000},
		{in: `{"amount": 20 }`, want: 200000},
		// Stored payloads are read at the amount's own scale, whatever the
		// currency's minor unit.
		{in: `{"amount":19.999}`, want: 199990},
		{in: `{"amount":0}`, wantErr: true},
		{in: `{"amount":-5}`, wantErr: true},
		{in: `{"amount":0.00001}`, wantErr: true},
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
		"19.99", "20", "0.01", "0.0001", "1.5e1", "1E2", "1.50", "999999999999.9999", "0.10e1", "100e-2",
		"0", "-1", "0.00001", "1000000000000", "1e13", "1e9999999999", "1e-9999999",
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
		if want, ok := exactUnits(s); ok && want.Cmp(big.NewInt(int64(got))) != 0 {
			t.Fatalf("ParseAmount(%q) = %d ten-thousandths, exact value is %s", s, got, want)
		}
	})
}

// exactUnits returns the exact value of a JSON number literal in
// ten-thousandths, and false when it is not a whole number of them or has
// an exponent too long to evaluate cheaply.
func exactUnits(s string) (*big.Int, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(strings.TrimLeft(s[i+1:], "+-"), "0")) > 6 {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false
	}
	r.Mul(r, big.NewRat(10_000, 1))
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
