package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"  // database/sql driver "sqlite", for reading the embedded stores
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the PostgreSQL stores
)

// The one harness of the system tests: the binary, built once per test
// binary; service processes on free ports whose logs can be read while they
// run; the CLI; an HTTP client that records every request as a reply; a
// reporter of the first failures of many; and databases (fresh ones on the
// shared PostgreSQL server, a private cluster a test may stop, SQLite files).

// binEnv names a built binary to test instead of building the module root,
// for example the release build of `make build`.
const binEnv = "INVOICES_E2E_BIN"

// build is the binary built for this test binary, at most once.
var build struct {
	once sync.Once
	dir  string // temporary directory holding it, removed by TestMain
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// binary returns the invoices binary: INVOICES_E2E_BIN when set, otherwise
// the module root built on first use. A root that does not compile fails
// every test that needs the binary, with the compiler's output.
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(binEnv); p != "" {
		return p
	}
	build.once.Do(func() { build.path, build.err = buildRoot() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// buildRoot builds the module's root package, the binary, into a new
// temporary directory.
func buildRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: the tests do not run inside the module")
	}
	dir, err := os.MkdirTemp("", "invoices-e2e-")
	if err != nil {
		return "", err
	}
	build.dir = dir
	bin := filepath.Join(dir, "invoices")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// processEnv is the environment of every process the tests start: what any
// process needs, then env. The tests' own environment stays out, so that a
// developer's EVENT_STORE_URL or DATA_DIR cannot point a test elsewhere.
func processEnv(env ...string) []string {
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return append(out, env...)
}

// run runs the binary with args (none: it serves) and env in a private
// working directory, and returns its stdout, its stderr and its exit code.
// It fails the test when the binary cannot be run or is still running after
// ten minutes.
func run(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = t.TempDir() // no stray .env or ./data is picked up
	cmd.Env = processEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("invoices %s: still running after 10 minutes\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), &out, &errOut)
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("invoices %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a process's output; the test reads it while the
// process still writes (bytes.Buffer alone would be a data race).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func logTail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// service is one running service process.
type service struct {
	name    string
	base    string // http://127.0.0.1:port
	cmd     *exec.Cmd
	logs    *logBuffer // stdout and stderr: JSON log lines
	started time.Time
	// dying is set just before SIGKILL: a request to this instance that
	// fails at the transport level from then on was never acknowledged.
	dying   atomic.Bool
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startService runs the binary as a service with env and returns once its
// /healthz answers 200.
func startService(t testing.TB, name string, env ...string) *service {
	t.Helper()
	p := spawnService(t, name, env...)
	p.waitHealthy(t)
	return p
}

// spawnService starts the binary on a free port with env added to HOST,
// PORT and LOG_FORMAT=json, without waiting for it to serve. The process is
// killed at cleanup; when the test failed, the tail of its log is printed.
func spawnService(t testing.TB, name string, env ...string) *service {
	t.Helper()
	port := strconv.Itoa(freePort(t))
	p := &service{
		name:   name,
		base:   "http://127.0.0.1:" + port,
		logs:   &logBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd = exec.Command(binary(t))
	p.cmd.Dir = t.TempDir() // no stray .env or ./data is picked up
	p.cmd.Env = processEnv(append([]string{"HOST=127.0.0.1", "PORT=" + port, "LOG_FORMAT=json"}, env...)...)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s (pid %d) log tail:\n%s", p.name, p.cmd.Process.Pid, logTail(p.logs.String(), 40))
		}
	})
	return p
}

// waitHealthy polls /healthz until it answers 200, for up to 30 s.
func (p *service) waitHealthy(t testing.TB) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%s exited during start-up: %v\n%s", p.name, p.waitErr, p.logs)
		default:
		}
		resp, err := client.Get(p.base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("%s started (pid %d, %s) in %v", p.name, p.cmd.Process.Pid, p.base, time.Since(p.started).Round(time.Millisecond))
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy in 30s; logs:\n%s", p.name, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitForLog waits up to 10 s for a log line containing text.
func (p *service) waitForLog(t testing.TB, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("%s logged no %s in 10s; logs:\n%s", p.name, text, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (p *service) signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// wait waits up to timeout for the process to exit and returns how it
// exited (nil: status 0).
func (p *service) wait(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		return fmt.Errorf("still running %v later", timeout)
	}
}

// stop sends SIGTERM, the orderly shutdown, and fails the test unless the
// process exits 0 within 30 s.
func (p *service) stop(t testing.TB) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	if err := p.wait(30 * time.Second); err != nil {
		t.Fatalf("%s after SIGTERM: %v; logs:\n%s", p.name, err, logTail(p.logs.String(), 40))
	}
}

// kill sends SIGKILL (no drain, no deferred cleanup: a crash) and waits
// until the process is gone.
func (p *service) kill(t testing.TB) {
	t.Helper()
	p.dying.Store(true)
	p.signal(t, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
}

// client sends the tests' API requests and records each as a reply. Its
// timeout is above the service's REQUEST_TIMEOUT (10 s by default), so the
// server, not the client, decides a 503. It is shared by load goroutines.
type client struct{ http *http.Client }

func newClient() *client {
	return &client{http: &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		},
	}}
}

// invoiceBody is the part of an invoice answer the tests check.
type invoiceBody struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customerId"`
	Amount     json.Number `json:"amount"`
	Currency   string      `json:"currency"`
	Status     string      `json:"status"`
	Version    int         `json:"version"`
	PaidAt     *time.Time  `json:"paidAt"`
}

// problemBody is the part of an RFC 9457 problem document the tests check.
type problemBody struct {
	Type   string `json:"type"`
	Detail string `json:"detail"`
}

// reply is one API request as the client saw it.
type reply struct {
	op        string // "create", "pay", "get"
	instance  *service
	requestID string
	sent      time.Time
	took      time.Duration // from sending to the end of the body or the failure
	status    int
	err       error // transport failure: no complete HTTP answer
	inv       invoiceBody
	problem   problemBody // of an error answer; Detail also says why a 2xx body did not decode
	warning   string      // Warning header (read model lagged)
	location  string
	// retryAfter and mediaType are the Retry-After and Content-Type (without
	// parameters) headers; replayed is Idempotent-Replayed.
	retryAfter string
	mediaType  string
	replayed   string
	body       []byte // as received
}

func (r reply) String() string {
	s := fmt.Sprintf("%s on %s (request %s, sent %s, took %v): ", r.op, r.instance.name, r.requestID,
		r.sent.Format("15:04:05.000000"), r.took.Round(time.Microsecond))
	if r.err != nil {
		return s + "transport error: " + r.err.Error()
	}
	s += strconv.Itoa(r.status)
	if r.problem.Type != "" {
		s += " " + r.problem.Type
	}
	if r.problem.Detail != "" {
		s += " (" + r.problem.Detail + ")"
	}
	if r.warning != "" {
		s += " Warning: " + r.warning
	}
	if r.replayed != "" {
		s += " Idempotent-Replayed: " + r.replayed
	}
	return s
}

// call sends one request to p, with header as name and value pairs, and
// decodes an invoice or a problem.
func (c *client) call(ctx context.Context, p *service, op, method, path, body, requestID string, header ...string) reply {
	r := reply{op: op, instance: p, requestID: requestID, sent: time.Now()}
	r.err = c.send(ctx, &r, method, p.base+path, body, header)
	r.took = time.Since(r.sent)
	return r
}

// send does call's request and fills r from the answer; it returns a
// transport failure.
func (c *client) send(ctx context.Context, r *reply, method, url, body string, header []string) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Request-ID", r.requestID)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	r.status = resp.StatusCode
	r.warning = resp.Header.Get("Warning")
	r.location = resp.Header.Get("Location")
	r.retryAfter = resp.Header.Get("Retry-After")
	r.mediaType = strings.TrimSpace(strings.Split(resp.Header.Get("Content-Type"), ";")[0])
	r.replayed = resp.Header.Get("Idempotent-Replayed")
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%d, reading body: %w", resp.StatusCode, err)
	}
	r.body = b
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &r.inv); err != nil {
			r.problem.Detail = fmt.Sprintf("undecodable invoice %q: %v", b, err)
		}
		return nil
	}
	_ = json.Unmarshal(b, &r.problem)
	return nil
}

// create posts an invoice; amount is a JSON number.
func (c *client) create(ctx context.Context, p *service, customer, amount, requestID string) reply {
	return c.call(ctx, p, "create", http.MethodPost, "/invoices",
		fmt.Sprintf(`{"customerId":%q,"amount":%s}`, customer, amount), requestID)
}

func (c *client) pay(ctx context.Context, p *service, id, requestID string) reply {
	return c.call(ctx, p, "pay", http.MethodPost, "/invoices/"+id+"/pay", "", requestID)
}

func (c *client) get(ctx context.Context, p *service, id, requestID string) reply {
	return c.call(ctx, p, "get", http.MethodGet, "/invoices/"+id, "", requestID)
}

// fetch GETs url (an endpoint other than an invoice: /readyz, pprof) and
// returns the status and body; a transport failure fails the test.
func (c *client) fetch(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := c.http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// failures reports the first limit failures of one kind in full and after
// that only counts them, so that one broken invariant does not bury the
// others in the log. It is safe for concurrent use.
type failures struct {
	t     testing.TB
	limit int
	what  string // what the failures are, for the count
	mu    sync.Mutex
	n     int
}

func newFailures(t testing.TB, limit int, what string) *failures {
	return &failures{t: t, limit: limit, what: what}
}

// add fails the test, with the message while fewer than limit came before.
func (f *failures) add(format string, args ...any) {
	f.t.Helper()
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n <= f.limit {
		f.t.Errorf(format, args...)
	}
}

// summarize reports how many there were in all, if some went unshown.
func (f *failures) summarize() {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > f.limit {
		f.t.Errorf("%s: %d in all, the first %d shown", f.what, f.n, f.limit)
	}
}

// postgresEnv names the admin URL of the PostgreSQL server on which tests
// create their own databases.
const postgresEnv = "TEST_POSTGRES_URL"

// postgresExample is a value of TEST_POSTGRES_URL for the skip messages.
const postgresExample = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// postgresAdmin returns TEST_POSTGRES_URL, or skips the test with message
// (which should say to set it) when it is unset.
func postgresAdmin(t testing.TB, message string) string {
	t.Helper()
	admin := os.Getenv(postgresEnv)
	if admin == "" {
		t.Skip(message)
	}
	return admin
}

// newDatabase creates a new, empty database on the server at admin and
// returns its URL. It is dropped WITH (FORCE) at cleanup, after the
// processes using it are killed (cleanups run last registered first).
func newDatabase(t testing.TB, admin, label string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", postgresEnv, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "invoices_e2e_" + label + "_" + hex.EncodeToString(b[:])
	adminExec := func(query string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return err
		}
		defer func() { _ = db.Close() }()
		_, err = db.ExecContext(ctx, query)
		return err
	}
	if err := adminExec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := adminExec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// openPostgres connects to the database at dsn; closed at cleanup.
func openPostgres(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	return openDB(t, "pgx", dsn)
}

// openSQLite opens an embedded store's database file, waiting for locks as
// the service does; closed at cleanup.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	return openDB(t, "sqlite", path+"?_pragma=busy_timeout(10000)")
}

func openDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect (%s): %v", driver, err)
	}
	return db
}

// queryInt runs a query that returns one integer.
func queryInt(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int64
	if err := db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// privatePostgres is a PostgreSQL cluster owned by one test: its own data
// directory, port and socket directory, so the test may stop and restart it
// without touching any other server.
type privatePostgres struct {
	bin  string // directory holding initdb and pg_ctl
	dir  string // holds data/, sock/ and server.log
	port int
	// runAs prefixes every server command: runuser to the postgres OS user
	// when the test runs as root (PostgreSQL refuses to run as root).
	runAs []string
}

// startPrivatePostgres initialises and starts a new cluster with trust
// authentication on 127.0.0.1, or skips the test when the server binaries
// are not installed. The cluster is stopped and removed at cleanup.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin, ok := postgresBinDir()
	if !ok {
		t.Skip("initdb and pg_ctl not found (PATH, /usr/lib/postgresql/*/bin): install PostgreSQL to run this test")
	}
	dir, err := os.MkdirTemp("", "invoices-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg := &privatePostgres{bin: bin, dir: dir, port: freePort(t)}
	if os.Geteuid() == 0 {
		pg.runAs = asPostgresUser(t, dir)
	}
	if err := os.Mkdir(pg.sockDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		chownToPostgres(t, dir, pg.sockDir())
	}
	if out, err := pg.command("initdb", "-D", pg.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Immediate: the test is over, nothing needs a clean checkpoint.
		if pg.running() {
			_ = pg.stop("immediate")
		}
	})
	return pg
}

func (pg *privatePostgres) dataDir() string { return filepath.Join(pg.dir, "data") }
func (pg *privatePostgres) sockDir() string { return filepath.Join(pg.dir, "sock") }

// url returns the URL of database db as the password-less superuser.
// connect_timeout keeps a dial to a dying server from hanging a request.
func (pg *privatePostgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=2", pg.port, db)
}

func (pg *privatePostgres) command(name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, pg.runAs...), filepath.Join(pg.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	// The postgres user may not be able to enter the package directory.
	cmd.Dir = pg.dir
	return cmd
}

// start starts the server on the same data directory and port, and waits
// until it accepts connections.
func (pg *privatePostgres) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", pg.port, pg.sockDir())
	out, err := pg.command("pg_ctl", "start", "-w", "-t", "30", "-D", pg.dataDir(),
		"-l", filepath.Join(pg.dir, "server.log"), "-o", opts).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\nserver.log:\n%s", err, out, log)
	}
	return nil
}

// stop stops the server with the given shutdown mode (fast: roll back and
// disconnect every session; immediate: no shutdown checkpoint, as a crash).
func (pg *privatePostgres) stop(mode string) error {
	out, err := pg.command("pg_ctl", "stop", "-w", "-t", "30", "-D", pg.dataDir(), "-m", mode).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	return nil
}

func (pg *privatePostgres) running() bool {
	return pg.command("pg_ctl", "status", "-D", pg.dataDir()).Run() == nil
}

// createDatabases creates empty databases in the cluster.
func (pg *privatePostgres) createDatabases(t *testing.T, names ...string) {
	t.Helper()
	db := pg.open(t, "postgres")
	for _, name := range names {
		if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("create database %s: %v", name, err)
		}
	}
}

// open connects to database name, closed at cleanup.
func (pg *privatePostgres) open(t *testing.T, name string) *sql.DB {
	t.Helper()
	return openPostgres(t, pg.url(name))
}

// postgresBinDir finds a directory with both initdb and pg_ctl: on PATH, or
// Debian's versioned /usr/lib/postgresql/N/bin (newest first).
func postgresBinDir() (string, bool) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		if dir := filepath.Dir(initdb); executable(filepath.Join(dir, "pg_ctl")) {
			return dir, true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if executable(filepath.Join(dir, "initdb")) && executable(filepath.Join(dir, "pg_ctl")) {
			return dir, true
		}
	}
	return "", false
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// asPostgresUser returns the command prefix that runs as the postgres OS
// user, or skips the test when there is no such user or it cannot reach dir.
func asPostgresUser(t *testing.T, dir string) []string {
	t.Helper()
	if _, err := user.Lookup("postgres"); err != nil {
		t.Skip("running as root and there is no postgres OS user to run the server as")
	}
	runuser, err := exec.LookPath("runuser")
	if err != nil {
		t.Skip("running as root and runuser is not installed")
	}
	// The server's user must be able to walk down to its data directory.
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			t.Skipf("the postgres user cannot traverse %s (set TMPDIR to a world-traversable directory)", p)
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	return []string{runuser, "-u", "postgres", "--"}
}

func chownToPostgres(t *testing.T, paths ...string) {
	t.Helper()
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}
