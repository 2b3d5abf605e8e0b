package gormstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"invoices/ports"
)

// translate marks a connectivity failure as ports.ErrUnavailable, keeping
// the original error in the chain (and its text in the message) for the log.
// Any other error is returned unchanged.
func translate(err error) error {
	if err == nil || errors.Is(err, ports.ErrUnavailable) || !unreachable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ports.ErrUnavailable, err)
}

// unreachable reports whether err means the database could not be reached
// or went away, rather than that it refused this particular operation.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		// A cancelled call is the caller giving up (a client hanging up, the
		// app stopping), not the store failing.
		return false
	}
	// A server answer decides on its own: an authentication failure inside a
	// ConnectError, or a constraint violation, is no outage.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// pgconn reads these when the server closes the socket mid-exchange.
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// unavailableSQLState reports whether a PostgreSQL error code means the
// server cannot serve anyone right now: class 08 (connection exception) and
// the operator-intervention codes for shutdown, crash recovery and start-up.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
func unavailableSQLState(code string) bool {
	switch code {
	case "57P01", // admin_shutdown: terminating connection due to administrator command
		"57P02", // crash_shutdown
		"57P03": // cannot_connect_now: the database system is starting up / shutting down
		return true
	}
	return strings.HasPrefix(code, "08")
}

// The stores reach the application through these wrappers (bound in Module),
// so every error crossing a port has connectivity failures translated to
// ports.ErrUnavailable in one place, whichever query or transaction step
// failed.

// translatingEventStore is the EventStore as the ports.EventStore the
// application sees.
type translatingEventStore struct{ s *EventStore }

var _ ports.EventStore = translatingEventStore{}

func (t translatingEventStore) Append(ctx context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	res, err := t.s.Append(ctx, streamID, expectedVersion, events, md)
	return res, translate(err)
}

func (t translatingEventStore) LoadStream(ctx context.Context, streamID string) ([]ports.RecordedEvent, error) {
	events, err := t.s.LoadStream(ctx, streamID)
	return events, translate(err)
}

func (t translatingEventStore) ReadAll(ctx context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	events, err := t.s.ReadAll(ctx, after, limit)
	return events, translate(err)
}

func (t translatingEventStore) Head(ctx context.Context) (int64, error) {
	pos, err := t.s.Head(ctx)
	return pos, translate(err)
}

func (t translatingEventStore) Ping(ctx context.Context) error {
	return translate(t.s.Ping(ctx))
}

// translatingReadModel is the ReadModel as the ports.InvoiceReader and
// ports.ProjectionStore the application sees.
type translatingReadModel struct{ m *ReadModel }

var (
	_ ports.InvoiceReader   = translatingReadModel{}
	_ ports.ProjectionStore = translatingReadModel{}
)

func (t translatingReadModel) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	v, err := t.m.GetInvoice(ctx, id)
	return v, translate(err)
}

func (t translatingReadModel) ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	vs, err := t.m.ListInvoices(ctx, p)
	return vs, translate(err)
}

func (t translatingReadModel) Ping(ctx context.Context) error {
	return translate(t.m.Ping(ctx))
}

func (t translatingReadModel) Checkpoint(ctx context.Context, projector string) (int64, error) {
	pos, err := t.m.Checkpoint(ctx, projector)
	return pos, translate(err)
}

func (t translatingReadModel) Project(ctx context.Context, projector string, from, to int64, apply func(ports.InvoiceProjectionTx) error) error {
	return translate(t.m.Project(ctx, projector, from, to, apply))
}
