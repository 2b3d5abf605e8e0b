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

// openTimeout bounds connecting and migrating one store at start-up.
const openTimeout = 30 * time.Second

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
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := openManaged(ctx, lc, cfg.EventStore, log)
	if err != nil {
		return nil, err
	}
	return NewEventStore(ctx, db)
}

func provideReadModel(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (*ReadModel, error) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	db, err := openManaged(ctx, lc, cfg.ReadDB, log)
	if err != nil {
		return nil, err
	}
	return NewReadModel(ctx, db)
}

// openManaged opens a database and closes it when the app stops.
func openManaged(ctx context.Context, lc fx.Lifecycle, cfg config.Database, log *zap.Logger) (*gorm.DB, error) {
	db, err := Open(ctx, cfg)
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
