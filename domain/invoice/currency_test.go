package invoice_test

import (
	"encoding/json"
	"testing"

	"invoices/domain/invoice"
)

func TestParseCurrency(t *testing.T) {
	tests := []struct {
		in         string
		wantCode   string
		wantDigits int
		wantErr    bool
	}{
		{in: "EUR", wantCode: "EUR", wantDigits: 2},
		{in: "eur", wantCode: "EUR", wantDigits: 2},
		{in: "eUr", wantCode: "EUR", wantDigits: 2},
		{in: "USD", wantCode: "USD", wantDigits: 2},
		{in: "jpy", wantCode: "JPY", wantDigits: 0},
		{in: "ISK", wantCode: "ISK", wantDigits: 0},
		{in: "KWD", wantCode: "KWD", wantDigits: 3},
		{in: "BHD", wantCode: "BHD", wantDigits: 3},
		{in: "JOD", wantCode: "JOD", wantDigits: 3},
		// Not in ISO 4217 at all.
		{in: "XYZ", wantErr: true},
		// Precious metals, the testing code and "no currency".
		{in: "XAU", wantErr: true},
		{in: "XAG", wantErr: true},
		{in: "XTS", wantErr: true},
		{in: "XXX", wantErr: true},
		// Funds: units of account, not money an invoice is paid in.
		{in: "BOV", wantErr: true},
		{in: "CLF", wantErr: true},
		{in: "CHE", wantErr: true},
		{in: "UYW", wantErr: true},
		// Withdrawn: an invoice is never issued in it today.
		{in: "HRK", wantErr: true},
		// Not three letters.
		{in: "", wantErr: true},
		{in: "EU", wantErr: true},
		{in: "EURO", wantErr: true},
		{in: "E1R", wantErr: true},
		{in: " EUR", wantErr: true},
		{in: "EUR\n", wantErr: true},
		{in: "ÉUR", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := invoice.ParseCurrency(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCurrency(%q) = %s, want an error", tt.in, got)
				}
				_ = requireValidationError(t, err, "currency")
				if !got.IsZero() {
					t.Errorf("ParseCurrency(%q) = %s alongside an error, want no currency", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCurrency(%q) error = %v, want %s", tt.in, err, tt.wantCode)
			}
			if got.Code() != tt.wantCode || got.String() != tt.wantCode {
				t.Errorf("ParseCurrency(%q) code = %q (String %q), want %q", tt.in, got.Code(), got.String(), tt.wantCode)
			}
			if got.Digits() != tt.wantDigits {
				t.Errorf("ParseCurrency(%q).Digits() = %d, want %d", tt.in, got.Digits(), tt.wantDigits)
			}
			if got.IsZero() {
				t.Errorf("ParseCurrency(%q).IsZero() = true, want false", tt.in)
			}
			if got != invoice.MustCurrency(tt.wantCode) {
				t.Errorf("ParseCurrency(%q) = %#v, want it equal to MustCurrency(%q)", tt.in, got, tt.wantCode)
			}
		})
	}
}

func TestMustCurrencyPanicsOnAnInvalidCode(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustCurrency(\"XAU\") did not panic")
		}
	}()
	invoice.MustCurrency("XAU")
}

func TestZeroCurrency(t *testing.T) {
	var c invoice.Currency
	if !c.IsZero() || c.Code() != "" {
		t.Errorf("Currency{}: IsZero() = %t, Code() = %q; want true, \"\"", c.IsZero(), c.Code())
	}
}

// A stored code keeps its meaning after ISO withdraws it: StoredCurrency
// accepts it, and its amounts keep their own decimals.
func TestStoredCurrency(t *testing.T) {
	tests := []struct {
		in         string
		wantDigits int
		wantErr    bool
	}{
		{in: "EUR", wantDigits: 2},
		{in: "JPY", wantDigits: 0},
		{in: "KWD", wantDigits: 3},
		// Withdrawn (the Croatian kuna, 2023): no longer in the table.
		{in: "HRK", wantDigits: invoice.AmountScale},
		{in: "SLL", wantDigits: invoice.AmountScale},
		// A fund an old release may have let through keeps its minor unit.
		{in: "CLF", wantDigits: 4},
		{in: "BOV", wantDigits: 2},
		{in: "", wantErr: true},
		{in: "HR", wantErr: true},
		{in: "HRKK", wantErr: true},
		{in: "H1K", wantErr: true},
		{in: "hrk", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := invoice.StoredCurrency(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("StoredCurrency(%q) = %s, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("StoredCurrency(%q) error = %v", tt.in, err)
			}
			if got.Code() != tt.in {
				t.Errorf("StoredCurrency(%q).Code() = %q, want %q", tt.in, got.Code(), tt.in)
			}
			if got.Digits() != tt.wantDigits {
				t.Errorf("StoredCurrency(%q).Digits() = %d, want %d", tt.in, got.Digits(), tt.wantDigits)
			}
		})
	}
}

func TestStoredCurrencyOfATableCodeIsTheParsedOne(t *testing.T) {
	for _, code := range []string{"EUR", "JPY", "KWD"} {
		got, err := invoice.StoredCurrency(code)
		if err != nil || got != invoice.MustCurrency(code) {
			t.Errorf("StoredCurrency(%q) = %#v, %v; want %#v", code, got, err, invoice.MustCurrency(code))
		}
	}
}

func TestCurrencyMaxAmount(t *testing.T) {
	hrk, err := invoice.StoredCurrency("HRK")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c    invoice.Currency
		want invoice.Amount
		text string
	}{
		{invoice.MustCurrency("EUR"), 9_999_999_999_999_900, "999999999999.99"},
		{invoice.MustCurrency("JPY"), 9_999_999_999_990_000, "999999999999"},
		{invoice.MustCurrency("KWD"), 9_999_999_999_999_990, "999999999999.999"},
		{hrk, invoice.MaxAmount, "999999999999.9999"},
	}
	for _, tt := range tests {
		t.Run(tt.c.Code(), func(t *testing.T) {
			got := tt.c.MaxAmount()
			if got != tt.want {
				t.Errorf("%s.MaxAmount() = %d, want %d", tt.c, got, tt.want)
			}
			if s := tt.c.Format(got); s != tt.text {
				t.Errorf("%s.Format(MaxAmount()) = %q, want %q", tt.c, s, tt.text)
			}
			if !tt.c.Fits(got) {
				t.Errorf("%s.Fits(MaxAmount()) = false, want true", tt.c)
			}
			step := invoice.Amount(1)
			for range invoice.AmountScale - tt.c.Digits() {
				step *= 10
			}
			if tt.c.Fits(got + step) {
				t.Errorf("%s.Fits(MaxAmount() + one minor unit) = true, want false", tt.c)
			}
		})
	}
}

func TestCurrencyFormat(t *testing.T) {
	hrk, err := invoice.StoredCurrency("HRK")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		c    invoice.Currency
		in   invoice.Amount
		want string
	}{
		{invoice.MustCurrency("EUR"), 50000, "5.00"},
		{invoice.MustCurrency("EUR"), 199900, "19.99"},
		{invoice.MustCurrency("EUR"), 199000, "19.90"},
		{invoice.MustCurrency("JPY"), 5_000_000, "500"},
		{invoice.MustCurrency("KWD"), 12500, "1.250"},
		// More decimals than the minor unit (an amount stored before the
		// currency was known) are written, never cut off.
		{invoice.MustCurrency("JPY"), 199900, "19.99"},
		{invoice.MustCurrency("EUR"), 199990, "19.999"},
		// A withdrawn code's amounts keep their own decimals.
		{hrk, 12345, "1.2345"},
		{hrk, 15000, "1.5"},
		{hrk, 10000, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.c.Code()+" "+tt.want, func(t *testing.T) {
			if got := tt.c.Format(tt.in); got != tt.want {
				t.Errorf("%s.Format(%d) = %q, want %q", tt.c, tt.in, got, tt.want)
			}
			if got := string(tt.c.Append([]byte("x="), tt.in)); got != "x="+tt.want {
				t.Errorf("%s.Append(x=, %d) = %q, want %q", tt.c, tt.in, got, "x="+tt.want)
			}
		})
	}
}

func TestCurrencyFits(t *testing.T) {
	eur, jpy, kwd := invoice.MustCurrency("EUR"), invoice.MustCurrency("JPY"), invoice.MustCurrency("KWD")
	tests := []struct {
		c    invoice.Currency
		in   invoice.Amount
		want bool
	}{
		{eur, 199900, true},
		{eur, 100, true},
		{eur, 199990, false}, // 19.999
		{eur, 1, false},      // 0.0001
		{eur, 0, false},
		{eur, -100, false},
		{jpy, 5_000_000, true},
		{jpy, 5_005_000, false}, // 500.5
		{kwd, 12500, true},
		{kwd, 12345, false},
	}
	for _, tt := range tests {
		if got := tt.c.Fits(tt.in); got != tt.want {
			t.Errorf("%s.Fits(%d) = %t, want %t", tt.c, tt.in, got, tt.want)
		}
	}
}

func TestCurrencyJSON(t *testing.T) {
	type payload struct {
		Currency invoice.Currency `json:"currency"`
	}
	b, err := json.Marshal(payload{Currency: invoice.MustCurrency("KWD")})
	if err != nil || string(b) != `{"currency":"KWD"}` {
		t.Errorf("Marshal(KWD) = %s, %v; want {\"currency\":\"KWD\"}", b, err)
	}

	tests := []struct {
		in         string
		wantCode   string
		wantDigits int
		wantErr    bool
	}{
		{in: `{"currency":"EUR"}`, wantCode: "EUR", wantDigits: 2},
		{in: `{"currency":"HRK"}`, wantCode: "HRK", wantDigits: invoice.AmountScale},
		{in: `{"currency":null}`, wantErr: true},
		{in: `{"currency":"EURO"}`, wantErr: true},
		{in: `{"currency":978}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got payload
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %s, want an error", tt.in, got.Currency)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s) error = %v", tt.in, err)
			}
			if got.Currency.Code() != tt.wantCode || got.Currency.Digits() != tt.wantDigits {
				t.Errorf("Unmarshal(%s) = %s with %d digits, want %s with %d", tt.in, got.Currency, got.Currency.Digits(), tt.wantCode, tt.wantDigits)
			}
		})
	}
}
