// Package e2e holds system tests that build and run the invoices binary:
// crash and restart under load, database outages, orderly shutdown, the
// pprof listener, the projections CLI, and checks of the container files.
// The tests talk to the binary as an operator would, through environment
// variables, HTTP and its exit code, and inspect the stores with raw SQL;
// they import no package of the module's adapters. Tests on the shared
// PostgreSQL server skip, saying so, unless TEST_POSTGRES_URL names an admin
// connection; the outage tests run a private cluster of their own and skip
// only when the PostgreSQL server binaries are not installed.
package e2e
