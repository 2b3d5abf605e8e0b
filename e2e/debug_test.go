package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
)

// TestDebugAddrServesPprofApart runs the binary with DEBUG_ADDR: profiles
// are served there, never through the API port, and the service still
// stops cleanly.
func TestDebugAddrServesPprofApart(t *testing.T) {
	debugAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startService(t, "service", "DEBUG_ADDR="+debugAddr, "DATA_DIR="+filepath.Join(t.TempDir(), "data"))
	// The pprof listener starts in its own start hook, which may run just
	// after the API already answers /healthz.
	p.waitForLog(t, `"msg":"pprof listening"`)

	c := newClient()
	if got, _ := c.fetch(t, "http://"+debugAddr+"/debug/pprof/goroutine?debug=1"); got != http.StatusOK {
		t.Errorf("pprof on DEBUG_ADDR: status %d, want 200", got)
	}
	if got, _ := c.fetch(t, p.base+"/debug/pprof/"); got != http.StatusNotFound {
		t.Errorf("pprof on the API port: status %d, want 404", got)
	}
	p.stop(t)
}
