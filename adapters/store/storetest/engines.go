// Package storetest runs test suites against every store engine: embedded
// SQLite always, and PostgreSQL when TEST_POSTGRES_URL names an admin
// connection (each test gets its own freshly created databases, dropped at
// cleanup). Without the variable the PostgreSQL subtests skip visibly.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for creating test databases
	"gorm.io/gorm"

	"invoices/adapters/store"
	"invoices/adapters/store/postgres"
	"invoices/adapters/store/sqlite"
	"invoices/config"
	"invoices/ports"
)

// Defaults are the event store defaults tests record: their invoices
// created before currencies are in EUR.
var Defaults = ports.RecordedDefaults{LegacyCurrency: "EUR"}

// EnvVar names the admin URL of the PostgreSQL server used by tests.
const EnvVar = "TEST_POSTGRES_URL"

// Engine creates fresh, empty databases of one kind.
type Engine struct {
	Name string
	// Store is the store engine that serves these databases.
	Store store.Engine
	new   func(t testing.TB, label string) config.Database
}

// Database returns the configuration of a new empty database, removed when
// the test ends. label tells the databases of one test apart.
func (e Engine) Database(t testing.TB, label string) config.Database {
	t.Helper()
	return e.new(t, label)
}

// ForEach runs fn as a subtest per engine.
func ForEach(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite()) })
	t.Run("postgres", func(t *testing.T) { fn(t, RequirePostgres(t)) })
}

// RequirePostgres returns the PostgreSQL engine, or skips the test or
// benchmark, saying which variable to set, when EnvVar is unset.
func RequirePostgres(t testing.TB) Engine {
	t.Helper()
	e, ok := Postgres()
	if !ok {
		what := "tests"
		if _, bench := t.(*testing.B); bench {
			what = "benchmarks"
		}
		t.Skip("PostgreSQL " + what + " skipped: set " + EnvVar + " (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them")
	}
	return e
}

// SQLite returns the embedded engine: database files in the test's temp dir.
func SQLite() Engine {
	return Engine{Name: "sqlite", Store: sqlite.Engine{}, new: func(t testing.TB, label string) config.Database {
		return config.Database{
			Name:         label,
			Driver:       config.SQLite,
			DSN:          filepath.Join(t.TempDir(), label+".db"),
			Redacted:     label + ".db",
			MaxOpenConns: 16,
		}
	}}
}

// Postgres returns the PostgreSQL engine, or false when EnvVar is unset.
func Postgres() (Engine, bool) {
	admin := os.Getenv(EnvVar)
	if admin == "" {
		return Engine{}, false
	}
	return Engine{Name: "postgres", Store: postgres.Engine{}, new: func(t testing.TB, label string) config.Database {
		t.Helper()
		return createDatabase(t, admin, label)
	}}, true
}

func createDatabase(t testing.TB, admin, label string) config.Database {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvVar, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "invoices_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open %s: %v", EnvVar, err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer func() { _ = db.Close() }()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return config.Database{
		Name:         label,
		Driver:       config.Postgres,
		DSN:          u.String(),
		Redacted:     u.Redacted(),
		MaxOpenConns: 40,
	}
}

// OpenEventStore opens and migrates an event store on a fresh database,
// closed when the test ends.
func (e Engine) OpenEventStore(t testing.TB) *store.EventStore {
	t.Helper()
	cfg := e.Database(t, "events")
	ctx := context.Background()
	db := Must(store.Open(ctx, e.Store, cfg))(t)
	t.Cleanup(func() { closeDB(t, db) })
	s := Must(store.NewEventStore(ctx, e.Store, db, cfg, Defaults))(t)
	t.Cleanup(s.Close) // before the database closes
	return s
}

// OpenReadModel opens and migrates a read model on a fresh database, closed
// when the test ends.
func (e Engine) OpenReadModel(t testing.TB) *store.ReadModel {
	t.Helper()
	ctx := context.Background()
	db := Must(store.Open(ctx, e.Store, e.Database(t, "read")))(t)
	t.Cleanup(func() { closeDB(t, db) })
	return Must(store.NewReadModel(ctx, e.Store, db))(t)
}

func closeDB(t testing.TB, db *gorm.DB) {
	t.Helper()
	if err := store.Close(db); err != nil {
		t.Errorf("close database: %v", err)
	}
}

// Must returns v for a setup step, failing the test on err:
// db := storetest.Must(store.Open(ctx, e.Store, cfg))(t).
func Must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(fmt.Errorf("setup: %w", err))
		}
		return v
	}
}
