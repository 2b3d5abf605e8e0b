package projection_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"invoices/app/projection"
	"invoices/domain/invoice"
	"invoices/ports"
)

// FoldStream is the projector's fold of one stream: the view it returns is
// the row the read model holds after the same events, whatever schema
// version they were stored at.
func TestFoldStream(t *testing.T) {
	tests := []struct {
		name    string
		records func(t *testing.T) []ports.RecordedEvent
		want    ports.InvoiceView
		wantErr bool
	}{
		{
			name: "created",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{rec(t, 4, "inv-a", 1, createdEvent("inv-a", 199900, createdA))}
			},
			want: pending("inv-a", 199900, 1, 4, createdA),
		},
		{
			name: "created and paid: Seq stays the creation's position",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 4, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 9, "inv-a", 2, paidEvent("inv-a", paidA)),
				}
			},
			want: paid(pending("inv-a", 199900, 1, 4, createdA), 2, paidA),
		},
		{
			name: "created at schema version 1, then voided",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					raw(2, "inv-a", 1, invoice.CreatedEventName,
						`{"invoiceId":"inv-a","customerId":"cust-inv-a","amount":19.99,"createdAt":"2024-05-01T10:00:00.111111Z"}`),
					rec(t, 3, "inv-a", 2, voidedEvent("inv-a", "issued twice", voidedA)),
				}
			},
			want: void(pending("inv-a", 199900, 1, 2, createdA), 2, voidedA, "issued twice"),
		},
		{name: "no events", records: func(*testing.T) []ports.RecordedEvent { return nil }, wantErr: true},
		{
			name: "not from its creation",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{rec(t, 9, "inv-a", 2, paidEvent("inv-a", paidA))}
			},
			wantErr: true,
		},
		{
			name: "two streams",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-b", 1, createdEvent("inv-b", 100, createdA)),
				}
			},
			wantErr: true,
		},
		{
			name: "a version skipped",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-a", 3, paidEvent("inv-a", paidA)),
				}
			},
			wantErr: true,
		},
		{
			name: "an unknown event type",
			records: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					raw(2, "inv-a", 2, "invoice.refunded", `{"invoiceId":"inv-a"}`),
				}
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := projection.FoldStream(codec(t), tt.records(t))

			if tt.wantErr {
				if err == nil {
					t.Fatalf("FoldStream() = %+v, nil; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("FoldStream() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got, viewOpts); diff != "" {
				t.Errorf("FoldStream() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
