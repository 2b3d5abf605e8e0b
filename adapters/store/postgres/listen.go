package gormstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"go.uber.org/zap"

	"invoices/config"
)

// appendChannel is the PostgreSQL notification channel every committed
// append batch notifies (see notification for the payload).
const appendChannel = "invoices_events"

// notification is an append notification's payload: the head position after
// the batch, and the ID of the EventStore that appended it.
type notification struct {
	head int64
	from string
}

func (n notification) payload() string { return strconv.FormatInt(n.head, 10) + " " + n.from }

// parseNotification reads a payload; one it cannot read (from a version
// that sent only the head, say) has head 0, unknown.
func parseNotification(payload string) notification {
	h, from, _ := strings.Cut(payload, " ")
	head, err := strconv.ParseInt(h, 10, 64)
	if err != nil || head < 0 {
		return notification{from: from}
	}
	return notification{head: head, from: from}
}

// Listener wakes a projector when any process appends to a PostgreSQL
// event store, so projection lag is milliseconds rather than a poll interval.
// A notification is only a hint to read now: positions are always read from
// the events table, and the projector keeps polling slowly in case a
// notification is lost (a dropped connection, a restart).
type Listener struct {
	l *pgxlisten.Listener
}

// NewListener returns a listener on the event store database that calls
// wake with the notified head position for every notification but those of
// the EventStore named self (its commits wake this process's projector
// directly, see EventStore.OnCommit), and with 0 (unknown) after every
// (re)connect, when notifications may have been missed.
func NewListener(cfg config.Database, self string, wake func(head int64), log *zap.Logger) *Listener {
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
	l.Handle(appendChannel, wakeHandler(func(n notification) {
		if n.from != self || self == "" {
			wake(n.head)
		}
	}))
	return &Listener{l: l}
}

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) {
	_ = l.l.Listen(ctx) // returns only when ctx ends
}

type wakeHandler func(notification)

func (w wakeHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	w(parseNotification(n.Payload))
	return nil
}

// HandleBacklog wakes once on every (re)connect: appends made while the
// listener was away sent notifications nobody heard.
func (w wakeHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	w(notification{})
	return nil
}
