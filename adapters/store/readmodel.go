package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"invoices/domain/invoice"
	"invoices/ports"
)

// ReadModel is the invoice read model and projection checkpoint store on
// any engine.
type ReadModel struct {
	db      *gorm.DB
	writer  Writer
	queries InvoiceQueries // nil: GORM
}

var (
	_ ports.InvoiceReader      = (*ReadModel)(nil)
	_ ports.ProjectionStore    = (*ReadModel)(nil)
	_ ports.ReadModelRebuilder = (*ReadModel)(nil)
)

// NewReadModel migrates the read-model schema on db and returns the store
// on engine e.
func NewReadModel(ctx context.Context, e Engine, db *gorm.DB) (*ReadModel, error) {
	if err := migrateReadModel(ctx, db, e); err != nil {
		return nil, err
	}
	w, err := e.NewWriter(db)
	if err != nil {
		return nil, err
	}
	m := &ReadModel{db: db, writer: w}
	if q, ok := w.(InvoiceQueries); ok {
		m.queries = q
	}
	return m, nil
}

// GetInvoice implements ports.InvoiceReader.
func (m *ReadModel) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	var v ports.InvoiceView
	var err error
	if m.queries != nil {
		v, err = m.queries.GetInvoice(ctx, id)
	} else {
		var row InvoiceRow
		err = m.db.WithContext(ctx).Where("id = ?", UUID(id)).Take(&row).Error
		v = row.View()
	}
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, ports.ErrNotFound) {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.InvoiceView{}, fmt.Errorf("get invoice %s: %w", id, Translate(ctx, err))
	}
	return v, nil
}

// ListInvoices implements ports.InvoiceReader with keyset pagination on the
// unique seq index: no OFFSET, no COUNT(*).
func (m *ReadModel) ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	var out []ports.InvoiceView
	var err error
	if m.queries != nil {
		out, err = m.queries.ListInvoices(ctx, p)
	} else {
		out, err = m.listGORM(ctx, p)
	}
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", Translate(ctx, err))
	}
	return out, nil
}

func (m *ReadModel) listGORM(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	q := m.db.WithContext(ctx).Order("seq DESC").Limit(p.Limit)
	if p.BeforeSeq > 0 {
		q = q.Where("seq < ?", p.BeforeSeq)
	}
	var rows []InvoiceRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]ports.InvoiceView, len(rows))
	for i, r := range rows {
		out[i] = r.View()
	}
	return out, nil
}

// Ping implements ports.InvoiceReader.
func (m *ReadModel) Ping(ctx context.Context) error { return Translate(ctx, ping(ctx, m.db)) }

// DB returns the store's database handle, for pool statistics.
func (m *ReadModel) DB() *gorm.DB { return m.db }

// Checkpoint implements ports.ProjectionStore.
func (m *ReadModel) Checkpoint(ctx context.Context, projector string) (int64, error) {
	db := m.db.WithContext(ctx)
	if err := seedCheckpoint(db, projector); err != nil {
		return 0, Translate(ctx, err)
	}
	var row CheckpointRow
	if err := db.Where("name = ?", projector).Take(&row).Error; err != nil {
		return 0, fmt.Errorf("read checkpoint %s: %w", projector, Translate(ctx, err))
	}
	return row.Position, nil
}

// seedCheckpoint creates projector's checkpoint at 0 unless it exists.
func seedCheckpoint(db *gorm.DB, projector string) error {
	seed := `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 0, ?) ON CONFLICT (name) DO NOTHING`
	if err := db.Exec(seed, projector, time.Now().UTC()).Error; err != nil {
		return fmt.Errorf("create checkpoint %s: %w", projector, err)
	}
	return nil
}

// Project implements ports.ProjectionStore.
func (m *ReadModel) Project(ctx context.Context, projector string, from, to int64, c ports.InvoiceChanges) error {
	if p, ok := m.writer.(Projector); ok {
		err := p.Project(ctx, projector, from, to, c)
		if !errors.Is(err, ErrUnmatchedPayments) {
			return Translate(ctx, err)
		}
	}
	err := m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return m.apply(tx, projector, "invoices", from, to, c)
	})
	return Translate(ctx, err)
}

// apply moves checkpoint from from to to and writes c into table, inside
// tx. The checkpoint moves first: where rows lock, a concurrent projector
// queues on its row and then finds it moved.
func (m *ReadModel) apply(tx *gorm.DB, checkpoint, table string, from, to int64, c ports.InvoiceChanges) error {
	if err := advanceCheckpoint(tx, checkpoint, from, to); err != nil {
		return err
	}
	return m.writer.WriteChanges(tx, table, c)
}

// advanceCheckpoint moves checkpoint from from to to inside tx, or fails
// with ports.ErrConcurrencyConflict if it is no longer at from.
func advanceCheckpoint(tx *gorm.DB, checkpoint string, from, to int64) error {
	res := tx.Model(&CheckpointRow{}).
		Where("name = ? AND position = ?", checkpoint, from).
		Updates(map[string]any{"position": to, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("advance checkpoint %s to %d: %w", checkpoint, to, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("checkpoint %s is no longer at %d: %w", checkpoint, from, ports.ErrConcurrencyConflict)
	}
	return nil
}

// UnmatchedPayment is the error for a set of payments of which only matched
// rows of table were at their FromVersion: it names the first payment whose
// row is not at its Version now, as the event that could not be applied.
// Engines call it, inside the same transaction, after a set-based update
// matched fewer rows than payments.
func UnmatchedPayment(tx *gorm.DB, table string, payments []ports.InvoicePayment, matched int64) error {
	for _, p := range payments {
		var n int64
		if err := tx.Table(table).Where("id = ? AND version = ?", UUID(p.ID), p.Version).Count(&n).Error; err != nil {
			return fmt.Errorf("mark %d invoices paid: %w", len(payments), err)
		}
		if n != 1 {
			return fmt.Errorf("event at position %d: mark invoice %s paid: no row at version %d", p.Position, p.ID, p.FromVersion)
		}
	}
	return fmt.Errorf("mark %d invoices paid: %d rows matched", len(payments), matched)
}

// PaidStatus is the status a payment sets.
const PaidStatus = string(invoice.StatusPaid)
