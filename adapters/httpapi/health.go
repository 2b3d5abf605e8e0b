package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"invoices/app"
)

// readinessTimeout bounds the store pings of one readiness check.
const readinessTimeout = 2 * time.Second

type healthHandlers struct {
	health app.Health
	log    *zap.Logger
}

// HealthResponse is the liveness answer.
type HealthResponse struct {
	Status string `json:"status" example:"ok"`
}

// ReadinessResponse is the readiness answer: overall status and each check.
type ReadinessResponse struct {
	Status string          `json:"status" enums:"ready,not ready" example:"ready"`
	Checks ReadinessChecks `json:"checks"`
}

// ReadinessChecks lists each dependency's state.
type ReadinessChecks struct {
	EventStore CheckResult    `json:"eventStore"`
	ReadDB     CheckResult    `json:"readDb"`
	Projector  ProjectorCheck `json:"projector"`
	// Publisher is present when events are published to NATS; its state
	// never makes the service unready.
	Publisher *PublisherCheck `json:"publisher,omitempty"`
}

// PublisherCheck is the NATS publisher's state on this instance and how
// far the publication lags.
type PublisherCheck struct {
	// State is publishing (this instance holds the lease), retrying (it
	// holds it and the broker or store failed), standby (another instance
	// publishes) or stopped.
	State      string `json:"state" enums:"publishing,retrying,standby,stopped" example:"publishing"`
	Error      string `json:"error,omitempty"`
	Checkpoint int64  `json:"checkpoint" example:"42"`
	Head       int64  `json:"head" example:"42"`
	LagEvents  int64  `json:"lagEvents" example:"0"`
}

// CheckResult is one dependency's state.
type CheckResult struct {
	Status string `json:"status" enums:"up,down" example:"up"`
	// Error says why a check is down; details are in the server log.
	Error string `json:"error,omitempty"`
}

// ProjectorCheck is the projector's state and how far the read model lags.
type ProjectorCheck struct {
	Status string `json:"status" enums:"up,down,upgrading" example:"up"`
	Error  string `json:"error,omitempty"`
	// Upgrading says how far the rebuild of a read model built by an older
	// release has got, while status is upgrading.
	Upgrading  string  `json:"upgrading,omitempty" example:"rebuilding the read model built by version 1 for version 2: 5000 of 20000 events"`
	Checkpoint int64   `json:"checkpoint" example:"42"`
	Head       int64   `json:"head" example:"42"`
	LagEvents  int64   `json:"lagEvents" example:"0"`
	LagSeconds float64 `json:"lagSeconds" example:"0"`
}

// live godoc
//
//	@Summary		Liveness
//	@Description	200 while the process serves HTTP; it checks nothing else.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	HealthResponse
//	@Router			/healthz [get]
func (h healthHandlers) live(c *gin.Context) {
	c.JSON(http.StatusOK, HealthResponse{Status: "ok"})
}

// ready godoc
//
//	@Summary		Readiness
//	@Description	200 when both databases answer, the read model is at this release's version and the projector runs without being stalled; 503 otherwise.
//	@Description	With NATS_URL set it shows the publisher's state and lag too, which never make the service unready.
//	@Description	Includes the projector's lag, and while a read model built by an older release is rebuilt (status upgrading), how far that has got.
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	ReadinessResponse
//	@Failure		503	{object}	ReadinessResponse
//	@Router			/readyz [get]
func (h healthHandlers) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
	defer cancel()
	r := h.health.Readiness(ctx)
	check := func(name string, err error) CheckResult {
		if err != nil {
			h.log.Warn("readiness check failed", zap.String("check", name), zap.Error(err))
			return CheckResult{Status: "down", Error: "unreachable"}
		}
		return CheckResult{Status: "up"}
	}
	resp := ReadinessResponse{Status: "ready", Checks: ReadinessChecks{
		EventStore: check("event store", r.EventStore),
		ReadDB:     check("read database", r.ReadDB),
		Projector: ProjectorCheck{
			Status: "up", Error: r.Projector.Error,
			Checkpoint: r.Projector.Checkpoint, Head: r.Projector.Head,
			LagEvents: r.Projector.LagEvents, LagSeconds: r.Projector.LagSeconds,
		},
	}}
	switch {
	case r.ProjectorStatus != nil:
		resp.Checks.Projector.Status, resp.Checks.Projector.Error = "down", "status unavailable"
	case !r.Projector.Running:
		resp.Checks.Projector.Status, resp.Checks.Projector.Error = "down", "not running"
	case r.Projector.Error != "":
		resp.Checks.Projector.Status = "down"
	case r.Projector.Upgrading != "":
		resp.Checks.Projector.Status, resp.Checks.Projector.Upgrading = "upgrading", r.Projector.Upgrading
	}
	if p := r.Publisher; p != nil {
		resp.Checks.Publisher = &PublisherCheck{State: p.State, Error: p.Error, Checkpoint: p.Checkpoint, Head: p.Head, LagEvents: p.LagEvents}
	}
	status := http.StatusOK
	if !r.Ready() {
		resp.Status, status = "not ready", http.StatusServiceUnavailable
	}
	c.JSON(status, resp)
}
