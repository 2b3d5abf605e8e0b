package httpapi

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"invoices/app/command"
	"invoices/domain/invoice"
)

// An invoice's entity tag is its version, "v<version>": every change is a
// new version, and one version of an invoice always reads the same (from
// the read model, as of that version from the event store, or in a
// command's answer), so the tag is strong. The tag names a version of one
// invoice; "v2" of another invoice is another representation.

// setETag sets the ETag of an answer showing an invoice at version.
func setETag(c *gin.Context, version int) {
	c.Header("ETag", etagOf(version))
}

func etagOf(version int) string { return `"v` + strconv.Itoa(version) + `"` }

// entityTag is one element of an If-Match or If-None-Match list.
type entityTag struct {
	weak   bool
	opaque string // between the quotes
}

// version returns the invoice version the tag names, if it is one this
// service issues: "v" and a version of at least 1, in canonical decimal.
func (t entityTag) version() (int, bool) {
	digits, ok := strings.CutPrefix(t.opaque, "v")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || strconv.Itoa(n) != digits {
		return 0, false
	}
	return n, true
}

// conditionalHeader is a parsed If-Match or If-None-Match field.
type conditionalHeader struct {
	any  bool // "*"
	tags []entityTag
}

// parseConditional reads the field name's lines in the request as one list
// (RFC 9110 §13.1.1, §13.1.2): "*", or entity tags separated by commas,
// empty elements ignored. A field that is present but is neither is a
// validation error naming it. present is false when the field was not sent.
func parseConditional(c *gin.Context, name string) (h conditionalHeader, present bool, err error) {
	values := c.Request.Header.Values(name)
	if len(values) == 0 {
		return conditionalHeader{}, false, nil
	}
	invalid := &invoice.ValidationError{Field: name,
		Reason: `must be * or a comma-separated list of entity tags such as "v2" (quotes included), as an ETag header gave them`}
	s := strings.Join(values, ",")
	elements := 0
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			break
		}
		if s[0] == ',' {
			s = s[1:]
			continue
		}
		elements++
		if s[0] == '*' {
			h.any = true
			s = s[1:]
		} else {
			var t entityTag
			var ok bool
			if t, s, ok = cutEntityTag(s); !ok {
				return conditionalHeader{}, true, invalid
			}
			h.tags = append(h.tags, t)
		}
		if s = strings.TrimLeft(s, " \t"); s != "" && s[0] != ',' {
			return conditionalHeader{}, true, invalid
		}
	}
	// "*" stands alone; an empty list is most likely an unset variable in
	// the client ("If-Match: $etag"), which must not pass as a condition.
	if elements == 0 || (h.any && elements > 1) {
		return conditionalHeader{}, true, invalid
	}
	return h, true, nil
}

// cutEntityTag reads one entity tag from the start of s: an optional W/,
// then a quoted string of etagc characters (RFC 9110 §8.8.3).
func cutEntityTag(s string) (entityTag, string, bool) {
	var t entityTag
	if rest, ok := strings.CutPrefix(s, "W/"); ok {
		t.weak, s = true, rest
	}
	if s == "" || s[0] != '"' {
		return entityTag{}, s, false
	}
	for i := 1; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"':
			t.opaque = s[1:i]
			return t, s[i+1:], true
		case ch < 0x21 || ch == 0x7f:
			return entityTag{}, s, false
		}
	}
	return entityTag{}, s, false // no closing quote
}

// ifMatch returns the command.IfVersion the request's If-Match asks for:
// command.AnyVersion without one or for "*" (pay and void need the invoice
// to exist anyway), the version its strong tag names, or command.NoVersion
// when it names none this service issued (a weak tag never matches
// strongly), which fails once the invoice is found. A list naming more than
// one version is refused: a command is appended at one expected version.
func ifMatch(c *gin.Context) (int, error) {
	h, present, err := parseConditional(c, "If-Match")
	if err != nil || !present || h.any {
		return command.AnyVersion, err
	}
	version := command.NoVersion
	for _, t := range h.tags {
		n, ok := t.version()
		switch {
		case t.weak || !ok:
			continue
		case version != command.NoVersion && n != version:
			return 0, &invoice.ValidationError{Field: "If-Match", Reason: "must name one version of the invoice (or be *)"}
		}
		version = n
	}
	return version, nil
}

// ifNoneMatch is the request's If-None-Match, ready to test against the
// version of the invoice found.
type ifNoneMatch struct {
	h       conditionalHeader
	present bool
}

// parseIfNoneMatch reads If-None-Match; a malformed one is a validation
// error.
func parseIfNoneMatch(c *gin.Context) (ifNoneMatch, error) {
	h, present, err := parseConditional(c, "If-None-Match")
	return ifNoneMatch{h: h, present: present}, err
}

// matches reports whether an invoice found at version meets the field, so
// that a GET answers 304: "*" matches any invoice that exists, and a tag,
// weak or strong, its version (If-None-Match compares weakly).
func (m ifNoneMatch) matches(version int) bool {
	if !m.present {
		return false
	}
	if m.h.any {
		return true
	}
	for _, t := range m.h.tags {
		if n, ok := t.version(); ok && n == version {
			return true
		}
	}
	return false
}
