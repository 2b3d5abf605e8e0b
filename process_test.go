package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The harness for tests that run the real binary: build it once, start
// instances on free ports, read their logs while they run, kill them.

// buildBinary compiles the service once for tests that run the real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "invoices")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// logBuffer collects a process's stderr; the test reads it while the
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

// serviceProcess is one running service process.
type serviceProcess struct {
	name string
	base string
	cmd  *exec.Cmd
	logs *logBuffer
	// dying is set just before SIGKILL: a request to this instance that
	// fails at the transport level from then on was never acknowledged.
	dying   atomic.Bool
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// startService runs bin on a free port with env added to the test's
// environment, and returns once /healthz answers 200. The process is killed
// at cleanup; when the test failed, the tail of its log is printed.
func startService(t *testing.T, bin, name string, env ...string) *serviceProcess {
	t.Helper()
	port := freePort(t)
	p := &serviceProcess{
		name:   name,
		base:   "http://127.0.0.1:" + strconv.Itoa(port),
		logs:   &logBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd = exec.Command(bin)
	// A private working directory: no stray .env or ./data is picked up.
	p.cmd.Dir = t.TempDir()
	p.cmd.Env = append(os.Environ(), append([]string{
		"HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "LOG_FORMAT=json",
	}, env...)...)
	p.cmd.Stderr = p.logs
	p.cmd.Stdout = p.logs
	started := time.Now()
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
				t.Logf("%s started (pid %d, %s) in %v", p.name, p.cmd.Process.Pid, p.base, time.Since(started).Round(time.Millisecond))
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become healthy in 30s; logs:\n%s", p.name, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL (no drain, no deferred cleanup: a crash) and waits
// until the process is gone.
func (p *serviceProcess) kill(t *testing.T) {
	t.Helper()
	p.dying.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
}

func logTail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
