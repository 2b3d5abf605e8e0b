// Command invoices is an event-sourced invoices service: commands append
// events to an event store, a projector folds them into a read model in a
// separate database, and a REST API with Swagger UI serves both sides.
//
//	@title			Invoices API
//	@version		1.0
//	@description	Event-sourced invoices. Commands answer after their events are stored and projected, so a GET right after a 201 or 200 shows the change.
//	@description	Every error is an RFC 9457 application/problem+json document.
//	@BasePath		/
//
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				Only when the server sets API_KEYS: enter "Bearer <key>".
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"go.uber.org/dig"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/adapters/httpapi"
	"invoices/adapters/natspub"
	"invoices/adapters/prommetrics"
	"invoices/adapters/store"
	"invoices/adapters/store/postgres"
	"invoices/adapters/store/sqlite"
	"invoices/app"
	"invoices/app/command"
	"invoices/config"
	"invoices/ports"
)

// version and commit are stamped at build time by `make build`
// (-ldflags "-X main.version=… -X main.commit=…").
var (
	version = "dev"
	commit  = ""
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(subcommand(os.Args[1:]))
	}
	os.Exit(serve())
}

// serve runs the service until SIGINT or SIGTERM and returns the exit code.
// Configuration is loaded before fx so a bad variable gets a one-line error.
func serve() int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoices: invalid configuration:", err)
		return 2
	}
	log, err := buildLogger(cfg.Log, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoices: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.String("version", version),
		zap.String("event_store", string(cfg.EventStore.Driver)+" "+cfg.EventStore.Redacted),
		zap.String("read_db", string(cfg.ReadDB.Driver)+" "+cfg.ReadDB.Redacted))

	if len(cfg.HTTP.APIKeys) == 0 && !cfg.HTTP.Loopback() {
		log.Warn("no API keys configured and listening beyond loopback: anyone who can reach this port can create and pay invoices; set API_KEYS or API_KEYS_FILE",
			zap.String("addr", cfg.HTTP.Addr))
	}
	app := fx.New(options(cfg, log)...)
	// dig.RootCause drops fx's "could not build arguments for ..." chain.
	if err := app.Err(); err != nil {
		log.Error("cannot start", zap.Error(dig.RootCause(err)))
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		log.Error("cannot start", zap.Error(dig.RootCause(err)))
		return 1
	}
	sig := <-app.Wait()
	log.Info("stopping", zap.String("signal", sig.Signal.String()))
	stopCtx, cancel := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		log.Error("unclean stop", zap.Error(err))
		return 1
	}
	return sig.ExitCode
}

// options is the composition root: every module, the loaded configuration,
// and zap for fx's own events.
func options(cfg config.Config, log *zap.Logger) []fx.Option {
	return []fx.Option{
		fx.Supply(cfg, log),
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.ZapLogger{Logger: log.Named("fx")}
			// fx's wiring chatter and its verbose error events only at debug:
			// serve logs the root cause of a failure once.
			l.UseLogLevel(zap.DebugLevel)
			l.UseErrorLevel(zap.DebugLevel)
			return l
		}),
		// Leave the HTTP server time to drain before fx gives up on stopping.
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout + 5*time.Second),
		config.Module,
		store.Module(engineFor(log)),
		app.Module,
		httpapi.Module,
		metricsOptions(),
		natsOptions(cfg.NATS, log),
		fx.Invoke(serveDebug),
	}
}

// engineFor picks each store's engine from its configured driver.
func engineFor(log *zap.Logger) store.EngineFor {
	return func(d config.Driver) (store.Engine, error) {
		switch d {
		case config.Postgres:
			return postgres.Engine{Log: log}, nil
		case config.SQLite:
			return sqlite.Engine{}, nil
		}
		return nil, fmt.Errorf("unsupported driver %q", d)
	}
}

// metricsOptions binds the Prometheus adapter to the interfaces the app and
// HTTP layers report through, counts appends, and exports pool statistics.
func metricsOptions() fx.Option {
	return fx.Options(
		fx.Provide(
			prommetrics.New,
			func(m *prommetrics.Metrics) command.Recorder { return m },
			func(m *prommetrics.Metrics) httpapi.Metrics { return m },
			func(m *prommetrics.Metrics) httpapi.FeedMetrics { return m },
		),
		fx.Decorate(prommetrics.CountAppends),
		fx.Invoke(func(m *prommetrics.Metrics, s *store.Stores, a app.Application) error {
			for name, db := range map[string]*gorm.DB{"event_store": s.Events.DB(), "read_db": s.Read.DB()} {
				pool, err := db.DB()
				if err != nil {
					return err
				}
				if err := m.RegisterDB(name, pool); err != nil {
					return err
				}
			}
			if err := m.RegisterPublisher(a.Health.PublisherStatus); err != nil {
				return err
			}
			return m.RegisterProjector(a.Health.ProjectorStatus)
		}),
	)
}

// natsOptions publishes the event log to NATS JetStream when NATS_URL is
// set: the broker, the event store's publisher checkpoints and lease, and
// the publisher. The connection is made in the background, so a NATS
// server that is down delays publication, never start-up.
func natsOptions(cfg config.NATS, log *zap.Logger) fx.Option {
	if !cfg.Enabled() {
		return fx.Options()
	}
	return fx.Options(
		fx.Provide(
			func(lc fx.Lifecycle) (ports.Broker, error) {
				log.Info("publishing to NATS JetStream", zap.String("nats", cfg.Redacted), zap.String("stream", cfg.Stream))
				b, err := natspub.Connect(cfg.URL, cfg.Stream, cfg.PublishBatch, log)
				if err != nil {
					return nil, err
				}
				lc.Append(fx.StopHook(b.Close))
				return b, nil
			},
			func(s *store.Stores) ports.PublisherCheckpoints { return s.Events },
			func(s *store.Stores) ports.Leaser { return s.Events },
		),
		app.PublisherModule,
	)
}

// subcommand runs a command other than the server and returns the exit code.
func subcommand(args []string) int {
	switch args[0] {
	case "version", "--version":
		fmt.Printf("invoices %s (commit %s, %s)\n", version, buildCommit(), runtime.Version())
		return 0
	case "healthcheck":
		return healthcheck()
	case "projections":
		if len(args) == 2 && args[1] == "status" {
			return projectionsStatus(os.Stdout)
		}
		if len(args) >= 2 && args[1] == "rebuild" {
			return projectionsRebuild(args[2:], os.Stdout)
		}
	}
	fmt.Fprintf(os.Stderr, "usage: invoices [version | healthcheck | projections status | projections rebuild [-batch-size N]]\n\n"+
		"With no argument, invoices serves the API (see README.md for configuration).\nunknown command %q\n", strings.Join(args, " "))
	return 2
}

// buildCommit is the stamped commit, else the one the go command recorded.
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// healthcheck asks the local server's /healthz and exits 0 if it answers
// 200. It is the container HEALTHCHECK, which has no shell or curl.
func healthcheck() int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: invalid configuration:", err)
		return 2
	}
	_, port, err := net.SplitHostPort(cfg.HTTP.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 2
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}
