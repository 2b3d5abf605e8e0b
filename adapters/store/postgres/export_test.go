package postgres

import (
	"time"

	"invoices/ports"
)

// What the external tests (package postgres_test, which may import
// storetest) need of the package's insides.

// SetSwapLockTimeout sets how long a swap waits for its locks and returns a
// function that restores the previous value. Tests that call it must not
// run in parallel with other rebuilds.
func SetSwapLockTimeout(d time.Duration) (restore func()) {
	old := swapLockTimeout
	swapLockTimeout = d
	return func() { swapLockTimeout = old }
}

// ListQuery is the statement, with its arguments, that ListInvoices sends
// for p.
func ListQuery(p ports.ListParams) (string, []any) { return listQuery(p) }
