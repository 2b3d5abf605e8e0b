package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"invoices/adapters/store"
	"invoices/adapters/store/storetest"
	"invoices/ports"
)

// What ReadAll serves from memory must be what the database holds, field
// for field, including where another process appended in between: a second
// store on the same database plays that process.
func TestReadAllFromMemoryMatchesTheDatabase(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		ours, fromDB := interleaved(t, e)
		var got []ports.RecordedEvent
		for after := int64(0); after < 13; {
			// Batches of 4 fall on the runs: 1-4 from memory, 5-8 (the
			// other process's) from the database, 9-12 and 13 from memory.
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
		if diff := cmp.Diff(hostilePayload, fromDB[12].Data, jsonEqual); diff != "" {
			t.Errorf("stored payload (-appended +stored):\n%s", diff)
		}
		// Positions 1-4 and 9-13 were served from memory, 5-8 from the database.
		if mem := store.RecentFrom(ours, 1, 100); !slices.Equal(positions(mem), []int64{1, 2, 3, 4}) {
			t.Errorf("memory holds %v from position 1, want [1 2 3 4]", positions(mem))
		}
		if mem := store.RecentFrom(ours, 9, 100); !slices.Equal(positions(mem), []int64{9, 10, 11, 12, 13}) {
			t.Errorf("memory holds %v from position 9, want [9 10 11 12 13]", positions(mem))
		}
		if mem := store.RecentFrom(ours, 5, 100); len(mem) != 0 {
			t.Errorf("memory holds %v from position 5, the other process's events", positions(mem))
		}
	})
}

// TestReadAllIsExact: wherever a page starts, ReadAll returns what the
// database holds there, a full page while there are enough events: where
// the run of this store's appends held in memory stops at another writer's
// events, the rest of the page comes from the database.
func TestReadAllIsExact(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, e storetest.Engine) {
		ctx := context.Background()
		ours, fromDB := interleaved(t, e)

		// The page memory alone gets wrong: its run from 3 is 3-4, then the
		// other process's 5-6.
		if mem := store.RecentFrom(ours, 3, 4); !slices.Equal(positions(mem), []int64{3, 4}) {
			t.Fatalf("memory holds %v from position 3, want [3 4]: the setup no longer splits the page", positions(mem))
		}
		page := storetest.Must(ours.ReadAll(ctx, 2, 4))(t)
		if got := positions(page); !slices.Equal(got, []int64{3, 4, 5, 6}) {
			t.Errorf("ReadAll(2, 4) = %v, want [3 4 5 6]", got)
		}

		for after := range len(fromDB) + 1 {
			for limit := 1; limit <= len(fromDB)+1; limit++ {
				got := storetest.Must(ours.ReadAll(ctx, int64(after), limit))(t)
				want := fromDB[after:min(after+limit, len(fromDB))]
				if diff := cmp.Diff(want, got, jsonEqual, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ReadAll(%d, %d) differs from the database (-db +got):\n%s", after, limit, diff)
				}
			}
		}
	})
}

// hostilePayload must survive the array literals PostgreSQL's insert uses.
var hostilePayload = []byte(`{"s":"q\"uo\\te {a,b} NULL é","n":[1,2]}`)

// interleaved has two stores on one database append 13 events, two per
// append but the last: the first store 1-4, the second 5-8, the first again
// 9-13, 13 being hostilePayload. It returns the first store and the events
// as a third store, which appended nothing, reads them back.
func interleaved(t *testing.T, e storetest.Engine) (*store.EventStore, []ports.RecordedEvent) {
	t.Helper()
	ctx := context.Background()
	stores := eventStores(t, e, 3)
	ours, theirs, fresh := stores[0], stores[1], stores[2]
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
	hostile := []ports.NewEvent{{ID: uuid.NewString(), Type: "invoice.created", Data: hostilePayload}}
	if _, err := ours.Append(ctx, uuid.NewString(), 0, hostile, md); err != nil {
		t.Fatal(err)
	}
	fromDB := storetest.Must(fresh.ReadAll(ctx, 0, 100))(t)
	if len(fromDB) != 13 {
		t.Fatalf("database holds %d events, want 13", len(fromDB))
	}
	return ours, fromDB
}

// eventStores opens n event stores on one fresh database, each on its own
// connection pool, as n processes appending to one store would be.
func eventStores(t *testing.T, e storetest.Engine, n int) []*store.EventStore {
	t.Helper()
	ctx := context.Background()
	cfg := e.Database(t, "events")
	out := make([]*store.EventStore, n)
	for i := range out {
		db := storetest.Must(store.Open(ctx, e.Store, cfg))(t)
		t.Cleanup(func() {
			if err := store.Close(db); err != nil {
				t.Errorf("close database: %v", err)
			}
		})
		out[i] = storetest.Must(store.NewEventStore(ctx, e.Store, db, cfg, storetest.Defaults))(t)
		t.Cleanup(out[i].Close) // before its database closes
	}
	return out
}

func newEvents(types ...string) []ports.NewEvent {
	out := make([]ports.NewEvent, len(types))
	for i, typ := range types {
		out[i] = ports.NewEvent{ID: uuid.NewString(), Type: typ, Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	return out
}

// jsonEqual compares payloads as JSON documents: jsonb normalises spacing
// and key order.
var jsonEqual = cmp.Comparer(func(a, b []byte) bool {
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && cmp.Equal(va, vb)
})

func positions(events []ports.RecordedEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Position
	}
	return out
}
