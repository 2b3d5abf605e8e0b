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
// them, with the amount in ten-thousandths, which numeric(16,4) holds
// exactly: pgx then scans an int64 instead of formatting a numeric as text
// to parse back.
const invoiceColumns = "id, seq, customer_id, (amount * 10000)::bigint, currency, due_date, status, version, created_at, updated_at, paid_at, voided_at, void_reason"

// The hot reads (GET /invoices/{id} and GET /invoices) are scanned by pgx
// into reused destinations, not by GORM's reflective scan.
const (
	getSQL  = "SELECT " + invoiceColumns + " FROM invoices WHERE id = $1"
	listSQL = "SELECT " + invoiceColumns + " FROM invoices"
)

// invoiceScanner reads rows selected with invoiceColumns into reused
// destinations: scanning into fresh locals moves them to the heap on every
// row.
type invoiceScanner struct {
	v        ports.InvoiceView
	units    int64
	currency string
	due      *time.Time
	status   string
	reason   *string
	dest     []any
	// last caches the last currency parsed: a page is mostly one.
	last invoice.Currency
}

func newInvoiceScanner() *invoiceScanner {
	s := &invoiceScanner{}
	s.dest = []any{&s.v.ID, &s.v.Seq, &s.v.CustomerID, &s.units, &s.currency, &s.due, &s.status, &s.v.Version,
		&s.v.CreatedAt, &s.v.UpdatedAt, &s.v.PaidAt, &s.v.VoidedAt, &s.reason}
	return s
}

func (s *invoiceScanner) scan(row pgx.Row) (ports.InvoiceView, error) {
	s.v.PaidAt, s.v.VoidedAt, s.due, s.reason = nil, nil, nil, nil
	if err := row.Scan(s.dest...); err != nil {
		return ports.InvoiceView{}, err
	}
	v := s.v
	if s.last.Code() != s.currency {
		cur, err := invoice.StoredCurrency(s.currency)
		if err != nil {
			return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", v.ID, err)
		}
		s.last = cur
	}
	v.Amount, v.Currency, v.Status = invoice.Amount(s.units), s.last, invoice.Status(s.status)
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	// pgx allocated the pointers for this row.
	if v.PaidAt != nil {
		*v.PaidAt = v.PaidAt.UTC()
	}
	if v.VoidedAt != nil {
		*v.VoidedAt = v.VoidedAt.UTC()
	}
	if s.due != nil {
		v.DueDate = invoice.DateOf(*s.due)
	}
	if s.reason != nil {
		v.VoidReason = *s.reason
	}
	return v, nil
}

// listQuery is the SELECT of one page of p, with its arguments.
func listQuery(p ports.ListParams) (string, []any) {
	var q strings.Builder
	q.WriteString(listSQL)
	var args []any
	where := func(cond string, arg any) {
		if len(args) == 0 {
			q.WriteString(" WHERE ")
		} else {
			q.WriteString(" AND ")
		}
		args = append(args, arg)
		q.WriteString(strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if p.BeforeSeq > 0 {
		where("seq < ?", p.BeforeSeq)
	}
	for _, c := range store.FilterConditions(p.Filter) {
		if c.Op == "IN" {
			where(c.Column+" = ANY(?)", c.Arg)
		} else {
			where(c.Column+" "+c.Op+" ?", c.Arg)
		}
	}
	args = append(args, p.Limit)
	q.WriteString(" ORDER BY seq DESC LIMIT $" + strconv.Itoa(len(args)))
	return q.String(), args
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
	query, args := listQuery(p)
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
		if len(c.Updates) > 0 {
			q, args := updateStmt("invoices", c.Updates)
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
			if len(c.Updates) > 0 {
				ct, err := br.Exec()
				if err != nil {
					return fmt.Errorf("update %d invoices (first %s): %w", len(c.Updates), c.Updates[0].ID, err)
				}
				matched = ct.RowsAffected()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if matched != int64(len(c.Updates)) {
			return store.ErrUnmatchedUpdates // rolled back; see store.Projector
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
	return store.UpdateRows(tx, table, c.Updates, func() (int64, error) {
		q, args := updateStmt(table, c.Updates)
		res, err := conn.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("update %d invoices: %w", len(c.Updates), err)
		}
		return res.RowsAffected()
	})
}

// insertInvoicesStmt is one INSERT ... SELECT FROM unnest(...) of views
// into table, one array literal per column: the same short statement text
// for any number of rows, so pgx prepares it once per connection.
func insertInvoicesStmt(table string, views []ports.InvoiceView) (string, []any) {
	var id, seq, customer, amount, currency, due, status, version, created, updated, paid, voided, reason pgArray
	for _, v := range views {
		id.add(v.ID)
		seq.add(strconv.FormatInt(v.Seq, 10))
		customer.add(v.CustomerID)
		amount.add(v.Amount.String())
		currency.add(v.Currency.Code())
		if v.DueDate.IsZero() {
			due.addNull()
		} else {
			t := v.DueDate.Time()
			due.addTime(&t)
		}
		status.add(string(v.Status))
		version.add(strconv.Itoa(v.Version))
		created.addTime(&v.CreatedAt)
		updated.addTime(&v.UpdatedAt)
		paid.addTime(v.PaidAt)
		voided.addTime(v.VoidedAt)
		if v.VoidReason == "" {
			reason.addNull()
		} else {
			reason.add(v.VoidReason)
		}
	}
	q := `INSERT INTO ` + quoteTable(table) + ` (id, seq, customer_id, amount, currency, due_date, status, version,
			created_at, updated_at, paid_at, voided_at, void_reason)
		SELECT * FROM unnest($1::text::uuid[], $2::text::bigint[], $3::text::text[], $4::text::numeric[], $5::text::text[],
			$6::text::timestamptz[], $7::text::text[], $8::text::bigint[], $9::text::timestamptz[], $10::text::timestamptz[],
			$11::text::timestamptz[], $12::text::timestamptz[], $13::text::text[])`
	return q, []any{id.String(), seq.String(), customer.String(), amount.String(), currency.String(), due.String(),
		status.String(), version.String(), created.String(), updated.String(), paid.String(), voided.String(), reason.String()}
}

// updateStmt applies each update to its invoice's row in table, only if
// the row is at the update's FromVersion, with one UPDATE ... FROM
// unnest(...); a NULL timestamp or reason keeps the row's value. The
// statement text is the same for any number of updates, so PostgreSQL
// plans it once per connection as an index join (a VALUES list gets one
// prepared statement per length, each planned for the table's size when
// first seen: a hash join over a sequential scan while the read model is
// small, kept as it grows).
func updateStmt(table string, updates []ports.InvoiceUpdate) (string, []any) {
	var id, from, version, status, updated, paid, voided, reason pgArray
	for _, u := range updates {
		id.add(u.ID)
		from.add(strconv.Itoa(u.FromVersion))
		version.add(strconv.Itoa(u.Version))
		status.add(string(u.Status))
		updated.addTime(&u.UpdatedAt)
		paid.addTime(u.PaidAt)
		voided.addTime(u.VoidedAt)
		if u.VoidReason == nil {
			reason.addNull()
		} else {
			reason.add(*u.VoidReason)
		}
	}
	q := `UPDATE ` + quoteTable(table) + ` AS t SET status = v.status, version = v.version, updated_at = v.updated_at,
			paid_at = COALESCE(v.paid_at, t.paid_at), voided_at = COALESCE(v.voided_at, t.voided_at),
			void_reason = COALESCE(v.void_reason, t.void_reason)
		FROM unnest($1::text::uuid[], $2::text::bigint[], $3::text::bigint[], $4::text::text[], $5::text::timestamptz[],
			$6::text::timestamptz[], $7::text::timestamptz[], $8::text::text[])
			AS v(id, from_version, version, status, updated_at, paid_at, voided_at, void_reason)
		WHERE t.id = v.id AND t.version = v.from_version`
	return q, []any{id.String(), from.String(), version.String(), status.String(), updated.String(),
		paid.String(), voided.String(), reason.String()}
}

// quoteTable quotes a table name, schema-qualified or not.
func quoteTable(name string) string { return pgx.Identifier(strings.Split(name, ".")).Sanitize() }
