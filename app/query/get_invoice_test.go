package query_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/app/query"
	"invoices/ports"
)

func TestGetInvoice(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		want    ports.InvoiceView
		wantErr error
	}{
		{name: "found", id: "inv-2", want: viewAt(2)},
		{name: "unknown id", id: "inv-404", wantErr: ports.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := query.NewGetInvoiceHandler(newMemReader(3))

			got, err := h.Handle(context.Background(), query.GetInvoice{ID: tt.id})

			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Handle() error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, viewOpts); diff != "" {
				t.Errorf("Handle() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
