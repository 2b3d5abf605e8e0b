package invoice_test

import (
	"testing"

	"invoices/domain/invoice"
)

// ParseAmount runs on every create request and every stored invoice.created
// payload decoded (Amount.UnmarshalJSON); String runs on every response and
// every read-model write.
//
//	go test -run '^$' -bench 'BenchmarkParseAmount|BenchmarkAmountString' -benchmem ./domain/invoice/

func BenchmarkParseAmount(b *testing.B) {
	for _, bc := range []struct {
		name, in string
		valid    bool
	}{
		{"typical", "19.99", true},
		{"integer", "20", true},
		{"exponent", "1.5e1", true},
		{"max", "999999999999.9999", true},
		{"too-many-decimals", "19.99999", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := invoice.ParseAmount(bc.in); (err == nil) != bc.valid {
				b.Fatalf("ParseAmount(%q) error = %v, want valid = %t", bc.in, err, bc.valid)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = invoice.ParseAmount(bc.in)
			}
		})
	}
}

func BenchmarkAmountString(b *testing.B) {
	a := invoice.Amount(199900)
	if got, want := a.String(), "19.99"; got != want {
		b.Fatalf("Amount(199900).String() = %q, want %q", got, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.String()
	}
}
