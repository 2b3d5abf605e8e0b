package app

import (
	"context"

	"invoices/app/projection"
	"invoices/ports"
)

// Health answers liveness and readiness questions about the service.
type Health struct {
	events    ports.EventStore
	reader    ports.InvoiceReader
	projector *projection.Projector
}

// Readiness is the state of everything a request depends on. Schema
// migrations need no check: the stores are built only after they succeed.
type Readiness struct {
	EventStore error
	ReadDB     error
	Projector  projection.Status
	// ProjectorStatus is the error reading the projector's status, if any.
	ProjectorStatus error
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
	return r
}

// ProjectorStatus reports the projector's progress (for metrics).
func (h Health) ProjectorStatus(ctx context.Context) (projection.Status, error) {
	return h.projector.Status(ctx)
}
