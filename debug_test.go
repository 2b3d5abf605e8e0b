package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"invoices/config"
)

// Profiles are served on DEBUG_ADDR only, never through the API port.
func TestDebugAddrServesPprofApart(t *testing.T) {
	debugAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg, err := config.FromEnv([]string{"HOST=127.0.0.1", "DEBUG_ADDR=" + debugAddr, "DATA_DIR=" + filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	var srv *http.Server
	app := fxtest.New(t, append(options(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))), fx.Populate(&srv))...)
	app.RequireStart()
	defer app.RequireStop()

	client := &http.Client{Timeout: 10 * time.Second}
	status := func(url string) int {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("http://" + debugAddr + "/debug/pprof/goroutine?debug=1"); got != http.StatusOK {
		t.Errorf("pprof on DEBUG_ADDR: status %d, want 200", got)
	}
	if got := status("http://" + srv.Addr + "/debug/pprof/"); got != http.StatusNotFound {
		t.Errorf("pprof on the API port: status %d, want 404", got)
	}
}
