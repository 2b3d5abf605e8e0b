package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/config"
)

// serveDebug serves net/http/pprof on DEBUG_ADDR, when it is set, from fx
// start to fx stop. It has its own listener and mux so that profiles are
// never reachable through the API port, and config only accepts a loopback
// address for it.
func serveDebug(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) {
	if cfg.Debug.Addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: cfg.Debug.Addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", srv.Addr)
			if err != nil {
				return err
			}
			log.Info("pprof listening", zap.String("addr", ln.Addr().String()))
			go func() {
				if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					log.Error("pprof server stopped", zap.Error(err))
				}
			}()
			return nil
		},
		// Profiles in progress are not worth waiting for.
		OnStop: func(context.Context) error { return srv.Close() },
	})
}
