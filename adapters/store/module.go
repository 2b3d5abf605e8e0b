package gormstore

import (
	"context"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/config"
	"invoices/ports"
)

// migrateTimeout bounds migrating one store at start-up, once it answers.
// Waiting for it to answer is bounded by config.Database.ConnectTimeout.
const migrateTimeout = 30 * time.Second

// Module binds the event store and read-model ports to their GORM adapters,
// like a NestJS module exporting providers. The concrete stores are provided
// too, for what only the composition root needs (connection-pool metrics).
var Module = fx.Module("gormstore",
	fx.Provide(
		provideEventStore,
		provideReadModel,
		func(s *EventStore) ports.EventStore { return s },
		func(m *ReadModel) ports.InvoiceReader { return m },
		func(m *ReadModel) ports.ProjectionStore { return m },
	),
)

func provideEventStore(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (*EventStore, error) {
	db, err := openManaged(lc, cfg.EventStore, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	s, err := NewEventStore(ctx, db)
	if err != nil {
		return nil, translate(context.Background(), err)
	}
	// Appended after the database's close hook, so it runs before it.
	lc.Append(fx.StopHook(s.Close))
	return s, nil
}

func provideReadModel(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (*ReadModel, error) {
	db, err := openManaged(lc, cfg.ReadDB, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	m, err := NewReadModel(ctx, db)
	return m, translate(context.Background(), err)
}

// openManaged opens a database, waiting for it at start-up, and closes it
// when the app stops.
func openManaged(lc fx.Lifecycle, cfg config.Database, log *zap.Logger) (*gorm.DB, error) {
	db, err := OpenWithRetry(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	log.Info("database ready", zap.String("store", cfg.Name), zap.String("driver", string(cfg.Driver)), zap.String("dsn", cfg.Redacted))
	lc.Append(fx.StopHook(func() error {
		sqlDB, err := db.DB()
		if err != nil {
			return err
		}
		return sqlDB.Close()
	}))
	return db, nil
}
