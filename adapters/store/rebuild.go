package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"invoices/ports"
)

// A rebuild builds a fresh invoice table beside the live one (the engine's
// Shadow says where and how) and swaps it in with one transaction, so
// readers see the old table until the new one is complete. The fresh table
// starts without its secondary index, which is built once after the bulk
// load rather than maintained row by row during it.

// rebuildCheckpointSuffix names the rebuild's own checkpoint row, moved with
// every batch it writes: projector "invoices" is rebuilt under checkpoint
// "invoices.rebuild".
const rebuildCheckpointSuffix = ".rebuild"

// swapAttempts bounds the swap transactions tried when one fails with an
// error the engine calls retryable.
const swapAttempts = 3

var _ ports.InvoiceRebuild = (*Rebuild)(nil)

// Rebuild is a fresh invoice read model being built beside the live one by
// ReadModel.StartRebuild. Its methods must not be called concurrently.
type Rebuild struct {
	m          *ReadModel
	shadow     Shadow
	projector  string
	checkpoint string // the rebuild's own checkpoint row
	pos        int64
	release    func() // ends the engine's exclusive lock
	ended      bool   // swapped in or discarded
}

// StartRebuild implements ports.ReadModelRebuilder.
func (m *ReadModel) StartRebuild(ctx context.Context, projector string) (ports.InvoiceRebuild, error) {
	shadow := m.writer.Shadow()
	release, err := shadow.Lock(ctx, m.db, projector)
	if err != nil {
		return nil, Translate(ctx, err)
	}
	r := &Rebuild{
		m:          m,
		shadow:     shadow,
		projector:  projector,
		checkpoint: projector + rebuildCheckpointSuffix,
		release:    release,
	}
	if err := r.create(ctx); err != nil {
		r.release()
		return nil, Translate(ctx, err)
	}
	return r, nil
}

// create drops whatever an interrupted rebuild left and creates the empty
// table and the rebuild's checkpoint at 0.
func (r *Rebuild) create(ctx context.Context) error {
	return r.m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := r.drop(tx); err != nil {
			return err
		}
		if err := r.shadow.Create(tx); err != nil {
			return fmt.Errorf("create %s: %w", r.shadow.Table(), err)
		}
		seed := `INSERT INTO projection_checkpoints (name, position, updated_at) VALUES (?, 0, ?)`
		if err := tx.Exec(seed, r.checkpoint, time.Now().UTC()).Error; err != nil {
			return fmt.Errorf("create checkpoint %s: %w", r.checkpoint, err)
		}
		return nil
	})
}

// drop removes the fresh table and the rebuild's checkpoint, if any.
func (r *Rebuild) drop(tx *gorm.DB) error {
	if err := r.shadow.Drop(tx); err != nil {
		return fmt.Errorf("drop %s: %w", r.shadow.Table(), err)
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
	err := r.m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := r.shadow.BulkTx(tx); err != nil {
			return err
		}
		return r.applyTx(tx, from, to, c)
	})
	if err != nil {
		return Translate(ctx, err)
	}
	r.pos = to
	return nil
}

// applyTx writes a batch into the fresh table and moves the rebuild's
// checkpoint inside tx.
func (r *Rebuild) applyTx(tx *gorm.DB, from, to int64, c ports.InvoiceChanges) error {
	err := r.m.apply(tx, r.checkpoint, r.shadow.Table(), from, to, c)
	if errors.Is(err, ports.ErrConcurrencyConflict) {
		return fmt.Errorf("%w (another rebuild of this read database?)", err)
	}
	return err
}

// Swap implements ports.InvoiceRebuild.
func (r *Rebuild) Swap(ctx context.Context, catchUp func(ctx context.Context, live int64, w ports.RebuildWriter) error) (int64, error) {
	if r.ended {
		return 0, errors.New("swap a rebuild that has ended")
	}
	if err := r.shadow.BeforeSwap(ctx, r.m.db); err != nil {
		return 0, Translate(ctx, err)
	}
	var w *swapWriter
	var err error
	for attempt := 1; attempt <= swapAttempts; attempt++ {
		w = &swapWriter{r: r, pos: r.pos}
		err = r.swapTx(ctx, w, catchUp)
		if err == nil || !r.shadow.Retryable(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return 0, Translate(ctx, err)
	}
	r.pos, r.ended = w.pos, true
	r.m.current.Store(true)
	r.release()
	return r.pos, nil
}

// swapTx is one attempt at the swap transaction.
func (r *Rebuild) swapTx(ctx context.Context, w *swapWriter, catchUp func(ctx context.Context, live int64, w ports.RebuildWriter) error) error {
	return r.m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		w.tx = tx
		if err := r.shadow.SwapTx(tx); err != nil {
			return err
		}
		live, err := r.lockCheckpoint(tx)
		if err != nil {
			return err
		}
		if err := catchUp(ctx, live, w); err != nil {
			return err
		}
		if w.pos < live {
			return fmt.Errorf("rebuilt read model is at %d, behind the live checkpoint %d", w.pos, live)
		}
		if err := r.shadow.ReplaceLive(tx); err != nil {
			return err
		}
		res := tx.Model(&CheckpointRow{}).Where("name = ?", r.projector).
			Updates(map[string]any{"position": w.pos, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("set checkpoint %s to %d: %w", r.projector, w.pos, res.Error)
		}
		if err := tx.Exec("DELETE FROM projection_checkpoints WHERE name = ?", r.checkpoint).Error; err != nil {
			return fmt.Errorf("delete checkpoint %s: %w", r.checkpoint, err)
		}
		err = tx.Model(&ReadModelVersionRow{}).Where("name = ?", invoicesTable).Update("version", ports.ReadModelVersion).Error
		if err != nil {
			return fmt.Errorf("record read model version %d: %w", ports.ReadModelVersion, err)
		}
		return nil
	})
}

// lockCheckpoint returns the live checkpoint, creating it at 0 if new, and
// keeps the live projector from moving it until tx ends (the engine's
// Shadow.LockCheckpoint says how): the projector's batch moves that row
// first, so it waits, then finds it moved and reloads.
func (r *Rebuild) lockCheckpoint(tx *gorm.DB) (int64, error) {
	if err := seedCheckpoint(tx, r.projector); err != nil {
		return 0, err
	}
	q := r.shadow.LockCheckpoint(tx.Model(&CheckpointRow{}).Select("position").Where("name = ?", r.projector))
	var live int64
	if err := q.Row().Scan(&live); err != nil {
		return 0, fmt.Errorf("lock checkpoint %s: %w", r.projector, err)
	}
	return live, nil
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
	if err := r.m.db.WithContext(ctx).Transaction(r.drop); err != nil {
		return Translate(ctx, err)
	}
	r.ended = true
	r.release()
	return nil
}
