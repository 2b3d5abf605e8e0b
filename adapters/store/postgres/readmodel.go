package postgres

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

	"invoices/adapters/store"
	"invoices/domain/invoice"
	"invoices/ports"
)

// writer is the read-model side of the engine.
type writer struct {
	pool *sql.DB
}

var (
	_ store.Writer         = (*writer)(nil)
	_ store.Projector      = (*writer)(nil)
	_ store.InvoiceQueries = (*writer)(nil)
)

func newWriter(pool *sql.DB) *writer { return &writer{pool: pool} }

// invoiceColumns are the invoice columns in the order invoiceScanner reads
// them, with the amount in cents, which numeric(14,2) holds exactly: pgx
// then scans an int64 instead of formatting a numeric as text to parse back.
const invoiceColumns = "id, seq, customer_id, (amount * 100)::bigint, status, version, created_at, updated_at, paid_at"

// The hot reads (GET /invoices/{id} and GET /invoices) are scanned by pgx
// into reused destinations, not by GORM's reflective scan.
const (
	getSQL    = "SELECT " + invoiceColumns + " FROM invoices WHERE id = $1"
	listSQL   = "SELECT " + invoiceColumns + " FROM invoices ORDER BY seq DESC LIMIT $1"
	beforeSQL = "SELECT " + invoiceColumns + " FROM invoices WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
)

// invoiceScanner reads rows selected with invoiceColumns into reused
// destinations: scanning into fresh locals moves them to the heap on every
// row.
type invoiceScanner struct {
	v      ports.InvoiceView
	cents  int64
	status string
	dest   []any
}

func newInvoiceScanner() *invoiceScanner {
	s := &invoiceScanner{}
	s.dest = []any{&s.v.ID, &s.v.Seq, &s.v.CustomerID, &s.cents, &s.status, &s.v.Version, &s.v.CreatedAt, &s.v.UpdatedAt, &s.v.PaidAt}
	return s
}

func (s *invoiceScanner) scan(row pgx.Row) (ports.InvoiceView, error) {
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

// GetInvoice implements store.InvoiceQueries.
func (w *writer) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	u, err := pgUUID(id)
	if err != nil {
		return ports.InvoiceView{}, ports.ErrNotFound // no invoice has a malformed id
	}
	var v ports.InvoiceView
	err = withPgx(ctx, w.pool, func(c *pgx.Conn) error {
		v, err = newInvoiceScanner().scan(c.QueryRow(ctx, getSQL, u))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return ports.InvoiceView{}, ports.ErrNotFound
	}
	return v, err
}

// ListInvoices implements store.InvoiceQueries.
func (w *writer) ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	query, args := listSQL, []any{p.Limit}
	if p.BeforeSeq > 0 {
		query, args = beforeSQL, []any{p.BeforeSeq, p.Limit}
	}
	// Sized for a page, not for whatever limit a caller passes.
	out := make([]ports.InvoiceView, 0, min(max(p.Limit, 0), 1024))
	err := withPgx(ctx, w.pool, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		sc := newInvoiceScanner()
		for rows.Next() {
			v, err := sc.scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	return out, err
}

// Project implements store.Projector in two round trips: pgx sends BEGIN,
// the checkpoint's compare-and-set and the batch's INSERT and UPDATE as one
// pipeline, and COMMIT once their results show the checkpoint was still at
// from and every paid row matched (ROLLBACK otherwise). GORM cannot
// pipeline. The checkpoint still moves first, so a concurrent projector
// queues on its row lock and then finds it moved.
func (w *writer) Project(ctx context.Context, projector string, from, to int64, c ports.InvoiceChanges) error {
	return withPgx(ctx, w.pool, func(conn *pgx.Conn) (err error) {
		defer rollbackOnError(conn, &err)
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		b.Queue(`UPDATE projection_checkpoints SET position = $1, updated_at = $2 WHERE name = $3 AND position = $4`,
			to, time.Now().UTC(), projector, from)
		if len(c.Inserts) > 0 {
			q, args := insertInvoicesStmt("invoices", c.Inserts)
			b.Queue(q, args...)
		}
		if len(c.Payments) > 0 {
			q, args := markPaidStmt("invoices", c.Payments)
			b.Queue(q, args...)
		}
		var matched int64
		err = runBatch(ctx, conn, b, func(br pgx.BatchResults) error {
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
			if len(c.Inserts) > 0 {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("insert %d invoices (first %s): %w", len(c.Inserts), c.Inserts[0].ID, err)
				}
			}
			if len(c.Payments) > 0 {
				ct, err := br.Exec()
				if err != nil {
					return fmt.Errorf("mark %d invoices paid (first %s): %w", len(c.Payments), c.Payments[0].ID, err)
				}
				matched = ct.RowsAffected()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if matched != int64(len(c.Payments)) {
			return store.ErrUnmatchedPayments // rolled back; see store.Projector
		}
		_, err = conn.Exec(ctx, "COMMIT")
		return err
	})
}

// WriteChanges implements store.Writer for a rebuild's batches, on tx's
// connection: one INSERT and one UPDATE whose parameters are one array
// literal per column, instead of tens of thousands of bound parameters.
func (w *writer) WriteChanges(tx *gorm.DB, table string, c ports.InvoiceChanges) error {
	conn, ctx := tx.Statement.ConnPool, tx.Statement.Context
	if len(c.Inserts) > 0 {
		q, args := insertInvoicesStmt(table, c.Inserts)
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert %d invoices: %w", len(c.Inserts), err)
		}
	}
	if len(c.Payments) == 0 {
		return nil
	}
	q, args := markPaidStmt(table, c.Payments)
	res, err := conn.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("mark %d invoices paid: %w", len(c.Payments), err)
	}
	matched, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if matched != int64(len(c.Payments)) {
		return store.UnmatchedPayment(tx, table, c.Payments, matched)
	}
	return nil
}

// insertInvoicesStmt is one INSERT ... SELECT FROM unnest(...) of views
// into table, one array literal per column: the same short statement text
// for any number of rows, so pgx prepares it once per connection.
func insertInvoicesStmt(table string, views []ports.InvoiceView) (string, []any) {
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
	q := `INSERT INTO ` + quoteTable(table) + ` (id, seq, customer_id, amount, status, version, created_at, updated_at, paid_at)
		SELECT * FROM unnest($1::text::uuid[], $2::text::bigint[], $3::text::text[], $4::text::numeric[], $5::text::text[],
			$6::text::bigint[], $7::text::timestamptz[], $8::text::timestamptz[], $9::text::timestamptz[])`
	return q, []any{id.String(), seq.String(), customer.String(), amount.String(),
		status.String(), version.String(), created.String(), updated.String(), paid.String()}
}

// markPaidStmt marks each payment's invoice paid, only if its row in table
// is at the payment's FromVersion, with one UPDATE ... FROM unnest(...). The
// statement text is the same for any number of payments, so PostgreSQL
// plans it once per connection as an index join (a VALUES list gets one
// prepared statement per length, each planned for the table's size when
// first seen: a hash join over a sequential scan while the read model is
// small, kept as it grows).
func markPaidStmt(table string, payments []ports.InvoicePayment) (string, []any) {
	var id, from, version, paidAt pgArray
	for _, p := range payments {
		id.add(p.ID)
		from.add(strconv.Itoa(p.FromVersion))
		version.add(strconv.Itoa(p.Version))
		paidAt.addTime(&p.PaidAt)
	}
	q := `UPDATE ` + quoteTable(table) + ` AS t SET status = $1, version = v.version, paid_at = v.paid_at, updated_at = v.paid_at
		FROM unnest($2::text::uuid[], $3::text::bigint[], $4::text::bigint[], $5::text::timestamptz[]) AS v(id, from_version, version, paid_at)
		WHERE t.id = v.id AND t.version = v.from_version`
	return q, []any{store.PaidStatus, id.String(), from.String(), version.String(), paidAt.String()}
}

// quoteTable quotes a table name, schema-qualified or not.
func quoteTable(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }
