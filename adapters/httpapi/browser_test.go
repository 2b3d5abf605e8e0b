package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"invoices/adapters/store/storetest"
)

// chromiumCandidates are tried in order: the Debian package's binary first,
// then the names other distributions and Google's package put on PATH.
var chromiumCandidates = []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}

// findChromium returns the first candidate that lookPath resolves. lookPath
// is exec.LookPath outside of tests of this function.
func findChromium(lookPath func(string) (string, error)) (string, error) {
	for _, name := range chromiumCandidates {
		if path, err := lookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("none of %s found", strings.Join(chromiumCandidates, ", "))
}

func TestFindChromium(t *testing.T) {
	tests := []struct {
		name      string
		installed map[string]string // candidate name -> resolved path
		want      string
		wantErr   bool
	}{
		{name: "nothing installed", wantErr: true},
		{name: "debian package", installed: map[string]string{"/usr/bin/chromium": "/usr/bin/chromium", "google-chrome": "/opt/google/chrome"}, want: "/usr/bin/chromium"},
		{name: "only on PATH", installed: map[string]string{"chromium-browser": "/snap/bin/chromium-browser"}, want: "/snap/bin/chromium-browser"},
		{name: "google chrome last", installed: map[string]string{"google-chrome": "/opt/google/chrome"}, want: "/opt/google/chrome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookPath := func(name string) (string, error) {
				if p, ok := tt.installed[name]; ok {
					return p, nil
				}
				return "", exec.ErrNotFound
			}
			got, err := findChromium(lookPath)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("findChromium() = %q, %v; want %q, error %t", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestSwaggerUIInChromium proves that a person can use Swagger UI at /api:
// the generated document loads, the invoice operations are listed, and "Try it out"
// on POST /invoices creates an invoice that the API then serves. The unit
// tests of the document cannot catch a broken asset route, a wrong doc URL or
// a host/basePath that sends the browser's request elsewhere; this can.
func TestSwaggerUIInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser; skipped in -short mode")
	}
	chromium, err := findChromium(exec.LookPath)
	if err != nil {
		t.Skipf("Chromium not installed (%v): apt-get install chromium to run the Swagger UI browser test", err)
	}

	s := newServer(t, storetest.SQLite(), serverOptions{})
	ts := httptest.NewServer(s.engine)
	defer ts.Close()

	// The whole browser lives at most this long, so a hung Chromium fails the
	// test instead of running into go test's global timeout.
	lifetime, cancelLifetime := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancelLifetime()
	var chromiumOutput lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // the sandbox refuses to run as root, as in CI containers
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// The machine may have no internet: stop Chromium from reaching out
		// for updates, sync and QUIC probes that would only time out.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(&chromiumOutput),
	)
	// The allocator's cancel waits for Chromium to exit, so the deferred
	// cancel runs before t.TempDir removes the profile directory.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(lifetime, opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts Chromium and opens the tab
		t.Fatalf("start %s: %v\n%s", chromium, err, chromiumOutput.String())
	}
	console := collectConsole(browser)
	defer func() {
		if t.Failed() {
			dumpPage(browser, t, "failure", console, &chromiumOutput)
		}
	}()

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// /api redirects to /api/index.html, which loads the bundle and then the
	// document; the POST /invoices block exists only once both rendered.
	const post = `#operations-invoices-post_invoices`
	run("open /api and wait for Swagger UI",
		chromedp.Navigate(ts.URL+"/api"),
		chromedp.WaitVisible(chromedp.CSS(post)),
	)
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != ts.URL+"/api/index.html" {
		t.Errorf("location = %q, %v; want the redirect to %s/api/index.html", loc, err, ts.URL)
	}

	// Other tags (health checks, say) may come and go; the invoice operations
	// must all be there.
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(
		document.querySelectorAll('#swagger-ui .opblock-summary'),
		s => s.querySelector('.opblock-summary-method').textContent + ' ' +
			s.querySelector('.opblock-summary-path').dataset.path)`))
	if err != nil {
		t.Fatalf("list operations: %v", err)
	}
	for _, op := range []string{
		"POST /invoices",
		"GET /invoices",
		"GET /invoices/{id}",
		"POST /invoices/{id}/pay",
		"PATCH /invoices/{id}/pay",
	} {
		if !slices.Contains(listed, op) {
			t.Errorf("Swagger UI does not list %s; it lists %q", op, listed)
		}
	}

	// Expand POST /invoices, try it out, and type over the example body the
	// way a person would: select all, then type, so React sees every change.
	const body = `{"customerId":"cus_browser","amount":12.34}`
	const textarea = post + ` textarea.body-param__text`
	run("expand POST /invoices and try it out",
		chromedp.Click(chromedp.CSS(post+` .opblock-summary-control`)),
		chromedp.Click(chromedp.CSS(post+` button.try-out__btn`)),
		chromedp.WaitVisible(chromedp.CSS(textarea+`:not([readonly])`)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(textarea)+`).select()`),
		chromedp.SendKeys(chromedp.CSS(textarea), body),
	)
	if got, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(textarea))); err != nil || got != body {
		t.Fatalf("request body textarea = %q, %v; want %q", got, err, body)
	}

	// The live response table appears only when the response has arrived;
	// the documented responses use a different table.
	const live = post + ` .live-responses-table .response`
	run("execute",
		chromedp.Click(chromedp.CSS(post+` button.execute`)),
		chromedp.WaitVisible(chromedp.CSS(live+` .response-col_status`)),
	)
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(live+` .response-col_status`)))
	if err != nil {
		t.Fatalf("read response status: %v", err)
	}
	if got := strings.TrimSpace(status); got != "201" {
		t.Errorf("rendered status = %q, want 201", got)
	}
	requestURL, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(post+` .request-url pre`)))
	if err != nil {
		t.Fatalf("read request URL: %v", err)
	}
	if got := strings.TrimSpace(requestURL); got != ts.URL+"/invoices" {
		t.Errorf("Swagger UI sent the request to %q, want %s/invoices", got, ts.URL)
	}
	rendered, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(live+` .response-col_description pre`)))
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	var created invoiceJSON
	if err := json.Unmarshal([]byte(rendered), &created); err != nil {
		t.Fatalf("rendered response body %q: %v", rendered, err)
	}
	if created.CustomerID != "cus_browser" || string(created.Amount) != "12.34" || created.ID == "" {
		t.Errorf("rendered invoice = %+v, want customerId cus_browser, amount 12.34 and an id", created)
	}
	dumpPage(browser, t, "final", nil, nil)

	// The invoice is real: the API lists it to a plain HTTP client.
	resp, err := ts.Client().Get(ts.URL + "/invoices")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var list []invoiceJSON
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /invoices: status %d, decode error %v", resp.StatusCode, err)
	}
	if len(list) != 1 || list[0].ID != created.ID || list[0].CustomerID != "cus_browser" || string(list[0].Amount) != "12.34" {
		t.Errorf("GET /invoices = %+v, want only the invoice %s created in the browser", list, created.ID)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// dumpPage saves a full-page screenshot as an artifact and, when given the
// console and Chromium's output, logs them with the page's text: what a
// person would need to see why the browser test failed. go test keeps the
// screenshot only when run with -artifacts (and -outputdir); otherwise
// t.ArtifactDir is a temporary directory.
func dumpPage(browser context.Context, t *testing.T, name string, console *consoleLog, chromiumOutput *lockedBuffer) {
	t.Helper()
	// A fresh deadline: the scenario's own may be what expired.
	ctx, cancel := context.WithTimeout(browser, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("screenshot: %v", err)
	} else {
		path := filepath.Join(t.ArtifactDir(), name+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Logf("save screenshot: %v", err)
		} else {
			t.Logf("screenshot: %s", path)
		}
	}
	if console == nil {
		return
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	if err != nil {
		text = err.Error()
	}
	t.Logf("page text:\n%s", text)
	t.Logf("browser console:\n%s", strings.Join(console.lines(), "\n"))
	t.Logf("chromium output, last lines:\n%s", chromiumOutput.tail(20))
}

// consoleLog collects the page's console messages and uncaught exceptions.
type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func (c *consoleLog) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.msgs)
}

// collectConsole subscribes before the first navigation, so no message is
// lost; the goroutine ends with the browser context.
func collectConsole(browser context.Context) *consoleLog {
	c := &consoleLog{}
	messages := chromedp.Console(browser)
	go func() {
		for m, err := range messages {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					c.mu.Lock()
					c.msgs = append(c.msgs, "console stream: "+err.Error())
					c.mu.Unlock()
				}
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
			c.mu.Unlock()
		}
	}()
	return c
}

// lockedBuffer is an io.Writer that Chromium's output goroutine and the test
// can share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines written: Chromium logs many harmless errors
// (no D-Bus in a container), and a crash report is at the end.
func (b *lockedBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
