package store

import (
	"slices"
	"testing"

	"invoices/ports"
)

// TestReadAllFromMemoryMatchesTheDatabase (readall_test.go) checks the ring
// against the database; these check the ring alone.

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
