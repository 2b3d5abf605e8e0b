package app

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/app/publication"
	"invoices/config"
	"invoices/domain/event"
	"invoices/ports"
)

// PublisherName is the NATS publisher's checkpoint and lease name.
const PublisherName = "nats"

// NewPublisher returns the publisher of the event log to broker, started
// and stopped with the app and woken by the event store's commit
// notifications where it has them. Only one instance across the processes
// sharing the event store publishes at a time (leaser).
func NewPublisher(lc fx.Lifecycle, events ports.EventStore, checkpoints ports.PublisherCheckpoints, leaser ports.Leaser,
	broker ports.Broker, codec *event.Registry, cfg config.NATS, proj config.Projection, log *zap.Logger,
) *publication.Publisher {
	p := publication.New(events, checkpoints, leaser, broker, codec, log, publication.Options{
		Name: PublisherName, BatchSize: cfg.PublishBatch, Window: cfg.PublishBatch, PollInterval: proj.PollInterval,
	})
	if n, ok := events.(ports.CommitNotifier); ok {
		n.NotifyCommits(p.Committed)
	}
	lc.Append(fx.StartStopHook(p.Start, p.Stop))
	return p
}

// PublisherModule runs the publisher; the composition root adds it, with a
// ports.Broker, when publication is configured.
var PublisherModule = fx.Module("publisher",
	fx.Provide(NewPublisher),
	fx.Invoke(func(*publication.Publisher) {}),
)
