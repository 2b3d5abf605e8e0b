// Package config loads the service configuration once, from the environment
// and an optional .env file, validates it, and splits it into typed parts.
// It is the only package that reads the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"

	"invoices/domain/invoice"
)

// Driver names a database engine.
type Driver string

// Supported drivers.
const (
	Postgres Driver = "postgres"
	SQLite   Driver = "sqlite"
)

// Config is the whole service configuration.
type Config struct {
	HTTP        HTTP
	EventStore  Database
	ReadDB      Database
	Projection  Projection
	Billing     Billing
	Idempotency Idempotency
	Log         Log
	Debug       Debug
	EventStream EventStream
	NATS        NATS
}

// NATS configures publication to NATS JetStream; off when URL is empty.
type NATS struct {
	// URL is the NATS server (nats://host:4222); it may hold credentials:
	// log Redacted instead.
	URL      string
	Redacted string
	// Stream is the JetStream stream, created when absent.
	Stream string
	// PublishBatch is the most events read and checkpointed at once, and
	// the most publishes awaiting their acknowledgement.
	PublishBatch int
}

// Enabled reports whether events are published to NATS.
func (n NATS) Enabled() bool { return n.URL != "" }

// EventStream configures the live event feed (GET /events as
// text/event-stream).
type EventStream struct {
	// MaxClients caps concurrent streams; one more is answered 503.
	MaxClients int
	// Heartbeat is how often a stream sends a comment, so that proxies and
	// clients see an idle stream alive.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a stream: a client that stops
	// reading is disconnected once a write has waited this long.
	WriteTimeout time.Duration
}

// Idempotency configures Idempotency-Key handling.
type Idempotency struct {
	// KeyTTL is how long a key's first outcome is replayed; after it the
	// record is purged and the key may be used again.
	KeyTTL time.Duration
}

// DefaultIdempotencyKeyTTL is IDEMPOTENCY_KEY_TTL's default.
const DefaultIdempotencyKeyTTL = 24 * time.Hour

// Billing configures invoice defaults.
type Billing struct {
	// DefaultCurrency is the ISO 4217 code of an invoice created without
	// one. The event store also records the value it has when a release
	// with currencies first migrates it, as the currency of the invoices
	// created before; changing it later affects new invoices only.
	DefaultCurrency invoice.Currency
}

// Debug configures the optional profiling listener.
type Debug struct {
	// Addr, when set, serves net/http/pprof on this loopback host:port.
	Addr string
}

// HTTP configures the API server.
type HTTP struct {
	Addr              string // host:port to listen on
	MaxBodyBytes      int64
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// RequestTimeout bounds each request's work, store calls included.
	RequestTimeout time.Duration
	// APIKeys, when not empty, are the bearer tokens /invoices requires.
	// Never log them.
	APIKeys []string
	// CORSOrigins are the origins allowed cross-origin access; empty is off.
	CORSOrigins []string
}

// Loopback reports whether the server listens on a loopback address only.
func (h HTTP) Loopback() bool { return loopback(h.Addr) }

// loopback reports whether addr is a host:port on a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Database configures one store. DSN may hold a password: log Redacted instead.
type Database struct {
	Name         string // "event store" or "read database", for messages
	Driver       Driver
	DSN          string
	Redacted     string
	MaxOpenConns int
	// ConnectTimeout bounds how long start-up retries an unreachable server.
	ConnectTimeout time.Duration
}

// Projection configures the projector and the read-your-writes wait.
type Projection struct {
	// ReadYourWritesTimeout bounds how long a command waits for the read
	// model to reach its events before answering with a warning.
	ReadYourWritesTimeout time.Duration
	// PollInterval is the safety-net poll for events appended elsewhere.
	PollInterval time.Duration
	BatchSize    int
	// PayMaxAttempts bounds how often a pay that lost an optimistic-
	// concurrency race is reloaded, re-decided and re-appended.
	PayMaxAttempts int
}

// Log configures zap.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // json, console, or auto (console on a terminal)
}

// raw mirrors the environment variables one to one.
type raw struct {
	Host              string        `env:"HOST" envDefault:"0.0.0.0"`
	Port              int           `env:"PORT" envDefault:"3001"`
	MaxBodyBytes      int64         `env:"HTTP_MAX_BODY_BYTES" envDefault:"1048576"`
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	ReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"15s"`
	WriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"30s"`
	IdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	RequestTimeout    time.Duration `env:"REQUEST_TIMEOUT" envDefault:"10s"`
	APIKeys           []string      `env:"API_KEYS" envSeparator:","`
	APIKeysFile       string        `env:"API_KEYS_FILE"`
	CORSOrigins       []string      `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`

	DataDir        string        `env:"DATA_DIR" envDefault:"./data"`
	MaxOpenConns   int           `env:"DB_MAX_OPEN_CONNS" envDefault:"16"`
	ConnectTimeout time.Duration `env:"DB_CONNECT_TIMEOUT" envDefault:"30s"`

	EventStore pgVars `envPrefix:"EVENT_STORE_"`
	ReadDB     pgVars `envPrefix:"READ_DB_"`

	ReadYourWritesTimeout time.Duration `env:"READ_YOUR_WRITES_TIMEOUT" envDefault:"5s"`
	PollInterval          time.Duration `env:"PROJECTION_POLL_INTERVAL" envDefault:"1s"`
	BatchSize             int           `env:"PROJECTION_BATCH_SIZE" envDefault:"500"`
	PayMaxAttempts        int           `env:"PAY_MAX_ATTEMPTS" envDefault:"5"`

	DefaultCurrency   string        `env:"DEFAULT_CURRENCY" envDefault:"EUR"`
	IdempotencyKeyTTL time.Duration `env:"IDEMPOTENCY_KEY_TTL" envDefault:"24h"`

	LogLevel  string `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"auto"`

	DebugAddr string `env:"DEBUG_ADDR"`

	EventStreamMaxClients   int           `env:"EVENT_STREAM_MAX_CLIENTS" envDefault:"100"`
	EventStreamHeartbeat    time.Duration `env:"EVENT_STREAM_HEARTBEAT" envDefault:"15s"`
	EventStreamWriteTimeout time.Duration `env:"EVENT_STREAM_WRITE_TIMEOUT" envDefault:"10s"`

	NATSURL          string `env:"NATS_URL"`
	NATSStream       string `env:"NATS_STREAM" envDefault:"INVOICES"`
	NATSPublishBatch int    `env:"NATS_PUBLISH_BATCH" envDefault:"256"`
}

// pgVars are the original service's per-store PostgreSQL variables.
type pgVars struct {
	URL      string `env:"URL"`
	Host     string `env:"HOST"`
	Port     string `env:"PORT"`
	Username string `env:"USERNAME"`
	Password string `env:"PASSWORD"`
	Database string `env:"DATABASE"`
	SSLMode  string `env:"SSLMODE"`
}

func (v pgVars) set() bool {
	return v.URL != "" || v.Host != "" || v.Port != "" || v.Username != "" || v.Password != "" || v.Database != ""
}

// Load reads .env (when present; real environment variables win) and the
// environment. Errors name the offending variable.
func Load() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf(".env: %w", err)
	}
	return FromEnv(os.Environ())
}

// FromEnv builds a Config from KEY=value pairs, ignoring .env. Tests use it.
func FromEnv(environ []string) (Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				vars[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	var r raw
	if err := env.ParseWithOptions(&r, env.Options{Environment: vars}); err != nil {
		return Config{}, nameVariable(err)
	}
	return r.build()
}

func (r raw) build() (Config, error) {
	if r.Port < 1 || r.Port > 65535 {
		return Config{}, errors.New("PORT: must be between 1 and 65535")
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"HTTP_MAX_BODY_BYTES: must be positive", r.MaxBodyBytes > 0},
		{"HTTP_READ_HEADER_TIMEOUT: must be positive", r.ReadHeaderTimeout > 0},
		{"HTTP_READ_TIMEOUT: must be positive", r.ReadTimeout > 0},
		{"HTTP_WRITE_TIMEOUT: must be positive", r.WriteTimeout > 0},
		{"HTTP_IDLE_TIMEOUT: must be positive", r.IdleTimeout > 0},
		{"SHUTDOWN_TIMEOUT: must be positive", r.ShutdownTimeout > 0},
		{"DB_MAX_OPEN_CONNS: must be at least 2", r.MaxOpenConns >= 2},
		{"DB_CONNECT_TIMEOUT: must be positive", r.ConnectTimeout > 0},
		{"REQUEST_TIMEOUT: must be positive", r.RequestTimeout > 0},
		{"READ_YOUR_WRITES_TIMEOUT: must not be negative", r.ReadYourWritesTimeout >= 0},
		{"PROJECTION_POLL_INTERVAL: must be positive", r.PollInterval > 0},
		{"PROJECTION_BATCH_SIZE: must be between 1 and 10000", r.BatchSize >= 1 && r.BatchSize <= 10000},
		{"PAY_MAX_ATTEMPTS: must be between 1 and 100", r.PayMaxAttempts >= 1 && r.PayMaxAttempts <= 100},
		{"IDEMPOTENCY_KEY_TTL: must be between 1m and 720h", r.IdempotencyKeyTTL >= time.Minute && r.IdempotencyKeyTTL <= 720*time.Hour},
		{"EVENT_STREAM_MAX_CLIENTS: must be between 1 and 100000", r.EventStreamMaxClients >= 1 && r.EventStreamMaxClients <= 100000},
		{"EVENT_STREAM_HEARTBEAT: must be positive", r.EventStreamHeartbeat > 0},
		{"EVENT_STREAM_WRITE_TIMEOUT: must be positive", r.EventStreamWriteTimeout > 0},
		{"LOG_LEVEL: must be debug, info, warn or error", oneOf(r.LogLevel, "debug", "info", "warn", "error")},
		{"LOG_FORMAT: must be auto, json or console", oneOf(r.LogFormat, "auto", "json", "console")},
		// pprof has no authentication and shows the process's internals.
		{"DEBUG_ADDR: must be a loopback host:port, such as 127.0.0.1:6060", r.DebugAddr == "" || loopback(r.DebugAddr)},
		{"NATS_STREAM: must be a stream name (letters, digits, - and _)", streamName(r.NATSStream)},
		{"NATS_PUBLISH_BATCH: must be between 1 and 10000", r.NATSPublishBatch >= 1 && r.NATSPublishBatch <= 10000},
	}
	for _, c := range checks {
		if !c.ok {
			return Config{}, errors.New(c.name)
		}
	}
	keys, err := apiKeys(r.APIKeys, r.APIKeysFile)
	if err != nil {
		return Config{}, err
	}
	cur, err := invoice.ParseCurrency(r.DefaultCurrency)
	if err != nil {
		var ve *invoice.ValidationError
		if errors.As(err, &ve) {
			err = errors.New(ve.Reason)
		}
		return Config{}, fmt.Errorf("DEFAULT_CURRENCY: %w", err)
	}
	origins, err := corsOrigins(r.CORSOrigins)
	if err != nil {
		return Config{}, err
	}
	es, err := database("event store", "EVENT_STORE_", r.EventStore, r.DataDir, "events.db", "event_store", r.MaxOpenConns)
	if err != nil {
		return Config{}, err
	}
	rd, err := database("read database", "READ_DB_", r.ReadDB, r.DataDir, "read.db", "read_db", r.MaxOpenConns)
	if err != nil {
		return Config{}, err
	}
	es.ConnectTimeout, rd.ConnectTimeout = r.ConnectTimeout, r.ConnectTimeout
	natsCfg, err := natsConfig(r)
	if err != nil {
		return Config{}, err
	}
	return Config{
		HTTP: HTTP{
			Addr:              net.JoinHostPort(r.Host, strconv.Itoa(r.Port)),
			MaxBodyBytes:      r.MaxBodyBytes,
			ReadHeaderTimeout: r.ReadHeaderTimeout,
			ReadTimeout:       r.ReadTimeout,
			WriteTimeout:      r.WriteTimeout,
			IdleTimeout:       r.IdleTimeout,
			ShutdownTimeout:   r.ShutdownTimeout,
			RequestTimeout:    r.RequestTimeout,
			APIKeys:           keys,
			CORSOrigins:       origins,
		},
		EventStore: es,
		ReadDB:     rd,
		Projection: Projection{
			ReadYourWritesTimeout: r.ReadYourWritesTimeout,
			PollInterval:          r.PollInterval,
			BatchSize:             r.BatchSize,
			PayMaxAttempts:        r.PayMaxAttempts,
		},
		Billing:     Billing{DefaultCurrency: cur},
		Idempotency: Idempotency{KeyTTL: r.IdempotencyKeyTTL},
		Log:         Log{Level: r.LogLevel, Format: r.LogFormat},
		Debug:       Debug{Addr: r.DebugAddr},
		NATS:        natsCfg,
		EventStream: EventStream{
			MaxClients: r.EventStreamMaxClients, Heartbeat: r.EventStreamHeartbeat, WriteTimeout: r.EventStreamWriteTimeout,
		},
	}, nil
}

func database(name, prefix string, v pgVars, dataDir, file, defaultDB string, maxConns int) (Database, error) {
	db := Database{Name: name, MaxOpenConns: maxConns}
	switch {
	case v.URL != "":
		u, err := url.Parse(v.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			// The URL may hold a password: never echo it.
			return Database{}, fmt.Errorf("%sURL: must be a postgres:// URL with a host", prefix)
		}
		db.Driver, db.DSN, db.Redacted = Postgres, v.URL, u.Redacted()
	case v.set():
		port := 5432
		if v.Port != "" {
			p, err := strconv.Atoi(v.Port)
			if err != nil || p < 1 || p > 65535 {
				return Database{}, fmt.Errorf("%sPORT: must be a port number, got %q", prefix, v.Port)
			}
			port = p
		}
		u := url.URL{
			Scheme: "postgres",
			Host:   net.JoinHostPort(orDefault(v.Host, "localhost"), strconv.Itoa(port)),
			Path:   "/" + orDefault(v.Database, defaultDB),
		}
		user := orDefault(v.Username, "postgres")
		if v.Password != "" {
			u.User = url.UserPassword(user, v.Password)
		} else {
			u.User = url.User(user)
		}
		u.RawQuery = url.Values{"sslmode": {orDefault(v.SSLMode, "prefer")}}.Encode()
		db.Driver, db.DSN, db.Redacted = Postgres, u.String(), u.Redacted()
	default:
		if dataDir == "" {
			return Database{}, errors.New("DATA_DIR: must not be empty")
		}
		path := filepath.Join(dataDir, file)
		db.Driver, db.DSN, db.Redacted = SQLite, path, path
	}
	return db, nil
}

// minAPIKeyLength keeps keys long enough not to be guessed.
const minAPIKeyLength = 16

// apiKeys merges API_KEYS with the lines of API_KEYS_FILE (blank lines and
// #-comments ignored). Errors never include a key.
func apiKeys(inline []string, file string) ([]string, error) {
	var keys []string
	add := func(source, k string) error {
		k = strings.TrimSpace(k)
		if k == "" || strings.HasPrefix(k, "#") {
			return nil
		}
		if len(k) < minAPIKeyLength || strings.ContainsAny(k, " \t") {
			return fmt.Errorf("%s: every key must be at least %d characters without spaces", source, minAPIKeyLength)
		}
		keys = append(keys, k)
		return nil
	}
	for _, k := range inline {
		if err := add("API_KEYS", k); err != nil {
			return nil, err
		}
	}
	if file != "" {
		b, err := os.ReadFile(file) //nolint:gosec // the operator names this file
		if err != nil {
			return nil, fmt.Errorf("API_KEYS_FILE: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if err := add("API_KEYS_FILE", line); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

// corsOrigins validates CORS_ALLOWED_ORIGINS: "*" or absolute http(s) origins.
func corsOrigins(in []string) ([]string, error) {
	var out []string
	for _, o := range in {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return nil, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin such as https://app.example.com", o)
			}
			o = u.Scheme + "://" + u.Host
		}
		out = append(out, o)
	}
	return out, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// nameVariable rewrites the env library's errors, which name Go struct
// fields, to name the environment variable the operator has to fix.
func nameVariable(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) || len(agg.Errors) == 0 {
		return err
	}
	var pe env.ParseError
	if errors.As(agg.Errors[0], &pe) {
		if name, ok := envName(reflect.TypeOf(raw{}), pe.Name, ""); ok {
			return fmt.Errorf("%s: invalid value: %w", name, pe.Err)
		}
	}
	return agg.Errors[0]
}

func envName(t reflect.Type, field, prefix string) (string, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("envPrefix") != "" {
			if name, ok := envName(f.Type, field, prefix+f.Tag.Get("envPrefix")); ok {
				return name, true
			}
			continue
		}
		if f.Name == field {
			return prefix + f.Tag.Get("env"), true
		}
	}
	return "", false
}

// natsConfig validates NATS_URL: empty (off) or nats:// (tls://) URLs,
// comma-separated for a cluster. Errors never echo it.
func natsConfig(r raw) (NATS, error) {
	n := NATS{Stream: r.NATSStream, PublishBatch: r.NATSPublishBatch}
	if r.NATSURL == "" {
		return n, nil
	}
	var redacted []string
	for _, part := range strings.Split(r.NATSURL, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return NATS{}, errors.New("NATS_URL: must be nats:// or tls:// URLs with a host, comma-separated")
		}
		redacted = append(redacted, u.Redacted())
	}
	n.URL, n.Redacted = r.NATSURL, strings.Join(redacted, ",")
	return n, nil
}

// streamName reports whether s is a JetStream stream name this service
// accepts: no spaces, dots, wildcards or path separators.
func streamName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
