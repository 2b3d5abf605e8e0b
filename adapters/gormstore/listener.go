package gormstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"go.uber.org/zap"

	"invoices/config"
)

// appendChannel is the PostgreSQL notification channel every committed
// append batch notifies, with the new head position as payload.
const appendChannel = "invoices_events"

// Listener wakes a projector when any process appends to a PostgreSQL
// event store, so projection lag is milliseconds rather than a poll interval.
// A notification is only a hint to read now: positions are always read from
// the events table, and the projector keeps polling slowly in case a
// notification is lost (a dropped connection, a restart).
type Listener struct {
	l *pgxlisten.Listener
}

// NewListener returns a listener on the event store database that calls
// wake for every notification and after every (re)connect, when
// notifications may have been missed.
func NewListener(cfg config.Database, wake func(), log *zap.Logger) *Listener {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.Connect(ctx, cfg.DSN)
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				// pgx errors name host, user and database, never the password.
				log.Warn("append notifications interrupted; the projector polls meanwhile", zap.Error(err))
			}
		},
		ReconnectDelay: 2 * time.Second,
	}
	l.Handle(appendChannel, wakeHandler(wake))
	return &Listener{l: l}
}

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) {
	_ = l.l.Listen(ctx) // returns only when ctx ends
}

type wakeHandler func()

func (w wakeHandler) HandleNotification(context.Context, *pgconn.Notification, *pgx.Conn) error {
	w()
	return nil
}

// HandleBacklog wakes once on every (re)connect: appends made while the
// listener was away sent notifications nobody heard.
func (w wakeHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	w()
	return nil
}
