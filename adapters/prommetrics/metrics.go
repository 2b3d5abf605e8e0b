// Package prommetrics exports the service's metrics in the Prometheus format:
// HTTP requests, commands, appended events, projector progress, connection
// pools and the Go runtime.
package prommetrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"invoices/app/projection"
	"invoices/ports"
)

const namespace = "invoices"

// Metrics holds every collector on a private registry (no global state).
type Metrics struct {
	registry        *prometheus.Registry
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	commandRetries  *prometheus.CounterVec
	eventsAppended  prometheus.Counter
	feedStreams     prometheus.Gauge
	feedClosed      *prometheus.CounterVec
	feedStreamed    prometheus.Counter
}

// New returns metrics registered with a fresh registry, including the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_total",
			Help: "Commands by name and outcome (ok, validation, not_found, already_paid, already_void, invoice_void, conflict, precondition_failed, idempotency_key_reused, unavailable, error).",
		}, []string{"command", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "command_duration_seconds",
			Help:    "Command latency, including the read-your-writes wait.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"command"}),
		commandRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "command_retries_total",
			Help: "Commands re-run after losing an optimistic-concurrency race.",
		}, []string{"command"}),
		eventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "events_appended_total",
			Help: "Events appended to the event store by this process.",
		}),
		feedStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "feed_streams_open",
			Help: "Event feed streams (GET /events as text/event-stream) open now.",
		}),
		feedClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "feed_streams_closed_total",
			Help: "Event feed streams closed, by reason (client_gone, stalled: the client stopped reading, shutdown, error).",
		}, []string{"reason"}),
		feedStreamed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "feed_events_streamed_total",
			Help: "Events written to event feed streams, summed over streams.",
		}),
	}
	reg.MustRegister(
		m.feedStreams, m.feedClosed, m.feedStreamed,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.commands, m.commandDuration, m.commandRetries, m.eventsAppended,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveHTTP records one HTTP request.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// CommandHandled records one command's outcome and latency.
func (m *Metrics) CommandHandled(command, outcome string, d time.Duration) {
	m.commands.WithLabelValues(command, outcome).Inc()
	m.commandDuration.WithLabelValues(command).Observe(d.Seconds())
}

// CommandRetried records one retry after a concurrency conflict.
func (m *Metrics) CommandRetried(command string) {
	m.commandRetries.WithLabelValues(command).Inc()
}

// EventsAppended counts events this process appended.
func (m *Metrics) EventsAppended(n int) { m.eventsAppended.Add(float64(n)) }

// FeedStreamOpened counts an event stream opened.
func (m *Metrics) FeedStreamOpened() { m.feedStreams.Inc() }

// FeedStreamClosed counts an event stream closed, and why.
func (m *Metrics) FeedStreamClosed(reason string) {
	m.feedStreams.Dec()
	m.feedClosed.WithLabelValues(reason).Inc()
}

// FeedEventsStreamed counts events written to a stream.
func (m *Metrics) FeedEventsStreamed(n int) { m.feedStreamed.Add(float64(n)) }

// RegisterDB exports a connection pool's statistics under db_name.
func (m *Metrics) RegisterDB(name string, db *sql.DB) error {
	return m.registry.Register(collectors.NewDBStatsCollector(db, name))
}

// RegisterProjector exports a projector's progress, read at scrape time.
func (m *Metrics) RegisterProjector(status func(context.Context) (projection.Status, error)) error {
	return m.registry.Register(&projectorCollector{status: status})
}

var (
	checkpointDesc = prometheus.NewDesc(namespace+"_projector_checkpoint", "Position up to which the read model is projected.", []string{"projector"}, nil)
	headDesc       = prometheus.NewDesc(namespace+"_event_store_head", "Position of the last committed event.", nil, nil)
	lagEventsDesc  = prometheus.NewDesc(namespace+"_projector_lag_events", "Events appended but not yet projected.", []string{"projector"}, nil)
	lagSecondsDesc = prometheus.NewDesc(namespace+"_projector_lag_seconds", "Age of the oldest event not yet projected (0 when caught up).", []string{"projector"}, nil)
	runningDesc    = prometheus.NewDesc(namespace+"_projector_up", "1 when the projector runs and is not stalled on an error.", []string{"projector"}, nil)
	upgradingDesc  = prometheus.NewDesc(namespace+"_projector_upgrading", "1 while a read model built by an older release is rebuilt (or another instance's rebuild awaited).", []string{"projector"}, nil)
)

type projectorCollector struct {
	status func(context.Context) (projection.Status, error)
}

func (c *projectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{checkpointDesc, headDesc, lagEventsDesc, lagSecondsDesc, runningDesc, upgradingDesc} {
		ch <- d
	}
}

func (c *projectorCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(headDesc, err)
		return
	}
	up, upgrading := 0.0, 0.0
	if st.Running && st.Error == "" && st.Upgrading == "" {
		up = 1
	}
	if st.Upgrading != "" {
		upgrading = 1
	}
	ch <- prometheus.MustNewConstMetric(checkpointDesc, prometheus.GaugeValue, float64(st.Checkpoint), st.Name)
	ch <- prometheus.MustNewConstMetric(headDesc, prometheus.GaugeValue, float64(st.Head))
	ch <- prometheus.MustNewConstMetric(lagEventsDesc, prometheus.GaugeValue, float64(st.LagEvents), st.Name)
	ch <- prometheus.MustNewConstMetric(lagSecondsDesc, prometheus.GaugeValue, st.LagSeconds, st.Name)
	ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, up, st.Name)
	ch <- prometheus.MustNewConstMetric(upgradingDesc, prometheus.GaugeValue, upgrading, st.Name)
}

// CountAppends wraps an event store so every successful append is counted.
// The wrapper keeps the store's optional ports.CommitNotifier, which the
// projector's wiring looks for.
func CountAppends(s ports.EventStore, m *Metrics) ports.EventStore {
	c := countingStore{EventStore: s, m: m}
	if n, ok := s.(ports.CommitNotifier); ok {
		return notifyingCountingStore{countingStore: c, CommitNotifier: n}
	}
	return c
}

type notifyingCountingStore struct {
	countingStore
	ports.CommitNotifier
}

type countingStore struct {
	ports.EventStore
	m *Metrics
}

func (c countingStore) Append(ctx context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	res, err := c.EventStore.Append(ctx, streamID, expectedVersion, events, md)
	if err == nil {
		c.m.EventsAppended(len(events))
	}
	return res, err
}
