package query

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"invoices/domain/invoice"
	"invoices/ports"
)

// Page size bounds for ListInvoices and InvoiceHistory.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// The cursor format is versioned so it can change without misreading
// cursors that clients still hold: v1 (an unfiltered list, from before
// filters) is still read; v2 binds the cursor to its filter.
const (
	cursorV1 = "v1:"
	cursorV2 = "v2:"
)

// ListInvoices asks for one page of invoices, newest first.
type ListInvoices struct {
	// Limit is the page size; 0 means DefaultLimit.
	Limit int
	// Cursor is the opaque NextCursor of the previous page; empty for the
	// first. It is bound to the filter it was issued for.
	Cursor string
	Filter ports.InvoiceFilter
}

// InvoicePage is one page of invoices.
type InvoicePage struct {
	Items []ports.InvoiceView
	// NextCursor fetches the following page; empty on the last page.
	NextCursor string
}

// ListInvoicesHandler answers ListInvoices.
type ListInvoicesHandler struct {
	reader ports.InvoiceReader
}

// NewListInvoicesHandler returns the handler.
func NewListInvoicesHandler(reader ports.InvoiceReader) ListInvoicesHandler {
	return ListInvoicesHandler{reader: reader}
}

// Handle validates the page request and reads one page. A bad limit or
// cursor, or a cursor issued for another filter, is an
// *invoice.ValidationError.
func (h ListInvoicesHandler) Handle(ctx context.Context, q ListInvoices) (InvoicePage, error) {
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > MaxLimit {
		return InvoicePage{}, &invoice.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d", MaxLimit)}
	}
	var before int64
	if q.Cursor != "" {
		seq, filter, ok := decodeCursor(q.Cursor)
		if !ok {
			return InvoicePage{}, &invoice.ValidationError{Field: "cursor", Reason: "is not a cursor this service issued"}
		}
		if filter != filterKey(q.Filter) {
			return InvoicePage{}, &invoice.ValidationError{Field: "cursor",
				Reason: "was issued for a different filter: repeat the filter of the request it came from, or start again without a cursor"}
		}
		before = seq
	}
	// One extra row tells whether a next page exists without counting.
	items, err := h.reader.ListInvoices(ctx, ports.ListParams{Limit: limit + 1, BeforeSeq: before, Filter: q.Filter})
	if err != nil {
		return InvoicePage{}, err
	}
	page := InvoicePage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeCursor(page.Items[limit-1].Seq, filterKey(q.Filter))
	}
	return page, nil
}

// filterKey is a short digest of a filter, "" for none: a cursor carries
// it, so it can tell the filter it was issued for without holding it.
func filterKey(f ports.InvoiceFilter) string {
	var b strings.Builder
	statuses := slices.Clone(f.Statuses)
	slices.Sort(statuses)
	statuses = slices.Compact(statuses)
	for _, s := range statuses {
		b.WriteString("s=" + string(s) + "\x00")
	}
	field := func(name, v string) {
		if v != "" {
			b.WriteString(name + "=" + v + "\x00")
		}
	}
	field("c", f.CustomerID)
	field("cur", f.Currency)
	if !f.CreatedFrom.IsZero() {
		field("from", f.CreatedFrom.UTC().Format(time.RFC3339Nano))
	}
	if !f.CreatedTo.IsZero() {
		field("to", f.CreatedTo.UTC().Format(time.RFC3339Nano))
	}
	field("due", f.DueBefore.String())
	if b.Len() == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// encodeCursor writes a v2 cursor: the last seq of a page and its filter's key.
func encodeCursor(seq int64, filter string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorV2 + strconv.FormatInt(seq, 10) + ":" + filter))
}

// decodeCursor reads a cursor this service issued: v2, or v1 (no filter).
func decodeCursor(s string) (seq int64, filter string, ok bool) {
	if len(s) > 96 {
		return 0, "", false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return 0, "", false
	}
	digits, ok := strings.CutPrefix(string(b), cursorV1)
	if !ok {
		if digits, ok = strings.CutPrefix(string(b), cursorV2); !ok {
			return 0, "", false
		}
		digits, filter, ok = strings.Cut(digits, ":")
		if !ok {
			return 0, "", false
		}
	}
	seq, err = strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != digits {
		return 0, "", false
	}
	return seq, filter, true
}
