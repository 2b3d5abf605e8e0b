// Package app is the application layer: the commands and queries a driving
// adapter (HTTP) may call, wired with their decorators, and the projector
// that keeps the read model current. It never imports GORM or gin.
package app

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/app/command"
	"invoices/app/projection"
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
}

// Commands are the write-side use cases.
type Commands struct {
	CreateInvoice command.Handler[command.CreateInvoice]
	PayInvoice    command.Handler[command.PayInvoice]
}

// Queries are the read-side use cases.
type Queries struct {
	GetInvoice   query.Handler[query.GetInvoice, ports.InvoiceView]
	ListInvoices query.Handler[query.ListInvoices, query.InvoicePage]
}

// Params are the dependencies of New.
type Params struct {
	fx.In

	Events    ports.EventStore
	Reader    ports.InvoiceReader
	Projector *projection.Projector
	Codec     *event.Registry
	Config    config.Projection
	Log       *zap.Logger
	Clock     command.Clock    `optional:"true"`
	Recorder  command.Recorder `optional:"true"`
}

// New wires handlers and decorators. Both commands wait for the read model
// (read your writes) and report their outcome; pay also retries when it
// loses a concurrency race.
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
	return Application{
		Commands: Commands{
			CreateInvoice: command.Observe(command.ReadYourWrites(create, p.Projector, timeout, p.Log), "CreateInvoice", rec),
			PayInvoice:    command.Observe(command.ReadYourWrites(pay, p.Projector, timeout, p.Log), "PayInvoice", rec),
		},
		Queries: Queries{
			GetInvoice:   query.NewGetInvoiceHandler(p.Reader),
			ListInvoices: query.NewListInvoicesHandler(p.Reader),
		},
		Health: Health{events: p.Events, reader: p.Reader, projector: p.Projector},
	}
}

type nopRecorder struct{}

func (nopRecorder) CommandHandled(string, string, time.Duration) {}
func (nopRecorder) CommandRetried(string)                        {}

// NewCodec returns the registry of every stored event type, with the
// upcasters that bring payloads stored at older schema versions to the
// current ones. The invoice events are all at their first version so far;
// WithUpcasters still checks that no type claims a later one without its
// chain.
func NewCodec() (*event.Registry, error) {
	r, err := event.NewRegistry(invoice.Events()...)
	if err != nil {
		return nil, err
	}
	return r.WithUpcasters()
}

// NewProjector returns the invoice projector, started and stopped with the
// app, and woken by the event store's commit notifications where it has
// them (otherwise by its poll and by waiting commands alone).
func NewProjector(lc fx.Lifecycle, events ports.EventStore, store ports.ProjectionStore, codec *event.Registry, cfg config.Projection, log *zap.Logger) *projection.Projector {
	p := projection.New(events, store, codec, log, projection.Options{BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval})
	if n, ok := events.(ports.CommitNotifier); ok {
		n.NotifyCommits(p.Committed)
	}
	lc.Append(fx.StartStopHook(p.Start, p.Stop))
	return p
}

// Module provides the Application and runs the projector.
var Module = fx.Module("app",
	fx.Provide(NewCodec, NewProjector, New),
	// The projector runs even before the first command needs it: it catches
	// up on start.
	fx.Invoke(func(*projection.Projector) {}),
)
