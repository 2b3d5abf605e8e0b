package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"invoices/domain/invoice"
	"invoices/ports"
)

// The GORM models below are the schema: both engines create their tables
// from them with AutoMigrate, and nothing else defines a column.

// EventRow is one stored event.
type EventRow struct {
	Position int64  `gorm:"primaryKey;autoIncrement:false"`
	EventID  UUID   `gorm:"column:event_id;not null;uniqueIndex:events_event_id"`
	StreamID UUID   `gorm:"column:stream_id;not null;uniqueIndex:events_stream_version,priority:1"`
	Version  int    `gorm:"not null;uniqueIndex:events_stream_version,priority:2"`
	Type     string `gorm:"not null;size:128"`
	// SchemaVersion is the version of Type's payload schema Data is in;
	// events stored before the column existed are at 1.
	SchemaVersion int       `gorm:"not null;default:1"`
	Data          JSON      `gorm:"not null"`
	Metadata      JSON      `gorm:"not null"`
	RecordedAt    time.Time `gorm:"not null;autoCreateTime:false"`
}

// TableName implements gorm's schema.Tabler.
func (EventRow) TableName() string { return "events" }

// HeadRow is the single-row position counter. Every append updates it first,
// which serialises appends: positions are gapless (the update rolls back with
// a failed append) and commit-ordered (the next appender waits for this
// transaction's commit), so a reader that sees position N has seen 1..N-1.
// A bare bigserial is not enough: a lower value can commit after a higher one
// and a projector reading "position > checkpoint" would skip it for good.
type HeadRow struct {
	ID       int   `gorm:"primaryKey;autoIncrement:false"`
	Position int64 `gorm:"not null"`
}

// TableName implements gorm's schema.Tabler.
func (HeadRow) TableName() string { return "event_store_head" }

// InvoiceRow is the invoice read model. Timestamps come from the events, so
// GORM must not stamp them itself. Every list filter has an index: the
// three equality filters lead an index that goes on in seq order, so a
// filtered page is one index range read backwards; the ranges (created,
// due) have their own.
type InvoiceRow struct {
	ID  UUID  `gorm:"primaryKey"`
	Seq int64 `gorm:"not null;uniqueIndex:invoices_seq;index:invoices_status_seq,priority:2;index:invoices_customer_seq,priority:2;index:invoices_currency_seq,priority:2"`
	// CustomerID is at most 255 characters (varchar counts characters).
	CustomerID string     `gorm:"column:customer_id;not null;size:255;index:invoices_customer_seq,priority:1"`
	Amount     Money      `gorm:"not null"`
	Currency   string     `gorm:"not null;size:3;index:invoices_currency_seq,priority:1"`
	DueDate    *time.Time `gorm:"index:invoices_due_date"`
	Status     string     `gorm:"not null;size:16;index:invoices_status_seq,priority:1"`
	Version    int        `gorm:"not null"`
	CreatedAt  time.Time  `gorm:"not null;autoCreateTime:false;index:invoices_created_at"`
	UpdatedAt  time.Time  `gorm:"not null;autoUpdateTime:false"`
	PaidAt     *time.Time
	VoidedAt   *time.Time
	VoidReason *string `gorm:"size:500"`
}

// TableName implements gorm's schema.Tabler.
func (InvoiceRow) TableName() string { return "invoices" }

// SeqIndex is the name of the invoices table's unique index on seq, which
// orders the list.
const SeqIndex = "invoices_seq"

// InvoiceIndexes names every secondary index of the invoices table, the
// unique seq index first: a rebuild creates them after its bulk load.
var InvoiceIndexes = []string{
	SeqIndex, "invoices_status_seq", "invoices_customer_seq", "invoices_currency_seq",
	"invoices_created_at", "invoices_due_date",
}

// ReadModelVersionRow records which ports.ReadModelVersion built a read
// model table. A rebuild's swap sets it with the table it swaps in.
type ReadModelVersionRow struct {
	Name    string `gorm:"primaryKey;size:128"`
	Version int    `gorm:"not null"`
}

// TableName implements gorm's schema.Tabler.
func (ReadModelVersionRow) TableName() string { return "read_model_versions" }

// IdempotencyRow is a ports.IdempotencyRecord, stored by the append whose
// events it describes. Purged once expired (see EventStore).
type IdempotencyRow struct {
	Scope       string    `gorm:"primaryKey;size:64"`
	Key         string    `gorm:"column:idempotency_key;primaryKey;size:255"`
	Fingerprint string    `gorm:"not null;size:64"`
	Command     string    `gorm:"not null;size:64"`
	StreamID    UUID      `gorm:"column:stream_id;not null"`
	Version     int       `gorm:"not null"`
	Position    int64     `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null;autoCreateTime:false"`
	ExpiresAt   time.Time `gorm:"not null;index:idempotency_keys_expires_at"`
}

// TableName implements gorm's schema.Tabler.
func (IdempotencyRow) TableName() string { return "idempotency_keys" }

// IdempotencyKey identifies an IdempotencyRow.
type IdempotencyKey struct{ Scope, Key string }

// NewIdempotencyRow is the row of a record.
func NewIdempotencyRow(r ports.IdempotencyRecord) IdempotencyRow {
	return IdempotencyRow{
		Scope: r.Scope, Key: r.Key, Fingerprint: r.Fingerprint, Command: r.Command, StreamID: UUID(r.StreamID),
		Version: r.Version, Position: r.Position, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
	}
}

// Record is the row as the port returns it.
func (r IdempotencyRow) Record() ports.IdempotencyRecord {
	return ports.IdempotencyRecord{
		Scope: r.Scope, Key: r.Key, Fingerprint: r.Fingerprint, Command: r.Command, StreamID: string(r.StreamID),
		Version: r.Version, Position: r.Position, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
	}
}

// SettingRow is one of the event store's RecordedDefaults: written once,
// when the store is first migrated by a release that knows it, and never
// changed after.
type SettingRow struct {
	Name  string `gorm:"primaryKey;size:128"`
	Value string `gorm:"not null"`
}

// TableName implements gorm's schema.Tabler.
func (SettingRow) TableName() string { return "event_store_settings" }

// legacyCurrencySetting names the currency of invoices stored before they
// carried one.
const legacyCurrencySetting = "invoice.legacy_currency"

// CheckpointRow records how far a projector has applied the event stream.
type CheckpointRow struct {
	Name      string    `gorm:"primaryKey;size:128"`
	Position  int64     `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null;autoUpdateTime:false"`
}

// TableName implements gorm's schema.Tabler.
func (CheckpointRow) TableName() string { return "projection_checkpoints" }

// Advisory-lock keys that serialise schema migrations between instances
// starting at once ("invoices" events / read model).
const (
	migrateEventStoreLock int64 = 0x696e765f65767473
	migrateReadModelLock  int64 = 0x696e765f72656164
)

// migrate runs fn, which changes the schema, in one transaction that first
// takes the engine's schema lock, so instances starting together migrate one
// after another instead of colliding on CREATE TABLE; the later ones find
// the schema in place.
func migrate(ctx context.Context, db *gorm.DB, e Engine, lock int64, fn func(tx *gorm.DB) error) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := e.LockSchema(tx, lock); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
		return fn(tx)
	})
}

// migrateEventStore creates or updates the event store's tables, seeds the
// head counter (MAX(position) covers events stored before it existed) and
// records defaults on first migration, returning them as recorded.
func migrateEventStore(ctx context.Context, db *gorm.DB, e Engine, defaults ports.RecordedDefaults) (ports.RecordedDefaults, error) {
	var recorded ports.RecordedDefaults
	err := migrate(ctx, db, e, migrateEventStoreLock, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&EventRow{}, &HeadRow{}, &SettingRow{}, &IdempotencyRow{}, &PublisherCheckpointRow{}); err != nil {
			return err
		}
		// "WHERE true" resolves SQLite's INSERT ... SELECT ... ON CONFLICT
		// parse ambiguity; PostgreSQL accepts it as is.
		err := tx.Exec(`INSERT INTO event_store_head (id, position)
			SELECT 1, COALESCE(MAX(position), 0) FROM events WHERE true
			ON CONFLICT (id) DO NOTHING`).Error
		if err != nil {
			return err
		}
		// First migration wins, whatever DEFAULT_CURRENCY says later.
		err = tx.Exec(`INSERT INTO event_store_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
			legacyCurrencySetting, defaults.LegacyCurrency).Error
		if err != nil {
			return err
		}
		var row SettingRow
		if err := tx.Where("name = ?", legacyCurrencySetting).Take(&row).Error; err != nil {
			return err
		}
		recorded.LegacyCurrency = row.Value
		return nil
	})
	if err != nil {
		return recorded, fmt.Errorf("migrate event store: %w", err)
	}
	return recorded, nil
}

// invoicesTable is the live invoice read model's table, and its name in
// read_model_versions.
const invoicesTable = "invoices"

// migrateReadModel creates or updates the read model's tables and returns
// the version of the invoice read model in place. A read model built by an
// older version is left as it is, for the old release still serving it,
// until a rebuild replaces it (see ports.ReadModelVersion); a new one is
// created at the current version. One built by a newer release is an
// error: this one would misread it.
func migrateReadModel(ctx context.Context, db *gorm.DB, e Engine) (int, error) {
	var version int
	err := migrate(ctx, db, e, migrateReadModelLock, func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&CheckpointRow{}, &ReadModelVersionRow{}); err != nil {
			return err
		}
		var row ReadModelVersionRow
		err := tx.Where("name = ?", invoicesTable).Take(&row).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			// No version recorded: a table without one was built by
			// version 1, before versions were recorded.
			version = ports.ReadModelVersion
			if tx.Migrator().HasTable(invoicesTable) {
				version = 1
			}
			if err := tx.Create(&ReadModelVersionRow{Name: invoicesTable, Version: version}).Error; err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			version = row.Version
		}
		switch {
		case version > ports.ReadModelVersion:
			return fmt.Errorf("the invoice read model was built by a newer release (version %d; this release builds %d): run that release, or drop the read database to rebuild it from the event store",
				version, ports.ReadModelVersion)
		case version == ports.ReadModelVersion:
			return tx.AutoMigrate(&InvoiceRow{})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("migrate read model: %w", err)
	}
	return version, nil
}

// UnindexedInvoiceRow returns a pointer to a struct with InvoiceRow's fields
// and column definitions but no index tags, so a rebuild's fresh table is
// created from the same definition as the live one (no second copy to
// drift), while its secondary index waits until after the bulk load.
func UnindexedInvoiceRow() any {
	t := reflect.TypeFor[InvoiceRow]()
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

// ColumnKind is a column type whose SQL spelling differs per engine.
type ColumnKind int

// The engine-dependent column kinds.
const (
	UUIDColumn  ColumnKind = iota // a UUID
	JSONColumn                    // a JSON document
	MoneyColumn                   // an exact amount with invoice.AmountScale decimal places
)

// ColumnTyper is implemented by each engine's GORM dialector: it spells a
// column kind in the engine's SQL.
type ColumnTyper interface {
	ColumnType(ColumnKind) string
}

// columnType asks db's dialector how to spell k.
func columnType(db *gorm.DB, k ColumnKind) string {
	if ct, ok := db.Dialector.(ColumnTyper); ok {
		return ct.ColumnType(k)
	}
	return "text"
}

// UUID is a UUID column (the engine picks the SQL type).
type UUID string

// GormDBDataType implements gorm's dialect-aware data type interface.
func (UUID) GormDBDataType(db *gorm.DB, _ *schema.Field) string { return columnType(db, UUIDColumn) }

// Value implements driver.Valuer.
func (u UUID) Value() (driver.Value, error) { return string(u), nil }

// Scan implements sql.Scanner.
func (u *UUID) Scan(src any) error {
	s, err := text(src)
	*u = UUID(s)
	return err
}

// JSON is a JSON document column (the engine picks the SQL type).
type JSON []byte

// GormDBDataType implements gorm's dialect-aware data type interface.
func (JSON) GormDBDataType(db *gorm.DB, _ *schema.Field) string { return columnType(db, JSONColumn) }

// Value implements driver.Valuer; a string binds as JSON text on both engines.
func (j JSON) Value() (driver.Value, error) { return string(j), nil }

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	s, err := text(src)
	*j = JSON(s)
	return err
}

// Money is an exact amount column, read and written as decimal text so no
// engine ever holds it as a float.
type Money invoice.Amount

// GormDBDataType implements gorm's dialect-aware data type interface.
func (Money) GormDBDataType(db *gorm.DB, _ *schema.Field) string { return columnType(db, MoneyColumn) }

// Value implements driver.Valuer with the exact decimal text.
func (a Money) Value() (driver.Value, error) { return invoice.Amount(a).String(), nil }

// Scan implements sql.Scanner. Both engines hand back decimal text.
func (a *Money) Scan(src any) error {
	s, err := text(src)
	if err != nil {
		return err
	}
	v, err := invoice.ParseAmount(s)
	if err != nil {
		return fmt.Errorf("stored amount %q: %w", s, err)
	}
	*a = Money(v)
	return nil
}

func text(src any) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	default:
		return "", fmt.Errorf("expected text, got %T", src)
	}
}

// NewInvoiceRow is the row of an invoice view. Its timestamps are in UTC,
// whatever zone the events gave them: SQLite compares timestamps as text,
// so one written with another offset would compare by its local clock in
// the list's created_at filters.
func NewInvoiceRow(v ports.InvoiceView) InvoiceRow {
	r := InvoiceRow{
		ID:         UUID(v.ID),
		Seq:        v.Seq,
		CustomerID: v.CustomerID,
		Amount:     Money(v.Amount),
		Currency:   v.Currency.Code(),
		Status:     string(v.Status),
		Version:    v.Version,
		CreatedAt:  v.CreatedAt.UTC(),
		UpdatedAt:  v.UpdatedAt.UTC(),
		PaidAt:     UTC(v.PaidAt),
		VoidedAt:   UTC(v.VoidedAt),
	}
	if !v.DueDate.IsZero() {
		t := v.DueDate.Time()
		r.DueDate = &t
	}
	if v.VoidReason != "" {
		r.VoidReason = &v.VoidReason
	}
	return r
}

// UTC returns *t in UTC, or nil for nil.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// View is the row as the read port returns it.
func (r InvoiceRow) View() (ports.InvoiceView, error) {
	cur, err := invoice.StoredCurrency(r.Currency)
	if err != nil {
		return ports.InvoiceView{}, fmt.Errorf("invoice %s: %w", r.ID, err)
	}
	v := ports.InvoiceView{
		ID:         string(r.ID),
		CustomerID: r.CustomerID,
		Amount:     invoice.Amount(r.Amount),
		Currency:   cur,
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
	if r.VoidedAt != nil {
		t := r.VoidedAt.UTC()
		v.VoidedAt = &t
	}
	if r.VoidReason != nil {
		v.VoidReason = *r.VoidReason
	}
	if r.DueDate != nil {
		v.DueDate = invoice.DateOf(*r.DueDate)
	}
	return v, nil
}
