package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"invoices/domain/invoice"
	"invoices/ports"
)

// invoiceRow is the invoice read model. Timestamps come from the events, so
// GORM must not stamp them itself.
type invoiceRow struct {
	ID         uuidText   `gorm:"primaryKey"`
	Seq        int64      `gorm:"not null;uniqueIndex:invoices_seq"`
	CustomerID string     `gorm:"column:customer_id;not null;size:255"`
	Amount     amountText `gorm:"not null"`
	Status     string     `gorm:"not null;size:16"`
	Version    int        `gorm:"not null"`
	CreatedAt  time.Time  `gorm:"not null;autoCreateTime:false"`
	UpdatedAt  time.Time  `gorm:"not null;autoUpdateTime:false"`
	PaidAt     *time.Time
}

func (invoiceRow) TableName() string { return "invoices" }

// checkpointRow records how far a projector has applied the event stream.
type checkpointRow struct {
	Name      string    `gorm:"primaryKey;size:128"`
	Position  int64     `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null;autoUpdateTime:false"`
}

func (checkpointRow) TableName() string { return "projection_checkpoints" }

// ReadModel is the GORM invoice read model and projection checkpoint store.
type ReadModel struct {
	db *gorm.DB
	// pool and the queries below serve the two reads on the API's hot
	// path, GET /invoices/{id} and GET /invoices, without GORM: its
	// statement building and reflective scan were about 40 % of the
	// service's CPU for a 100-invoice page.
	pool                      *sql.DB
	pg                        bool
	getSQL, listSQL, afterSQL string
}

// invoiceColumns are invoiceRow's columns in the order scanInvoice reads them.
const invoiceColumns = "id, seq, customer_id, amount, status, version, created_at, updated_at, paid_at"

// pgInvoiceColumns are invoiceColumns with the amount in cents, which numeric(14,2)
// holds exactly: pgx then scans an int64 instead of formatting a numeric
// as text for ParseAmount to read back.
const pgInvoiceColumns = "id, seq, customer_id, (amount * 100)::bigint, status, version, created_at, updated_at, paid_at"

// pgInvoiceScanner reads rows selected with pgInvoiceColumns through pgx
// into reused destinations: scanning into fresh locals moved them to the heap
// on every row (a third of a page's scanning time).
type pgInvoiceScanner struct {
	v      ports.InvoiceView
	cents  int64
	status string
	dest   []any
}

func newPgInvoiceScanner() *pgInvoiceScanner {
	s := &pgInvoiceScanner{}
	s.dest = []any{&s.v.ID, &s.v.Seq, &s.v.CustomerID, &s.cents, &s.status, &s.v.Version, &s.v.CreatedAt, &s.v.UpdatedAt, &s.v.PaidAt}
	return s
}

func (s *pgInvoiceScanner) scan(row pgx.Row) (ports.InvoiceView, error) {
	if err := row.Scan(s.dest...); err != nil {
		return ports.InvoiceView{}, err
	}
	v := s.v
	v.Amount, v.Status = invoice.Amount(s.cents), invoice.Status(s.status)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	if v.PaidAt != nil { // pgx allocated it for this row
		*v.PaidAt = v.PaidAt.UTC()
	}
	return v, nil
}

// scanInvoice reads one row selected with invoiceColumns.
func scanInvoice(scan func(dest ...any) error) (ports.InvoiceView, error) {
	var r invoiceRow
	if err := scan(&r.ID, &r.Seq, &r.CustomerID, &r.Amount, &r.Status, &r.Version, &r.CreatedAt, &r.UpdatedAt, &r.PaidAt); err != nil {
		return ports.InvoiceView{}, err
	}
	return r.view(), nil
}

var (
	_ ports.InvoiceReader   = (*ReadModel)(nil)
	_ ports.ProjectionStore = (*ReadModel)(nil)
)

// NewReadModel migrates the read-model schema on db and returns the store.
func NewReadModel(ctx context.Context, db *gorm.DB) (*ReadModel, error) {
	err := migrate(ctx, db, migrateReadModelLock, func(tx *gorm.DB) error {
		return tx.AutoMigrate(&invoiceRow{}, &checkpointRow{})
	})
	if err != nil {
		return nil, fmt.Errorf("migrate read model: %w", err)
	}
	return newReadModel(db)
}

// newReadModel returns the store on an already migrated db.
func newReadModel(db *gorm.DB) (*ReadModel, error) {
	pool, err := db.DB()
	if err != nil {
		return nil, err
	}
	// Parameters in the engine's own syntax: these bypass GORM's rewriting.
	param := func(int) string { return "?" }
	sel := "SELECT " + invoiceColumns + " FROM invoices "
	pg := isPostgres(db)
	if pg {
		param = func(n int) string { return "$" + strconv.Itoa(n) }
		sel = "SELECT " + pgInvoiceColumns + " FROM invoices "
	}
	return &ReadModel{
		db:       db,
		pool:     pool,
		pg:       pg,
		getSQL:   sel + "WHERE id = " + param(1),
		listSQL:  sel + "ORDER BY seq DESC LIMIT " + param(1),
		afterSQL: sel + "WHERE seq < " + param(1) + " ORDER BY seq DESC LIMIT " + param(2),
	}, nil
}

// GetInvoice implements ports.InvoiceReader.
func (m *ReadModel) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	var v ports.InvoiceView
	var err error
	if m.pg {
		err = withPgx(ctx, m.pool, func(c *pgx.Conn) error {
			v, err = newPgInvoiceScanner().scan(c.QueryRow(ctx, m.getSQL, uuidText(id)))
			return err
		})
	} else {
		v, err = scanInvoice(m.pool.QueryRowContext(ctx, m.getSQL, uuidText(id)).Scan)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.InvoiceView{}, fmt.Errorf("get invoice %s: %w", id, translate(ctx, err))
	}
	return v, nil
}

// ListInvoices implements ports.InvoiceReader with keyset pagination on the
// unique seq index: no OFFSET, no COUNT(*).
func (m *ReadModel) ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	query, args := m.listSQL, []any{p.Limit}
	if p.BeforeSeq > 0 {
		query, args = m.afterSQL, []any{p.BeforeSeq, p.Limit}
	}
	// Sized for a page, not for whatever limit a caller passes.
	out := make([]ports.InvoiceView, 0, min(max(p.Limit, 0), 1024))
	var err error
	if m.pg {
		err = withPgx(ctx, m.pool, func(c *pgx.Conn) error {
			rows, err := c.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			sc := newPgInvoiceScanner()
			for rows.Next() {
				v, err := sc.scan(rows)
				if err != nil {
					return err
				}
				out = append(out, v)
			}
			return rows.Err()
		})
	} else {
		out, err = m.sqlList(ctx, out, query, args)
	}
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", translate(ctx, err))
	}
	return out, nil
}

func (m *ReadModel) sqlList(ctx context.Context, out []ports.InvoiceView, query string, args []any) ([]ports.InvoiceView, error) {
	rows, err := m.pool.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		v, err := scanInvoice(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Ping implements ports.InvoiceReader.
func (m *ReadModel) Ping(ctx context.Context) error { return translate(ctx, ping(ctx, m.db)) }

// SQLDB returns the connection pool, for pool statistics.
func (m *ReadModel) SQLDB() (*sql.DB, error) { return m.db.DB() }

// Checkpoint implements ports.ProjectionStore.
func (m *ReadModel) Checkpoint(ctx context.Context, projector string) (int64, error) {
	db := m.db.WithContext(ctx)
	seed := `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING`
	if err := db.Exec(seed, projector, time.Now().UTC()).Error; err != nil {
		return 0, fmt.Errorf("create checkpoint %s: %w", projector, translate(ctx, err))
	}
	var row checkpointRow
	if err := db.Where("name = ?", projector).Take(&row).Error; err != nil {
		return 0, fmt.Errorf("read checkpoint %s: %w", projector, translate(ctx, err))
	}
	return row.Position, nil
}

// Project implements ports.ProjectionStore. The checkpoint moves first: on
// PostgreSQL that row lock queues a concurrent projector, which then finds
// the checkpoint moved and applies nothing.
func (m *ReadModel) Project(ctx context.Context, projector string, from, to int64, apply func(ports.InvoiceProjectionTx) error) error {
	return translate(ctx, m.project(ctx, projector, from, to, apply))
}

func (m *ReadModel) project(ctx context.Context, projector string, from, to int64, apply func(ports.InvoiceProjectionTx) error) error {
	if m.pg {
		return m.pgProject(ctx, projector, from, to, apply)
	}
	return m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&checkpointRow{}).
			Where("name = ? AND position = ?", projector, from).
			Updates(map[string]any{"position": to, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("advance checkpoint %s to %d: %w", projector, to, res.Error)
		}
		if res.RowsAffected != 1 {
			return fmt.Errorf("checkpoint %s is no longer at %d: %w", projector, from, ports.ErrConcurrencyConflict)
		}
		ptx := &projectionTx{tx: tx, ctx: ctx}
		if err := apply(ptx); err != nil {
			return err
		}
		return ptx.flush()
	})
}

// pgProject is project on PostgreSQL in two round trips instead of five:
// apply only buffers, so pgx sends BEGIN, the checkpoint's compare-and-set
// and the batch's INSERT and UPDATE as one pipeline, and COMMIT once their
// results show the checkpoint was still at from and every paid row matched
// (ROLLBACK otherwise). The checkpoint still moves first, so a concurrent
// projector queues on its row lock and then finds it moved.
func (m *ReadModel) pgProject(ctx context.Context, projector string, from, to int64, apply func(ports.InvoiceProjectionTx) error) error {
	ptx := &projectionTx{ctx: ctx}
	if err := apply(ptx); err != nil {
		return err
	}
	return withPgx(ctx, m.pool, func(c *pgx.Conn) (err error) {
		defer rollbackOnError(c, &err)
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(`UPDATE projection_checkpoints SET position = $1, updated_at = $2 WHERE name = $3 AND position = $4`,
			to, time.Now().UTC(), projector, from)
		if len(ptx.pending) > 0 {
			q, args := pgInsertInvoicesStmt("invoices", ptx.pending)
			b.Queue(q, args...)
		}
		if len(ptx.paid) > 0 {
			q, args := pgMarkPaidStmt("invoices", ptx.paid)
			b.Queue(q, args...)
		}
		err = runBatch(ctx, c, b, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			ct, err := br.Exec()
			if err != nil {
				return fmt.Errorf("advance checkpoint %s to %d: %w", projector, to, err)
			}
			if ct.RowsAffected() != 1 {
				return fmt.Errorf("checkpoint %s is no longer at %d: %w", projector, from, ports.ErrConcurrencyConflict)
			}
			if len(ptx.pending) > 0 {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("insert %d invoices (first %s): %w", len(ptx.pending), ptx.pending[0].ID, err)
				}
			}
			if len(ptx.paid) > 0 {
				ct, err := br.Exec()
				if err != nil {
					return fmt.Errorf("mark %d invoices paid (first %s): %w", len(ptx.paid), ptx.paid[0].ID, err)
				}
				if ct.RowsAffected() != int64(len(ptx.paid)) {
					return fmt.Errorf("mark %d invoices paid (first %s): only %d rows were at the version before their event",
						len(ptx.paid), ptx.paid[0].ID, ct.RowsAffected())
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, "COMMIT")
		return err
	})
}

// projectionTx buffers the batch's changes and writes them with one
// multi-row INSERT and one set-based UPDATE: when commands arrive together,
// the projector applies them as one batch, and two statements instead of one
// per event keep its transaction short. Each invoice's own changes keep
// their event order (its insert precedes its update), which is the only
// order the rows depend on.
type projectionTx struct {
	tx      *gorm.DB
	ctx     context.Context
	pending []ports.InvoiceView
	paid    []ports.InvoicePayment
	paidIDs map[string]bool
}

func (p *projectionTx) InsertInvoice(_ context.Context, v ports.InvoiceView) error {
	p.pending = append(p.pending, v)
	return nil
}

// flush writes the buffered changes on SQLite (pgProject sends them on
// PostgreSQL): new rows first, so an invoice created and paid in one batch
// exists before its update.
func (p *projectionTx) flush() error {
	if err := p.flushInserts(); err != nil {
		return err
	}
	return p.flushPaid()
}

// sqliteProjectChunk is the rows per live-projection INSERT on SQLite. Its
// driver matches each placeholder against every argument (quadratic in the
// statement's size: 43% of a 500-row batch's CPU), so it gets small
// statements; PostgreSQL gets one unnest INSERT per batch (pgProject).
const sqliteProjectChunk = 50

func (p *projectionTx) flushInserts() error {
	if len(p.pending) == 0 {
		return nil
	}
	views := p.pending
	p.pending = nil
	rows := make([]invoiceRow, len(views))
	for i, v := range views {
		rows[i] = newInvoiceRow(v)
	}
	if err := p.tx.WithContext(p.ctx).CreateInBatches(&rows, sqliteProjectChunk).Error; err != nil {
		return fmt.Errorf("insert %d invoices (first %s): %w", len(views), views[0].ID, err)
	}
	return nil
}

func (p *projectionTx) MarkInvoicePaid(_ context.Context, id string, version int, paidAt time.Time) error {
	if p.paidIDs[id] {
		// A second pay of one invoice in a batch cannot happen (the event
		// store allows one invoice.paid per stream); refuse rather than let
		// the set-based update below apply only one of them.
		return fmt.Errorf("mark invoice %s paid: paid twice in one batch", id)
	}
	if p.paidIDs == nil {
		p.paidIDs = make(map[string]bool)
	}
	p.paidIDs[id] = true
	p.paid = append(p.paid, ports.InvoicePayment{ID: id, FromVersion: version - 1, Version: version, PaidAt: paidAt})
	return nil
}

// flushPaid marks the buffered invoices paid with one statement, each only
// if its row is at the version before its event, and fails unless every one
// of them was.
func (p *projectionTx) flushPaid() error {
	if len(p.paid) == 0 {
		return nil
	}
	updates := p.paid
	p.paid, p.paidIDs = nil, nil
	// SQLite compares as stored, and plans per statement.
	var sql strings.Builder
	sql.WriteString("WITH v(id, from_version, version, paid_at) AS (VALUES ")
	var args []any
	for i, u := range updates {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString("(?, ?, ?, ?)")
		args = append(args, uuidText(u.ID), u.FromVersion, u.Version, u.PaidAt)
	}
	sql.WriteString(") UPDATE invoices SET status = ?, paid_at = v.paid_at, updated_at = v.paid_at, version = v.version" +
		" FROM v WHERE invoices.id = v.id AND invoices.version = v.from_version")
	args = append(args, string(invoice.StatusPaid))
	res := p.tx.WithContext(p.ctx).Exec(sql.String(), args...)
	if res.Error != nil {
		return fmt.Errorf("mark %d invoices paid (first %s): %w", len(updates), updates[0].ID, res.Error)
	}
	if matched := res.RowsAffected; matched != int64(len(updates)) {
		return fmt.Errorf("mark %d invoices paid (first %s): only %d rows were at the version before their event",
			len(updates), updates[0].ID, matched)
	}
	return nil
}

// newInvoiceRow is the row of an invoice view.
func newInvoiceRow(v ports.InvoiceView) invoiceRow {
	return invoiceRow{
		ID:         uuidText(v.ID),
		Seq:        v.Seq,
		CustomerID: v.CustomerID,
		Amount:     amountText(v.Amount),
		Status:     string(v.Status),
		Version:    v.Version,
		CreatedAt:  v.CreatedAt,
		UpdatedAt:  v.UpdatedAt,
		PaidAt:     v.PaidAt,
	}
}

func (r invoiceRow) view() ports.InvoiceView {
	v := ports.InvoiceView{
		ID:         string(r.ID),
		CustomerID: r.CustomerID,
		Amount:     invoice.Amount(r.Amount),
		Status:     invoice.Status(r.Status),
		Version:    r.Version,
		Seq:        r.Seq,
		CreatedAt:  r.CreatedAt.UTC(),
		UpdatedAt:  r.UpdatedAt.UTC(),
	}
	if r.PaidAt != nil {
		t := r.PaidAt.UTC()
		v.PaidAt = &t
	}
	return v
}
