package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
	"go.uber.org/zap"
)

// appendChannel is the notification channel every committed append batch
// notifies (see notification for the payload).
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

// WatchCommits implements store.CommitWatcher with LISTEN on a connection
// of its own (pgxlisten reconnects it), so projection lag is milliseconds
// rather than a poll interval. A notification is only a hint to read now:
// positions are always read from the events table, and readers keep
// polling slowly in case a notification is lost.
func (a *appender) WatchCommits(ctx context.Context, self string, notify func(head int64)) {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.Connect(ctx, a.dsn)
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil && a.log != nil {
				// pgx errors name host, user and database, never the password.
				a.log.Warn("commit notifications interrupted; readers poll meanwhile", zap.Error(err))
			}
		},
		ReconnectDelay: 2 * time.Second,
	}
	l.Handle(appendChannel, notificationHandler(func(n notification) {
		if n.from != self || self == "" {
			notify(n.head)
		}
	}))
	_ = l.Listen(ctx) // returns only when ctx ends
}

type notificationHandler func(notification)

func (h notificationHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h(parseNotification(n.Payload))
	return nil
}

// HandleBacklog notifies once on every (re)connect: appends made while the
// listener was away sent notifications nobody heard.
func (h notificationHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h(notification{})
	return nil
}
