package publication_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"invoices/app/publication"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

func codec(t *testing.T) *event.Registry {
	t.Helper()
	r, err := invoice.NewCodec(invoice.MustCurrency("EUR"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// records returns n invoice.created events at positions 1..n.
func records(n int) []ports.RecordedEvent {
	out := make([]ports.RecordedEvent, n)
	for i := range out {
		id := fmt.Sprintf("inv-%d", i+1)
		out[i] = ports.RecordedEvent{Position: int64(i + 1), ID: fmt.Sprintf("evt-%d", i+1), StreamID: id, Version: 1,
			Type: invoice.CreatedEventName, SchemaVersion: 1, RecordedAt: time.Unix(0, 0),
			Data: []byte(`{"invoiceId":"` + id + `","customerId":"c","amount":1,"createdAt":"2026-11-25T09:00:00Z"}`)}
	}
	return out
}

// fakeAck resolves when the test says so.
type fakeAck struct {
	done chan struct{}
	err  error
}

func (a *fakeAck) Wait(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fakeBroker records publishes; fail decides which acks fail, and acks
// resolve in reverse order of publication when a window is full, to show
// that the checkpoint still follows position order.
type fakeBroker struct {
	mu        sync.Mutex
	published []ports.BrokerMessage
	acks      []*fakeAck
	fail      func(pos int64) error
	stored    []ports.BrokerMessage
}

func (b *fakeBroker) Publish(_ context.Context, m ports.BrokerMessage) (ports.PendingAck, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, m)
	a := &fakeAck{done: make(chan struct{})}
	if b.fail != nil {
		a.err = b.fail(m.Position)
	}
	if a.err == nil {
		b.stored = append(b.stored, m)
	}
	b.acks = append(b.acks, a)
	// Resolve the latest first: the oldest is still pending.
	close(a.done)
	return a, nil
}

func (b *fakeBroker) LastPosition(context.Context) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.stored) == 0 {
		return 0, nil
	}
	return b.stored[len(b.stored)-1].Position, nil
}

func newPublisher(t *testing.T, b ports.Broker, window int) *publication.Publisher {
	t.Helper()
	return publication.New(nil, nil, nil, b, codec(t), zaptest.NewLogger(t), publication.Options{Name: "test", BatchSize: 100, Window: window})
}

func TestPublishBatchAcksInPositionOrder(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		window    int
		fail      func(int64) error
		wantAcked int64
		wantErr   bool
		// wantPublished bounds how far past the failure it published: at
		// most a window.
		maxPublished int
	}{
		{"all acked", 3, nil, 10, false, 10},
		{"window of one", 1, nil, 10, false, 10},
		{"failure stops at its predecessor", 3, func(p int64) error {
			if p == 5 {
				return boom
			}
			return nil
		}, 4, true, 7},
		{"first fails", 4, func(p int64) error {
			if p == 1 {
				return boom
			}
			return nil
		}, 0, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBroker{fail: tt.fail}
			p := newPublisher(t, b, tt.window)
			acked, err := p.PublishBatch(context.Background(), 0, "", records(10))
			if acked != tt.wantAcked || (err != nil) != tt.wantErr {
				t.Fatalf("PublishBatch() = %d, %v; want %d, error %v", acked, err, tt.wantAcked, tt.wantErr)
			}
			if len(b.published) > tt.maxPublished {
				t.Errorf("published %d events, want at most %d (the in-flight window)", len(b.published), tt.maxPublished)
			}
			for i, m := range b.published {
				wantPrev := ""
				if i > 0 {
					wantPrev = b.published[i-1].EventID
				}
				if m.Position != int64(i+1) || m.PrevEventID != wantPrev {
					t.Errorf("publish %d: position %d prev %q, want %d prev %q", i, m.Position, m.PrevEventID, i+1, wantPrev)
				}
			}
		})
	}
}

// slowBroker acknowledges publishes only when released, newest first.
type slowBroker struct {
	fakeBroker
}

func (b *slowBroker) Publish(_ context.Context, m ports.BrokerMessage) (ports.PendingAck, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, m)
	a := &fakeAck{done: make(chan struct{})}
	b.acks = append(b.acks, a)
	return a, nil
}

func TestPublishBatchBoundsTheWindow(t *testing.T) {
	b := &slowBroker{}
	p := newPublisher(t, b, 4)
	done := make(chan int64)
	go func() {
		acked, _ := p.PublishBatch(context.Background(), 0, "", records(10))
		done <- acked
	}()
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			b.mu.Lock()
			got := len(b.published)
			b.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("published %d, want %d", got, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(4)
	time.Sleep(20 * time.Millisecond)
	b.mu.Lock()
	if len(b.published) != 4 {
		t.Fatalf("published %d with none acknowledged, want the window of 4", len(b.published))
	}
	// Acknowledge the later three first: nothing moves until the oldest is.
	for _, a := range b.acks[1:4] {
		close(a.done)
	}
	b.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	b.mu.Lock()
	if len(b.published) != 4 {
		t.Fatalf("published %d while the oldest is pending, want 4", len(b.published))
	}
	close(b.acks[0].done)
	b.mu.Unlock()
	// Four acknowledged: four more go out, and no more.
	waitFor(8)
	time.Sleep(20 * time.Millisecond)
	b.mu.Lock()
	if len(b.published) != 8 {
		t.Fatalf("published %d with 4 pending, want 8", len(b.published))
	}
	for _, a := range b.acks[4:8] {
		close(a.done)
	}
	b.mu.Unlock()
	waitFor(10)
	b.mu.Lock()
	for _, a := range b.acks[8:10] {
		close(a.done)
	}
	b.mu.Unlock()
	if acked := <-done; acked != 10 {
		t.Errorf("acked = %d, want 10", acked)
	}
}

func TestPublishBatchRefusesAGap(t *testing.T) {
	recs := records(5)
	recs = append(recs[:2], recs[3:]...)
	b := &fakeBroker{}
	acked, err := newPublisher(t, b, 8).PublishBatch(context.Background(), 0, "", recs)
	if acked != 2 || err == nil {
		t.Fatalf("PublishBatch() = %d, %v; want 2 and a gap error", acked, err)
	}
}

func TestEncodeUpcastsToTheHTTPShape(t *testing.T) {
	body, err := publication.Encode(codec(t), records(1)[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"position":1,"id":"evt-1","streamId":"inv-1","version":1,"type":"invoice.created","schemaVersion":1,` +
		`"payload":`
	if got := string(body); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("Encode() = %s, want it to start with %s", got, want)
	}
	if !contains(string(body), `"currency":"EUR"`) {
		t.Errorf("Encode() = %s: the version 1 payload is not upcast (no currency)", body)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
