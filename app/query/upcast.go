package query

import (
	"invoices/domain/event"
	"invoices/ports"
)

// HistoryEventOf returns rec as a reader outside the service sees it: its
// payload decoded through codec, which upcasts it, and encoded again in its
// type's current schema. The invoice history and the global feed both show
// events this way, so the two always agree.
func HistoryEventOf(codec *event.Registry, rec ports.RecordedEvent) (HistoryEvent, error) {
	e, err := codec.Decode(rec.Type, rec.SchemaVersion, rec.Data)
	if err != nil {
		return HistoryEvent{}, err
	}
	_, payload, err := codec.Encode(e)
	if err != nil {
		return HistoryEvent{}, err
	}
	return HistoryEvent{
		Position: rec.Position, ID: rec.ID, Version: rec.Version, Type: rec.Type, SchemaVersion: rec.SchemaVersion,
		Payload: payload, Metadata: rec.Metadata, RecordedAt: rec.RecordedAt,
	}, nil
}
