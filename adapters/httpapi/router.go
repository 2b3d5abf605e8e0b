// Package httpapi is the HTTP adapter: gin routes, request decoding, DTOs,
// problem+json errors, Swagger UI at /api, and the server's lifecycle.
package httpapi

import (
	"net/http"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"invoices/app"
	"invoices/app/command"
	"invoices/config"
)

const requestIDKey = "request_id"

// Metrics is what the HTTP adapter reports to and serves at /metrics.
type Metrics interface {
	ObserveHTTP(route, method string, status int, d time.Duration)
	Handler() http.Handler
}

// EngineParams are NewEngine's dependencies.
type EngineParams struct {
	fx.In

	App     app.Application
	Config  config.HTTP
	Billing config.Billing
	Log     *zap.Logger
	Metrics Metrics `optional:"true"`
	// FeedMetrics counts the event feed's streams and events.
	FeedMetrics FeedMetrics `optional:"true"`
	// EventStream configures GET /events's live streams.
	EventStream config.EventStream `optional:"true"`
}

// NewEngine builds the gin engine with every route and middleware.
func NewEngine(p EngineParams) *gin.Engine {
	application, cfg, log := p.App, p.Config, p.Log
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(requestIDMiddleware, accessLog(log, p.Metrics), recovery(log), securityHeaders)
	if m := corsMiddleware(cfg.CORSOrigins); m != nil {
		e.Use(m)
	}
	if cfg.RequestTimeout > 0 {
		e.Use(requestTimeout(cfg.RequestTimeout))
	}

	health := healthHandlers{health: application.Health, log: log}
	e.GET("/healthz", health.live)
	e.GET("/readyz", health.ready)
	if p.Metrics != nil {
		e.GET("/metrics", serveMetrics(p.Metrics.Handler()))
	}

	h := invoiceHandlers{app: application, log: log, maxBodyBytes: cfg.MaxBodyBytes, defaultCurrency: p.Billing.DefaultCurrency,
		inFlight: newKeysInFlight()}
	inv := e.Group("/invoices")
	if len(cfg.APIKeys) > 0 {
		inv.Use(requireAPIKey(cfg.APIKeys))
	}
	inv.POST("", h.idempotent(h.createInvoice))
	inv.GET("", h.listInvoices)
	inv.GET("/:id", h.getInvoice)
	inv.GET("/:id/events", h.invoiceHistory)
	inv.POST("/:id/pay", h.idempotent(h.payInvoice))
	inv.PATCH("/:id/pay", h.idempotent(h.payInvoice))
	inv.POST("/:id/void", h.idempotent(h.voidInvoice))

	fh := feedHandlers{feed: application.Feed, log: log, cfg: eventStreamDefaults(p.EventStream), keyed: len(cfg.APIKeys) > 0,
		metrics: p.FeedMetrics}
	ev := e.Group("/events")
	if len(cfg.APIKeys) > 0 {
		ev.Use(requireAPIKey(cfg.APIKeys))
	}
	ev.GET("", fh.events)

	e.GET("/api", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/api/index.html") })
	e.GET("/api/*any", swaggerUI())
	e.GET("/api-json", serveOpenAPI)

	e.NoRoute(func(c *gin.Context) {
		writeProblem(c, Problem{Type: typeNotFound, Title: "Not found", Status: http.StatusNotFound,
			Detail: "no route matches " + c.Request.Method + " " + c.Request.URL.Path})
	})
	e.NoMethod(func(c *gin.Context) {
		writeProblem(c, Problem{Type: typeMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
			Detail: c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	return e
}

// requestIDMiddleware accepts a sane X-Request-ID or makes one, returns it,
// and records it as the correlation id of any event the request appends.
func requestIDMiddleware(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Request = c.Request.WithContext(command.WithCorrelationID(c.Request.Context(), id))
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// accessLog writes one line per request and, when metrics are on, records
// the request by route (the pattern, never the raw path, to bound labels).
func accessLog(log *zap.Logger, m Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		latency := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		if m != nil {
			m.ObserveHTTP(route, c.Request.Method, status, latency)
		}
		// Check first: with access logs off (LOG_LEVEL=warn) the fields are
		// never built, which matters on the hot path.
		if ce := log.Check(zap.InfoLevel, "request"); ce != nil {
			ce.Write(
				zap.String("method", c.Request.Method),
				zap.String("route", route),
				zap.Int("status", status),
				zap.Duration("latency", latency),
				zap.String("request_id", requestID(c)))
		}
	}
}

// recovery turns a panic into a logged 500 problem instead of a dropped
// connection.
func recovery(log *zap.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		log.Error("panic serving request", zap.String("request_id", requestID(c)), zap.Any("panic", rec), zap.Stack("stack"))
		writeProblem(c, internalProblem())
	})
}

// serveMetrics godoc
//
//	@Summary		Prometheus metrics
//	@Description	Metrics in the Prometheus text exposition format: HTTP requests, commands, appended events, projector progress and lag, connection pools, Go runtime (the README's Operating section lists them).
//	@Tags			health
//	@Produce		plain
//	@Success		200	{string}	string	"Prometheus text format"
//	@Router			/metrics [get]
func serveMetrics(h http.Handler) gin.HandlerFunc { return gin.WrapH(h) }
