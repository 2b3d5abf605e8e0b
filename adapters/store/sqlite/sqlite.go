// Package sqlite is the embedded SQLite engine of the store (see package
// store), the default, needing no server: everything goes through GORM on
// the pure-Go driver. One process owns the database file, so positions are
// commit-ordered by SQLite's single writer and there are no other
// processes' commits to hear of.
package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"invoices/adapters/store"
	"invoices/config"
	"invoices/ports"
)

// Engine is the SQLite engine.
type Engine struct{}

var _ store.Engine = Engine{}

// dialector is GORM's SQLite dialector with the engine's column types.
type dialector struct{ sqlite.Dialector }

// ColumnType implements store.ColumnTyper. Everything is text: SQLite's
// NUMERIC affinity would turn an amount into a float.
func (dialector) ColumnType(store.ColumnKind) string { return "text" }

// Dialector implements store.Engine. The database file's directory is
// created if missing.
func (Engine) Dialector(cfg config.Database) (gorm.Dialector, error) {
	if err := os.MkdirAll(filepath.Dir(cfg.DSN), 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	return dialector{sqlite.Dialector{DSN: dsn(cfg.DSN)}}, nil
}

// dsn turns a file path into a DSN tuned for safe concurrent use: WAL lets
// readers run beside the single writer, IMMEDIATE transactions take the
// write lock up front (so a read-then-write transaction cannot fail with
// SQLITE_BUSY half way), busy_timeout queues writers instead of failing
// them, and synchronous=FULL makes a commit durable before the reply.
func dsn(path string) string {
	return "file:" + path +
		"?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate"
}

// Remote implements store.Engine: a file is there or not.
func (Engine) Remote() bool { return false }

// LockSchema implements store.Engine: the migration's IMMEDIATE
// transaction holds the database's write lock already.
func (Engine) LockSchema(*gorm.DB, int64) error { return nil }

// NewAppender implements store.Engine.
func (Engine) NewAppender(db *gorm.DB, _ config.Database, _ string) (store.Appender, error) {
	return appender{db: db}, nil
}

// NewWriter implements store.Engine.
func (Engine) NewWriter(*gorm.DB) (store.Writer, error) { return writer{}, nil }

// appender appends a batch in one IMMEDIATE transaction.
type appender struct{ db *gorm.DB }

// chunk is the rows per multi-row INSERT or UPDATE. The driver matches each
// placeholder against every argument, quadratic in a statement's size, so
// statements stay small.
const chunk = 50

// AppendBatch implements store.Appender.
func (a appender) AppendBatch(ctx context.Context, b store.Batch, plan store.PlanFunc) error {
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		l := store.Locked{Versions: make(map[string]int, len(b.Streams))}
		if err := tx.Raw(`UPDATE event_store_head SET position = position WHERE id = 1 RETURNING position`).Row().Scan(&l.Head); err != nil {
			return fmt.Errorf("lock head: %w", err)
		}
		var current []struct {
			StreamID string
			Version  int
		}
		err := tx.Model(&store.EventRow{}).Select("stream_id, MAX(version) AS version").
			Where("stream_id IN ?", b.Streams).Group("stream_id").Find(&current).Error
		if err != nil {
			return fmt.Errorf("read stream versions: %w", err)
		}
		for _, c := range current {
			l.Versions[c.StreamID] = c.Version
		}
		if l.Keys, err = liveKeys(tx, b); err != nil {
			return err
		}
		p := plan(l)
		if len(p.Rows) == 0 {
			return nil
		}
		if err := tx.CreateInBatches(&p.Rows, chunk).Error; err != nil {
			return err
		}
		for _, k := range p.Keys {
			// Only an expired record can be in the way: the plan read the live ones.
			err := tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&k).Error
			if err != nil {
				return fmt.Errorf("record idempotency key: %w", err)
			}
		}
		if err := tx.Model(&store.HeadRow{}).Where("id = 1").Update("position", p.Head).Error; err != nil {
			return fmt.Errorf("advance head: %w", err)
		}
		return nil
	})
}

// liveKeys reads the records of b's idempotency keys that are live at b.Now.
func liveKeys(tx *gorm.DB, b store.Batch) (map[store.IdempotencyKey]store.IdempotencyRow, error) {
	if len(b.Keys) == 0 {
		return nil, nil
	}
	pairs := make([][]any, len(b.Keys))
	for i, k := range b.Keys {
		pairs[i] = []any{k.Scope, k.Key}
	}
	var rows []store.IdempotencyRow
	if err := tx.Where("(scope, idempotency_key) IN ? AND expires_at > ?", pairs, b.Now).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read idempotency keys: %w", err)
	}
	out := make(map[store.IdempotencyKey]store.IdempotencyRow, len(rows))
	for _, r := range rows {
		out[store.IdempotencyKey{Scope: r.Scope, Key: r.Key}] = r
	}
	return out, nil
}

// writer is the read-model side of the engine.
type writer struct{}

var _ store.Writer = writer{}

// WriteChanges implements store.Writer: multi-row INSERTs of the row
// struct, then one set-based UPDATE per chunk of updates.
func (writer) WriteChanges(tx *gorm.DB, table string, c ports.InvoiceChanges) error {
	if len(c.Inserts) > 0 {
		rows := make([]store.InvoiceRow, len(c.Inserts))
		for i, v := range c.Inserts {
			rows[i] = store.NewInvoiceRow(v)
		}
		if err := tx.Table(table).CreateInBatches(&rows, chunk).Error; err != nil {
			return fmt.Errorf("insert %d invoices (first %s): %w", len(rows), rows[0].ID, err)
		}
	}
	return store.UpdateRows(tx, table, c.Updates, func() (int64, error) {
		var matched int64
		for start := 0; start < len(c.Updates); start += chunk {
			n, err := update(tx, table, c.Updates[start:min(start+chunk, len(c.Updates))])
			if err != nil {
				return 0, fmt.Errorf("update %d invoices: %w", len(c.Updates), err)
			}
			matched += n
		}
		return matched, nil
	})
}

// update applies each update to its invoice's row in table, only if the
// row is at the update's FromVersion, and returns the rows matched. A nil
// timestamp or reason leaves the row's value.
func update(tx *gorm.DB, table string, updates []ports.InvoiceUpdate) (int64, error) {
	var q strings.Builder
	q.WriteString("WITH v(id, from_version, version, status, updated_at, paid_at, voided_at, void_reason) AS (VALUES ")
	args := make([]any, 0, 8*len(updates)+3)
	for i, u := range updates {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		// In UTC, as store.NewInvoiceRow writes them.
		args = append(args, store.UUID(u.ID), u.FromVersion, u.Version, string(u.Status), u.UpdatedAt.UTC(), store.UTC(u.PaidAt), store.UTC(u.VoidedAt), u.VoidReason)
	}
	q.WriteString(`) UPDATE ? SET status = v.status, version = v.version, updated_at = v.updated_at,
		paid_at = COALESCE(v.paid_at, ?.paid_at), voided_at = COALESCE(v.voided_at, ?.voided_at),
		void_reason = COALESCE(v.void_reason, ?.void_reason)
		FROM v WHERE ?.id = v.id AND ?.version = v.from_version`)
	t := clause.Table{Name: table}
	res := tx.Exec(q.String(), append(args, t, t, t, t, t, t)...)
	return res.RowsAffected, res.Error
}
