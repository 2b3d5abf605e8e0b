package app

import (
	"context"

	"invoices/app/projection"
	"invoices/app/publication"
	"invoices/ports"
)

// Health answers liveness and readiness questions about the service.
type Health struct {
	events    ports.EventStore
	reader    ports.InvoiceReader
	projector *projection.Projector
	publisher *publication.Publisher // nil when publication is off
}

// Readiness is the state of everything a request depends on. Schema
// migrations need no check: the stores are built only after they succeed.
type Readiness struct {
	EventStore error
	ReadDB     error
	Projector  projection.Status
	// ProjectorStatus is the error reading the projector's status, if any.
	ProjectorStatus error
	// Publisher is the publisher's state, nil when publication is off. It
	// does not make the service unready: a broker outage delays the
	// publication, never the API's answers.
	Publisher *publication.Status
}

// Ready reports whether the service can serve requests correctly: both stores
// answer, the read model is at this release's version, and the projector
// runs without being stalled on an error.
func (r Readiness) Ready() bool {
	return r.EventStore == nil && r.ReadDB == nil && r.ProjectorStatus == nil &&
		r.Projector.Running && r.Projector.Error == "" && r.Projector.Upgrading == ""
}

// Readiness checks both stores and the projector.
func (h Health) Readiness(ctx context.Context) Readiness {
	var r Readiness
	r.EventStore = h.events.Ping(ctx)
	r.ReadDB = h.reader.Ping(ctx)
	r.Projector, r.ProjectorStatus = h.projector.Status(ctx)
	if h.publisher != nil {
		st, err := h.publisher.Status(ctx)
		if err != nil {
			st.Error = "status unavailable"
		}
		r.Publisher = &st
	}
	return r
}

// PublisherStatus reports the publisher's progress (for metrics); ok is
// false when publication is off.
func (h Health) PublisherStatus(ctx context.Context) (st publication.Status, ok bool, err error) {
	if h.publisher == nil {
		return publication.Status{}, false, nil
	}
	st, err = h.publisher.Status(ctx)
	return st, true, err
}

// ProjectorStatus reports the projector's progress (for metrics).
func (h Health) ProjectorStatus(ctx context.Context) (projection.Status, error) {
	return h.projector.Status(ctx)
}
