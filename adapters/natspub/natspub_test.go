package natspub_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"invoices/adapters/natspub"
	"invoices/ports"
)

// broker connects to TEST_NATS_URL on a stream of its own, deleted at
// cleanup; without the variable the test is skipped.
func broker(t *testing.T) (*natspub.Broker, jetstream.Stream) {
	t.Helper()
	url := os.Getenv("TEST_NATS_URL")
	if url == "" {
		t.Skip("NATS test skipped: set TEST_NATS_URL (e.g. nats://127.0.0.1:4222, a nats-server -js) to run it")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "INVOICES_TEST_" + hex.EncodeToString(b[:])
	br, err := natspub.Connect(url, name, 16, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Close)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	t.Cleanup(func() {
		_ = js.DeleteStream(context.Background(), name)
		nc.Close()
	})
	ctx := context.Background()
	if last, err := br.LastPosition(ctx); err != nil || last != 0 {
		t.Fatalf("LastPosition() of a new stream = %d, %v; want 0", last, err)
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return br, s
}

func msg(pos int64) ports.BrokerMessage {
	m := ports.BrokerMessage{Position: pos, EventID: fmt.Sprintf("evt-%d", pos), Type: "invoice.created", Payload: []byte(`{}`)}
	if pos > 1 {
		m.PrevEventID = fmt.Sprintf("evt-%d", pos-1)
	}
	return m
}

func publish(t *testing.T, b *natspub.Broker, m ports.BrokerMessage) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := b.Publish(ctx, m)
	if err != nil {
		return err
	}
	return a.Wait(ctx)
}

// TestStreamKeepsPositionOrder shows the two guarantees the publisher
// relies on: a re-published event is dropped by its id (even when it is
// no longer the last), and an event whose predecessor is not the last
// message is refused, so the stream never holds events out of order.
func TestStreamKeepsPositionOrder(t *testing.T) {
	b, s := broker(t)
	ctx := context.Background()
	for pos := int64(1); pos <= 3; pos++ {
		if err := publish(t, b, msg(pos)); err != nil {
			t.Fatalf("publish %d: %v", pos, err)
		}
	}
	// A crash before the checkpoint moved: 2 and 3 again, then 4.
	for _, pos := range []int64{2, 3, 4} {
		if err := publish(t, b, msg(pos)); err != nil {
			t.Fatalf("re-publish %d: %v", pos, err)
		}
	}
	// 6 without 5: refused.
	if err := publish(t, b, msg(6)); err == nil {
		t.Fatal("publish 6 after 4 succeeded, want it refused")
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Fatalf("stream holds %d messages, want 4", info.State.Msgs)
	}
	for seq := uint64(1); seq <= 4; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Header.Get(natspub.PositionHeader), fmt.Sprint(seq); got != want {
			t.Errorf("message %d holds position %s, want %s", seq, got, want)
		}
		if m.Subject != "invoices.events.invoice.created" {
			t.Errorf("message %d subject %s", seq, m.Subject)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != fmt.Sprintf("evt-%d", seq) {
			t.Errorf("message %d Nats-Msg-Id %s", seq, got)
		}
	}
	if last, err := b.LastPosition(ctx); err != nil || last != 4 {
		t.Errorf("LastPosition() = %d, %v; want 4", last, err)
	}
	cfg := info.Config
	if cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 2*time.Minute || cfg.Retention != jetstream.LimitsPolicy ||
		len(cfg.Subjects) != 1 || cfg.Subjects[0] != "invoices.events.>" {
		t.Errorf("stream created with %+v", cfg)
	}
}
