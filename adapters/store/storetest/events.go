package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// Codec returns the production invoice codec for an event store that
// recorded Defaults: every invoice event, and the upcasters that read
// version 1 invoices in Defaults.LegacyCurrency.
func Codec(t testing.TB) *event.Registry {
	t.Helper()
	return Must(invoice.NewCodec(invoice.MustCurrency(Defaults.LegacyCurrency)))(t)
}

// Encode serialises events with codec as the command side stores them:
// each with a new id, its stable name and its current schema version. It
// does not fail the test, so writer goroutines can call it.
func Encode(codec *event.Registry, es ...event.Event) ([]ports.NewEvent, error) {
	out := make([]ports.NewEvent, len(es))
	for i, e := range es {
		name, data, err := codec.Encode(e)
		if err != nil {
			return nil, err
		}
		out[i] = ports.NewEvent{ID: uuid.NewString(), Type: name, SchemaVersion: codec.Version(name), Data: data}
	}
	return out, nil
}

// MustEncode is Encode for the test's own goroutine.
func MustEncode(t testing.TB, codec *event.Registry, es ...event.Event) []ports.NewEvent {
	t.Helper()
	return Must(Encode(codec, es...))(t)
}

// ViewCmp compares read-model views with go-cmp: currencies and dates by
// value (their fields are unexported); timestamps, by their Equal method,
// as instants.
var ViewCmp = cmp.Options{
	cmp.Comparer(func(a, b invoice.Currency) bool { return a == b }),
	cmp.Comparer(func(a, b invoice.Date) bool { return a.String() == b.String() }),
}
