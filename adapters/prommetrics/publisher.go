package prommetrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"invoices/app/publication"
)

var (
	publisherCheckpointDesc = prometheus.NewDesc(namespace+"_publisher_checkpoint",
		"Position up to which every event is published and acknowledged.", []string{"publisher"}, nil)
	publisherLagDesc = prometheus.NewDesc(namespace+"_publisher_lag_events",
		"Events committed but not yet acknowledged by the broker.", []string{"publisher"}, nil)
	publisherUpDesc = prometheus.NewDesc(namespace+"_publisher_up",
		"1 when this instance holds the publisher's lease and publishes without an error.", []string{"publisher"}, nil)
)

// RegisterPublisher exports the publisher's progress, read at scrape time;
// status reports ok false when publication is off, and nothing is exported.
func (m *Metrics) RegisterPublisher(status func(context.Context) (publication.Status, bool, error)) error {
	return m.registry.Register(&publisherCollector{status: status})
}

type publisherCollector struct {
	status func(context.Context) (publication.Status, bool, error)
}

func (c *publisherCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- publisherCheckpointDesc
	ch <- publisherLagDesc
	ch <- publisherUpDesc
}

func (c *publisherCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, ok, err := c.status(ctx)
	if !ok {
		return
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(publisherLagDesc, err)
		return
	}
	up := 0.0
	if st.Up() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(publisherCheckpointDesc, prometheus.GaugeValue, float64(st.Checkpoint), st.Name)
	ch <- prometheus.MustNewConstMetric(publisherLagDesc, prometheus.GaugeValue, float64(st.LagEvents), st.Name)
	ch <- prometheus.MustNewConstMetric(publisherUpDesc, prometheus.GaugeValue, up, st.Name)
}
