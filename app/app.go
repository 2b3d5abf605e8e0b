// Package app is the application layer: the commands and queries a driving
// adapter (HTTP) may call, wired with their decorators, and the projector
// that keeps the read model current. It never imports GORM or gin.
package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/app/command"
	"invoices/app/feed"
	"invoices/app/projection"
	"invoices/app/publication"
	"invoices/app/query"
	"invoices/config"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Application is the bus: call sites read app.Commands.PayInvoice.Handle(ctx, cmd)
// and the compiler checks every wire.
type Application struct {
	Commands Commands
	Queries  Queries
	Health   Health
	// Feed is the global event feed, paged and followed live.
	Feed *feed.Feed
}

// Commands are the write-side use cases.
type Commands struct {
	CreateInvoice command.Handler[command.CreateInvoice]
	PayInvoice    command.Handler[command.PayInvoice]
	VoidInvoice   command.Handler[command.VoidInvoice]
}

// Queries are the read-side use cases. GetInvoiceAsOf and InvoiceHistory
// read the event store, the others the read model.
type Queries struct {
	GetInvoice     query.Handler[query.GetInvoice, ports.InvoiceView]
	ListInvoices   query.Handler[query.ListInvoices, query.InvoicePage]
	GetInvoiceAsOf query.Handler[query.GetInvoiceAsOf, ports.InvoiceView]
	InvoiceHistory query.Handler[query.InvoiceHistory, query.HistoryPage]
}

// Params are the dependencies of New.
type Params struct {
	fx.In

	Events      ports.EventStore
	Keys        ports.IdempotencyStore
	Reader      ports.InvoiceReader
	Projector   *projection.Projector
	Codec       *event.Registry
	Config      config.Projection
	Idempotency config.Idempotency `optional:"true"`
	Log         *zap.Logger
	Clock       command.Clock    `optional:"true"`
	Recorder    command.Recorder `optional:"true"`
	// Fanout wakes the feed's live followers; without it the feed only
	// pages.
	Fanout *feed.Broadcaster `optional:"true"`
	// Publisher, when publication is configured, reports in Health.
	Publisher *publication.Publisher `optional:"true"`
}

// New wires handlers and decorators. Every command is idempotent under an
// idempotency key, waits for the read model (read your writes) and reports
// its outcome; pay and void also retry when they lose a concurrency race,
// deciding again on the state that won.
func New(p Params) Application {
	now := p.Clock
	if now == nil {
		now = command.SystemClock
	}
	rec := p.Recorder
	if rec == nil {
		rec = nopRecorder{}
	}
	repo := command.NewRepository(p.Events, p.Codec)
	timeout := p.Config.ReadYourWritesTimeout
	create := command.Handler[command.CreateInvoice](command.NewCreateInvoiceHandler(repo, now))
	pay := command.RetryOnConflict[command.PayInvoice](command.NewPayInvoiceHandler(repo, now), p.Config.PayMaxAttempts,
		func() { rec.CommandRetried("PayInvoice") })
	void := command.RetryOnConflict[command.VoidInvoice](command.NewVoidInvoiceHandler(repo, now), p.Config.PayMaxAttempts,
		func() { rec.CommandRetried("VoidInvoice") })
	ttl := p.Idempotency.KeyTTL
	if ttl <= 0 {
		ttl = config.DefaultIdempotencyKeyTTL
	}
	getAsOf := query.NewGetInvoiceAsOfHandler(p.Events, p.Codec, time.Now)
	asOf := func(ctx context.Context, id string, version int) (ports.InvoiceView, error) {
		return getAsOf.Handle(ctx, query.GetInvoiceAsOf{ID: id, Version: version})
	}
	// Outermost to innermost: report, wait for the read model (a replay
	// too), replay or record the key's outcome, retry a lost race.
	return Application{
		Commands: Commands{
			CreateInvoice: command.Observe(command.ReadYourWrites(
				command.Idempotent(create, "CreateInvoice", true, p.Keys, asOf, ttl, now), p.Projector, timeout, p.Log), "CreateInvoice", rec),
			PayInvoice: command.Observe(command.ReadYourWrites(
				command.Idempotent(pay, "PayInvoice", false, p.Keys, asOf, ttl, now), p.Projector, timeout, p.Log), "PayInvoice", rec),
			VoidInvoice: command.Observe(command.ReadYourWrites(
				command.Idempotent(void, "VoidInvoice", false, p.Keys, asOf, ttl, now), p.Projector, timeout, p.Log), "VoidInvoice", rec),
		},
		Queries: Queries{
			GetInvoice:   query.NewGetInvoiceHandler(p.Reader),
			ListInvoices: query.NewListInvoicesHandler(p.Reader),
			// As-of times are checked against the wall clock, which stamps
			// events' recorded times, not against the commands' Clock.
			GetInvoiceAsOf: getAsOf,
			InvoiceHistory: query.NewInvoiceHistoryHandler(p.Events, p.Codec),
		},
		Feed:   feed.New(p.Events, p.Codec, p.Fanout),
		Health: Health{events: p.Events, reader: p.Reader, projector: p.Projector, publisher: p.Publisher},
	}
}

type nopRecorder struct{}

func (nopRecorder) CommandHandled(string, string, time.Duration) {}
func (nopRecorder) CommandRetried(string)                        {}

// NewCodec returns the registry of every stored event type, with the
// upcasters that bring payloads stored at older schema versions to the
// current ones. Version 1 invoices read as the currency the event store
// recorded for them.
func NewCodec(d ports.RecordedDefaults) (*event.Registry, error) {
	legacy, err := invoice.StoredCurrency(d.LegacyCurrency)
	if err != nil {
		return nil, fmt.Errorf("event store's recorded legacy currency: %w", err)
	}
	return invoice.NewCodec(legacy)
}

// NewProjector returns the invoice projector, started and stopped with the
// app, and woken by the event store's commit notifications where it has
// them (otherwise by its poll and by waiting commands alone). It upgrades
// a read model an older release built before it projects (rebuilder).
func NewProjector(lc fx.Lifecycle, events ports.EventStore, store ports.ProjectionStore, rebuilder ports.ReadModelRebuilder,
	codec *event.Registry, cfg config.Projection, log *zap.Logger,
) *projection.Projector {
	p := projection.New(events, store, codec, log, projection.Options{
		BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval, Rebuilder: rebuilder,
	})
	if n, ok := events.(ports.CommitNotifier); ok {
		n.NotifyCommits(p.Committed)
	}
	lc.Append(fx.StartStopHook(p.Start, p.Stop))
	return p
}

// NewFanout returns the feed's one fan-out of this process, woken by the
// event store's commit notifications or, for a store without them, by a
// poll of its head every PROJECTION_POLL_INTERVAL (one query per process,
// never one per follower).
func NewFanout(lc fx.Lifecycle, events ports.EventStore, stream config.EventStream, proj config.Projection) *feed.Broadcaster {
	b := feed.NewBroadcaster(stream.MaxClients)
	if n, ok := events.(ports.CommitNotifier); ok {
		n.NotifyCommits(b.Committed)
		lc.Append(fx.StopHook(b.Close))
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.StartStopHook(func() {
		go func() { defer close(done); b.PollHead(ctx, events.Head, proj.PollInterval) }()
	}, func() { b.Close(); cancel(); <-done }))
	return b
}

// Module provides the Application and runs the projector.
var Module = fx.Module("app",
	fx.Provide(NewCodec, NewProjector, NewFanout, New),
	// The projector runs even before the first command needs it: it catches
	// up on start.
	fx.Invoke(func(*projection.Projector) {}),
)
