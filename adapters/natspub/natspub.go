// Package natspub is the NATS JetStream broker the publisher hands events
// to: one message per event on invoices.events.<type>, with Nats-Msg-Id the
// event id (JetStream drops a re-publish within the stream's duplicate
// window) and Nats-Expected-Last-Msg-Id its predecessor's id (JetStream
// refuses an event out of position order).
package natspub

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"invoices/ports"
)

// SubjectPrefix starts every subject: invoices.events.<event type>.
const SubjectPrefix = "invoices.events."

// PositionHeader carries the event's global position.
const PositionHeader = "Invoices-Position"

// StreamConfig is the stream created when none of that name exists. An
// operator may change it afterwards (replicas, limits); the broker never
// updates an existing stream.
func StreamConfig(name string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: "Events of the invoices service, in global position order",
		Subjects:    []string{SubjectPrefix + ">"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Duplicates:  2 * time.Minute,
		MaxAge:      0, // kept until an operator sets limits
	}
}

// ackTimeout bounds the wait for one acknowledgement: past it the
// publisher retries from its checkpoint.
const ackTimeout = 5 * time.Second

// Broker publishes to a JetStream stream; it implements ports.Broker.
type Broker struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream string
	log    *zap.Logger

	mu      sync.Mutex
	ensured jetstream.Stream
}

var _ ports.Broker = (*Broker)(nil)

// Connect returns a broker on the NATS server at url for stream. It does
// not wait for the server: the connection retries in the background, for
// ever, and publishes fail while it is down (nothing is buffered, so the
// publisher's checkpoint tells what is sent).
func Connect(url, stream string, window int, log *zap.Logger) (*Broker, error) {
	log = log.Named("nats")
	nc, err := nats.Connect(url,
		nats.Name("invoices publisher"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: Close, which says nothing
				log.Warn("nats disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", zap.String("server", c.ConnectedUrlRedacted())) }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(max(window, 1)), jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return &Broker{nc: nc, js: js, stream: stream, log: log}, nil
}

// Close drops the connection.
func (b *Broker) Close() { b.nc.Close() }

// ensure returns the stream, creating it with StreamConfig when absent.
func (b *Broker) ensure(ctx context.Context) (jetstream.Stream, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ensured != nil {
		return b.ensured, nil
	}
	s, err := b.js.Stream(ctx, b.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = b.js.CreateStream(ctx, StreamConfig(b.stream))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = b.js.Stream(ctx, b.stream)
		} else if err == nil {
			b.log.Info("stream created", zap.String("stream", b.stream))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", b.stream, err)
	}
	b.ensured = s
	return s, nil
}

// LastPosition implements ports.Broker: the position header of the
// stream's last message.
func (b *Broker) LastPosition(ctx context.Context) (int64, error) {
	s, err := b.ensure(ctx)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", b.stream, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	m, err := s.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		return 0, fmt.Errorf("stream %s message %d: %w", b.stream, info.State.LastSeq, err)
	}
	pos, err := strconv.ParseInt(m.Header.Get(PositionHeader), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stream %s message %d has no %s header: is the stream shared with another publisher?", b.stream, m.Sequence, PositionHeader)
	}
	return pos, nil
}

// Publish implements ports.Broker.
func (b *Broker) Publish(_ context.Context, m ports.BrokerMessage) (ports.PendingAck, error) {
	msg := nats.NewMsg(SubjectPrefix + m.Type)
	msg.Data = m.Payload
	msg.Header.Set(PositionHeader, strconv.FormatInt(m.Position, 10))
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(m.EventID), jetstream.WithExpectStream(b.stream)}
	if m.PrevEventID != "" {
		opts = append(opts, jetstream.WithExpectLastMsgID(m.PrevEventID))
	}
	f, err := b.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return nil, err
	}
	return pending{f}, nil
}

type pending struct{ f jetstream.PubAckFuture }

func (p pending) Wait(ctx context.Context) error {
	t := time.NewTimer(ackTimeout + time.Second)
	defer t.Stop()
	select {
	case <-p.f.Ok():
		return nil
	case err := <-p.f.Err():
		return err
	case <-t.C:
		return errors.New("no acknowledgement")
	case <-ctx.Done():
		return ctx.Err()
	}
}
