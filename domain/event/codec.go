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
// its json tags is the stored schema: changing it incompatibly needs an
// upcaster. A Registry is built once at wiring time and is read-only after.
type Registry struct {
	types map[string]reflect.Type
}

// NewRegistry returns a registry holding the given event prototypes. Each
// prototype must be a non-pointer struct value; names must be unique.
func NewRegistry(prototypes ...Event) (*Registry, error) {
	r := &Registry{types: make(map[string]reflect.Type, len(prototypes))}
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
	}
	return r, nil
}

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

// Decode turns a stored name and payload back into the registered event type.
func (r *Registry) Decode(name string, data []byte) (Event, error) {
	t, ok := r.types[name]
	if !ok {
		return nil, fmt.Errorf("decode %q: %w", name, ErrUnknownType)
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
