// Package gormstore implements the event store and the invoice read model
// with GORM, on PostgreSQL (production) and embedded SQLite (the default, no
// server needed). Both engines run the same code and the same contract tests.
package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"invoices/config"
	"invoices/ports"
)

// Open connects to the configured database, checks it answers, and sets pool
// limits. It tries once; OpenWithRetry waits for a server that is not up yet.
// It never puts the DSN in an error: it may hold a password.
func Open(ctx context.Context, cfg config.Database) (*gorm.DB, error) {
	db, err := openPool(cfg)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, db); err != nil {
		closePool(db)
		return nil, fmt.Errorf("%s (%s): %w", cfg.Name, cfg.Redacted, translate(context.Background(), redact(err, cfg)))
	}
	return db, nil
}

// Start-up backoff: quick first retries for a server that is just starting
// (a compose stack, a restarted pod), then at most one attempt per
// maxRetryDelay so a long outage does not flood the log.
const (
	firstRetryDelay = 250 * time.Millisecond
	maxRetryDelay   = 5 * time.Second
	// attemptTimeout bounds one connection attempt, so a server that drops
	// packets (rather than refusing) still gets a log line per attempt.
	attemptTimeout = 5 * time.Second
)

// OpenWithRetry is Open for start-up: while a PostgreSQL server is
// unreachable (refused, down, starting or shutting down, timing out) it logs
// a warning and retries with exponential backoff, until cfg.ConnectTimeout
// has passed or ctx ends; then it returns the last connection error, which
// wraps ports.ErrUnavailable. Other failures (bad password, unknown
// database) and SQLite are not retried: waiting would not fix them. A zero
// ConnectTimeout means a single attempt.
func OpenWithRetry(ctx context.Context, cfg config.Database, log *zap.Logger) (*gorm.DB, error) {
	if cfg.Driver != config.Postgres || cfg.ConnectTimeout <= 0 {
		return Open(ctx, cfg)
	}
	db, err := openPool(cfg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(cfg.ConnectTimeout)
	delay := firstRetryDelay
	var lastErr error
	for attempt := 1; ; attempt++ {
		// The budget bounds when attempts start; the last one, at the
		// deadline, still gets a fair chance to connect.
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := ping(actx, db)
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Info("database reachable", zap.String("store", cfg.Name), zap.String("dsn", cfg.Redacted),
					zap.Int("attempt", attempt), zap.Duration("waited", time.Since(start).Round(time.Millisecond)))
			}
			return db, nil
		}
		if ctx.Err() != nil && lastErr != nil {
			// The caller gave up during this attempt; the previous failure
			// is the more useful cause ("connection refused", not "canceled").
			err = lastErr
		}
		err = translate(context.Background(), redact(err, cfg))
		lastErr = err
		remaining := time.Until(deadline)
		if !errors.Is(err, ports.ErrUnavailable) || ctx.Err() != nil || remaining <= 0 {
			closePool(db)
			if attempt == 1 {
				return nil, fmt.Errorf("%s (%s): %w", cfg.Name, cfg.Redacted, err)
			}
			return nil, fmt.Errorf("%s (%s): unreachable for %s (%d attempts): %w",
				cfg.Name, cfg.Redacted, time.Since(start).Round(time.Millisecond), attempt, err)
		}
		wait := min(delay, remaining)
		log.Warn("database unreachable, retrying",
			zap.String("store", cfg.Name), zap.String("dsn", cfg.Redacted),
			zap.Int("attempt", attempt), zap.Duration("next_delay", wait.Round(time.Millisecond)), zap.Error(err))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
		delay = min(2*delay, maxRetryDelay)
	}
}

// openPool builds the GORM handle and its pool without connecting: the pool
// dials lazily, so a caller decides how to wait for the first connection.
func openPool(cfg config.Database) (*gorm.DB, error) {
	var dialector gorm.Dialector
	switch cfg.Driver {
	case config.Postgres:
		dialector = postgres.Open(cfg.DSN)
	case config.SQLite:
		if err := os.MkdirAll(filepath.Dir(cfg.DSN), 0o750); err != nil {
			return nil, fmt.Errorf("%s: create data directory: %w", cfg.Name, err)
		}
		dialector = sqlite.Open(sqliteDSN(cfg.DSN))
	default:
		return nil, fmt.Errorf("%s: unsupported driver %q", cfg.Name, cfg.Driver)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true, // unique violations become gorm.ErrDuplicatedKey
		SkipDefaultTransaction: true, // every multi-statement write is an explicit transaction
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// gorm's own ping has no context, so an unreachable host could block
		// it for minutes; Open and OpenWithRetry ping with a deadline instead.
		DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", cfg.Name, cfg.Redacted, redact(err, cfg))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// closePool closes db's connection pool, for a handle that will not be used.
func closePool(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// sqliteDSN turns a file path into a DSN tuned for safe concurrent use:
// WAL lets readers run beside the single writer, IMMEDIATE transactions take
// the write lock up front (so a read-then-write transaction cannot fail with
// SQLITE_BUSY half way), busy_timeout queues writers instead of failing them,
// and synchronous=FULL makes a commit durable before the reply.
func sqliteDSN(path string) string {
	return "file:" + path +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
}

// redact drops the error text if it echoes the DSN or its password. The
// replacement still wraps ports.ErrUnavailable when the original did, so
// callers can tell an outage from a misconfiguration without the text.
func redact(err error, cfg config.Database) error {
	if !leaksSecret(err.Error(), cfg) {
		return err
	}
	const withheld = "connection failed (details withheld: they contained credentials)"
	if unreachable(err) {
		return fmt.Errorf("%w: %s", ports.ErrUnavailable, withheld)
	}
	return errors.New(withheld)
}

// leaksSecret reports whether msg contains cfg's DSN or the password in it.
func leaksSecret(msg string, cfg config.Database) bool {
	if cfg.DSN == cfg.Redacted {
		return false
	}
	if strings.Contains(msg, cfg.DSN) {
		return true
	}
	u, err := url.Parse(cfg.DSN)
	if err != nil || u.User == nil {
		return false
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return false
	}
	return strings.Contains(msg, pw) || strings.Contains(msg, url.QueryEscape(pw)) || strings.Contains(msg, url.PathEscape(pw))
}

// isPostgres reports whether db talks to PostgreSQL.
func isPostgres(db *gorm.DB) bool { return db.Name() == "postgres" }

// ping checks that db answers within ctx.
func ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Advisory-lock keys that serialise schema migrations between instances
// starting at once on PostgreSQL ("invoices" events / read model).
const (
	migrateEventStoreLock int64 = 0x696e765f65767473
	migrateReadModelLock  int64 = 0x696e765f72656164
)

// migrate runs fn, which changes the schema, in one transaction. On
// PostgreSQL the transaction first takes an advisory lock, so instances
// starting together migrate one after another instead of colliding on
// CREATE TABLE ("relation already exists"); the later ones find the schema
// in place. SQLite's IMMEDIATE transactions serialise it already.
func migrate(ctx context.Context, db *gorm.DB, lock int64, fn func(tx *gorm.DB) error) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if isPostgres(tx) {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, lock).Error; err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		return fn(tx)
	})
}

// withPgx runs fn on one of pool's connections as the pgx connection it is
// (PostgreSQL only). pgx scans binary columns straight into Go values, where
// database/sql first converts each into a driver.Value and then converts
// that again: about half the CPU of a 100-invoice page.
func withPgx(ctx context.Context, pool *sql.DB, fn func(*pgx.Conn) error) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx", dc)
		}
		return fn(c.Conn())
	})
}
