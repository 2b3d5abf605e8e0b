package query

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"invoices/domain/invoice"
	"invoices/ports"
)

// Page size bounds for ListInvoices.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// cursorPrefix versions the cursor format so it can change without
// misreading cursors that clients still hold.
const cursorPrefix = "v1:"

// ListInvoices asks for one page of invoices, newest first.
type ListInvoices struct {
	// Limit is the page size; 0 means DefaultLimit.
	Limit int
	// Cursor is the opaque NextCursor of the previous page; empty for the first.
	Cursor string
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
// cursor is an *invoice.ValidationError.
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
		seq, ok := decodeCursor(q.Cursor)
		if !ok {
			return InvoicePage{}, &invoice.ValidationError{Field: "cursor", Reason: "is not a cursor this service issued"}
		}
		before = seq
	}
	// One extra row tells whether a next page exists without counting.
	items, err := h.reader.ListInvoices(ctx, ports.ListParams{Limit: limit + 1, BeforeSeq: before})
	if err != nil {
		return InvoicePage{}, err
	}
	page := InvoicePage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeCursor(page.Items[limit-1].Seq)
	}
	return page, nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(seq, 10)))
}

func decodeCursor(s string) (int64, bool) {
	if len(s) > 64 {
		return 0, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != digits {
		return 0, false
	}
	return seq, true
}
