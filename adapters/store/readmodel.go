package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"invoices/ports"
)

// ReadModel is the invoice read model and projection checkpoint store on
// any engine.
type ReadModel struct {
	db      *gorm.DB
	writer  Writer
	queries InvoiceQueries // nil: GORM
	// current is set once the live invoice table is known to be at
	// ports.ReadModelVersion; until then queries refuse to read it.
	current atomic.Bool
}

var (
	_ ports.InvoiceReader      = (*ReadModel)(nil)
	_ ports.ProjectionStore    = (*ReadModel)(nil)
	_ ports.ReadModelRebuilder = (*ReadModel)(nil)
)

// NewReadModel migrates the read-model schema on db and returns the store
// on engine e.
func NewReadModel(ctx context.Context, e Engine, db *gorm.DB) (*ReadModel, error) {
	version, err := migrateReadModel(ctx, db, e)
	if err != nil {
		return nil, err
	}
	w, err := e.NewWriter(db)
	if err != nil {
		return nil, err
	}
	m := &ReadModel{db: db, writer: w}
	m.current.Store(version == ports.ReadModelVersion)
	if q, ok := w.(InvoiceQueries); ok {
		m.queries = q
	}
	return m, nil
}

// ReadModelVersion implements ports.ReadModelRebuilder.
func (m *ReadModel) ReadModelVersion(ctx context.Context) (int, error) {
	var row ReadModelVersionRow
	if err := m.db.WithContext(ctx).Where("name = ?", invoicesTable).Take(&row).Error; err != nil {
		return 0, fmt.Errorf("read model version: %w", Translate(ctx, err))
	}
	m.current.Store(row.Version == ports.ReadModelVersion)
	return row.Version, nil
}

// GetInvoice implements ports.InvoiceReader.
func (m *ReadModel) GetInvoice(ctx context.Context, id string) (ports.InvoiceView, error) {
	if !m.current.Load() {
		return ports.InvoiceView{}, ports.ErrReadModelStale
	}
	var v ports.InvoiceView
	var err error
	if m.queries != nil {
		v, err = m.queries.GetInvoice(ctx, id)
	} else {
		var row InvoiceRow
		if err = m.db.WithContext(ctx).Where("id = ?", UUID(id)).Take(&row).Error; err == nil {
			v, err = row.View()
		}
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
	if !m.current.Load() {
		return nil, ports.ErrReadModelStale
	}
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
	for _, c := range FilterConditions(p.Filter) {
		q = q.Where(c.Column+" "+c.Op+" ?", c.Arg)
	}
	var rows []InvoiceRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]ports.InvoiceView, len(rows))
	for i, r := range rows {
		v, err := r.View()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ceilMicro rounds t up to the microsecond, in UTC. Timestamps are stored
// to the microsecond (PostgreSQL would round a finer bound to the nearest
// one): for those, x >= t and x < t hold exactly when they hold for the
// rounded-up bound.
func ceilMicro(t time.Time) time.Time {
	u := t.UTC().Truncate(time.Microsecond)
	if u.Before(t) && u.Year() < 9999 {
		// Rounding up past the year 9999 would reach a year SQLite
		// orders wrongly as text; so close to the end nothing is stored.
		u = u.Add(time.Microsecond)
	}
	return u
}

// Condition is one SQL condition of a list filter: Column Op Arg, where Op
// is =, >=, < or IN (Arg a []string).
type Condition struct {
	Column, Op string
	Arg        any
}

// FilterConditions returns the conditions that select f's invoices, one
// per field set, to be combined with AND. Each is served by an index of
// InvoiceRow.
func FilterConditions(f ports.InvoiceFilter) []Condition {
	var cs []Condition
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		cs = append(cs, Condition{"status", "IN", statuses})
	}
	if f.CustomerID != "" {
		cs = append(cs, Condition{"customer_id", "=", f.CustomerID})
	}
	if f.Currency != "" {
		cs = append(cs, Condition{"currency", "=", f.Currency})
	}
	if !f.CreatedFrom.IsZero() {
		cs = append(cs, Condition{"created_at", ">=", ceilMicro(f.CreatedFrom)})
	}
	if !f.CreatedTo.IsZero() {
		cs = append(cs, Condition{"created_at", "<", ceilMicro(f.CreatedTo)})
	}
	if !f.DueBefore.IsZero() {
		cs = append(cs, Condition{"due_date", "<", f.DueBefore.Time()})
	}
	return cs
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
	if !m.current.Load() {
		return ports.ErrReadModelStale
	}
	if p, ok := m.writer.(Projector); ok {
		err := p.Project(ctx, projector, from, to, c)
		if !errors.Is(err, ErrUnmatchedUpdates) {
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

// UpdateRows runs update, an engine's set-based statements applying
// updates to their rows of table inside tx, each only if its row is at the
// update's FromVersion, which return how many rows they matched. If that is
// fewer than the updates, it undoes them (to a savepoint taken first) and
// returns UnmatchedUpdate's error for the rows as they were.
func UpdateRows(tx *gorm.DB, table string, updates []ports.InvoiceUpdate, update func() (matched int64, err error)) error {
	if len(updates) == 0 {
		return nil
	}
	if err := tx.Exec("SAVEPOINT " + updateSavepoint).Error; err != nil {
		return fmt.Errorf("update %d invoices: %w", len(updates), err)
	}
	matched, err := update()
	if err != nil {
		return err
	}
	if matched == int64(len(updates)) {
		return nil
	}
	if err := tx.Exec("ROLLBACK TO SAVEPOINT " + updateSavepoint).Error; err != nil {
		return fmt.Errorf("update %d invoices: %d rows matched: %w", len(updates), matched, err)
	}
	return UnmatchedUpdate(tx, table, updates, matched)
}

// updateSavepoint is where UpdateRows returns to when an update did not
// match: only there can a row already at an update's Version (the event
// applied before) be told from one the update just moved.
const updateSavepoint = "invoice_updates"

// UnmatchedUpdate is the error for a set of updates of which only matched
// rows of table are at their FromVersion, as tx sees them before any of
// the updates: it names the first update whose row is not, as the event
// that could not be applied.
func UnmatchedUpdate(tx *gorm.DB, table string, updates []ports.InvoiceUpdate, matched int64) error {
	for _, u := range updates {
		var n int64
		if err := tx.Table(table).Where("id = ? AND version = ?", UUID(u.ID), u.FromVersion).Count(&n).Error; err != nil {
			return fmt.Errorf("update %d invoices: %w", len(updates), err)
		}
		if n != 1 {
			return fmt.Errorf("event at position %d: update invoice %s to %s: no row at version %d", u.Position, u.ID, u.Status, u.FromVersion)
		}
	}
	return fmt.Errorf("update %d invoices: %d rows matched", len(updates), matched)
}
