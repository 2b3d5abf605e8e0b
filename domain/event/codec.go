package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// ErrUnknownType is returned when decoding an event whose name is not registered.
var ErrUnknownType = errors.New("unknown event type")

// Registry maps stable event names to payload types. The payload struct with
// its json tags is the stored schema of its type's current version (see
// Versioned); payloads stored at an older version are upcast to it, one
// registered Upcaster per version step, before they are decoded. A Registry
// is built once at wiring time and is read-only after.
type Registry struct {
	types     map[string]reflect.Type
	versions  map[string]int                                  // current schema version per type
	upcasters map[string]map[int]func([]byte) ([]byte, error) // type -> from -> step
}

// Versioned is implemented by an event payload whose schema has changed
// since it was first stored: SchemaVersion is the version its struct
// describes. A payload type without it is at version 1.
type Versioned interface {
	SchemaVersion() int
}

// Upcaster turns a stored payload of event Type at schema version From into
// the payload of version From+1. Up must keep the payload's meaning: it may
// add fields with the value they had implicitly, rename or reshape them,
// never guess.
type Upcaster struct {
	Type string
	From int
	Up   func(data []byte) ([]byte, error)
}

// NewRegistry returns a registry holding the given event prototypes. Each
// prototype must be a non-pointer struct value; names must be unique.
func NewRegistry(prototypes ...Event) (*Registry, error) {
	r := &Registry{
		types:     make(map[string]reflect.Type, len(prototypes)),
		versions:  make(map[string]int, len(prototypes)),
		upcasters: make(map[string]map[int]func([]byte) ([]byte, error)),
	}
	for _, p := range prototypes {
		t := reflect.TypeOf(p)
		if t.Kind() != reflect.Struct {
			return nil, fmt.Errorf("event %q: prototype must be a struct value, got %s", p.EventName(), t)
		}
		name := p.EventName()
		if name == "" {
			return nil, fmt.Errorf("event type %s has an empty name", t)
		}
		if prev, dup := r.types[name]; dup {
			return nil, fmt.Errorf("event name %q registered twice (%s and %s)", name, prev, t)
		}
		r.types[name] = t
		r.versions[name] = 1
		if v, ok := p.(Versioned); ok {
			if v.SchemaVersion() < 1 {
				return nil, fmt.Errorf("event %q: schema version %d, want at least 1", name, v.SchemaVersion())
			}
			r.versions[name] = v.SchemaVersion()
		}
	}
	return r, nil
}

// WithUpcasters returns a registry like r that upcasts stored payloads with
// ups. Every type at a version V above 1 needs exactly one upcaster from
// each of 1..V-1; an upcaster for an unknown type or a version outside that
// range is an error, so a chain cannot silently skip or drop a step.
func (r *Registry) WithUpcasters(ups ...Upcaster) (*Registry, error) {
	out := &Registry{types: r.types, versions: r.versions, upcasters: make(map[string]map[int]func([]byte) ([]byte, error))}
	for _, u := range ups {
		current, ok := r.versions[u.Type]
		if !ok {
			return nil, fmt.Errorf("upcaster for %q: %w", u.Type, ErrUnknownType)
		}
		if u.From < 1 || u.From >= current || u.Up == nil {
			return nil, fmt.Errorf("upcaster for %q from version %d: %q is at version %d", u.Type, u.From, u.Type, current)
		}
		if out.upcasters[u.Type] == nil {
			out.upcasters[u.Type] = make(map[int]func([]byte) ([]byte, error))
		}
		if _, dup := out.upcasters[u.Type][u.From]; dup {
			return nil, fmt.Errorf("upcaster for %q from version %d registered twice", u.Type, u.From)
		}
		out.upcasters[u.Type][u.From] = u.Up
	}
	for name, current := range r.versions {
		for from := 1; from < current; from++ {
			if out.upcasters[name][from] == nil {
				return nil, fmt.Errorf("event %q is at version %d but has no upcaster from version %d", name, current, from)
			}
		}
	}
	return out, nil
}

// Version returns the current schema version of event type name, the one
// Encode writes; 0 for an unknown type.
func (r *Registry) Version(name string) int { return r.versions[name] }

// Encode serialises e to its stable name and JSON payload.
func (r *Registry) Encode(e Event) (name string, data []byte, err error) {
	name = e.EventName()
	if _, ok := r.types[name]; !ok {
		return "", nil, fmt.Errorf("encode %q: %w", name, ErrUnknownType)
	}
	data, err = json.Marshal(e)
	if err != nil {
		return "", nil, fmt.Errorf("encode %q: %w", name, err)
	}
	return name, data, nil
}

// Decode turns a stored name, schema version and payload back into the
// registered event type, upcasting the payload from version to the current
// one first. Version 0 is a payload stored before versions were recorded,
// which is version 1. A version newer than the current one (written by a
// later release) is an error rather than a guess.
func (r *Registry) Decode(name string, version int, data []byte) (Event, error) {
	t, ok := r.types[name]
	if !ok {
		return nil, fmt.Errorf("decode %q: %w", name, ErrUnknownType)
	}
	version = max(version, 1)
	current := r.versions[name]
	if version > current {
		return nil, fmt.Errorf("decode %q: schema version %d is newer than this release's %d", name, version, current)
	}
	for v := version; v < current; v++ {
		up := r.upcasters[name][v]
		if up == nil {
			return nil, fmt.Errorf("decode %q: no upcaster from schema version %d", name, v)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("decode %q: upcast from schema version %d: %w", name, v, err)
		}
	}
	ptr := reflect.New(t)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fmt.Errorf("decode %q: %w", name, err)
	}
	e, ok := ptr.Elem().Interface().(Event)
	if !ok {
		return nil, fmt.Errorf("decode %q: %s does not implement Event", name, t)
	}
	return e, nil
}
