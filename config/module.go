package config

import "go.uber.org/fx"

// Module provides Config and its typed parts to the fx graph.
var Module = fx.Module("config",
	fx.Provide(
		Load,
		func(c Config) HTTP { return c.HTTP },
		func(c Config) Projection { return c.Projection },
		func(c Config) Log { return c.Log },
	),
)
