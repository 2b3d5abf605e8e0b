package invoice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// DateLayout is how a Date is written: YYYY-MM-DD.
const DateLayout = time.DateOnly

// Date is a calendar day without a time or zone, such as a due date. The
// zero value is no date.
type Date struct {
	t time.Time // midnight UTC of the day
}

// ParseDate parses YYYY-MM-DD strictly (no time, no zone) as field's value.
func ParseDate(field, s string) (Date, error) {
	t, err := time.Parse(DateLayout, s)
	if err != nil || t.Format(DateLayout) != s {
		return Date{}, &ValidationError{Field: field, Reason: "must be a date written YYYY-MM-DD"}
	}
	if t.IsZero() {
		// 0001-01-01 is the zero time, which a Date uses for "no date":
		// accepting it would silently drop the date.
		return Date{}, &ValidationError{Field: field, Reason: "must be later than 0001-01-01"}
	}
	return Date{t: t}, nil
}

// DateOf returns the calendar day of t in UTC.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return Date{t: time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// IsZero reports whether d is no date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// Time returns midnight UTC at the start of d.
func (d Date) Time() time.Time { return d.t }

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// AddYears returns the same day n years on (February 29 becomes March 1).
func (d Date) AddYears(n int) Date { return Date{t: d.t.AddDate(n, 0, 0)} }

// String writes d as YYYY-MM-DD, "" for no date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(DateLayout)
}

// MarshalJSON writes d as "YYYY-MM-DD", or null for no date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON reads "YYYY-MM-DD" or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	v, err := ParseDate("date", s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
