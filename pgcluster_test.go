package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the test's own queries
)

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
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec // test-controlled arguments
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
	db, err := sql.Open("pgx", pg.url(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	return db
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
