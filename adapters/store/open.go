package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"invoices/config"
	"invoices/ports"
)

// Open connects to the configured database, checks it answers, and sets pool
// limits. It tries once; OpenWithRetry waits for a server that is not up yet.
// It never puts the DSN in an error: it may hold a password.
func Open(ctx context.Context, e Engine, cfg config.Database) (*gorm.DB, error) {
	db, err := openPool(e, cfg)
	if err != nil {
		return nil, err
	}
	if err := ping(ctx, db); err != nil {
		closePool(db)
		return nil, fmt.Errorf("%s (%s): %w", cfg.Name, cfg.Redacted, Translate(context.Background(), redact(err, cfg)))
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
// database) and local engines are not retried: waiting would not fix them.
// A zero ConnectTimeout means a single attempt.
func OpenWithRetry(ctx context.Context, e Engine, cfg config.Database, log *zap.Logger) (*gorm.DB, error) {
	if !e.Remote() || cfg.ConnectTimeout <= 0 {
		return Open(ctx, e, cfg)
	}
	db, err := openPool(e, cfg)
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
		err = Translate(context.Background(), redact(err, cfg))
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
func openPool(e Engine, cfg config.Database) (*gorm.DB, error) {
	dialector, err := e.Dialector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		TranslateError:         true, // unique violations become gorm.ErrDuplicatedKey
		SkipDefaultTransaction: true, // every multi-statement write is an explicit transaction
		PrepareStmt:            true, // every query GORM builds is prepared once per connection
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
func closePool(db *gorm.DB) { _ = Close(db) }

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

// ping checks that db answers within ctx.
func ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes db's connection pool.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
