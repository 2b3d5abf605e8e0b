package projection_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
	"invoices/ports"
)

// memEventStore is an in-memory ports.EventStore. Tests plant records with
// chosen positions (including gaps and payloads the codec would never write);
// ReadAll returns them in position order as the port promises.
type memEventStore struct {
	mu       sync.Mutex
	records  []ports.RecordedEvent
	readAlls int
}

var _ ports.EventStore = (*memEventStore)(nil)

func (s *memEventStore) Append(_ context.Context, streamID string, expectedVersion int, events []ports.NewEvent, md ports.Metadata) (ports.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	version := 0
	for _, r := range s.records {
		if r.StreamID == streamID {
			version = r.Version
		}
	}
	if version != expectedVersion {
		return ports.AppendResult{}, ports.ErrConcurrencyConflict
	}
	var res ports.AppendResult
	for _, e := range events {
		version++
		rec := ports.RecordedEvent{Position: s.headLocked() + 1, ID: e.ID, StreamID: streamID, Version: version, Type: e.Type, Data: e.Data, Metadata: md}
		s.records = append(s.records, rec)
		res = ports.AppendResult{Position: rec.Position, Version: version}
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
	s.readAlls++
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
	return s.headLocked(), nil
}

func (s *memEventStore) headLocked() int64 {
	if len(s.records) == 0 {
		return 0
	}
	return s.records[len(s.records)-1].Position
}

// add plants records as they are, in position order.
func (s *memEventStore) add(records ...ports.RecordedEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, records...)
	slices.SortFunc(s.records, func(a, b ports.RecordedEvent) int { return int(a.Position - b.Position) })
}

func (s *memEventStore) readAllCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readAlls
}

// memProjectionStore is an in-memory ports.ProjectionStore. Like the real
// store, Project applies a batch to a staged copy of the read model and
// commits it with the checkpoint only if every change succeeded, so a failed
// batch leaves nothing behind; and it refuses a batch whose from is not the
// current checkpoint.
type memProjectionStore struct {
	mu            sync.Mutex
	checkpoints   map[string]int64
	views         map[string]ports.InvoiceView
	projects      []projectCall
	changes       []ports.InvoiceChanges // of the Project calls that committed
	checkpointErr error
}

var _ ports.ProjectionStore = (*memProjectionStore)(nil)

// projectCall is one Project call's checkpoint move.
type projectCall struct{ From, To int64 }

func newMemProjectionStore() *memProjectionStore {
	return &memProjectionStore{checkpoints: map[string]int64{}, views: map[string]ports.InvoiceView{}}
}

func (s *memProjectionStore) Checkpoint(_ context.Context, projector string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checkpointErr != nil {
		return 0, s.checkpointErr
	}
	return s.checkpoints[projector], nil
}

func (s *memProjectionStore) Project(_ context.Context, projector string, from, to int64, c ports.InvoiceChanges) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects = append(s.projects, projectCall{From: from, To: to})
	if cp := s.checkpoints[projector]; cp != from {
		return fmt.Errorf("checkpoint %s is at %d, not %d: %w", projector, cp, from, ports.ErrConcurrencyConflict)
	}
	views, err := applyChanges(maps.Clone(s.views), c)
	if err != nil {
		return err // rolled back: the staged copy is dropped
	}
	s.views = views
	s.checkpoints[projector] = to
	s.changes = append(s.changes, c)
	return nil
}

// setCheckpoint moves a checkpoint as another projector would.
func (s *memProjectionStore) setCheckpoint(projector string, pos int64, views ...ports.InvoiceView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpoints[projector] = pos
	for _, v := range views {
		s.views[v.ID] = v
	}
}

// replaceModel replaces the whole read model and moves a checkpoint, as
// another instance's rebuild swapping in would.
func (s *memProjectionStore) replaceModel(projector string, pos int64, views ...ports.InvoiceView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkpoints[projector] = pos
	s.views = map[string]ports.InvoiceView{}
	for _, v := range views {
		s.views[v.ID] = v
	}
}

func (s *memProjectionStore) checkpoint(projector string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoints[projector]
}

// snapshot returns the read model sorted by Seq.
func (s *memProjectionStore) snapshot() []ports.InvoiceView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.SortedFunc(maps.Values(s.views), func(a, b ports.InvoiceView) int { return int(a.Seq - b.Seq) })
}

// committedChanges returns the changes of every Project call that committed.
func (s *memProjectionStore) committedChanges() []ports.InvoiceChanges {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.changes)
}

func (s *memProjectionStore) projectCalls() []projectCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.projects)
}

// applyChanges applies c to a staged copy of a read model, as a store
// would: inserts must be new, and an update's row must be at its
// FromVersion; an update's nil fields keep the row's values.
func applyChanges(views map[string]ports.InvoiceView, c ports.InvoiceChanges) (map[string]ports.InvoiceView, error) {
	for _, v := range c.Inserts {
		if _, ok := views[v.ID]; ok {
			return nil, fmt.Errorf("insert invoice %s: already exists", v.ID)
		}
		views[v.ID] = v
	}
	for _, u := range c.Updates {
		what := fmt.Sprintf("update invoice %s to %s", u.ID, u.Status)
		switch u.Status {
		case invoice.StatusPaid:
			what = fmt.Sprintf("mark invoice %s paid", u.ID)
		case invoice.StatusVoid:
			what = fmt.Sprintf("void invoice %s", u.ID)
		}
		v, ok := views[u.ID]
		if !ok {
			return nil, fmt.Errorf("event at position %d: %s: %w", u.Position, what, ports.ErrNotFound)
		}
		if v.Version != u.FromVersion {
			return nil, fmt.Errorf("event at position %d: %s: no row at version %d", u.Position, what, u.FromVersion)
		}
		v.Status, v.Version, v.UpdatedAt = u.Status, u.Version, u.UpdatedAt
		if u.PaidAt != nil {
			at := *u.PaidAt
			v.PaidAt = &at
		}
		if u.VoidedAt != nil {
			at := *u.VoidedAt
			v.VoidedAt = &at
		}
		if u.VoidReason != nil {
			v.VoidReason = *u.VoidReason
		}
		views[u.ID] = v
	}
	return views, nil
}

var eur = invoice.MustCurrency("EUR")

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

// rec encodes e as the record at a global position and stream version,
// at the schema version this release writes.
func rec(t *testing.T, pos int64, stream string, version int, e event.Event) ports.RecordedEvent {
	t.Helper()
	c := codec(t)
	name, data, err := c.Encode(e)
	if err != nil {
		t.Fatalf("Encode(%v) error = %v", e, err)
	}
	r := raw(pos, stream, version, name, string(data))
	r.SchemaVersion = c.Version(name)
	return r
}

// raw is a record with a payload exactly as given, at schema version 1.
func raw(pos int64, stream string, version int, typ, data string) ports.RecordedEvent {
	return ports.RecordedEvent{
		Position: pos, ID: fmt.Sprintf("evt-%d", pos), StreamID: stream, Version: version,
		Type: typ, SchemaVersion: 1, Data: []byte(data), RecordedAt: time.Unix(pos, 0).UTC(),
	}
}

// viewOpts compares values holding a Currency or a Date (whose fields are
// unexported) by what they say: the code, and the day.
var viewOpts = cmp.Options{
	cmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() }),
	cmp.Transformer("Date", func(d invoice.Date) string { return d.String() }),
}

// waitUntil polls cond until it holds or a generous deadline passes. It is a
// synchronisation aid for the background loop, never a timing assertion.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var errCheckpointUnavailable = errors.New("checkpoint table unavailable")
