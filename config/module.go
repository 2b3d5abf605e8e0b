package config

import "go.uber.org/fx"

// Module provides the typed parts of a Config supplied to the fx graph
// (main loads it before fx starts, so configuration errors stay readable).
var Module = fx.Module("config",
	fx.Provide(
		func(c Config) HTTP { return c.HTTP },
		func(c Config) Projection { return c.Projection },
		func(c Config) Billing { return c.Billing },
		func(c Config) Idempotency { return c.Idempotency },
		func(c Config) Log { return c.Log },
		func(c Config) EventStream { return c.EventStream },
		func(c Config) NATS { return c.NATS },
	),
)
