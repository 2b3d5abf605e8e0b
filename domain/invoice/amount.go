package invoice

import (
	"fmt"
	"strconv"
	"strings"
)

// AmountScale is the number of decimal places an Amount holds: enough for
// every ISO 4217 currency's minor unit (the most any has is 4), so one type
// holds an exact amount in any currency.
const AmountScale = 4

// MaxAmount is the largest amount in any currency, 999,999,999,999.9999:
// below one trillion units. A currency with fewer minor digits stops at its
// own last step below that (Currency.MaxAmount).
const MaxAmount Amount = 9_999_999_999_999_999

// Amount is an exact, positive sum of money in ten-thousandths of a unit of
// its currency. The currency travels beside it; the amount alone does not
// say how many decimals it is written with. Money never passes through a
// float: amounts are parsed from and printed as decimal text.
type Amount int64

// ParseAmount parses a JSON number literal (such as "19.99", "20", "1.5e1")
// exactly, whatever its currency. It rejects values that are not positive,
// have more than AmountScale decimal places, or exceed MaxAmount, with a
// ValidationError for "amount". Request input goes through ParseAmountIn,
// which applies its currency's minor unit too.
func ParseAmount(s string) (Amount, error) {
	return parseAmount(s, AmountScale, MaxAmount)
}

// ParseAmountIn parses an amount in currency c: like ParseAmount, with at
// most c's minor-unit decimal places and at most c.MaxAmount().
func ParseAmountIn(s string, c Currency) (Amount, error) {
	return parseAmount(s, c.Digits(), c.MaxAmount())
}

func parseAmount(s string, decimals int, maxAmount Amount) (Amount, error) {
	invalid := func(reason string) (Amount, error) {
		return 0, &ValidationError{Field: "amount", Reason: reason}
	}
	digits, scale, neg, ok := splitDecimal(s)
	if !ok {
		return invalid("must be a number")
	}
	if digits == "" || neg { // every digit was zero, or negative
		return invalid("must be greater than 0")
	}
	if scale > decimals {
		if decimals == 0 {
			return invalid("must be a whole number (the currency has no minor unit)")
		}
		return invalid(fmt.Sprintf("must have at most %d decimal places", decimals))
	}
	tooLarge := "must be at most " + maxAmount.Format(decimals)
	// Scale the value to ten-thousandths; more than 16 digits is already
	// beyond MaxAmount.
	if len(digits)+(AmountScale-scale) > 16 {
		return invalid(tooLarge)
	}
	units, err := strconv.ParseInt(digits+strings.Repeat("0", AmountScale-scale), 10, 64)
	if err != nil || Amount(units) > maxAmount {
		return invalid(tooLarge)
	}
	return Amount(units), nil
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

// Decimals returns the fewest decimal places that write a exactly.
func (a Amount) Decimals() int {
	d := AmountScale
	for u := a; d > 0 && u%10 == 0; u /= 10 {
		d--
	}
	return d
}

// String formats the amount with as few decimal places as it needs, e.g.
// "19.9" or "500": exact, and what the stores keep as decimal text.
func (a Amount) String() string { return string(a.Append(nil, 0)) }

// Format formats the amount with at least decimals decimal places (a
// currency's minor unit), more only if it has them: "19.90" for 2, "500"
// for 0.
func (a Amount) Format(decimals int) string { return string(a.Append(nil, decimals)) }

// Append appends the amount as Format writes it, without allocating:
// response encoding writes one per invoice.
func (a Amount) Append(b []byte, decimals int) []byte {
	decimals = min(max(decimals, a.Decimals()), AmountScale)
	u := uint64(a) //nolint:gosec // the sign is handled below, the bits are the point
	if a < 0 {
		b = append(b, '-')
		u = -u // two's complement: right for the most negative value too
	}
	b = strconv.AppendUint(b, u/10_000, 10)
	if decimals == 0 {
		return b
	}
	frac := u % 10_000
	var digits [AmountScale]byte
	for i := AmountScale - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, '.')
	return append(b, digits[:decimals]...)
}

// MarshalJSON writes the amount as an exact JSON number, with as few
// decimals as it needs (events write it with their currency's; see Created).
func (a Amount) MarshalJSON() ([]byte, error) { return a.Append(nil, 0), nil }

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
