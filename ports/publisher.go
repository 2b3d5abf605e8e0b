package ports

import "context"

// PublisherCheckpoints keeps publishers' durable checkpoints: how far each
// has handed the event log to another system, acknowledged.
type PublisherCheckpoints interface {
	// PublisherCheckpoint returns the position a publisher has published
	// up to (every event up to it acknowledged), creating it at 0 when new.
	PublisherCheckpoint(ctx context.Context, publisher string) (int64, error)
	// AdvancePublisher moves the publisher's checkpoint from from to to. If
	// it is no longer at from (another instance moved it), nothing changes
	// and the error is ErrConcurrencyConflict.
	AdvancePublisher(ctx context.Context, publisher string, from, to int64) error
}

// Leaser grants named, exclusive leases across every process that shares
// the event store, so that one of them at a time runs a singleton such as
// a publisher.
type Leaser interface {
	// TryAcquire takes the lease name if no one holds it and returns it
	// with true; it returns false when another process holds it.
	TryAcquire(ctx context.Context, name string) (Lease, bool, error)
}

// Lease is a held lease.
type Lease interface {
	// Lost is closed when the lease can no longer be vouched for (its
	// holder lost touch with the store): the holder must stop at once.
	Lost() <-chan struct{}
	// Release gives the lease up; it is safe to call more than once.
	Release()
}

// BrokerMessage is one event on its way to a message broker, its payload
// already in the shape consumers read.
type BrokerMessage struct {
	Position int64
	EventID  string
	Type     string
	// PrevEventID is the id of the event at Position-1 ("" for the first
	// event): a broker that can refuses the message unless that event is
	// the last one it holds, so the broker keeps position order.
	PrevEventID string
	Payload     []byte
}

// Broker publishes events to another system.
type Broker interface {
	// Publish starts publishing m without waiting for the broker; the
	// returned PendingAck says whether it was stored.
	Publish(ctx context.Context, m BrokerMessage) (PendingAck, error)
	// LastPosition returns the position of the last event the broker
	// holds, 0 when it holds none.
	LastPosition(ctx context.Context) (int64, error)
}

// PendingAck is a publish awaiting the broker's acknowledgement.
type PendingAck interface {
	// Wait blocks until the broker stored the message (nil, also when it
	// dropped it as a duplicate of one it holds) or refused it, or until
	// ctx ends.
	Wait(ctx context.Context) error
}
