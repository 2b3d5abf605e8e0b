package query_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/query"
	"invoices/domain/invoice"
	"invoices/ports"
)

// cursorOf encodes text the way the handler's cursors are encoded, so tests
// can forge cursors with chosen contents.
func cursorOf(text string) string { return base64.RawURLEncoding.EncodeToString([]byte(text)) }

func seqs(items []ports.InvoiceView) []int64 {
	out := []int64{}
	for _, v := range items {
		out = append(out, v.Seq)
	}
	return out
}

// requireValidationError fails unless err is a ValidationError of field,
// and returns its reason.
func requireValidationError(t *testing.T, err error, field string) string {
	t.Helper()
	var ve *invoice.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *invoice.ValidationError", err)
	}
	if ve.Field != field {
		t.Errorf("ValidationError.Field = %q, want %q", ve.Field, field)
	}
	if ve.Reason == "" {
		t.Errorf("ValidationError.Reason is empty, want a reason for the client")
	}
	return ve.Reason
}

func TestListInvoicesAsksForOneMoreThanTheLimit(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		wantLimit int
	}{
		{name: "zero means the default", limit: 0, wantLimit: query.DefaultLimit + 1},
		{name: "smallest", limit: 1, wantLimit: 2},
		{name: "explicit", limit: 25, wantLimit: 26},
		{name: "largest", limit: query.MaxLimit, wantLimit: query.MaxLimit + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := newMemReader(3)
			h := query.NewListInvoicesHandler(reader)

			_, err := h.Handle(context.Background(), query.ListInvoices{Limit: tt.limit, Cursor: ""})

			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			// An empty cursor is the first page: no BeforeSeq.
			if diff := cmp.Diff([]ports.ListParams{{Limit: tt.wantLimit}}, reader.listCalls(), viewOpts); diff != "" {
				t.Errorf("reader calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The API documents its page sizes (default 100, at most 1000; see the
// swag annotations of GET /invoices): with more invoices stored than a page
// holds, a query gets exactly that many and a cursor to the rest. The sizes
// are literals here, not the constants, so changing a constant fails this
// test as the documented contract would break.
func TestListInvoicesDocumentedPageSizes(t *testing.T) {
	tests := []struct {
		name     string
		stored   int
		limit    int
		wantSize int
	}{
		{name: "no limit is 100", stored: 150, limit: 0, wantSize: 100},
		{name: "1000 is allowed", stored: 1500, limit: 1000, wantSize: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := query.NewListInvoicesHandler(newMemReader(tt.stored))

			first, err := h.Handle(context.Background(), query.ListInvoices{Limit: tt.limit})
			if err != nil {
				t.Fatalf("Handle(limit %d) error = %v, want nil", tt.limit, err)
			}
			if got := len(first.Items); got != tt.wantSize {
				t.Errorf("len(Items) = %d, want %d", got, tt.wantSize)
			}
			if first.NextCursor == "" {
				t.Fatalf("NextCursor is empty, want a cursor: %d of %d invoices remain", tt.stored-len(first.Items), tt.stored)
			}

			// The same query with the cursor returns the rest, ending the walk.
			rest, err := h.Handle(context.Background(), query.ListInvoices{Limit: tt.limit, Cursor: first.NextCursor})
			if err != nil {
				t.Fatalf("Handle(NextCursor) error = %v, want nil", err)
			}
			if got, want := len(rest.Items), tt.stored-tt.wantSize; got != want {
				t.Errorf("second page: len(Items) = %d, want %d", got, want)
			}
			if rest.NextCursor != "" {
				t.Errorf("second page: NextCursor = %q, want none: no invoice remains", rest.NextCursor)
			}
		})
	}

	t.Run("1001 is rejected", func(t *testing.T) {
		_, err := query.NewListInvoicesHandler(newMemReader(3)).Handle(context.Background(), query.ListInvoices{Limit: 1001})
		requireValidationError(t, err, "limit")
	})
}

func TestListInvoicesRejectsLimitOutOfRange(t *testing.T) {
	for _, limit := range []int{-1, -100, math.MinInt, query.MaxLimit + 1, math.MaxInt} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			reader := newMemReader(3)
			h := query.NewListInvoicesHandler(reader)

			page, err := h.Handle(context.Background(), query.ListInvoices{Limit: limit})

			requireValidationError(t, err, "limit")
			if diff := cmp.Diff(query.InvoicePage{}, page, viewOpts); diff != "" {
				t.Errorf("Handle(limit %d) returned a page alongside an error (-want +got):\n%s", limit, diff)
			}
			if calls := reader.listCalls(); len(calls) != 0 {
				t.Errorf("reader called %v for limit %d, want no call", calls, limit)
			}
		})
	}
}

func TestListInvoicesNextCursor(t *testing.T) {
	const limit = 3
	tests := []struct {
		name     string
		stored   int
		wantSeqs []int64
		wantNext bool
	}{
		{name: "empty", stored: 0, wantSeqs: []int64{}},
		{name: "fewer than the limit", stored: 2, wantSeqs: []int64{2, 1}},
		{name: "exactly the limit", stored: limit, wantSeqs: []int64{3, 2, 1}},
		{name: "one more than the limit", stored: limit + 1, wantSeqs: []int64{4, 3, 2}, wantNext: true},
		{name: "many more", stored: 10, wantSeqs: []int64{10, 9, 8}, wantNext: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := newMemReader(tt.stored)
			h := query.NewListInvoicesHandler(reader)

			page, err := h.Handle(context.Background(), query.ListInvoices{Limit: limit})

			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.wantSeqs, seqs(page.Items)); diff != "" {
				t.Errorf("page items mismatch (-want +got):\n%s", diff)
			}
			if got := page.NextCursor != ""; got != tt.wantNext {
				t.Fatalf("NextCursor = %q, want present = %v", page.NextCursor, tt.wantNext)
			}
			if !tt.wantNext {
				return
			}

			// Passing the cursor back continues after the last item shown.
			if _, err := h.Handle(context.Background(), query.ListInvoices{Limit: limit, Cursor: page.NextCursor}); err != nil {
				t.Fatalf("Handle(NextCursor %q) error = %v, want nil", page.NextCursor, err)
			}
			calls := reader.listCalls()
			want := ports.ListParams{Limit: limit + 1, BeforeSeq: page.Items[len(page.Items)-1].Seq}
			if diff := cmp.Diff(want, calls[len(calls)-1], viewOpts); diff != "" {
				t.Errorf("reader call for the next page mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Walking every page by its cursor visits each invoice once, newest first.
func TestListInvoicesWalksAllPages(t *testing.T) {
	tests := []struct {
		name      string
		stored    int
		limit     int
		wantPages [][]int64
	}{
		{name: "last page short", stored: 7, limit: 3, wantPages: [][]int64{{7, 6, 5}, {4, 3, 2}, {1}}},
		{name: "last page full", stored: 6, limit: 3, wantPages: [][]int64{{6, 5, 4}, {3, 2, 1}}},
		{name: "one per page", stored: 3, limit: 1, wantPages: [][]int64{{3}, {2}, {1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := query.NewListInvoicesHandler(newMemReader(tt.stored))
			var got [][]int64
			q := query.ListInvoices{Limit: tt.limit}
			for range tt.stored + 1 {
				page, err := h.Handle(context.Background(), q)
				if err != nil {
					t.Fatalf("Handle(%+v) error = %v", q, err)
				}
				got = append(got, seqs(page.Items))
				if page.NextCursor == "" {
					break
				}
				q.Cursor = page.NextCursor
			}
			if diff := cmp.Diff(tt.wantPages, got); diff != "" {
				t.Errorf("pages mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A cursor issued before filters existed ("v1:<seq>") still pages an
// unfiltered list.
func TestListInvoicesAcceptsAVersion1Cursor(t *testing.T) {
	reader := newMemReader(10)
	h := query.NewListInvoicesHandler(reader)

	page, err := h.Handle(context.Background(), query.ListInvoices{Limit: 2, Cursor: cursorOf("v1:5")})

	if err != nil {
		t.Fatalf("Handle() error = %v, want nil", err)
	}
	if diff := cmp.Diff([]ports.ListParams{{Limit: 3, BeforeSeq: 5}}, reader.listCalls(), viewOpts); diff != "" {
		t.Errorf("reader calls mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{4, 3}, seqs(page.Items)); diff != "" {
		t.Errorf("page items mismatch (-want +got):\n%s", diff)
	}
}

func TestListInvoicesRejectsForeignCursors(t *testing.T) {
	tests := []struct {
		name   string
		cursor string
	}{
		{name: "not base64", cursor: "!!!"},
		{name: "unknown version", cursor: cursorOf("v3:5:")},
		{name: "v2 without a filter key", cursor: cursorOf("v2:5")},
		{name: "v2 without a seq", cursor: cursorOf("v2::")},
		{name: "v2 with a leading zero", cursor: cursorOf("v2:05:")},
		{name: "v2 with a negative seq", cursor: cursorOf("v2:-5:")},
		{name: "v2 for a filter this request does not have", cursor: cursorOf("v2:5:AAAAAAAAAAAAAAAA")},
		{name: "no version", cursor: cursorOf("5")},
		{name: "leading zero", cursor: cursorOf("v1:05")},
		{name: "plus sign", cursor: cursorOf("v1:+5")},
		{name: "negative", cursor: cursorOf("v1:-1")},
		{name: "zero", cursor: cursorOf("v1:0")},
		{name: "no digits", cursor: cursorOf("v1:")},
		{name: "trailing text", cursor: cursorOf("v1:5x")},
		{name: "inner space", cursor: cursorOf("v1: 5")},
		{name: "overflows int64", cursor: cursorOf("v1:9223372036854775808")},
		{name: "padded standard base64", cursor: base64.StdEncoding.EncodeToString([]byte("v1:5"))},
		{name: "valid cursor with garbage appended", cursor: cursorOf("v1:5") + "!"},
		{name: "200 characters", cursor: strings.Repeat("A", 200)},
		{name: "200 characters of base64 digits", cursor: cursorOf("v1:" + strings.Repeat("9", 147))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := newMemReader(3)
			h := query.NewListInvoicesHandler(reader)

			page, err := h.Handle(context.Background(), query.ListInvoices{Limit: 2, Cursor: tt.cursor})

			requireValidationError(t, err, "cursor")
			if diff := cmp.Diff(query.InvoicePage{}, page, viewOpts); diff != "" {
				t.Errorf("Handle(cursor %q) returned a page alongside an error (-want +got):\n%s", tt.cursor, diff)
			}
			if calls := reader.listCalls(); len(calls) != 0 {
				t.Errorf("reader called %v for cursor %q, want no call", calls, tt.cursor)
			}
		})
	}
}

func TestListInvoicesPassesReaderErrorsThrough(t *testing.T) {
	readErr := errors.New("read model unavailable")
	reader := newMemReader(3)
	reader.err = readErr
	h := query.NewListInvoicesHandler(reader)

	page, err := h.Handle(context.Background(), query.ListInvoices{})

	if !errors.Is(err, readErr) {
		t.Errorf("Handle() error = %v, want %v", err, readErr)
	}
	if diff := cmp.Diff(query.InvoicePage{}, page, viewOpts); diff != "" {
		t.Errorf("Handle() returned a page alongside an error (-want +got):\n%s", diff)
	}
}

// The filters used by the tests below, over newMemReader's invoices (see
// viewAt).
var (
	onlyVoid   = ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusVoid}}
	customerA  = ports.InvoiceFilter{CustomerID: "cust-a"}
	everyField = ports.InvoiceFilter{
		Statuses: []invoice.Status{invoice.StatusPaid, invoice.StatusVoid}, CustomerID: "cust-a", Currency: "EUR",
		CreatedFrom: viewsCreated, CreatedTo: viewsCreated.Add(48 * time.Hour), DueBefore: invoice.DateOf(viewsCreated.AddDate(0, 2, 0)),
	}
)

func TestListInvoicesPassesTheFilterToTheReader(t *testing.T) {
	tests := []struct {
		name     string
		filter   ports.InvoiceFilter
		wantSeqs []int64
	}{
		{name: "none", filter: ports.InvoiceFilter{}, wantSeqs: []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{name: "one status", filter: onlyVoid, wantSeqs: []int64{12, 9, 6, 3}},
		{
			name:     "two statuses",
			filter:   ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPending, invoice.StatusPaid}},
			wantSeqs: []int64{11, 10, 8, 7, 5, 4, 2, 1},
		},
		{name: "customer", filter: customerA, wantSeqs: []int64{11, 9, 7, 5, 3, 1}},
		{name: "currency", filter: ports.InvoiceFilter{Currency: "JPY"}, wantSeqs: []int64{12, 8, 4}},
		{
			name:     "created from (inclusive) to (exclusive)",
			filter:   ports.InvoiceFilter{CreatedFrom: viewAt(3).CreatedAt, CreatedTo: viewAt(6).CreatedAt},
			wantSeqs: []int64{5, 4, 3},
		},
		{name: "due before", filter: ports.InvoiceFilter{DueBefore: viewAt(4).DueDate}, wantSeqs: []int64{3, 2, 1}},
		{
			name: "fields combine",
			filter: ports.InvoiceFilter{
				Statuses: []invoice.Status{invoice.StatusPending}, CustomerID: "cust-b", Currency: "EUR",
			},
			wantSeqs: []int64{10},
		},
		{name: "nothing matches", filter: ports.InvoiceFilter{CustomerID: "cust-z"}, wantSeqs: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reader := newMemReader(12)
			h := query.NewListInvoicesHandler(reader)

			page, err := h.Handle(context.Background(), query.ListInvoices{Filter: tt.filter})

			if err != nil {
				t.Fatalf("Handle() error = %v, want nil", err)
			}
			want := []ports.ListParams{{Limit: query.DefaultLimit + 1, Filter: tt.filter}}
			if diff := cmp.Diff(want, reader.listCalls(), viewOpts); diff != "" {
				t.Errorf("reader calls mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSeqs, seqs(page.Items)); diff != "" {
				t.Errorf("page items mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// Walking a filtered list by its cursors visits each matching invoice once,
// and every page is read with the filter.
func TestListInvoicesWalksAFilteredList(t *testing.T) {
	reader := newMemReader(12)
	h := query.NewListInvoicesHandler(reader)
	var got [][]int64
	q := query.ListInvoices{Limit: 2, Filter: customerA}
	for range 10 {
		page, err := h.Handle(context.Background(), q)
		if err != nil {
			t.Fatalf("Handle(%+v) error = %v", q, err)
		}
		got = append(got, seqs(page.Items))
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}

	if diff := cmp.Diff([][]int64{{11, 9}, {7, 5}, {3, 1}}, got); diff != "" {
		t.Errorf("pages mismatch (-want +got):\n%s", diff)
	}
	want := []ports.ListParams{
		{Limit: 3, Filter: customerA},
		{Limit: 3, BeforeSeq: 9, Filter: customerA},
		{Limit: 3, BeforeSeq: 5, Filter: customerA},
	}
	if diff := cmp.Diff(want, reader.listCalls(), viewOpts); diff != "" {
		t.Errorf("reader calls mismatch (-want +got):\n%s", diff)
	}
}

// A cursor continues the list it came from. Used with another filter it
// would skip or repeat invoices without saying so, so it is refused.
func TestListInvoicesRefusesACursorIssuedForAnotherFilter(t *testing.T) {
	at := viewsCreated.Add(5 * time.Hour)
	due := invoice.DateOf(viewsCreated.AddDate(0, 1, 9))
	tests := []struct {
		name         string
		issuedFor    ports.InvoiceFilter
		usedWith     ports.InvoiceFilter
		wantSameList bool
	}{
		{name: "filter dropped", issuedFor: onlyVoid, usedWith: ports.InvoiceFilter{}},
		{name: "filter added", issuedFor: ports.InvoiceFilter{}, usedWith: onlyVoid},
		{name: "other status", issuedFor: onlyVoid, usedWith: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPaid}}},
		{
			name: "a status more", issuedFor: onlyVoid,
			usedWith: ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusVoid, invoice.StatusPaid}},
		},
		{name: "other customer", issuedFor: customerA, usedWith: ports.InvoiceFilter{CustomerID: "cust-b"}},
		{name: "other currency", issuedFor: ports.InvoiceFilter{Currency: "EUR"}, usedWith: ports.InvoiceFilter{Currency: "JPY"}},
		{name: "other created from", issuedFor: ports.InvoiceFilter{CreatedFrom: at}, usedWith: ports.InvoiceFilter{CreatedFrom: at.Add(time.Second)}},
		{name: "created from become created to", issuedFor: ports.InvoiceFilter{CreatedFrom: at}, usedWith: ports.InvoiceFilter{CreatedTo: at}},
		{name: "other created to", issuedFor: ports.InvoiceFilter{CreatedTo: at}, usedWith: ports.InvoiceFilter{CreatedTo: at.Add(time.Nanosecond)}},
		{name: "other due before", issuedFor: ports.InvoiceFilter{DueBefore: due}, usedWith: ports.InvoiceFilter{DueBefore: due.AddYears(1)}},
		{
			name: "a field more", issuedFor: customerA,
			usedWith: ports.InvoiceFilter{CustomerID: "cust-a", Currency: "EUR"},
		},
		{
			name: "one field of many changed", issuedFor: everyField,
			usedWith: func() ports.InvoiceFilter { f := everyField; f.Currency = "JPY"; return f }(),
		},
		// The same list however the filter is spelt: statuses are a set,
		// and times are instants.
		{name: "identical", issuedFor: everyField, usedWith: everyField, wantSameList: true},
		{
			name:         "statuses in another order",
			issuedFor:    ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusVoid, invoice.StatusPaid}},
			usedWith:     ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPaid, invoice.StatusVoid}},
			wantSameList: true,
		},
		{
			name:         "a status repeated",
			issuedFor:    ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusPaid, invoice.StatusVoid}},
			usedWith:     ports.InvoiceFilter{Statuses: []invoice.Status{invoice.StatusVoid, invoice.StatusPaid, invoice.StatusVoid}},
			wantSameList: true,
		},
		{
			name:         "the same instant in another zone",
			issuedFor:    ports.InvoiceFilter{CreatedFrom: at, CreatedTo: at.Add(3 * time.Hour)},
			usedWith:     ports.InvoiceFilter{CreatedFrom: at.In(time.FixedZone("CET", 3600)), CreatedTo: at.Add(3 * time.Hour).In(time.FixedZone("PDT", -7*3600))},
			wantSameList: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every filter issuedFor holds selects at least two of these, so
			// a page of one has a next cursor.
			reader := newMemReader(12)
			h := query.NewListInvoicesHandler(reader)
			first, err := h.Handle(context.Background(), query.ListInvoices{Limit: 1, Filter: tt.issuedFor})
			if err != nil || first.NextCursor == "" {
				t.Fatalf("first page = %+v, %v; want a next cursor", first, err)
			}

			page, err := h.Handle(context.Background(), query.ListInvoices{Limit: 1, Cursor: first.NextCursor, Filter: tt.usedWith})

			if tt.wantSameList {
				if err != nil {
					t.Fatalf("Handle(cursor, same filter) error = %v, want nil", err)
				}
				calls := reader.listCalls()
				want := ports.ListParams{Limit: 2, BeforeSeq: first.Items[0].Seq, Filter: tt.usedWith}
				if diff := cmp.Diff(want, calls[len(calls)-1], viewOpts); diff != "" {
					t.Errorf("reader call for the next page mismatch (-want +got):\n%s", diff)
				}
				return
			}
			reason := requireValidationError(t, err, "cursor")
			if !strings.Contains(reason, "filter") {
				t.Errorf("ValidationError.Reason = %q, want it to say the filter differs", reason)
			}
			if diff := cmp.Diff(query.InvoicePage{}, page, viewOpts); diff != "" {
				t.Errorf("Handle() returned a page alongside an error (-want +got):\n%s", diff)
			}
			if calls := reader.listCalls(); len(calls) != 1 {
				t.Errorf("reader called %d times, want once (the first page only)", len(calls))
			}
		})
	}
}

// A version 1 cursor was issued for an unfiltered list, so a filtered one
// refuses it.
func TestListInvoicesRefusesAVersion1CursorWithAFilter(t *testing.T) {
	for _, f := range []ports.InvoiceFilter{onlyVoid, customerA, {Currency: "EUR"}, everyField} {
		reader := newMemReader(10)
		h := query.NewListInvoicesHandler(reader)

		_, err := h.Handle(context.Background(), query.ListInvoices{Limit: 2, Cursor: cursorOf("v1:5"), Filter: f})

		requireValidationError(t, err, "cursor")
		if calls := reader.listCalls(); len(calls) != 0 {
			t.Errorf("filter %+v: reader called %v, want no call", f, calls)
		}
	}
}
