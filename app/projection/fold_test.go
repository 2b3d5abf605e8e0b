package projection_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"invoices/domain/invoice"
	"invoices/ports"
)

var (
	voidedA = time.Date(2024, 5, 3, 9, 0, 0, 666666000, time.UTC)
	voidedB = time.Date(2024, 5, 3, 10, 0, 0, 777777000, time.UTC)
)

func voidedEvent(id, reason string, at time.Time) invoice.Voided {
	return invoice.Voided{InvoiceID: id, Reason: reason, VoidedAt: at}
}

func void(v ports.InvoiceView, version int, at time.Time, reason string) ports.InvoiceView {
	v.Status, v.Version, v.UpdatedAt, v.VoidedAt, v.VoidReason = invoice.StatusVoid, version, at, &at, reason
	return v
}

func ptr[T any](v T) *T { return &v }

// What each batch of events becomes: an invoice created in the batch is one
// insert in its final state; events on an invoice an earlier batch inserted
// are one update, whose nil fields leave the row's values alone.
func TestFoldBatches(t *testing.T) {
	kwd := invoice.MustCurrency("KWD")
	due := invoice.DateOf(time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		name      string
		batchSize int
		events    func(t *testing.T) []ports.RecordedEvent
		want      []ports.InvoiceChanges // one per committed batch
		wantModel []ports.InvoiceView
	}{
		{
			name:      "created and voided in one batch is one void insert",
			batchSize: 10,
			events: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-a", 2, voidedEvent("inv-a", "issued twice", voidedA)),
				}
			},
			want: []ports.InvoiceChanges{
				{Inserts: []ports.InvoiceView{void(pending("inv-a", 199900, 1, 1, createdA), 2, voidedA, "issued twice")}},
			},
			wantModel: []ports.InvoiceView{void(pending("inv-a", 199900, 1, 1, createdA), 2, voidedA, "issued twice")},
		},
		{
			name:      "void of an earlier batch's invoice is one update",
			batchSize: 1,
			events: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-a", 2, voidedEvent("inv-a", "issued twice", voidedA)),
				}
			},
			want: []ports.InvoiceChanges{
				{Inserts: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA)}},
				{Updates: []ports.InvoiceUpdate{{
					ID: "inv-a", FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voidedA,
					VoidedAt: &voidedA, VoidReason: ptr("issued twice"), Position: 2,
				}}},
			},
			wantModel: []ports.InvoiceView{void(pending("inv-a", 199900, 1, 1, createdA), 2, voidedA, "issued twice")},
		},
		{
			// No reason leaves the row's (empty) reason as it is.
			name:      "void without a reason of an earlier batch's invoice",
			batchSize: 1,
			events: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-a", 2, voidedEvent("inv-a", "", voidedA)),
				}
			},
			want: []ports.InvoiceChanges{
				{Inserts: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA)}},
				{Updates: []ports.InvoiceUpdate{{
					ID: "inv-a", FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voidedA,
					VoidedAt: &voidedA, Position: 2,
				}}},
			},
			wantModel: []ports.InvoiceView{void(pending("inv-a", 199900, 1, 1, createdA), 2, voidedA, "")},
		},
		{
			name:      "pays and voids of earlier and current invoices in one batch",
			batchSize: 2,
			events: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{
					rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
					rec(t, 2, "inv-b", 1, createdEvent("inv-b", 25000, createdB)),
					rec(t, 3, "inv-c", 1, createdEvent("inv-c", 30000, createdC)),
					rec(t, 4, "inv-b", 2, voidedEvent("inv-b", "wrong customer", voidedB)),
					rec(t, 5, "inv-a", 2, paidEvent("inv-a", paidA)),
					rec(t, 6, "inv-c", 2, voidedEvent("inv-c", "", voidedA)),
				}
			},
			want: []ports.InvoiceChanges{
				{Inserts: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA), pending("inv-b", 25000, 1, 2, createdB)}},
				{
					Inserts: []ports.InvoiceView{pending("inv-c", 30000, 1, 3, createdC)},
					Updates: []ports.InvoiceUpdate{{
						ID: "inv-b", FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voidedB,
						VoidedAt: &voidedB, VoidReason: ptr("wrong customer"), Position: 4,
					}},
				},
				{Updates: []ports.InvoiceUpdate{
					{ID: "inv-a", FromVersion: 1, Version: 2, Status: invoice.StatusPaid, UpdatedAt: paidA, PaidAt: &paidA, Position: 5},
					{ID: "inv-c", FromVersion: 1, Version: 2, Status: invoice.StatusVoid, UpdatedAt: voidedA, VoidedAt: &voidedA, Position: 6},
				}},
			},
			wantModel: []ports.InvoiceView{
				paid(pending("inv-a", 199900, 1, 1, createdA), 2, paidA),
				void(pending("inv-b", 25000, 1, 2, createdB), 2, voidedB, "wrong customer"),
				void(pending("inv-c", 30000, 1, 3, createdC), 2, voidedA, ""),
			},
		},
		{
			name:      "currency and due date are inserted",
			batchSize: 10,
			events: func(t *testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{rec(t, 1, "inv-a", 1, invoice.Created{
					InvoiceID: "inv-a", CustomerID: "cust-inv-a", Amount: 12500, Currency: kwd, DueDate: due, CreatedAt: createdA,
				})}
			},
			want: []ports.InvoiceChanges{{Inserts: []ports.InvoiceView{func() ports.InvoiceView {
				v := pending("inv-a", 12500, 1, 1, createdA)
				v.Currency, v.DueDate = kwd, due
				return v
			}()}}},
			wantModel: []ports.InvoiceView{func() ports.InvoiceView {
				v := pending("inv-a", 12500, 1, 1, createdA)
				v.Currency, v.DueDate = kwd, due
				return v
			}()},
		},
		{
			// Stored before currencies: read in the legacy currency.
			name:      "a version 1 created",
			batchSize: 10,
			events: func(*testing.T) []ports.RecordedEvent {
				return []ports.RecordedEvent{raw(1, "inv-a", 1, invoice.CreatedEventName,
					`{"invoiceId":"inv-a","customerId":"cust-inv-a","amount":19.99,"createdAt":"2024-05-01T10:00:00.111111Z"}`)}
			},
			want:      []ports.InvoiceChanges{{Inserts: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA)}}},
			wantModel: []ports.InvoiceView{pending("inv-a", 199900, 1, 1, createdA)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, store := &memEventStore{}, newMemProjectionStore()
			records := tt.events(t)
			events.add(records...)
			p := newProjector(events, store, codec(t), tt.batchSize)

			for range len(records) + 1 {
				n, err := p.Step(context.Background())
				if err != nil {
					t.Fatalf("Step() error = %v", err)
				}
				if n == 0 {
					break
				}
			}

			if diff := cmp.Diff(tt.want, store.committedChanges(), cmpopts.EquateEmpty(), viewOpts); diff != "" {
				t.Errorf("projected changes mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantModel, store.snapshot(), viewOpts); diff != "" {
				t.Errorf("read model mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The fold checks each event against the row it changes, voids included:
// a void that skips a version stops the projector, naming its position.
func TestFoldRefusesAVoidAtTheWrongVersion(t *testing.T) {
	events, store := &memEventStore{}, newMemProjectionStore()
	events.add(
		rec(t, 1, "inv-a", 1, createdEvent("inv-a", 199900, createdA)),
		rec(t, 2, "inv-a", 3, voidedEvent("inv-a", "x", voidedA)),
	)
	p := newProjector(events, store, codec(t), 10)

	n, err := p.Step(context.Background())

	const want = "event at position 2: void invoice inv-a: no row at version 2"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Step() = %d, %v; want an error containing %q", n, err, want)
	}
	if got := store.snapshot(); len(got) != 0 {
		t.Errorf("read model = %+v, want nothing of the refused batch", got)
	}
}
