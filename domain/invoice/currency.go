package invoice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/bojanz/currency"
)

// Currency is an ISO 4217 alphabetic currency code with its minor unit, the
// number of decimal places its amounts are written with. The table of codes
// and minor units is github.com/bojanz/currency's, generated from the ISO
// 4217 list (and CLDR) and kept current by its maintainers; the zero value
// is no currency.
type Currency struct {
	code string
	// digits is the minor unit, or -1 for a code no longer in the table: a
	// currency ISO withdrew after an invoice was issued in it. Its amounts
	// are written with the decimals they have.
	digits int8
}

// fundCodes are the ISO 4217 codes the list marks as funds (IsFund): units
// of account, not money an invoice is paid in. Metals (XAU, XAG, XPT, XPD),
// the testing and no-currency codes (XTS, XXX) and the other X codes without
// a minor unit are not in the table at all.
var fundCodes = map[string]bool{
	"BOV": true, "CHE": true, "CHW": true, "CLF": true, "COU": true,
	"MXV": true, "USN": true, "UYI": true, "UYW": true,
}

// ParseCurrency parses a currency code for a new invoice: three letters in
// any case, naming a currency ISO 4217 lists today with a minor unit, and
// not a fund. Anything else is a ValidationError for "currency".
func ParseCurrency(s string) (Currency, error) {
	code := strings.ToUpper(s)
	invalid := func(reason string) (Currency, error) {
		return Currency{}, &ValidationError{Field: "currency", Reason: reason}
	}
	if len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return invalid("must be a three-letter ISO 4217 code such as EUR")
	}
	if fundCodes[code] {
		return invalid(fmt.Sprintf("%s is a fund code, not a currency an invoice can be issued in", code))
	}
	digits, ok := currency.GetDigits(code)
	if !ok || int(digits) > AmountScale {
		return invalid(fmt.Sprintf("%s is not an ISO 4217 currency (metal, testing and withdrawn codes are refused)", code))
	}
	return Currency{code: code, digits: int8(digits)}, nil //nolint:gosec // at most AmountScale, checked above
}

// MustCurrency is ParseCurrency for a code known to be valid; it panics
// otherwise. For tests and constants.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

// StoredCurrency returns the currency of a code read back from storage. A
// stored code keeps its meaning when ISO withdraws it later, so any three
// upper-case letters are accepted: a code still in the table gets its minor
// unit, one no longer there is kept with an unknown one.
func StoredCurrency(code string) (Currency, error) {
	if code != strings.ToUpper(code) {
		return Currency{}, fmt.Errorf("stored currency %q is not an upper-case ISO 4217 code", code)
	}
	if c, err := ParseCurrency(code); err == nil {
		return c, nil
	}
	if len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return Currency{}, fmt.Errorf("stored currency %q is not an ISO 4217 code", code)
	}
	digits := int8(-1)
	if d, ok := currency.GetDigits(code); ok && int(d) <= AmountScale {
		digits = int8(d) //nolint:gosec // at most AmountScale, checked above
	}
	return Currency{code: code, digits: digits}, nil
}

// Code returns the upper-case ISO 4217 code, "" for no currency.
func (c Currency) Code() string { return c.code }

// String returns the code.
func (c Currency) String() string { return c.code }

// IsZero reports whether c is no currency.
func (c Currency) IsZero() bool { return c.code == "" }

// Digits returns the minor unit: the decimal places amounts in c are
// written with (JPY 0, EUR 2, KWD 3). For a withdrawn code it is
// AmountScale, so no stored amount is cut short.
func (c Currency) Digits() int {
	if c.digits < 0 {
		return AmountScale
	}
	return int(c.digits)
}

// MaxAmount is the largest amount in c: the last step of its minor unit
// below one trillion units (999999999999.99 for EUR, 999999999999 for JPY).
func (c Currency) MaxAmount() Amount {
	step := Amount(1)
	for range AmountScale - c.Digits() {
		step *= 10
	}
	return MaxAmount + 1 - step
}

// Format writes a in c: with c's minor unit of decimal places ("5.00" EUR,
// "500" JPY, "1.250" KWD), or as many as a has for a withdrawn code.
func (c Currency) Format(a Amount) string { return string(c.Append(nil, a)) }

// Append appends a as Format writes it.
func (c Currency) Append(b []byte, a Amount) []byte {
	if c.digits < 0 {
		return a.Append(b, 0)
	}
	return a.Append(b, int(c.digits))
}

// Fits reports whether a can be written in c without more decimal places
// than its minor unit and is within c.MaxAmount.
func (c Currency) Fits(a Amount) bool {
	return a > 0 && a <= c.MaxAmount() && a.Decimals() <= c.Digits()
}

// MarshalJSON writes the code as a JSON string.
func (c Currency) MarshalJSON() ([]byte, error) { return json.Marshal(c.code) }

// UnmarshalJSON reads a stored code (see StoredCurrency).
func (c *Currency) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return fmt.Errorf("currency must not be null")
	}
	var code string
	if err := json.Unmarshal(b, &code); err != nil {
		return err
	}
	v, err := StoredCurrency(code)
	if err != nil {
		return err
	}
	*c = v
	return nil
}
