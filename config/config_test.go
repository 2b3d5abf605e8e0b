package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"invoices/domain/invoice"
)

// currencyOpt compares a Currency (whose fields are unexported) by its code.
var currencyOpt = cmp.Transformer("Currency", func(c invoice.Currency) string { return c.Code() })

func TestDefaults(t *testing.T) {
	cfg, err := FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		HTTP: HTTP{
			Addr: "0.0.0.0:3001", MaxBodyBytes: 1 << 20,
			ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: 120 * time.Second, ShutdownTimeout: 15 * time.Second, RequestTimeout: 10 * time.Second,
		},
		EventStore:  Database{Name: "event store", Driver: SQLite, DSN: "data/events.db", Redacted: "data/events.db", MaxOpenConns: 16, ConnectTimeout: 30 * time.Second},
		ReadDB:      Database{Name: "read database", Driver: SQLite, DSN: "data/read.db", Redacted: "data/read.db", MaxOpenConns: 16, ConnectTimeout: 30 * time.Second},
		Projection:  Projection{ReadYourWritesTimeout: 5 * time.Second, PollInterval: time.Second, BatchSize: 500, PayMaxAttempts: 5},
		Billing:     Billing{DefaultCurrency: invoice.MustCurrency("EUR")},
		Idempotency: Idempotency{KeyTTL: 24 * time.Hour},
		Log:         Log{Level: "info", Format: "auto"},
		EventStream: EventStream{MaxClients: 100, Heartbeat: 15 * time.Second, WriteTimeout: 10 * time.Second},
		NATS:        NATS{Stream: "INVOICES", PublishBatch: 256},
	}
	if diff := cmp.Diff(want, cfg, currencyOpt); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestPostgresSelection(t *testing.T) {
	tests := []struct {
		name         string
		env          []string
		wantDSN      string
		wantRedacted string
	}{
		{
			name:         "original variables",
			env:          []string{"EVENT_STORE_HOST=pg-event-store", "EVENT_STORE_PORT=5432", "EVENT_STORE_USERNAME=app", "EVENT_STORE_PASSWORD=s3cret", "EVENT_STORE_DATABASE=events"},
			wantDSN:      "postgres://app:s3cret@pg-event-store:5432/events?sslmode=prefer",
			wantRedacted: "postgres://app:xxxxx@pg-event-store:5432/events?sslmode=prefer",
		},
		{
			name:         "host only, defaults for the rest",
			env:          []string{"EVENT_STORE_HOST=db"},
			wantDSN:      "postgres://postgres@db:5432/event_store?sslmode=prefer",
			wantRedacted: "postgres://postgres@db:5432/event_store?sslmode=prefer",
		},
		{
			name:         "URL wins",
			env:          []string{"EVENT_STORE_URL=postgres://u:pw@h:1/d?sslmode=disable", "EVENT_STORE_HOST=ignored"},
			wantDSN:      "postgres://u:pw@h:1/d?sslmode=disable",
			wantRedacted: "postgres://u:xxxxx@h:1/d?sslmode=disable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := FromEnv(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			es := cfg.EventStore
			if es.Driver != Postgres || es.DSN != tt.wantDSN || es.Redacted != tt.wantRedacted {
				t.Errorf("event store = %+v, want postgres %s (redacted %s)", es, tt.wantDSN, tt.wantRedacted)
			}
			if cfg.ReadDB.Driver != SQLite {
				t.Errorf("read database driver = %s, want sqlite: READ_DB_* is unset", cfg.ReadDB.Driver)
			}
		})
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env     string
		wantVar string
	}{
		{"PORT=abc", "PORT"},
		{"PORT=70000", "PORT"},
		{"READ_YOUR_WRITES_TIMEOUT=soon", "READ_YOUR_WRITES_TIMEOUT"},
		{"PROJECTION_BATCH_SIZE=0", "PROJECTION_BATCH_SIZE"},
		{"READ_DB_PORT=x", "READ_DB_PORT"},
		{"EVENT_STORE_URL=mysql://u:topsecret@h/db", "EVENT_STORE_URL"},
		{"LOG_FORMAT=xml", "LOG_FORMAT"},
		{"DB_MAX_OPEN_CONNS=1", "DB_MAX_OPEN_CONNS"},
		{"API_KEYS=short", "API_KEYS"},
		{"API_KEYS_FILE=/nonexistent/keys", "API_KEYS_FILE"},
		{"CORS_ALLOWED_ORIGINS=ftp://x", "CORS_ALLOWED_ORIGINS"},
		{"REQUEST_TIMEOUT=0s", "REQUEST_TIMEOUT"},
		{"DEBUG_ADDR=0.0.0.0:6060", "DEBUG_ADDR"},
		{"DEBUG_ADDR=6060", "DEBUG_ADDR"},
		{"DEFAULT_CURRENCY=XAU", "DEFAULT_CURRENCY"},
		{"DEFAULT_CURRENCY=bogus", "DEFAULT_CURRENCY"},
		{"IDEMPOTENCY_KEY_TTL=30s", "IDEMPOTENCY_KEY_TTL"},
		{"IDEMPOTENCY_KEY_TTL=721h", "IDEMPOTENCY_KEY_TTL"},
	}
	for i, tt := range tests {
		// Named by variable, not value: values may hold secrets, and the
		// CI log scan checks none reaches a test log.
		t.Run(fmt.Sprintf("%d_%s", i, tt.wantVar), func(t *testing.T) {
			_, err := FromEnv([]string{tt.env})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tt.wantVar+":") {
				t.Errorf("error %q does not start with %s:", err, tt.wantVar)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// TestEnvExampleListsEverySetting keeps .env.example in step with the code:
// every variable the config reads is listed, and the listed defaults load.
func TestEnvExampleListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var names []string
	collectEnvNames(reflect.TypeOf(raw{}), "", &names)
	for _, name := range names {
		if !strings.Contains(text, name+"=") {
			t.Errorf(".env.example does not list %s", name)
		}
	}
	var environ []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			environ = append(environ, line)
		}
	}
	got, err := FromEnv(environ)
	if err != nil {
		t.Fatalf(".env.example does not load: %v", err)
	}
	want, _ := FromEnv(nil)
	if diff := cmp.Diff(want, got, currencyOpt); diff != "" {
		t.Errorf(".env.example values differ from the defaults (-default +example):\n%s", diff)
	}
}

func collectEnvNames(t reflect.Type, prefix string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if p := f.Tag.Get("envPrefix"); p != "" {
			collectEnvNames(f.Type, prefix+p, out)
			continue
		}
		if name := f.Tag.Get("env"); name != "" {
			*out = append(*out, prefix+name)
		}
	}
}

func TestAPIKeysAndCORS(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte("# ops key\nfile-key-0123456789abcdef\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := FromEnv([]string{
		"API_KEYS=inline-key-0123456789, second-key-0123456789",
		"API_KEYS_FILE=" + file,
		"CORS_ALLOWED_ORIGINS=https://app.example.com/, http://localhost:5173",
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"inline-key-0123456789", "second-key-0123456789", "file-key-0123456789abcdef"}, cfg.HTTP.APIKeys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"https://app.example.com", "http://localhost:5173"}, cfg.HTTP.CORSOrigins); diff != "" {
		t.Errorf("origins (-want +got):\n%s", diff)
	}
	_, err = FromEnv([]string{"API_KEYS=a-key-that-is-long-enough,tooshort-secret"})
	if err == nil || strings.Contains(err.Error(), "tooshort-secret") {
		t.Errorf("short key: err = %v, want an error that does not echo the key", err)
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "0.0.0.0": false, "10.1.2.3": false, "": false} {
		cfg, err := FromEnv([]string{"HOST=" + host})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.HTTP.Loopback(); got != want {
			t.Errorf("HOST=%q: Loopback() = %v, want %v", host, got, want)
		}
	}
}

func TestDefaultCurrency(t *testing.T) {
	tests := []struct {
		env        string
		wantCode   string
		wantDigits int
		wantErr    string // a substring of the error, if one is expected
	}{
		{env: "", wantCode: "EUR", wantDigits: 2},
		{env: "DEFAULT_CURRENCY=USD", wantCode: "USD", wantDigits: 2},
		{env: "DEFAULT_CURRENCY=jpy", wantCode: "JPY", wantDigits: 0},
		{env: "DEFAULT_CURRENCY=KWD", wantCode: "KWD", wantDigits: 3},
		{env: "DEFAULT_CURRENCY=XAU", wantErr: "XAU is not an ISO 4217 currency"},
		{env: "DEFAULT_CURRENCY=CLF", wantErr: "fund"},
		{env: "DEFAULT_CURRENCY=bogus", wantErr: "three-letter ISO 4217 code"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			var environ []string
			if tt.env != "" {
				environ = []string{tt.env}
			}
			cfg, err := FromEnv(environ)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("FromEnv(%s) = %s, want an error", tt.env, cfg.Billing.DefaultCurrency)
				}
				if !strings.HasPrefix(err.Error(), "DEFAULT_CURRENCY: ") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("FromEnv(%s) error = %q, want \"DEFAULT_CURRENCY: ...%s...\"", tt.env, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv(%s) error = %v", tt.env, err)
			}
			got := cfg.Billing.DefaultCurrency
			if got.Code() != tt.wantCode || got.Digits() != tt.wantDigits {
				t.Errorf("FromEnv(%s) DefaultCurrency = %s with %d digits, want %s with %d", tt.env, got, got.Digits(), tt.wantCode, tt.wantDigits)
			}
		})
	}
}

func TestNATSSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		want    NATS
		wantErr string
	}{
		{"off", nil, NATS{Stream: "INVOICES", PublishBatch: 256}, ""},
		{"on", []string{"NATS_URL=nats://u:p4ss@127.0.0.1:4222", "NATS_STREAM=BILLING", "NATS_PUBLISH_BATCH=64"},
			NATS{URL: "nats://u:p4ss@127.0.0.1:4222", Redacted: "nats://u:xxxxx@127.0.0.1:4222", Stream: "BILLING", PublishBatch: 64}, ""},
		{"not a nats url", []string{"NATS_URL=http://u:p4ss@x:4222"}, NATS{}, "NATS_URL: must be nats:// or tls:// URLs with a host, comma-separated"},
		{"bad stream", []string{"NATS_STREAM=a.b"}, NATS{}, "NATS_STREAM: must be a stream name (letters, digits, - and _)"},
		{"bad batch", []string{"NATS_PUBLISH_BATCH=0"}, NATS{}, "NATS_PUBLISH_BATCH: must be between 1 and 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := FromEnv(tt.env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.NATS); diff != "" {
				t.Errorf("NATS (-want +got):\n%s", diff)
			}
		})
	}
}
