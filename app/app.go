// Package app is the application layer: the commands and queries a driving
// adapter (HTTP) may call, wired with their decorators, and the projector
// that keeps the read model current. It never imports GORM or gin.
package app

import (
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
	Clock     command.Clock `optional:"true"`
}

// New wires handlers and decorators. Both commands wait for the read model
// (read your writes); pay also retries when it loses a concurrency race.
func New(p Params) Application {
	now := p.Clock
	if now == nil {
		now = command.SystemClock
	}
	repo := command.NewRepository(p.Events, p.Codec)
	timeout := p.Config.ReadYourWritesTimeout
	create := command.Handler[command.CreateInvoice](command.NewCreateInvoiceHandler(repo, now))
	pay := command.RetryOnConflict[command.PayInvoice](command.NewPayInvoiceHandler(repo, now), p.Config.PayMaxAttempts)
	return Application{
		Commands: Commands{
			CreateInvoice: command.ReadYourWrites(create, p.Projector, timeout, p.Log),
			PayInvoice:    command.ReadYourWrites(pay, p.Projector, timeout, p.Log),
		},
		Queries: Queries{
			GetInvoice:   query.NewGetInvoiceHandler(p.Reader),
			ListInvoices: query.NewListInvoicesHandler(p.Reader),
		},
	}
}

// NewCodec returns the registry of every stored event type.
func NewCodec() (*event.Registry, error) {
	return event.NewRegistry(invoice.Events()...)
}

// NewProjector returns the invoice projector, started and stopped with the app.
func NewProjector(lc fx.Lifecycle, events ports.EventStore, store ports.ProjectionStore, codec *event.Registry, cfg config.Projection, log *zap.Logger) *projection.Projector {
	p := projection.New(events, store, codec, log, projection.Options{BatchSize: cfg.BatchSize, PollInterval: cfg.PollInterval})
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
