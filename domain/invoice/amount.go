package invoice

import (
	"strconv"
	"strings"
)

// MaxAmount is the largest invoice amount, 999,999,999,999.99, in cents.
const MaxAmount Amount = 99_999_999_999_999

// Amount is an exact sum of money in minor units (cents). Money never passes
// through a float: amounts are parsed from and printed as decimal text.
type Amount int64

// ParseAmount parses a JSON number literal (such as "19.99", "20", "1.5e1")
// exactly. It rejects values that are not positive, have more than two
// decimal places, or exceed MaxAmount, with a ValidationError for "amount".
func ParseAmount(s string) (Amount, error) {
	invalid := func(reason string) (Amount, error) {
		return 0, &ValidationError{Field: "amount", Reason: reason}
	}
	digits, scale, neg, ok := splitDecimal(s)
	if !ok {
		return invalid("must be a number")
	}
	if digits == "" { // every digit was zero
		return invalid("must be greater than 0")
	}
	if neg {
		return invalid("must be greater than 0")
	}
	if scale > 2 {
		return invalid("must have at most 2 decimal places")
	}
	// Scale the value to cents; more than 17 digits is already beyond MaxAmount.
	if len(digits)+(2-scale) > 17 {
		return invalid("must be at most 999999999999.99")
	}
	cents, err := strconv.ParseInt(digits+strings.Repeat("0", 2-scale), 10, 64)
	if err != nil || Amount(cents) > MaxAmount {
		return invalid("must be at most 999999999999.99")
	}
	return Amount(cents), nil
}

// maxExponent bounds exponents. It exceeds the length of any number literal
// this service can receive, so clamping to it never changes a result.
const maxExponent = 1_000_000_000

// splitDecimal reads a JSON number literal into its significant digits
// (without leading or trailing zeros) and the number of decimal places they
// carry. An exponent is folded into the scale, so "1.5e1" gives ("15", 0).
// Exponents are clamped so a hostile "1e999999999999" costs nothing.
func splitDecimal(s string) (digits string, scale int, neg, ok bool) {
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	mantissa, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mantissa, exp = s[:i], s[i+1:]
	}
	intPart, frac, _ := strings.Cut(mantissa, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) || (len(intPart) > 1 && intPart[0] == '0') {
		return "", 0, false, false
	}
	if strings.Contains(mantissa, ".") && frac == "" {
		return "", 0, false, false
	}
	e := 0
	if mantissa != s { // an exponent follows
		sign := 1
		switch {
		case strings.HasPrefix(exp, "+"):
			exp = exp[1:]
		case strings.HasPrefix(exp, "-"):
			sign, exp = -1, exp[1:]
		}
		if exp == "" || !allDigits(exp) {
			return "", 0, false, false
		}
		exp = strings.TrimLeft(exp, "0")
		e = 0
		if exp != "" {
			n, err := strconv.Atoi(exp)
			if err != nil || n > maxExponent {
				// Larger than any mantissa is long, so the value is certainly
				// out of range (or has too many decimals); the sign decides
				// which error is reported. Clamping keeps the arithmetic small.
				n = maxExponent
			}
			e = sign * n
		}
	}
	digits = strings.TrimLeft(intPart+frac, "0")
	scale = len(frac) - e
	for scale > 0 && strings.HasSuffix(digits, "0") {
		digits, scale = digits[:len(digits)-1], scale-1
	}
	if digits == "" {
		scale = 0
	}
	return digits, scale, neg, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with exactly two decimal places, e.g. "19.90".
func (a Amount) String() string { return string(a.Append(nil)) }

// Append appends the amount as String formats it, without allocating:
// response encoding writes one per invoice.
func (a Amount) Append(b []byte) []byte {
	u := uint64(a) //nolint:gosec // the sign is handled below, the bits are the point
	if a < 0 {
		b = append(b, '-')
		u = -u // two's complement: right for the most negative value too
	}
	b = strconv.AppendUint(b, u/100, 10)
	return append(b, '.', byte('0'+u%100/10), byte('0'+u%10))
}

// MarshalJSON writes the amount as an exact JSON number such as 19.90.
func (a Amount) MarshalJSON() ([]byte, error) { return a.Append(nil), nil }

// UnmarshalJSON reads an exact JSON number. It accepts any value ParseAmount
// accepts, so stored events and requests follow one rule.
func (a *Amount) UnmarshalJSON(b []byte) error {
	v, err := ParseAmount(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}
