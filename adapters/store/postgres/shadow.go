package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"invoices/adapters/store"
	"invoices/ports"
)

// A rebuilt table is "invoices" in a schema of its own (rebuildSchema).
// Index and constraint names are unique per schema, so it gets exactly the
// names GORM gives the live table (invoices_pkey, invoices_seq), and the
// swap drops the live table and moves the new one into its schema with
// ALTER TABLE ... SET SCHEMA: nothing to rename.
const rebuildSchema = "invoices_rebuild"

// swapLockTimeout bounds how long a swap waits for the live checkpoint's row
// and the live table (held by the live projector mid-batch and by readers
// mid-query). Readers that arrive meanwhile queue behind the swap, so the
// wait must stay short; past it the attempt rolls back and is retried.
var swapLockTimeout = 3 * time.Second // a variable for tests

type shadow struct{}

var _ store.Shadow = shadow{}

// Shadow implements store.Writer.
func (w *writer) Shadow() store.Shadow { return shadow{} }

func (shadow) Table() string { return rebuildSchema + ".invoices" }

// Lock holds a session advisory lock until release, so a second rebuild of
// the same read database fails at once instead of dropping the first one's
// table; the lock goes with the session if the process dies.
func (shadow) Lock(ctx context.Context, db *gorm.DB, projector string) (func(), error) {
	pool, err := db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild lock: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("invoices rebuild " + projector))
	key := int64(h.Sum64()) //nolint:gosec // any 64 bits make a key; the wrap-around is intended
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("rebuild lock: %w", err)
	}
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("%s on this read database: %w", projector, ports.ErrRebuildRunning)
	}
	return func() { unlock(conn, key) }, nil
}

// unlock gives up the advisory lock. If the unlock fails, the connection is
// closed instead of returned to the pool, which ends its session and with
// it the lock.
func unlock(conn *sql.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = conn.Close()
}

func (s shadow) Create(tx *gorm.DB) error {
	if err := tx.Exec("CREATE SCHEMA ?", clause.Table{Name: rebuildSchema}).Error; err != nil {
		return fmt.Errorf("create schema %s: %w", rebuildSchema, err)
	}
	return tx.Table(s.Table()).Migrator().CreateTable(store.UnindexedInvoiceRow())
}

func (shadow) Drop(tx *gorm.DB) error {
	return tx.Exec("DROP SCHEMA IF EXISTS ? CASCADE", clause.Table{Name: rebuildSchema}).Error
}

// BulkTx: until the swap the fresh table is disposable, so a crash just
// means rebuilding again and commits need not wait for the WAL flush. The
// swap itself commits synchronously.
func (shadow) BulkTx(tx *gorm.DB) error {
	return tx.Exec("SET LOCAL synchronous_commit = off").Error
}

// BeforeSwap builds the indexes outside the swap transaction, so neither
// readers nor the live projector wait for them; the catch-up inside the
// swap maintains them like any index. An index a failed attempt built
// already is kept.
func (s shadow) BeforeSwap(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx)
	for _, name := range store.InvoiceIndexes {
		var exists bool
		err := db.Raw(`SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = ? AND indexname = ?)`,
			rebuildSchema, name).Row().Scan(&exists)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		if err := db.Table(s.Table()).Migrator().CreateIndex(&store.InvoiceRow{}, name); err != nil {
			return fmt.Errorf("index %s %s: %w", s.Table(), name, err)
		}
	}
	return nil
}

func (shadow) SwapTx(tx *gorm.DB) error {
	return tx.Exec(fmt.Sprintf("SET LOCAL lock_timeout = %d", swapLockTimeout.Milliseconds())).Error
}

// LockCheckpoint locks the live checkpoint's row.
func (shadow) LockCheckpoint(q *gorm.DB) *gorm.DB {
	return q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
}

// ReplaceLive drops the live table, which frees the names the fresh
// table's indexes take, and moves the fresh one into its schema.
func (s shadow) ReplaceLive(tx *gorm.DB) error {
	var schema string
	if err := tx.Raw("SELECT current_schema()").Row().Scan(&schema); err != nil {
		return fmt.Errorf("current schema: %w", err)
	}
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"drop live invoices", "DROP TABLE ?", []any{clause.Table{Name: schema + ".invoices"}}},
		{"move rebuilt invoices", "ALTER TABLE ? SET SCHEMA ?", []any{clause.Table{Name: s.Table()}, clause.Table{Name: schema}}},
		{"drop schema " + rebuildSchema, "DROP SCHEMA ?", []any{clause.Table{Name: rebuildSchema}}},
	}
	for _, st := range steps {
		if err := tx.Exec(st.sql, st.args...).Error; err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

// Retryable reports whether err is lock_not_available: the swap's lock
// wait timed out.
func (shadow) Retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}
