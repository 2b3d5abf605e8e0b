package query_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

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

func requireValidationError(t *testing.T, err error, field string) {
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
			if diff := cmp.Diff([]ports.ListParams{{Limit: tt.wantLimit}}, reader.listCalls()); diff != "" {
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
			if diff := cmp.Diff(query.InvoicePage{}, page); diff != "" {
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
			if diff := cmp.Diff(want, calls[len(calls)-1]); diff != "" {
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

func TestListInvoicesAcceptsItsOwnCursorFormat(t *testing.T) {
	reader := newMemReader(10)
	h := query.NewListInvoicesHandler(reader)

	page, err := h.Handle(context.Background(), query.ListInvoices{Limit: 2, Cursor: cursorOf("v1:5")})

	if err != nil {
		t.Fatalf("Handle() error = %v, want nil", err)
	}
	if diff := cmp.Diff([]ports.ListParams{{Limit: 3, BeforeSeq: 5}}, reader.listCalls()); diff != "" {
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
		{name: "other version", cursor: cursorOf("v2:5")},
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
			if diff := cmp.Diff(query.InvoicePage{}, page); diff != "" {
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
	if diff := cmp.Diff(query.InvoicePage{}, page); diff != "" {
		t.Errorf("Handle() returned a page alongside an error (-want +got):\n%s", diff)
	}
}
