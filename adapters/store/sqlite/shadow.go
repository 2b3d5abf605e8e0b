package sqlite

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"invoices/adapters/store"
)

// SQLite has no schemas within one file and cannot rename an index, so a
// rebuilt table is invoices_rebuild (its primary-key index is renamed with
// it), and the swap creates the seq index after renaming it to invoices.
const rebuildTable = "invoices_rebuild"

type shadow struct{}

var _ store.Shadow = shadow{}

// Shadow implements store.Writer.
func (writer) Shadow() store.Shadow { return shadow{} }

func (shadow) Table() string { return rebuildTable }

// Lock has nothing to hold: two rebuilds of one SQLite file at once drop
// each other's tables, find their checkpoints gone and both fail, leaving
// the live model as it was.
func (shadow) Lock(context.Context, *gorm.DB, string) (func(), error) { return func() {}, nil }

func (shadow) Create(tx *gorm.DB) error {
	return tx.Table(rebuildTable).Migrator().CreateTable(store.UnindexedInvoiceRow())
}

func (shadow) Drop(tx *gorm.DB) error {
	return tx.Exec("DROP TABLE IF EXISTS ?", clause.Table{Name: rebuildTable}).Error
}

// BulkTx, BeforeSwap and SwapTx have nothing to prepare.
func (shadow) BulkTx(*gorm.DB) error                      { return nil }
func (shadow) BeforeSwap(context.Context, *gorm.DB) error { return nil }
func (shadow) SwapTx(*gorm.DB) error                      { return nil }

// LockCheckpoint adds nothing: the swap's IMMEDIATE transaction holds the
// database's write lock already.
func (shadow) LockCheckpoint(q *gorm.DB) *gorm.DB { return q }

// ReplaceLive drops the live table, renames the fresh one into its place
// and creates its indexes, whose names the live table's indexes held.
func (shadow) ReplaceLive(tx *gorm.DB) error {
	if err := tx.Exec("DROP TABLE invoices").Error; err != nil {
		return fmt.Errorf("drop live invoices: %w", err)
	}
	if err := tx.Exec("ALTER TABLE ? RENAME TO invoices", clause.Table{Name: rebuildTable}).Error; err != nil {
		return fmt.Errorf("rename rebuilt invoices: %w", err)
	}
	for _, name := range store.InvoiceIndexes {
		if err := tx.Migrator().CreateIndex(&store.InvoiceRow{}, name); err != nil {
			return fmt.Errorf("index invoices %s: %w", name, err)
		}
	}
	return nil
}

// Retryable is false: nothing in a swap waits with a timeout here.
func (shadow) Retryable(error) bool { return false }
