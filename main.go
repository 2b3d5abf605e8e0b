// Command invoices is an event-sourced invoices service: commands append
// events to an event store, a projector folds them into a read model in a
// separate database, and a REST API with Swagger UI serves both sides.
//
//	@title			Invoices API
//	@version		1.0
//	@description	Event-sourced invoices. Commands answer after their events are stored and projected, so a GET right after a 201 or 200 shows the change.
//	@description	Every error is an RFC 9457 application/problem+json document.
//	@BasePath		/
package main

import (
	"os"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"

	"invoices/adapters/gormstore"
	"invoices/adapters/httpapi"
	"invoices/app"
	"invoices/config"
)

func main() {
	fx.New(options()...).Run()
}

// options is the composition root: every module, and zap for fx's own events.
func options() []fx.Option {
	return []fx.Option{
		config.Module,
		fx.Provide(newLogger),
		fx.WithLogger(func(log *zap.Logger) fxevent.Logger {
			l := &fxevent.ZapLogger{Logger: log.Named("fx")}
			l.UseLogLevel(zap.DebugLevel) // fx's wiring chatter only at debug
			return l
		}),
		gormstore.Module,
		app.Module,
		httpapi.Module,
	}
}

func newLogger(cfg config.Log) (*zap.Logger, error) {
	return buildLogger(cfg, os.Stderr)
}
