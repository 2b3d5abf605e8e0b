package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
}

var (
	_ ports.InvoiceReader   = (*ReadModel)(nil)
	_ ports.ProjectionStore = (*ReadModel)(nil)
)

// NewReadModel migrates the read-model schema on db and returns the store.
func NewReadModel(ctx context.Context, db *gorm.DB) (*ReadModel, error) {
	if err := db.WithContext(ctx).AutoMigrate(&invoiceRow{}, &checkpointRow{}); err != nil {
		return nil, fmt.Errorf("migrate read model: %w", err)
	}
	return &ReadModel{db: db}, nil
}

// GetInvoice implements ports.InvoiceReader.
func (m *ReadModel) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	var row invoiceRow
	err := m.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.InvoiceView{}, fmt.Errorf("get invoice %s: %w", id, translate(ctx, err))
	}
	return row.view(), nil
}

// ListInvoices implements ports.InvoiceReader with keyset pagination on the
// unique seq index: no OFFSET, no COUNT(*).
func (m *ReadModel) ListInvoices(ctx context.Context, p ports.ListParams) ([]ports.InvoiceView, error) {
	q := m.db.WithContext(ctx).Order("seq DESC").Limit(p.Limit)
	if p.BeforeSeq > 0 {
		q = q.Where("seq < ?", p.BeforeSeq)
	}
	var rows []invoiceRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list invoices: %w", translate(ctx, err))
	}
	out := make([]ports.InvoiceView, len(rows))
	for i := range rows {
		out[i] = rows[i].view()
	}
	return out, nil
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
		return apply(projectionTx{tx})
	})
}

type projectionTx struct{ tx *gorm.DB }

func (p projectionTx) InsertInvoice(ctx context.Context, v ports.InvoiceView) error {
	row := invoiceRow{
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
	if err := p.tx.WithContext(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("insert invoice %s: %w", v.ID, err)
	}
	return nil
}

func (p projectionTx) MarkInvoicePaid(ctx context.Context, id string, version int, paidAt time.Time) error {
	res := p.tx.WithContext(ctx).Model(&invoiceRow{}).
		Where("id = ? AND version = ?", id, version-1).
		Updates(map[string]any{
			"status":     string(invoice.StatusPaid),
			"paid_at":    paidAt,
			"updated_at": paidAt,
			"version":    version,
		})
	if res.Error != nil {
		return fmt.Errorf("mark invoice %s paid: %w", id, res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("mark invoice %s paid: no row at version %d", id, version-1)
	}
	return nil
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
