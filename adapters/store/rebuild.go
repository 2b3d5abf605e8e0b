package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"invoices/domain/invoice"
	"invoices/ports"
)

// A rebuild builds a fresh invoice table beside the live one and swaps it in
// with one transaction, so readers see the old table until the new one is
// complete.
//
// On PostgreSQL the fresh table is "invoices" in its own schema
// (rebuildSchema). Index and constraint names are unique per schema, so it
// gets exactly the names GORM gives the live table (invoices_pkey,
// invoices_seq), and the swap drops the live table and moves the new one
// into its schema with ALTER TABLE ... SET SCHEMA: nothing to rename.
//
// SQLite has no schemas within one file and cannot rename an index, so the
// fresh table is invoices_rebuild (its primary-key index is renamed with
// it), and the swap creates the seq index after renaming it to invoices.
//
// Both tables start without their secondary index, which is built once
// after the bulk load rather than maintained row by row during it.
const (
	rebuildSchema      = "invoices_rebuild" // PostgreSQL
	sqliteRebuildTable = "invoices_rebuild" // SQLite
	seqIndex           = "invoices_seq"
	// rebuildCheckpointSuffix names the rebuild's own checkpoint row, moved
	// with every batch it writes: projector "invoices" is rebuilt under
	// checkpoint "invoices.rebuild".
	rebuildCheckpointSuffix = ".rebuild"
)

// sqliteInsertChunk is the rows per SQLite INSERT: 9 parameters each,
// within SQLite's limit of 32,766.
const sqliteInsertChunk = 2_000

// swapLockTimeout bounds how long the swap waits on PostgreSQL for the live
// checkpoint's row and the live table (held by the live projector mid-batch
// and by readers mid-query). Readers that arrive meanwhile queue behind the
// swap, so the wait must stay short; past it the attempt rolls back and,
// after swapAttempts, the swap fails and the live model stays.
var swapLockTimeout = 3 * time.Second // a variable for tests

const swapAttempts = 3

var (
	_ ports.ReadModelRebuilder = (*ReadModel)(nil)
	_ ports.InvoiceRebuild     = (*Rebuild)(nil)
)

// Rebuild is a fresh invoice read model being built beside the live one by
// ReadModel.StartRebuild. Its methods must not be called concurrently.
type Rebuild struct {
	db         *gorm.DB
	projector  string
	checkpoint string // the rebuild's own checkpoint row
	table      string // the fresh table, schema-qualified on PostgreSQL
	pos        int64
	indexed    bool      // the fresh table has its seq index
	lock       *sql.Conn // PostgreSQL: the session holding the advisory lock
	lockKey    int64
	ended      bool // swapped in or discarded
}

// StartRebuild implements ports.ReadModelRebuilder. On PostgreSQL it holds a
// session advisory lock until Swap or Discard, so a second rebuild of the
// same read database fails at once instead of dropping the first one's
// table; the lock goes with the session if the process dies. SQLite has no
// such lock: two rebuilds of one SQLite file at once drop each other's
// tables, find their checkpoints gone and both fail, leaving the live model
// as it was.
func (m *ReadModel) StartRebuild(ctx context.Context, projector string) (ports.InvoiceRebuild, error) {
	r := &Rebuild{
		db:         m.db,
		projector:  projector,
		checkpoint: projector + rebuildCheckpointSuffix,
		table:      sqliteRebuildTable,
	}
	if isPostgres(m.db) {
		r.table = rebuildSchema + ".invoices"
		if err := r.acquireLock(ctx); err != nil {
			return nil, translate(ctx, err)
		}
	}
	if err := r.create(ctx); err != nil {
		r.releaseLock()
		return nil, translate(ctx, err)
	}
	return r, nil
}

// create drops whatever an interrupted rebuild left and creates the empty
// table and the rebuild's checkpoint at 0.
func (r *Rebuild) create(ctx context.Context) error {
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := r.dropShadow(tx); err != nil {
			return err
		}
		if isPostgres(tx) {
			if err := tx.Exec("CREATE SCHEMA ?", clause.Table{Name: rebuildSchema}).Error; err != nil {
				return fmt.Errorf("create schema %s: %w", rebuildSchema, err)
			}
		}
		if err := tx.Table(r.table).Migrator().CreateTable(unindexedInvoiceRow()); err != nil {
			return fmt.Errorf("create table %s: %w", r.table, err)
		}
		seed := `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 0, ?)`
		if err := tx.Exec(seed, r.checkpoint, time.Now().UTC()).Error; err != nil {
			return fmt.Errorf("create checkpoint %s: %w", r.checkpoint, err)
		}
		return nil
	})
}

// dropShadow removes the fresh table and the rebuild's checkpoint, if any.
func (r *Rebuild) dropShadow(tx *gorm.DB) error {
	var err error
	if isPostgres(tx) {
		err = tx.Exec("DROP SCHEMA IF EXISTS ? CASCADE", clause.Table{Name: rebuildSchema}).Error
	} else {
		err = tx.Exec("DROP TABLE IF EXISTS ?", clause.Table{Name: sqliteRebuildTable}).Error
	}
	if err != nil {
		return fmt.Errorf("drop %s: %w", r.table, err)
	}
	if err := tx.Exec("DELETE FROM projection_checkpoints WHERE name = ?", r.checkpoint).Error; err != nil {
		return fmt.Errorf("delete checkpoint %s: %w", r.checkpoint, err)
	}
	return nil
}

// Apply implements ports.RebuildWriter: one transaction per batch.
func (r *Rebuild) Apply(ctx context.Context, from, to int64, c ports.InvoiceChanges) error {
	if r.ended {
		return errors.New("apply to a rebuild that has ended")
	}
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if isPostgres(tx) {
			// Until the swap the fresh table is disposable: a crash just
			// means rebuilding again, so commits need not wait for the WAL
			// flush. The swap itself commits synchronously.
			if err := tx.Exec("SET LOCAL synchronous_commit = off").Error; err != nil {
				return err
			}
		}
		return r.applyTx(tx, from, to, c)
	})
	if err != nil {
		return translate(ctx, err)
	}
	r.pos = to
	return nil
}

// applyTx writes a batch and moves the rebuild's checkpoint inside tx.
func (r *Rebuild) applyTx(tx *gorm.DB, from, to int64, c ports.InvoiceChanges) error {
	res := tx.Model(&checkpointRow{}).
		Where("name = ? AND position = ?", r.checkpoint, from).
		Updates(map[string]any{"position": to, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("advance checkpoint %s to %d: %w", r.checkpoint, to, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("checkpoint %s is no longer at %d (another rebuild?): %w", r.checkpoint, from, ports.ErrConcurrencyConflict)
	}
	if err := r.insert(tx, c.Inserts); err != nil {
		return err
	}
	return r.pay(tx, c.Payments)
}

// insert adds rows: on SQLite with multi-row INSERTs of the row struct; on
// PostgreSQL with one INSERT ... SELECT FROM unnest(...) whose parameters
// are one array literal per column. That is one short statement per batch
// instead of tens of thousands of bound parameters, each encoded by the
// driver and bound by the server, which was most of the rebuild's time.
func (r *Rebuild) insert(tx *gorm.DB, views []ports.InvoiceView) error {
	if len(views) == 0 {
		return nil
	}
	if !isPostgres(tx) {
		rows := make([]invoiceRow, len(views))
		for i, v := range views {
			rows[i] = newInvoiceRow(v)
		}
		if err := tx.Table(r.table).CreateInBatches(&rows, sqliteInsertChunk).Error; err != nil {
			return fmt.Errorf("insert %d invoices: %w", len(rows), err)
		}
		return nil
	}
	if err := pgInsertInvoices(tx, r.table, views); err != nil {
		return fmt.Errorf("insert %d invoices: %w", len(views), err)
	}
	return nil
}

// pgInsertInvoices inserts views into table with pgInsertInvoicesStmt, on
// tx's connection.
func pgInsertInvoices(tx *gorm.DB, table string, views []ports.InvoiceView) error {
	q, args := pgInsertInvoicesStmt(table, views)
	_, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q, args...)
	return err
}

// pgInsertInvoicesStmt is one INSERT ... SELECT FROM unnest(...) of views
// into table, one array literal per column: the same short statement text
// for any number of rows, so pgx prepares it once per connection.
func pgInsertInvoicesStmt(table string, views []ports.InvoiceView) (string, []any) {
	var id, seq, customer, amount, status, version, created, updated, paid pgArray
	for _, v := range views {
		id.add(v.ID)
		seq.add(strconv.FormatInt(v.Seq, 10))
		customer.add(v.CustomerID)
		amount.add(v.Amount.String())
		status.add(string(v.Status))
		version.add(strconv.Itoa(v.Version))
		created.addTime(&v.CreatedAt)
		updated.addTime(&v.UpdatedAt)
		paid.addTime(v.PaidAt)
	}
	q := `INSERT INTO ` + pgTable(table) + ` (id, seq, customer_id, amount, status, version, created_at, updated_at, paid_at)
		SELECT * FROM unnest($1::text::uuid[], $2::text::bigint[], $3::text::text[], $4::text::numeric[], $5::text::text[],
			$6::text::bigint[], $7::text::timestamptz[], $8::text::timestamptz[], $9::text::timestamptz[])`
	return q, []any{id.String(), seq.String(), customer.String(), amount.String(),
		status.String(), version.String(), created.String(), updated.String(), paid.String()}
}

// pgTable quotes a table name, schema-qualified or not.
func pgTable(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }

// pay applies payments to rows of earlier batches, each only if its row is
// at the version before it, as the live projector's MarkInvoicePaid does:
// on PostgreSQL with one set-based UPDATE per batch (array literals again),
// on SQLite, whose statements run in-process, one UPDATE per row.
func (r *Rebuild) pay(tx *gorm.DB, payments []ports.InvoicePayment) error {
	if len(payments) == 0 {
		return nil
	}
	if !isPostgres(tx) {
		for _, p := range payments {
			res := tx.Table(r.table).Where("id = ? AND version = ?", p.ID, p.FromVersion).Updates(paidColumns(p))
			if res.Error != nil {
				return fmt.Errorf("mark invoice %s paid: %w", p.ID, res.Error)
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("event at position %d: mark invoice %s paid: no row at version %d", p.Position, p.ID, p.FromVersion)
			}
		}
		return nil
	}
	matched, err := pgMarkPaid(tx, r.table, payments)
	if err != nil {
		return fmt.Errorf("mark %d invoices paid: %w", len(payments), err)
	}
	if matched == int64(len(payments)) {
		return nil
	}
	// Name one that did not match, as the live projector would.
	for _, p := range payments {
		var n int64
		if err := tx.Table(r.table).Where("id = ? AND version = ?", p.ID, p.Version).Count(&n).Error; err != nil {
			return fmt.Errorf("mark %d invoices paid: %w", len(payments), err)
		}
		if n != 1 {
			return fmt.Errorf("event at position %d: mark invoice %s paid: no row at version %d", p.Position, p.ID, p.FromVersion)
		}
	}
	return fmt.Errorf("mark %d invoices paid: %d rows matched", len(payments), matched)
}

// pgMarkPaid marks each payment's invoice paid, only if its row in table is
// at the payment's FromVersion, with one UPDATE ... FROM unnest(...), and
// returns the rows matched. The statement text is the same for any number
// of payments, so PostgreSQL plans it once per connection as an index join
// (a VALUES list gets one prepared statement per length, each planned for
// the table's size when first seen: a hash join over a sequential scan
// while the read model is small, kept as it grows).
func pgMarkPaid(tx *gorm.DB, table string, payments []ports.InvoicePayment) (int64, error) {
	q, args := pgMarkPaidStmt(table, payments)
	res, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pgMarkPaidStmt is pgMarkPaid's statement and parameters.
func pgMarkPaidStmt(table string, payments []ports.InvoicePayment) (string, []any) {
	var id, from, version, paidAt pgArray
	for _, p := range payments {
		id.add(p.ID)
		from.add(strconv.Itoa(p.FromVersion))
		version.add(strconv.Itoa(p.Version))
		paidAt.addTime(&p.PaidAt)
	}
	q := `UPDATE ` + pgTable(table) + ` AS t SET status = $1, version = v.version, paid_at = v.paid_at, updated_at = v.paid_at
		FROM unnest($2::text::uuid[], $3::text::bigint[], $4::text::bigint[], $5::text::timestamptz[]) AS v(id, from_version, version, paid_at)
		WHERE t.id = v.id AND t.version = v.from_version`
	return q, []any{string(invoice.StatusPaid), id.String(), from.String(), version.String(), paidAt.String()}
}

// pgArray builds a PostgreSQL array literal ({"a","b",NULL}) element by
// element; the statement casts it from text to the column's array type.
type pgArray struct {
	b strings.Builder
	n int
}

// pgArrayEscaper escapes an element for a double-quoted array item.
var pgArrayEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func (a *pgArray) sep() {
	if a.n == 0 {
		a.b.WriteByte('{')
	} else {
		a.b.WriteByte(',')
	}
	a.n++
}

// add appends a quoted element.
func (a *pgArray) add(s string) {
	a.sep()
	a.b.WriteByte('"')
	_, _ = pgArrayEscaper.WriteString(&a.b, s)
	a.b.WriteByte('"')
}

// addTime appends a timestamp, or NULL for nil. It keeps microseconds,
// truncated as the driver's binary encoding truncates them for the live
// projector, rather than letting the server round nanoseconds.
func (a *pgArray) addTime(t *time.Time) {
	if t == nil {
		a.sep()
		a.b.WriteString("NULL")
		return
	}
	a.add(t.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999Z07:00"))
}

// String returns the literal.
func (a *pgArray) String() string {
	if a.n == 0 {
		return "{}"
	}
	return a.b.String() + "}"
}

// Swap implements ports.InvoiceRebuild.
func (r *Rebuild) Swap(ctx context.Context, catchUp func(ctx context.Context, live int64, w ports.RebuildWriter) error) (int64, error) {
	if r.ended {
		return 0, errors.New("swap a rebuild that has ended")
	}
	pg := isPostgres(r.db)
	if pg && !r.indexed {
		// Build the index now, outside the swap transaction, so neither
		// readers nor the live projector wait for it. The catch-up below
		// maintains it like any index.
		if err := r.db.WithContext(ctx).Table(r.table).Migrator().CreateIndex(&invoiceRow{}, seqIndex); err != nil {
			return 0, fmt.Errorf("index %s: %w", r.table, translate(ctx, err))
		}
		r.indexed = true
	}
	var w *swapWriter
	var err error
	for attempt := 1; attempt <= swapAttempts; attempt++ {
		w = &swapWriter{r: r, pos: r.pos}
		err = r.swapTx(ctx, w, catchUp)
		if !lockTimedOut(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return 0, translate(ctx, err)
	}
	r.pos, r.ended = w.pos, true
	r.releaseLock()
	return r.pos, nil
}

// lockTimedOut reports whether err is PostgreSQL's lock_not_available.
func lockTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// swapTx is one attempt at the swap transaction.
func (r *Rebuild) swapTx(ctx context.Context, w *swapWriter, catchUp func(ctx context.Context, live int64, w ports.RebuildWriter) error) error {
	pg := isPostgres(r.db)
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		w.tx = tx
		if pg {
			if err := tx.Exec(fmt.Sprintf("SET LOCAL lock_timeout = %d", swapLockTimeout.Milliseconds())).Error; err != nil {
				return err
			}
		}
		live, err := lockCheckpoint(tx, r.projector)
		if err != nil {
			return err
		}
		if err := catchUp(ctx, live, w); err != nil {
			return err
		}
		if w.pos < live {
			return fmt.Errorf("rebuilt read model is at %d, behind the live checkpoint %d", w.pos, live)
		}
		if err := r.replaceLive(tx); err != nil {
			return err
		}
		res := tx.Model(&checkpointRow{}).Where("name = ?", r.projector).
			Updates(map[string]any{"position": w.pos, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("set checkpoint %s to %d: %w", r.projector, w.pos, res.Error)
		}
		if err := tx.Exec("DELETE FROM projection_checkpoints WHERE name = ?", r.checkpoint).Error; err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", r.checkpoint, err)
		}
		return nil
	})
}

// lockCheckpoint returns the live checkpoint, creating it at 0 if new, and
// keeps the live projector from moving it until tx ends: on PostgreSQL by
// locking its row (the projector's batch updates that row first, so it
// waits, then finds it moved and reloads); on SQLite the transaction holds
// the database's write lock already.
func lockCheckpoint(tx *gorm.DB, projector string) (int64, error) {
	seed := `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING`
	if err := tx.Exec(seed, projector, time.Now().UTC()).Error; err != nil {
		return 0, fmt.Errorf("create checkpoint %s: %w", projector, err)
	}
	q := tx.Model(&checkpointRow{}).Select("position").Where("name = ?", projector)
	if isPostgres(tx) {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	var live int64
	if err := q.Row().Scan(&live); err != nil {
		return 0, fmt.Errorf("lock checkpoint %s: %w", projector, err)
	}
	return live, nil
}

// replaceLive drops the live table and puts the fresh one in its place.
// Dropping first frees the names the fresh table's indexes take.
func (r *Rebuild) replaceLive(tx *gorm.DB) error {
	if isPostgres(tx) {
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
			{"move rebuilt invoices", "ALTER TABLE ? SET SCHEMA ?", []any{clause.Table{Name: r.table}, clause.Table{Name: schema}}},
			{"drop schema " + rebuildSchema, "DROP SCHEMA ?", []any{clause.Table{Name: rebuildSchema}}},
		}
		for _, s := range steps {
			if err := tx.Exec(s.sql, s.args...).Error; err != nil {
				return fmt.Errorf("%s: %w", s.what, err)
			}
		}
		return nil
	}
	if err := tx.Exec("DROP TABLE invoices").Error; err != nil {
		return fmt.Errorf("drop live invoices: %w", err)
	}
	if err := tx.Exec("ALTER TABLE ? RENAME TO invoices", clause.Table{Name: r.table}).Error; err != nil {
		return fmt.Errorf("rename rebuilt invoices: %w", err)
	}
	if err := tx.Migrator().CreateIndex(&invoiceRow{}, seqIndex); err != nil {
		return fmt.Errorf("index invoices: %w", err)
	}
	return nil
}

// swapWriter applies catch-up batches inside the swap transaction.
type swapWriter struct {
	r   *Rebuild
	tx  *gorm.DB
	pos int64
}

// Apply implements ports.RebuildWriter.
func (w *swapWriter) Apply(_ context.Context, from, to int64, c ports.InvoiceChanges) error {
	if err := w.r.applyTx(w.tx, from, to, c); err != nil {
		return err
	}
	w.pos = to
	return nil
}

// Discard implements ports.InvoiceRebuild.
func (r *Rebuild) Discard(ctx context.Context) error {
	if r.ended {
		return nil
	}
	err := r.db.WithContext(ctx).Transaction(r.dropShadow)
	if err != nil {
		return translate(ctx, err)
	}
	r.ended = true
	r.releaseLock()
	return nil
}

// acquireLock takes the rebuild's advisory lock on a connection of its own,
// kept out of the pool until releaseLock.
func (r *Rebuild) acquireLock(ctx context.Context) error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("rebuild lock: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("invoices rebuild " + r.projector))
	r.lockKey = int64(h.Sum64()) //nolint:gosec // any 64 bits make a key; the wrap-around is intended
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", r.lockKey).Scan(&ok); err != nil {
		_ = conn.Close()
		return fmt.Errorf("rebuild lock: %w", err)
	}
	if !ok {
		_ = conn.Close()
		return fmt.Errorf("another rebuild of %s is running on this read database", r.projector)
	}
	r.lock = conn
	return nil
}

// releaseLock gives up the advisory lock. If the unlock fails, the
// connection is closed instead of returned to the pool, which ends its
// session and with it the lock.
func (r *Rebuild) releaseLock() {
	if r.lock == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", r.lockKey); err != nil {
		_ = r.lock.Raw(func(any) error { return driver.ErrBadConn })
	}
	_ = r.lock.Close()
	r.lock = nil
}

// paidColumns are the columns a pay sets, as the live projector sets them.
func paidColumns(p ports.InvoicePayment) map[string]any {
	return map[string]any{
		"status":     string(invoice.StatusPaid),
		"paid_at":    p.PaidAt,
		"updated_at": p.PaidAt,
		"version":    p.Version,
	}
}

// unindexedInvoiceRow returns a pointer to a struct with invoiceRow's fields
// and column definitions but no index tags, so the fresh table is created
// from the same definition as the live one (no second copy to drift), while
// its secondary index waits until after the bulk load, and on SQLite, until
// the live table's index name is free.
func unindexedInvoiceRow() any {
	t := reflect.TypeFor[invoiceRow]()
	fields := make([]reflect.StructField, t.NumField())
	for i := range fields {
		f := t.Field(i)
		var keep []string
		for _, s := range strings.Split(f.Tag.Get("gorm"), ";") {
			key, _, _ := strings.Cut(s, ":")
			if k := strings.ToLower(strings.TrimSpace(key)); k != "index" && k != "uniqueindex" {
				keep = append(keep, s)
			}
		}
		f.Tag = reflect.StructTag(`gorm:"` + strings.Join(keep, ";") + `"`)
		fields[i] = f
	}
	return reflect.New(reflect.StructOf(fields)).Interface()
}
