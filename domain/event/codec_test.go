package event_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/event"
	"invoices/domain/invoice"
)

// unnamed has an empty event name, which the registry must refuse.
type unnamed struct{}

func (unnamed) EventName() string { return "" }

// impostor claims an invoice event's name with a different payload type.
type impostor struct{}

func (impostor) EventName() string { return invoice.CreatedEventName }

// label is an Event that is not a struct.
type label string

func (label) EventName() string { return "test.label" }

func TestNewRegistry(t *testing.T) {
	tests := []struct {
		name       string
		prototypes []event.Event
		wantErr    bool
	}{
		{name: "no prototypes", prototypes: nil},
		{name: "invoice events", prototypes: invoice.Events()},
		{name: "invoice and test events", prototypes: append(invoice.Events(), tick{})},
		{name: "same prototype twice", prototypes: []event.Event{invoice.Created{}, invoice.Created{}}, wantErr: true},
		{name: "two types, one name", prototypes: []event.Event{invoice.Created{}, impostor{}}, wantErr: true},
		{name: "pointer prototype", prototypes: []event.Event{&invoice.Created{}}, wantErr: true},
		{name: "pointer after value", prototypes: []event.Event{invoice.Paid{}, &invoice.Created{}}, wantErr: true},
		{name: "non-struct prototype", prototypes: []event.Event{label("x")}, wantErr: true},
		{name: "empty name", prototypes: []event.Event{unnamed{}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := event.NewRegistry(tt.prototypes...)
			if tt.wantErr {
				if err == nil {
					t.Fatal("NewRegistry() error = nil, want an error")
				}
				if r != nil {
					t.Errorf("NewRegistry() = %v alongside an error, want nil", r)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRegistry() error = %v, want nil", err)
			}
			// Every prototype's name is then registered: decoding under it
			// may fail on the payload, never on the name.
			for _, p := range tt.prototypes {
				if _, err := r.Decode(p.EventName(), r.Version(p.EventName()), []byte(`{}`)); errors.Is(err, event.ErrUnknownType) {
					t.Errorf("Decode(%q, {}) error = %v, want the name registered", p.EventName(), err)
				}
			}
		})
	}
}

func TestRegistryRoundTrip(t *testing.T) {
	r := invoiceRegistry(t)
	// A non-UTC zone and nanoseconds: stored times must come back as the same instant.
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   event.Event
	}{
		{"created", invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt}},
		{"created with max amount and unicode", invoice.Created{
			InvoiceID: "0190f2c4-7a9e-7c3a-9f4e-1b2c3d4e5f60", CustomerID: "Ærøskøbing \"é\" <&>",
			Amount: eur.MaxAmount(), Currency: eur, CreatedAt: time.Date(2023, 12, 31, 23, 59, 59, 999999999, cet),
		}},
		{"created with one cent", invoice.Created{InvoiceID: "inv-2", CustomerID: "c", Amount: 100, Currency: eur, CreatedAt: createdAt}},
		{"created in KWD with a due date", invoice.Created{
			InvoiceID: "inv-3", CustomerID: "c", Amount: 12500, Currency: invoice.MustCurrency("KWD"),
			DueDate: invoice.DateOf(createdAt.AddDate(0, 1, 0)), CreatedAt: createdAt,
		}},
		{"created with more decimals than its currency", invoice.Created{
			InvoiceID: "inv-4", CustomerID: "c", Amount: 199900, Currency: invoice.MustCurrency("JPY"), CreatedAt: createdAt,
		}},
		{"paid", invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt}},
		{"paid in another zone", invoice.Paid{InvoiceID: "inv-1", PaidAt: time.Date(2024, 2, 29, 0, 0, 0, 1, cet)}},
		{"voided", invoice.Voided{InvoiceID: "inv-1", Reason: "issued twice\nsee inv-2", VoidedAt: paidAt}},
		{"voided without a reason", invoice.Voided{InvoiceID: "inv-1", VoidedAt: time.Date(2024, 2, 29, 0, 0, 0, 1, cet)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data, err := r.Encode(tt.in)
			if err != nil {
				t.Fatalf("Encode() error = %v", err)
			}
			if name != tt.in.EventName() {
				t.Errorf("Encode() name = %q, want %q", name, tt.in.EventName())
			}

			got, err := r.Decode(name, r.Version(name), data)
			if err != nil {
				t.Fatalf("Decode(%q, %s) error = %v", name, data, err)
			}
			if diff := cmp.Diff(tt.in, got, eventOpts); diff != "" {
				t.Errorf("Decode(Encode(e)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// The stored payloads are the schema: these literals are what older rows in
// an event store contain, and they must keep decoding, and encoding must keep
// producing the same keys and values.
func TestRegistryStoredSchema(t *testing.T) {
	r := invoiceRegistry(t)
	tests := []struct {
		name     string
		event    event.Event
		wantName string
		version  int // the schema version stored is written in
		stored   string
	}{
		{
			name:     "created",
			event:    invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt},
			wantName: "invoice.created",
			version:  2,
			stored:   `{"invoiceId":"inv-1","customerId":"cust-1","amount":19.99,"currency":"EUR","createdAt":"2024-05-01T10:30:00.123456789Z"}`,
		},
		{
			name:     "created with whole amount",
			event:    invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 200000, Currency: eur, CreatedAt: createdAt},
			wantName: "invoice.created",
			version:  2,
			stored:   `{"invoiceId":"inv-1","customerId":"cust-1","amount":20.00,"currency":"EUR","createdAt":"2024-05-01T10:30:00.123456789Z"}`,
		},
		{
			name: "created in JPY with a due date",
			event: invoice.Created{
				InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 5_000_000, Currency: invoice.MustCurrency("JPY"),
				DueDate: invoice.DateOf(time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)), CreatedAt: createdAt,
			},
			wantName: "invoice.created",
			version:  2,
			stored:   `{"invoiceId":"inv-1","customerId":"cust-1","amount":500,"currency":"JPY","dueDate":"2024-06-30","createdAt":"2024-05-01T10:30:00.123456789Z"}`,
		},
		{
			// Version 1, from before currencies: read in the legacy one.
			name:     "created at version 1",
			event:    invoice.Created{InvoiceID: "inv-1", CustomerID: "cust-1", Amount: 199900, Currency: eur, CreatedAt: createdAt},
			wantName: "invoice.created",
			version:  1,
			stored:   `{"invoiceId":"inv-1","customerId":"cust-1","amount":19.99,"createdAt":"2024-05-01T10:30:00.123456789Z"}`,
		},
		{
			name:     "paid",
			event:    invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt},
			wantName: "invoice.paid",
			version:  1,
			stored:   `{"invoiceId":"inv-1","paidAt":"2024-05-03T08:00:00Z"}`,
		},
		{
			name:     "voided",
			event:    invoice.Voided{InvoiceID: "inv-1", Reason: "issued twice", VoidedAt: paidAt},
			wantName: "invoice.voided",
			version:  1,
			stored:   `{"invoiceId":"inv-1","reason":"issued twice","voidedAt":"2024-05-03T08:00:00Z"}`,
		},
		{
			name:     "voided without a reason",
			event:    invoice.Voided{InvoiceID: "inv-1", VoidedAt: paidAt},
			wantName: "invoice.voided",
			version:  1,
			stored:   `{"invoiceId":"inv-1","voidedAt":"2024-05-03T08:00:00Z"}`,
		},
	}
	for _, tt := range tests {
		// Older versions are only read: this release writes the current one.
		if tt.version == r.Version(tt.wantName) {
			t.Run(tt.name+"/encode", func(t *testing.T) {
				name, data, err := r.Encode(tt.event)
				if err != nil {
					t.Fatalf("Encode() error = %v", err)
				}
				if name != tt.wantName {
					t.Errorf("Encode() name = %q, want %q", name, tt.wantName)
				}
				// Compare raw values key by key: the exact number text matters
				// (19.99, never 19.990000000000002), key order does not.
				if diff := cmp.Diff(rawObject(t, []byte(tt.stored)), rawObject(t, data)); diff != "" {
					t.Errorf("Encode() payload mismatch (-want +got):\n%s\ngot %s", diff, data)
				}
			})
		}
		t.Run(tt.name+"/decode", func(t *testing.T) {
			got, err := r.Decode(tt.wantName, tt.version, []byte(tt.stored))
			if err != nil {
				t.Fatalf("Decode(%q, %s) error = %v", tt.wantName, tt.stored, err)
			}
			if diff := cmp.Diff(tt.event, got, eventOpts); diff != "" {
				t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegistryEncodeUnknownType(t *testing.T) {
	r, err := event.NewRegistry(invoice.Created{})
	if err != nil {
		t.Fatalf("NewRegistry() error = %v", err)
	}
	tests := []struct {
		name string
		in   event.Event
	}{
		{"unregistered invoice event", invoice.Paid{InvoiceID: "inv-1", PaidAt: paidAt}},
		{"foreign event", tick{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, data, err := r.Encode(tt.in)
			if !errors.Is(err, event.ErrUnknownType) {
				t.Fatalf("Encode() error = %v, want ErrUnknownType", err)
			}
			if name != "" || data != nil {
				t.Errorf("Encode() = %q, %s alongside an error, want empty", name, data)
			}
		})
	}
}

func TestRegistryDecodeErrors(t *testing.T) {
	r := invoiceRegistry(t)
	tests := []struct {
		name        string
		eventName   string
		version     int // 0 is read as 1
		data        string
		wantUnknown bool
		wantField   string // if set, a *invoice.ValidationError for this field must be wrapped
	}{
		{name: "unknown name", eventName: "invoice.deleted", data: `{}`, wantUnknown: true},
		{name: "empty name", eventName: "", data: `{}`, wantUnknown: true},
		{name: "Go type name", eventName: "invoice.Created", data: `{}`, wantUnknown: true},
		{name: "name with different case", eventName: "Invoice.Created", data: `{}`, wantUnknown: true},
		{name: "truncated JSON", eventName: invoice.CreatedEventName, data: `{"invoiceId":"inv-1",`},
		{name: "empty payload", eventName: invoice.CreatedEventName, data: ``},
		{name: "not JSON", eventName: invoice.PaidEventName, data: `invoice paid`},
		{name: "array payload", eventName: invoice.PaidEventName, data: `[]`},
		{name: "wrong field type", eventName: invoice.CreatedEventName, data: `{"invoiceId":5}`},
		{name: "bad time", eventName: invoice.PaidEventName, data: `{"invoiceId":"inv-1","paidAt":"yesterday"}`},
		{name: "amount as string", eventName: invoice.CreatedEventName, data: `{"amount":"19.99"}`, wantField: "amount"},
		{name: "zero amount", eventName: invoice.CreatedEventName, data: `{"amount":0}`, wantField: "amount"},
		{name: "amount below a ten-thousandth", eventName: invoice.CreatedEventName, data: `{"amount":19.99999}`, wantField: "amount"},
		{name: "trailing garbage", eventName: invoice.PaidEventName, data: `{"invoiceId":"inv-1"} x`},
		{name: "an event type not yet invented", eventName: "invoice.refunded", data: `{}`, wantUnknown: true},
		{
			name: "version 2 without a currency", eventName: invoice.CreatedEventName, version: 2,
			data: `{"invoiceId":"inv-1","customerId":"c","amount":1,"createdAt":"2024-05-01T10:30:00Z"}`,
		},
		{
			name: "version 2 with a currency that is not a code", eventName: invoice.CreatedEventName, version: 2,
			data: `{"invoiceId":"inv-1","customerId":"c","amount":1,"currency":"EURO","createdAt":"2024-05-01T10:30:00Z"}`,
		},
		{
			name: "version 2 with a bad due date", eventName: invoice.CreatedEventName, version: 2,
			data: `{"invoiceId":"inv-1","customerId":"c","amount":1,"currency":"EUR","dueDate":"2024-02-30","createdAt":"2024-05-01T10:30:00Z"}`,
		},
		{
			name: "version 1 that already has a currency", eventName: invoice.CreatedEventName, version: 1,
			data: `{"invoiceId":"inv-1","customerId":"c","amount":1,"currency":"EUR","createdAt":"2024-05-01T10:30:00Z"}`,
		},
		{name: "version from a later release", eventName: invoice.PaidEventName, version: 2, data: `{"invoiceId":"inv-1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Decode(tt.eventName, tt.version, []byte(tt.data))
			if err == nil {
				t.Fatalf("Decode(%q, %s) = %#v, want an error", tt.eventName, tt.data, got)
			}
			if got != nil {
				t.Errorf("Decode() = %#v alongside an error, want nil", got)
			}
			if gotUnknown := errors.Is(err, event.ErrUnknownType); gotUnknown != tt.wantUnknown {
				t.Errorf("errors.Is(%v, ErrUnknownType) = %t, want %t", err, gotUnknown, tt.wantUnknown)
			}
			if tt.wantField != "" {
				var ve *invoice.ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.wantField {
					t.Errorf("Decode() error = %v, want a ValidationError for %q", err, tt.wantField)
				}
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	r, err := invoice.NewCodec(invoice.MustCurrency("EUR"))
	if err != nil {
		f.Fatalf("NewCodec() error = %v", err)
	}
	f.Add(invoice.CreatedEventName, []byte(`{"invoiceId":"inv-1","customerId":"cust-1","amount":19.99,"createdAt":"2024-05-01T10:30:00.123456789Z"}`))
	f.Add(invoice.CreatedEventName, []byte(`{"amount":1e9999999999}`))
	f.Add(invoice.CreatedEventName, []byte(`{"amount":null,"createdAt":null}`))
	f.Add(invoice.CreatedEventName, []byte(`{"invoiceId":"inv-1","customerId":"c","amount":19.9999,"dueDate":"2024-06-30","createdAt":"2024-05-01T10:30:00Z"}`))
	f.Add(invoice.CreatedEventName, []byte(`{"amount":5,"currency":"EUR"}`))
	f.Add(invoice.PaidEventName, []byte(`{"invoiceId":"inv-1","paidAt":"2024-05-03T08:00:00+01:00"}`))
	f.Add(invoice.PaidEventName, []byte(`{"paidAt":"0000-01-01T00:00:00-23:59"}`))
	f.Add(invoice.VoidedEventName, []byte(`{"invoiceId":"inv-1","reason":"twice","voidedAt":"2024-05-03T08:00:00Z"}`))
	f.Add(invoice.VoidedEventName, []byte(`{"reason":""}`))
	f.Add(invoice.PaidEventName, []byte(`null`))
	f.Add("invoice.deleted", []byte(`{}`))
	f.Add("", []byte(``))
	f.Add(invoice.CreatedEventName, []byte("{\"customerId\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		e, err := r.Decode(name, 1, data)
		known := name == invoice.CreatedEventName || name == invoice.PaidEventName || name == invoice.VoidedEventName
		if !known {
			if !errors.Is(err, event.ErrUnknownType) {
				t.Fatalf("Decode(%q) error = %v, want ErrUnknownType", name, err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, event.ErrUnknownType) {
				t.Fatalf("Decode(%q) error = %v, want no ErrUnknownType for a registered name", name, err)
			}
			return
		}
		if got := e.EventName(); got != name {
			t.Fatalf("Decode(%q) returned %T named %q", name, e, got)
		}
		// A payload without an amount decodes to the zero Amount, which is
		// not a storable value; every real Created carries one.
		if c, ok := e.(invoice.Created); ok && c.Amount == 0 {
			return
		}
		// Anything decoded re-encodes and decodes to the same event.
		name2, data2, err := r.Encode(e)
		if err != nil {
			t.Fatalf("Encode(%#v) error = %v", e, err)
		}
		again, err := r.Decode(name2, r.Version(name2), data2)
		if err != nil {
			t.Fatalf("Decode(Encode(%#v)) error = %v (payload %s)", e, err, data2)
		}
		if diff := cmp.Diff(e, again, eventOpts); diff != "" {
			t.Fatalf("Decode(Encode(e)) mismatch (-want +got):\n%s", diff)
		}
	})
}

// invoiceRegistry is the invoice codec as the service builds it, reading
// version 1 invoices in EUR.
func invoiceRegistry(t *testing.T) *event.Registry {
	t.Helper()
	r, err := invoice.NewCodec(eur)
	if err != nil {
		t.Fatalf("NewCodec(EUR) error = %v", err)
	}
	return r
}

// eventOpts compares invoice events by what their Currency and Date
// fields (whose own fields are unexported) say: the code, and the day.
var eventOpts = cmp.Options{
	cmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() }),
	cmp.Transformer("Date", func(d invoice.Date) string { return d.String() }),
}

// rawObject splits a JSON object into its keys and exact raw values.
func rawObject(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("payload %s is not a JSON object: %v", data, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// note is an event whose schema changed twice: version 1 stored "text",
// version 2 renamed it "body", version 3 added "lang" (every note so far
// was English).
type note struct {
	Body string `json:"body"`
	Lang string `json:"lang"`
}

func (note) EventName() string  { return "test.note" }
func (note) SchemaVersion() int { return 3 }

// renameField is an upcaster step that renames one JSON field.
func renameField(from, to string) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		if v, ok := m[from]; ok {
			m[to] = v
			delete(m, from)
		}
		return json.Marshal(m)
	}
}

func addField(name, value string) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		m[name] = json.RawMessage(strconv.Quote(value))
		return json.Marshal(m)
	}
}

func noteRegistry(t *testing.T, ups ...event.Upcaster) (*event.Registry, error) {
	t.Helper()
	r, err := event.NewRegistry(note{})
	if err != nil {
		t.Fatal(err)
	}
	return r.WithUpcasters(ups...)
}

var noteUpcasters = []event.Upcaster{
	{Type: "test.note", From: 1, Up: renameField("text", "body")},
	{Type: "test.note", From: 2, Up: addField("lang", "en")},
}

func TestDecodeUpcastsEveryStoredVersion(t *testing.T) {
	r, err := noteRegistry(t, noteUpcasters...)
	if err != nil {
		t.Fatal(err)
	}
	want := note{Body: "hi", Lang: "en"}
	tests := []struct {
		name    string
		version int
		stored  string
	}{
		{"version 0: stored before versions were recorded, read as 1", 0, `{"text":"hi"}`},
		{"version 1", 1, `{"text":"hi"}`},
		{"version 2", 2, `{"body":"hi"}`},
		{"version 3, current", 3, `{"body":"hi","lang":"en"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Decode("test.note", tt.version, []byte(tt.stored))
			if err != nil {
				t.Fatalf("Decode(v%d) error = %v", tt.version, err)
			}
			if got != want {
				t.Errorf("Decode(v%d) = %+v, want %+v", tt.version, got, want)
			}
		})
	}
	if v := r.Version("test.note"); v != 3 {
		t.Errorf("Version = %d, want 3 (what Encode writes)", v)
	}
	if _, err := r.Decode("test.note", 4, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Decode of a version from a later release = %v, want an error saying it is newer", err)
	}
}

func TestUpcasterFailureNamesTheVersion(t *testing.T) {
	r, err := noteRegistry(t,
		event.Upcaster{Type: "test.note", From: 1, Up: func([]byte) ([]byte, error) { return nil, errors.New("boom") }},
		noteUpcasters[1])
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Decode("test.note", 1, []byte(`{"text":"hi"}`))
	if err == nil || !strings.Contains(err.Error(), "upcast from schema version 1") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Decode with a failing upcaster = %v, want it to name version 1 and the cause", err)
	}
}

func TestWithUpcastersRefusesABrokenChain(t *testing.T) {
	up := noteUpcasters[0].Up
	tests := []struct {
		name string
		ups  []event.Upcaster
		want string
	}{
		{"a missing step", noteUpcasters[:1], "no upcaster from version 2"},
		{"none at all", nil, "no upcaster from version 1"},
		{"a step twice", append([]event.Upcaster{noteUpcasters[0]}, noteUpcasters...), "registered twice"},
		{"an unknown type", append([]event.Upcaster{{Type: "test.other", From: 1, Up: up}}, noteUpcasters...), "unknown event type"},
		{"from the current version", append([]event.Upcaster{{Type: "test.note", From: 3, Up: up}}, noteUpcasters...), "at version 3"},
		{"from version 0", append([]event.Upcaster{{Type: "test.note", From: 0, Up: up}}, noteUpcasters...), "from version 0"},
		{"no function", []event.Upcaster{{Type: "test.note", From: 1}, noteUpcasters[1]}, "from version 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := noteRegistry(t, tt.ups...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("WithUpcasters() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
