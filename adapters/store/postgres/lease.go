package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/ports"
)

// leaseCheckInterval is how often a held lease's session is checked; a
// holder that lost its connection stops within it plus leaseCheckTimeout.
// The lock goes with the session, so another instance can take it as soon
// as the server sees the connection gone (at once when the holder dies).
const (
	leaseCheckInterval = time.Second
	leaseCheckTimeout  = 2 * time.Second
)

var _ store.LeaseTaker = Engine{}

// LeaseKey is the advisory-lock key of the lease name.
func LeaseKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("invoices lease " + name))
	return int64(h.Sum64()) //nolint:gosec // any 64 bits make a key; the wrap-around is intended
}

// TryLease implements store.LeaseTaker with a session advisory lock on a
// connection of its own, held until Release or until the connection fails.
func (Engine) TryLease(ctx context.Context, db *gorm.DB, name string) (ports.Lease, bool, error) {
	pool, err := db.DB()
	if err != nil {
		return nil, false, err
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lease %s: %w", name, err)
	}
	key := LeaseKey(name)
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, false, fmt.Errorf("lease %s: %w", name, err)
	}
	if !ok {
		_ = conn.Close()
		return nil, false, nil
	}
	l := &lease{conn: conn, key: key, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.watch() //nolint:gosec // the lease outlives the acquiring call's context by design
	return l, true, nil
}

type lease struct {
	conn *sql.Conn
	key  int64
	lost chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (l *lease) Lost() <-chan struct{} { return l.lost }

// watch checks the session that holds the lock; when it fails the lease
// is lost (the server ends the session, and the lock, with the connection).
func (l *lease) watch() {
	defer close(l.done)
	t := time.NewTicker(leaseCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), leaseCheckTimeout)
		var held bool
		err := l.conn.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
			   AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`, l.key).Scan(&held)
		cancel()
		if err != nil || !held {
			close(l.lost)
			return
		}
	}
}

// Release unlocks and closes the connection (see unlock).
func (l *lease) Release() {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		unlock(l.conn, l.key)
	})
}
