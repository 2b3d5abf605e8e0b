// Package ports declares the interfaces the application needs from the
// outside world: the event store and the invoice read model. Here "ports"
// means driven-side interfaces only (some codebases use the word for inbound
// handlers); the adapters package implements them and fx binds each port to
// its adapter at the composition root.
//
// Ports state contracts, not one adapter's optimisations: what only some
// adapters can do is an optional interface (CommitNotifier), which a caller
// checks for once, as database/sql/driver does with Pinger.
//
// Ports import only the domain, and no adapter error crosses a port: adapters
// translate driver errors into the errors declared here.
package ports
