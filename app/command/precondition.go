package command

import (
	"errors"
	"fmt"

	"invoices/domain/invoice"
	"invoices/ports"
)

// IfVersion values with a meaning of their own. Any positive IfVersion is
// the exact version the invoice must be at for the command to run.
const (
	// AnyVersion makes a command unconditional. HTTP's If-Match: * maps to
	// it too: "the invoice exists" is a precondition pay and void have
	// anyway, as an unknown invoice is ports.ErrNotFound with or without it.
	AnyVersion = 0
	// NoVersion (or any negative IfVersion) is a precondition no version
	// meets: an If-Match naming only entity tags this service never issues.
	// The command still loads the invoice, so an unknown one is
	// ports.ErrNotFound rather than a failed precondition.
	NoVersion = -1
)

// conditional guards decide with the precondition ifVersion, checked
// before decide so that a caller whose version is stale hears that, not
// what the newer state would make of its command (already paid, say).
// Passing it, the invoice was loaded at ifVersion, so its append expects
// exactly that version.
func conditional(id string, ifVersion int, decide func(*invoice.Invoice) error) func(*invoice.Invoice) error {
	if ifVersion == AnyVersion {
		return decide
	}
	return func(inv *invoice.Invoice) error {
		if ifVersion < 0 || inv.Version() != ifVersion {
			return fmt.Errorf("invoice %s is at version %d, not the version the request required: %w",
				id, inv.Version(), ports.ErrPreconditionFailed)
		}
		return decide(inv)
	}
}

// lostRace answers a conditional command whose append lost the race for
// the stream with ports.ErrPreconditionFailed instead of the conflict: the
// stream has moved past the one version the caller accepted, so deciding
// again (RetryOnConflict) could only fail the precondition. The conflict
// is kept in the message, not the chain, so no caller mistakes the result
// for a retryable conflict.
func lostRace(id string, ifVersion int, res Result, err error) (Result, error) {
	if ifVersion != AnyVersion && errors.Is(err, ports.ErrConcurrencyConflict) {
		//nolint:errorlint // deliberate: the conflict is told, not wrapped (see above)
		return Result{}, fmt.Errorf("invoice %s moved past version %d before the change was stored (%v): %w",
			id, ifVersion, err, ports.ErrPreconditionFailed)
	}
	return res, err
}
