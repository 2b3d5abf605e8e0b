package feed

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestBroadcasterWakesEverySubscriberOnce(t *testing.T) {
	b := NewBroadcaster(10)
	subs := make([]*Subscription, 3)
	for i := range subs {
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs[i] = s
	}
	// Many commits while the subscribers are busy leave one token each:
	// Committed never blocks, and a wake-up means "read everything".
	for h := int64(1); h <= 100; h++ {
		b.Committed(h)
	}
	for i, s := range subs {
		select {
		case <-s.Wake():
		default:
			t.Fatalf("subscriber %d was not woken", i)
		}
		select {
		case <-s.Wake():
			t.Fatalf("subscriber %d holds a second token", i)
		default:
		}
	}
	if head, ok := b.Head(); !ok || head != 100 {
		t.Errorf("Head() = %d, %v; want 100, true", head, ok)
	}
	b.Committed(0) // some commits may have been missed
	if _, ok := b.Head(); ok {
		t.Error("Head() is known after a notification said commits may have been missed")
	}
	subs[1].Close()
	subs[1].Close()  // idempotent
	<-subs[1].Wake() // the token Committed(0) left
	b.Committed(101)
	select {
	case <-subs[1].Wake():
		t.Error("a closed subscription was woken")
	default:
	}
	if got := b.Open(); got != 2 {
		t.Errorf("Open() = %d, want 2", got)
	}
}

func TestBroadcasterCapsSubscribers(t *testing.T) {
	b := NewBroadcaster(2)
	s1, _ := b.Subscribe()
	if _, err := b.Subscribe(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(); !errors.Is(err, ErrTooManyFollowers) {
		t.Fatalf("third Subscribe: %v, want ErrTooManyFollowers", err)
	}
	s1.Close()
	if _, err := b.Subscribe(); err != nil {
		t.Fatalf("Subscribe after a Close: %v", err)
	}
}

func TestBroadcasterClose(t *testing.T) {
	b := NewBroadcaster(2)
	s, _ := b.Subscribe()
	b.Close()
	b.Close() // idempotent
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is open after Close")
	}
	if _, err := b.Subscribe(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// TestBroadcasterConcurrent runs commits, subscriptions and closes at once
// (for the race detector): every subscriber woken after its last commit.
func TestBroadcasterConcurrent(t *testing.T) {
	b := NewBroadcaster(100)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			s, err := b.Subscribe()
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			b.Committed(1)
			select {
			case <-s.Wake():
			case <-time.After(5 * time.Second):
				t.Error("not woken by a commit after subscribing")
			}
		})
		wg.Go(func() { b.Committed(2) })
	}
	wg.Wait()
	if b.Open() != 0 {
		t.Errorf("Open() = %d after every subscription closed", b.Open())
	}
}

func TestRecentRing(t *testing.T) {
	r := newRecent(4)
	run := func(from, to int64) []Item {
		var out []Item
		for p := from; p <= to; p++ {
			it := Item{}
			it.Position = p
			out = append(out, it)
		}
		return out
	}
	positions := func(items []Item) []int64 {
		var out []int64
		for _, it := range items {
			out = append(out, it.Position)
		}
		return out
	}
	r.put(run(1, 3))
	r.put(run(2, 6)) // overlaps, extends, evicts 1 and 2
	tests := []struct {
		after int64
		max   int
		want  []int64
	}{
		{0, 10, nil}, // 1 was evicted: read the log
		{2, 10, []int64{3, 4, 5, 6}},
		{3, 2, []int64{4, 5}},
		{6, 10, nil}, // at the end of the ring
	}
	for _, tt := range tests {
		if got := positions(r.after(tt.after, tt.max)); len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) || (len(got) > 0 && got[len(got)-1] != tt.want[len(tt.want)-1]) {
			t.Errorf("after(%d, %d) = %v, want %v", tt.after, tt.max, got, tt.want)
		}
	}
	r.put(run(1, 2)) // older: ignored
	if got := positions(r.after(2, 10)); len(got) != 4 {
		t.Errorf("an older run changed the ring: after(2) = %v", got)
	}
	r.put(run(9, 9)) // past a gap: replaces
	if got := positions(r.after(8, 10)); len(got) != 1 || got[0] != 9 {
		t.Errorf("after(8) = %v, want [9]", got)
	}
	if got := r.after(3, 10); got != nil {
		t.Errorf("after(3) = %v after the ring moved past it", positions(got))
	}
}
