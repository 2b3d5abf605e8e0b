package postgres

import "time"

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
