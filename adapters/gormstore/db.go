// Package gormstore implements the event store and the invoice read model
// with GORM, on PostgreSQL (production) and embedded SQLite (the default, no
// server needed). Both engines run the same code and the same contract tests.
package gormstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"invoices/config"
)

// Open connects to the configured database, checks it answers, and sets pool
// limits. It never puts the DSN in an error: it may hold a password.
func Open(ctx context.Context, cfg config.Database) (*gorm.DB, error) {
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
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("%s (%s): %w", cfg.Name, cfg.Redacted, redact(err, cfg))
	}
	return db, nil
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

// redact drops the error text if it echoes the DSN, which may hold a password.
func redact(err error, cfg config.Database) error {
	if cfg.DSN != cfg.Redacted && strings.Contains(err.Error(), cfg.DSN) {
		return errors.New("connection failed (details withheld: they contained credentials)")
	}
	return err
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
