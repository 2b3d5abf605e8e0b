package store

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

// Translate marks a connectivity failure as ports.ErrUnavailable, keeping
// the original error in the chain (and its text in the message) for the log.
// Any other error is returned unchanged, and so is any error once the
// caller's ctx has ended: that is the caller's deadline or cancellation,
// which the HTTP layer reports as such.
func Translate(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, ports.ErrUnavailable) || !unreachable(err) {
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
