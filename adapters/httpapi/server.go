package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/app"
	"invoices/config"
)

// NewServer returns the HTTP server, listening from fx start to fx stop.
// Stopping drains in-flight requests within the stop context's deadline;
// event streams, which would never drain, are ended as shutdown begins.
func NewServer(lc fx.Lifecycle, cfg config.HTTP, engine *gin.Engine, log *zap.Logger, sd fx.Shutdowner, application app.Application) *http.Server {
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           engine,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	if application.Feed != nil {
		srv.RegisterOnShutdown(application.Feed.Close)
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", srv.Addr)
			if err != nil {
				return err
			}
			srv.Addr = ln.Addr().String() // the real port when configured as 0
			log.Info("listening", zap.String("addr", ln.Addr().String()), zap.String("swagger", swaggerURL(ln.Addr())))
			go func() {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", zap.Error(err))
					_ = sd.Shutdown(fx.ExitCode(1))
				}
			}()
			return nil
		},
		OnStop: srv.Shutdown,
	})
	return srv
}

// Module provides the gin engine and runs the HTTP server.
var Module = fx.Module("httpapi",
	fx.Provide(NewEngine, NewServer),
	fx.Invoke(func(*http.Server) {}),
)

// swaggerURL is where a person on this machine opens Swagger UI.
func swaggerURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "/api"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/api"
}
