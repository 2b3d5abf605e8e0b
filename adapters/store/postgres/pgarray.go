package postgres

import (
	"strings"
	"time"
)

// pgArray builds a PostgreSQL array literal ({"a","b",NULL}) element by
// element; the statement casts it from text to the column's array type.
type pgArray struct {
	b strings.Builder
	n int
}

// pgArrayEscaper escapes an element for a double-quoted array item.
var pgArrayEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func (a *pgArray) sep() {
	if a.n == 0 {
		a.b.WriteByte('{')
	} else {
		a.b.WriteByte(',')
	}
	a.n++
}

// add appends a quoted element.
func (a *pgArray) add(s string) {
	a.sep()
	a.b.WriteByte('"')
	_, _ = pgArrayEscaper.WriteString(&a.b, s)
	a.b.WriteByte('"')
}

// addNull appends NULL.
func (a *pgArray) addNull() {
	a.sep()
	a.b.WriteString("NULL")
}

// addTime appends a timestamp, or NULL for nil. It keeps microseconds,
// truncated as the driver's binary encoding truncates them, rather than
// letting the server round nanoseconds.
func (a *pgArray) addTime(t *time.Time) {
	if t == nil {
		a.addNull()
		return
	}
	a.add(t.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999Z07:00"))
}

// String returns the literal.
func (a *pgArray) String() string {
	if a.n == 0 {
		return "{}"
	}
	return a.b.String() + "}"
}
