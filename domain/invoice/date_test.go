package invoice_test

import (
	"encoding/json"
	"testing"
	"time"

	"invoices/domain/invoice"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2026-02-01", want: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2028-02-29", want: time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{in: "0001-01-02", want: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)},
		// The zero time is how a Date says "no date", so it is not a day.
		{in: "0001-01-01", wantErr: true},
		{in: "9999-12-31", want: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{in: "2026-2-1", wantErr: true},
		{in: "2026-02-1", wantErr: true},
		{in: "2026-02-30", wantErr: true},
		{in: "2027-02-29", wantErr: true},
		{in: "2026-13-01", wantErr: true},
		{in: "2026-00-10", wantErr: true},
		{in: "2026-02-01T00:00:00Z", wantErr: true},
		{in: "2026-02-01 ", wantErr: true},
		{in: " 2026-02-01", wantErr: true},
		{in: "2026/02/01", wantErr: true},
		{in: "01-02-2026", wantErr: true},
		{in: "+2026-02-01", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := invoice.ParseDate("dueDate", tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %s, want an error", tt.in, got)
				}
				_ = requireValidationError(t, err, "dueDate")
				if !got.IsZero() {
					t.Errorf("ParseDate(%q) = %s alongside an error, want no date", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDate(%q) error = %v", tt.in, err)
			}
			if !got.Time().Equal(tt.want) || got.Time().Location() != time.UTC {
				t.Errorf("ParseDate(%q).Time() = %s, want %s", tt.in, got.Time(), tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("ParseDate(%q).String() = %q, want the input back", tt.in, got.String())
			}
			if got.IsZero() {
				t.Errorf("ParseDate(%q).IsZero() = true, want false", tt.in)
			}
		})
	}
}

func TestParseDateNamesTheField(t *testing.T) {
	_, err := invoice.ParseDate("dueBefore", "soon")
	_ = requireValidationError(t, err, "dueBefore")
}

// DateOf takes the calendar day in UTC, whatever zone the time is in.
func TestDateOf(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"UTC midday", time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC), "2026-02-01"},
		{"last nanosecond of the day", time.Date(2026, 2, 1, 23, 59, 59, 999999999, time.UTC), "2026-02-01"},
		{"evening west of UTC is the next day in UTC", time.Date(2026, 2, 1, 22, 0, 0, 0, time.FixedZone("EST", -5*3600)), "2026-02-02"},
		{"early morning east of UTC is the day before", time.Date(2026, 2, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "2026-01-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := invoice.DateOf(tt.in)
			if got.String() != tt.want {
				t.Errorf("DateOf(%s) = %s, want %s", tt.in, got, tt.want)
			}
			if tm := got.Time(); tm.Location() != time.UTC || tm.Hour() != 0 || tm.Minute() != 0 || tm.Second() != 0 || tm.Nanosecond() != 0 {
				t.Errorf("DateOf(%s).Time() = %s, want midnight UTC", tt.in, tm)
			}
		})
	}
}

func TestZeroDate(t *testing.T) {
	var d invoice.Date
	if !d.IsZero() || d.String() != "" {
		t.Errorf("Date{}: IsZero() = %t, String() = %q; want true, \"\"", d.IsZero(), d.String())
	}
}

func TestDateBeforeAndAddYears(t *testing.T) {
	d := mustDate(t, "2024-02-29")
	if got := d.AddYears(1).String(); got != "2025-03-01" {
		t.Errorf("2024-02-29 AddYears(1) = %s, want 2025-03-01", got)
	}
	if got := d.AddYears(4).String(); got != "2028-02-29" {
		t.Errorf("2024-02-29 AddYears(4) = %s, want 2028-02-29", got)
	}
	next := mustDate(t, "2024-03-01")
	if !d.Before(next) || next.Before(d) || d.Before(d) {
		t.Errorf("Before: 2024-02-29 < 2024-03-01 = %t, reverse = %t, self = %t; want true, false, false",
			d.Before(next), next.Before(d), d.Before(d))
	}
}

func TestDateJSON(t *testing.T) {
	type payload struct {
		Due invoice.Date `json:"due"`
	}
	tests := []struct {
		name     string
		in       invoice.Date
		wantJSON string
	}{
		{"a day", mustDate(t, "2026-12-25"), `{"due":"2026-12-25"}`},
		{"no date", invoice.Date{}, `{"due":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(payload{Due: tt.in})
			if err != nil || string(b) != tt.wantJSON {
				t.Fatalf("Marshal(%s) = %s, %v; want %s", tt.in, b, err, tt.wantJSON)
			}
			// A previous value must not survive a null.
			got := payload{Due: mustDate(t, "2000-01-01")}
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("Unmarshal(%s) error = %v", b, err)
			}
			if got.Due != tt.in {
				t.Errorf("Unmarshal(%s) = %s, want %s", b, got.Due, tt.in)
			}
		})
	}
	for _, bad := range []string{`{"due":"2026-02-30"}`, `{"due":"2026-02-01T00:00:00Z"}`, `{"due":20260201}`, `{"due":""}`} {
		var got payload
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %s, want an error", bad, got.Due)
		}
	}
}

func mustDate(t *testing.T, s string) invoice.Date {
	t.Helper()
	d, err := invoice.ParseDate("date", s)
	if err != nil {
		t.Fatalf("ParseDate(%q) error = %v", s, err)
	}
	return d
}
