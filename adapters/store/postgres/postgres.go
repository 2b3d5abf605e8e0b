// Package postgres is the PostgreSQL engine of the store (see package
// store): GORM for the schema and the queries it expresses well, and pgx
// directly where GORM cannot do the job: pipelined transactions (append,
// projection), bulk writes of one array parameter per column, LISTEN, and
// the two hot reads of the API, scanned without database/sql.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/zap"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/config"
)

// Engine is the PostgreSQL engine.
type Engine struct {
	// Log receives what the engine's background work reports (interrupted
	// commit notifications); nil drops it.
	Log *zap.Logger
}

var _ store.Engine = Engine{}

// dialector is GORM's PostgreSQL dialector with the engine's column types.
type dialector struct{ postgres.Dialector }

// ColumnType implements store.ColumnTyper.
func (dialector) ColumnType(k store.ColumnKind) string {
	switch k {
	case store.UUIDColumn:
		return "uuid"
	case store.JSONColumn:
		return "jsonb"
	case store.MoneyColumn:
		return "numeric(16,4)"
	}
	return "text"
}

// Dialector implements store.Engine.
func (Engine) Dialector(cfg config.Database) (gorm.Dialector, error) {
	return dialector{postgres.Dialector{Config: &postgres.Config{DSN: cfg.DSN}}}, nil
}

// Remote implements store.Engine: a server may be starting or restarting.
func (Engine) Remote() bool { return true }

// LockSchema implements store.Engine with a transaction-scoped advisory
// lock, so instances starting together do not collide on CREATE TABLE
// ("relation already exists").
func (Engine) LockSchema(tx *gorm.DB, key int64) error {
	return tx.Exec(`SELECT pg_advisory_xact_lock(?)`, key).Error
}

// NewAppender implements store.Engine.
func (e Engine) NewAppender(db *gorm.DB, cfg config.Database, storeID string) (store.Appender, error) {
	pool, err := db.DB()
	if err != nil {
		return nil, err
	}
	return &appender{pool: pool, dsn: cfg.DSN, id: storeID, log: e.Log}, nil
}

// NewWriter implements store.Engine.
func (Engine) NewWriter(db *gorm.DB) (store.Writer, error) {
	pool, err := db.DB()
	if err != nil {
		return nil, err
	}
	return newWriter(pool), nil
}

// withPgx runs fn on one of pool's connections as the pgx connection it is.
// pgx scans binary columns straight into Go values, where database/sql
// first converts each into a driver.Value and then converts that again.
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

// rollbackTimeout bounds ending a transaction a failed pipeline left open.
const rollbackTimeout = 5 * time.Second

// rollbackOnError ends the transaction a failed pipeline left open (or
// aborted: a pipeline stops at its first error) before the connection goes
// back to the pool; a connection that cannot even do that is closed, and
// the pool then discards it. Deferred with the caller's named error.
func rollbackOnError(c *pgx.Conn, err *error) {
	if *err == nil || c.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if _, rerr := c.Exec(ctx, "ROLLBACK"); rerr != nil {
		_ = c.Close(ctx)
	}
}

// runBatch sends b on c, lets read consume its results, and closes them.
func runBatch(ctx context.Context, c *pgx.Conn, b *pgx.Batch, read func(pgx.BatchResults) error) error {
	br := c.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// pgUUID is id as pgx encodes it in binary. Handed a string for a uuid
// parameter, pgx first fails to find a binary plan, builds an error and
// retries as text (jackc/pgx#1331).
func pgUUID(id string) (pgtype.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return pgtype.UUID{}, fmt.Errorf("uuid %q: %w", id, err)
	}
	return pgtype.UUID{Bytes: u, Valid: true}, nil
}

// duplicate turns PostgreSQL's unique_violation, which pgx returns as is,
// into the error GORM's translation gives the shared code.
func duplicate(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", gorm.ErrDuplicatedKey, err)
	}
	return err
}
