package gormstore

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"invoices/adapters/gormstore/storetest"
	"invoices/ports"
)

func positions(events []ports.RecordedEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Position
	}
	return out
}

func TestRecentEventsFrom(t *testing.T) {
	r := newRecentEvents(100)
	// This process committed 3-5 and 9-10; another process 6-8.
	for _, run := range [][]int64{{3, 4, 5}, {9, 10}} {
		var evs []ports.RecordedEvent
		for _, p := range run {
			evs = append(evs, ports.RecordedEvent{Position: p})
		}
		r.add(evs)
	}
	tests := []struct {
		first int64
		limit int
		want  []int64
	}{
		{first: 3, limit: 10, want: []int64{3, 4, 5}}, // stops where another process's events begin
		{first: 4, limit: 1, want: []int64{4}},        // at most limit
		{first: 9, limit: 10, want: []int64{9, 10}},
		{first: 1, limit: 10, want: nil},  // evicted or never here: read the database
		{first: 6, limit: 10, want: nil},  // another process's event
		{first: 11, limit: 10, want: nil}, // not appended yet
	}
	for _, tt := range tests {
		if got := positions(r.from(tt.first, tt.limit)); !slices.Equal(got, tt.want) {
			t.Errorf("from(%d, %d) = %v, want %v", tt.first, tt.limit, got, tt.want)
		}
	}
}

func TestRecentEventsKeepsTheLatest(t *testing.T) {
	r := newRecentEvents(4)
	for p := int64(1); p <= 20; p++ {
		r.add([]ports.RecordedEvent{{Position: p}})
	}
	if got := r.from(20, 1); len(got) != 1 {
		t.Fatalf("the latest event is gone: from(20, 1) = %v", positions(got))
	}
	if got := r.from(1, 1); len(got) != 0 {
		t.Errorf("from(1, 1) = %v: nothing older than 2×keep should be held", positions(got))
	}
	if len(r.events) > 8 {
		t.Errorf("holds %d events, want at most 2×keep = 8", len(r.events))
	}
}

// What ReadAll serves from memory must be what the database holds, field
// for field, including where another process appended in between: a second
// store on the same database plays that process.
func TestReadAllFromMemoryMatchesTheDatabase(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		ours := openEventStore(t, e)
		theirs := newEventStore(ours.db)
		t.Cleanup(theirs.Close)
		md := ports.Metadata{CorrelationID: "req-1", CausationID: "CreateInvoice"}
		for i := range 6 {
			s := ours
			if i == 2 || i == 3 {
				s = theirs
			}
			if _, err := s.Append(ctx, uuid.NewString(), 0, newEvents("invoice.created", "invoice.paid"), md); err != nil {
				t.Fatal(err)
			}
		}
		// Payloads survive the array literals PostgreSQL's insert uses.
		hostile := []ports.NewEvent{{ID: uuid.NewString(), Type: "invoice.created", Data: []byte(`{"s":"q\"uo\\te {a,b} NULL é","n":[1,2]}`)}}
		if _, err := ours.Append(ctx, uuid.NewString(), 0, hostile, md); err != nil {
			t.Fatal(err)
		}
		// A store that has appended nothing reads everything back.
		fromDB := storetest.Must(newEventStore(ours.db).ReadAll(ctx, 0, 100))(t)
		if len(fromDB) != 13 {
			t.Fatalf("database holds %d events, want 13", len(fromDB))
		}
		var got []ports.RecordedEvent
		for after := int64(0); after < 13; {
			// Batches of 4 stop at the other process's events, as a live
			// projector's batches would, so 9-13 come from memory again.
			batch := storetest.Must(ours.ReadAll(ctx, after, 4))(t)
			if len(batch) == 0 {
				t.Fatalf("ReadAll(%d) returned nothing before the head", after)
			}
			got = append(got, batch...)
			after = batch[len(batch)-1].Position
		}
		if diff := cmp.Diff(fromDB, got, jsonEqual); diff != "" {
			t.Errorf("ReadAll through memory differs from the database (-db +memory):\n%s", diff)
		}
		if diff := cmp.Diff(hostile[0].Data, fromDB[12].Data, jsonEqual); diff != "" {
			t.Errorf("stored payload (-appended +stored):\n%s", diff)
		}
		// Positions 1-4 and 9-13 were served from memory, 5-8 from the database.
		if mem := ours.recent.from(1, 100); !slices.Equal(positions(mem), []int64{1, 2, 3, 4}) {
			t.Errorf("memory holds %v from position 1, want [1 2 3 4]", positions(mem))
		}
	})
}
