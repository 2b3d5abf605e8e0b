package command_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/app/command"
	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// memEventStore is an in-memory ports.EventStore that keeps the port's
// optimistic-concurrency rule (an append succeeds only at the stream's current
// version) and records every Append call so tests can assert what a handler
// tried to write.
type memEventStore struct {
	mu      sync.Mutex
	records []ports.RecordedEvent
	calls   []appendCall
	// appendErr, when set, makes every Append fail with it and store nothing.
	appendErr error
	// interleave, when set, runs once at the start of the next Append,
	// before the version check: another writer committing first.
	interleave func()
}

var _ ports.EventStore = (*memEventStore)(nil)

// appendCall is one Append as the handler made it.
type appendCall struct {
	StreamID        string
	ExpectedVersion int
	Events          []ports.NewEvent
	Metadata        ports.Metadata
}

func (s *memEventStore) Append(_ context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	s.mu.Lock()
	interleave := s.interleave
	s.interleave = nil
	s.mu.Unlock()
	if interleave != nil {
		interleave()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, appendCall{StreamID: streamID, ExpectedVersion: expectedVersion, Events: slices.Clone(events), Metadata: md})
	if s.appendErr != nil {
		return ports.AppendResult{}, s.appendErr
	}
	if v := s.versionLocked(streamID); v != expectedVersion {
		return ports.AppendResult{}, fmt.Errorf("stream %s is at version %d, not %d: %w", streamID, v, expectedVersion, ports.ErrConcurrencyConflict)
	}
	var res ports.AppendResult
	for _, e := range events {
		rec := s.addLocked(streamID, e.ID, e.Type, e.SchemaVersion, e.Data, md)
		res = ports.AppendResult{Position: rec.Position, Version: rec.Version}
	}
	return res, nil
}

func (s *memEventStore) LoadStream(_ context.Context, streamID string) ([]ports.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.RecordedEvent
	for _, r := range s.records {
		if r.StreamID == streamID {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *memEventStore) ReadAll(_ context.Context, after int64, limit int) ([]ports.RecordedEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.RecordedEvent
	for _, r := range s.records {
		if r.Position > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// Ping always succeeds: the fake has no connection to lose.
func (*memEventStore) Ping(context.Context) error { return nil }

func (s *memEventStore) Head(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.records)), nil
}

// seed stores events as history, without recording an Append call.
func (s *memEventStore) seed(t *testing.T, streamID string, events ...event.Event) {
	t.Helper()
	c := codec(t)
	for _, e := range events {
		name, data, err := c.Encode(e)
		if err != nil {
			t.Fatalf("Encode(%v) error = %v", e, err)
		}
		s.seedRaw(streamID, name, c.Version(name), data)
	}
}

// seedRaw stores one event exactly as given, so tests can plant payloads the
// codec would never produce, or that an older release wrote at an older
// schema version.
func (s *memEventStore) seedRaw(streamID, typ string, schemaVersion int, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(streamID, fmt.Sprintf("seed-%d", len(s.records)+1), typ, schemaVersion, data, ports.Metadata{})
}

func (s *memEventStore) addLocked(streamID, id, typ string, schemaVersion int, data []byte, md ports.Metadata) ports.RecordedEvent {
	rec := ports.RecordedEvent{
		Position:      int64(len(s.records)) + 1,
		ID:            id,
		StreamID:      streamID,
		Version:       s.versionLocked(streamID) + 1,
		Type:          typ,
		SchemaVersion: max(schemaVersion, 1), // the port stores 0 as 1
		Data:          slices.Clone(data),
		Metadata:      md,
	}
	s.records = append(s.records, rec)
	return rec
}

func (s *memEventStore) versionLocked(streamID string) int {
	v := 0
	for _, r := range s.records {
		if r.StreamID == streamID {
			v = r.Version
		}
	}
	return v
}

// appendCalls returns the Append calls made so far.
func (s *memEventStore) appendCalls() []appendCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// codec returns the production registry of invoice events, reading
// version 1 invoices in EUR.
func codec(t *testing.T) *event.Registry {
	t.Helper()
	r, err := invoice.NewCodec(eur)
	if err != nil {
		t.Fatalf("NewCodec() error = %v", err)
	}
	return r
}

var (
	eur = invoice.MustCurrency("EUR")
	jpy = invoice.MustCurrency("JPY")
	kwd = invoice.MustCurrency("KWD")
)

// viewOpts compares values holding a Currency or a Date (whose fields are
// unexported) by what they say: the code, and the day.
var viewOpts = cmp.Options{
	cmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() }),
	cmp.Transformer("Date", func(d invoice.Date) string { return d.String() }),
}

// date parses a YYYY-MM-DD literal of a test table.
func date(s string) invoice.Date {
	d, err := invoice.ParseDate("date", s)
	if err != nil {
		panic(err)
	}
	return d
}

// clockAt returns a clock stopped at now.
func clockAt(now time.Time) command.Clock {
	return func() time.Time { return now }
}

// decodeAppended checks the shape of one appended event and returns its
// decoded payload.
func decodeAppended(t *testing.T, e ports.NewEvent, wantType string) event.Event {
	t.Helper()
	if e.Type != wantType {
		t.Errorf("appended event Type = %q, want %q", e.Type, wantType)
	}
	if e.ID == "" {
		t.Errorf("appended event has an empty ID, want a generated one")
	}
	if want := codec(t).Version(e.Type); e.SchemaVersion != want {
		t.Errorf("appended event SchemaVersion = %d, want the current %d", e.SchemaVersion, want)
	}
	got, err := codec(t).Decode(e.Type, e.SchemaVersion, e.Data)
	if err != nil {
		t.Fatalf("Decode(%q, %s) error = %v", e.Type, e.Data, err)
	}
	return got
}
