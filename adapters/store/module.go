package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"gorm.io/gorm"

	"invoices/config"
	"invoices/ports"
)

// migrateTimeout bounds migrating one store, once it answers. Waiting for
// it to answer is bounded by config.Database.ConnectTimeout.
const migrateTimeout = 30 * time.Second

// EngineFor returns the engine that serves a configured driver.
type EngineFor func(config.Driver) (Engine, error)

// Stores are a configuration's event store and read model, open and
// migrated, each on the engine its configuration names.
type Stores struct {
	Events *EventStore
	Read   *ReadModel
	dbs    []*gorm.DB
}

// OpenStores opens both stores of cfg, waiting for an unreachable server
// up to each store's ConnectTimeout, and migrates their schemas. Close
// releases them.
func OpenStores(ctx context.Context, cfg config.Config, engineFor EngineFor, log *zap.Logger) (_ *Stores, err error) {
	s := &Stores{}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	edb, ee, err := s.open(ctx, cfg.EventStore, engineFor, log)
	if err != nil {
		return nil, err
	}
	rdb, re, err := s.open(ctx, cfg.ReadDB, engineFor, log)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	if s.Events, err = NewEventStore(mctx, ee, edb, cfg.EventStore,
		ports.RecordedDefaults{LegacyCurrency: cfg.Billing.DefaultCurrency.Code()}); err != nil {
		return nil, Translate(context.Background(), err)
	}
	s.Events.log = log.Named("event store")
	if s.Read, err = NewReadModel(mctx, re, rdb); err != nil {
		return nil, Translate(context.Background(), err)
	}
	return s, nil
}

func (s *Stores) open(ctx context.Context, cfg config.Database, engineFor EngineFor, log *zap.Logger) (*gorm.DB, Engine, error) {
	e, err := engineFor(cfg.Driver)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	db, err := OpenWithRetry(ctx, e, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	s.dbs = append(s.dbs, db)
	log.Info("database ready", zap.String("store", cfg.Name), zap.String("driver", string(cfg.Driver)), zap.String("dsn", cfg.Redacted))
	return db, e, nil
}

// Close stops the event store's writer, then closes both databases.
func (s *Stores) Close() error {
	if s.Events != nil {
		s.Events.Close()
	}
	var errs []error
	for _, db := range s.dbs {
		errs = append(errs, Close(db))
	}
	s.dbs = nil
	return errors.Join(errs...)
}

// Module provides the store ports, on the engines engineFor picks from the
// configuration, and closes the stores when the app stops. The concrete
// Stores are provided too, for connection-pool metrics.
func Module(engineFor EngineFor) fx.Option {
	return fx.Module("store",
		fx.Provide(
			func(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) (*Stores, error) {
				s, err := OpenStores(context.Background(), cfg, engineFor, log)
				if err != nil {
					return nil, err
				}
				lc.Append(fx.StopHook(s.Close))
				return s, nil
			},
			func(s *Stores) ports.EventStore { return s.Events },
			func(s *Stores) ports.InvoiceReader { return s.Read },
			func(s *Stores) ports.ProjectionStore { return s.Read },
			func(s *Stores) ports.ReadModelRebuilder { return s.Read },
			func(s *Stores) ports.RecordedDefaults { return s.Events.Recorded() },
			func(s *Stores) ports.IdempotencyStore { return s.Events },
		),
	)
}
