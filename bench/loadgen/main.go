// Command loadgen drives the invoices API in a closed loop and prints one
// line per scenario: requests/s, p50, p99 and errors and, given the
// service's -pid, its peak RSS and where the box's CPU went (in cores: the
// service, the load generator, everything else, which on a bench box is
// PostgreSQL, and what the hypervisor took for other guests).
//
//	go run ./bench/loadgen -url http://127.0.0.1:3001 -c 32 -d 10s -scenarios create,get,pay
//
// It only targets loopback addresses: it is for measuring this service on
// this machine, never a load test of somebody else's host.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:3001", "service base URL (loopback only)")
	conc := flag.Int("c", 32, "concurrent clients")
	dur := flag.Duration("d", 10*time.Second, "duration of each scenario")
	scenarios := flag.String("scenarios", "create,createkey,get,pay,list,mixed,ryw", "comma-separated scenarios")
	seed := flag.Int("seed", 2000, "invoices created up front for get/list/mixed")
	payPool := flag.Int("pay-pool", 40000, "invoices created up front for pay, one per request (more than the pay rate times -d)")
	key := flag.String("key", "", "API key, if the service requires one")
	pprofURL := flag.String("pprof", "", "the service's DEBUG_ADDR as a URL (http://127.0.0.1:6060): take a CPU profile of each scenario")
	pid := flag.Int("pid", 0, "the service's process id: report its CPU and peak RSS per scenario (Linux)")
	pprofDir := flag.String("pprof-dir", ".", "where -pprof writes SCENARIO.pprof")
	flag.Parse()

	for _, u := range []string{*base, *pprofURL} {
		if u == "" {
			continue
		}
		if err := requireLoopback(u); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
	}
	c := newClient(*base, *key, *conc)
	ids, err := c.seed(*seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: seeding:", err)
		os.Exit(1)
	}
	if strings.Contains(*scenarios, "pay") {
		// Paid invoices cannot be paid again, and creating them inside the
		// timed loop would measure create+pay: make them now.
		if c.payIDs, err = c.seed(*payPool); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: seeding invoices to pay:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("%-8s %10s %10s %10s %8s %8s %8s %8s %8s %8s %8s\n", "scenario", "rps", "p50", "p99", "errors", "requests", "rss_mib", "svc_cpu", "gen_cpu", "oth_cpu", "steal")
	for _, name := range strings.Split(*scenarios, ",") {
		s, ok := scenarioFuncs(c, ids)[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "loadgen: unknown scenario %q\n", name)
			os.Exit(2)
		}
		name = strings.TrimSpace(name)
		var profiled <-chan error
		if *pprofURL != "" {
			profiled = c.profile(*pprofURL, *dur, filepath.Join(*pprofDir, name+".pprof"))
		}
		before, watch := sampleCPU(*pid), watchRSS(*pid)
		r := run(*conc, *dur, s)
		u := before.to(sampleCPU(*pid))
		u.peakRSS = watch.Stop()
		if profiled != nil {
			if err := <-profiled; err != nil {
				fmt.Fprintln(os.Stderr, "loadgen: profile:", err)
			}
		}
		fmt.Printf("%-8s %10.0f %10s %10s %8d %8d %8d %8.2f %8.2f %8.2f %8.2f\n", name, r.rps, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond),
			r.errors, r.requests, u.peakRSS>>20, u.service, u.loadgen, u.other, u.steal)
	}
}

func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address", host)
}

// profile records a CPU profile of the service for d, starting now, into
// file; the result arrives on the channel when the profile is written.
func (c *client) profile(debugURL string, d time.Duration, file string) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			secs := max(1, int(d.Round(time.Second)/time.Second))
			url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimRight(debugURL, "/"), secs)
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			// Not c.http: its timeout may be shorter than the profile.
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: status %d", url, resp.StatusCode)
			}
			f, err := os.Create(file) //nolint:gosec // the path is the operator's -pprof-dir flag
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				_ = f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}

type client struct {
	base string
	key  string
	conc int
	http *fasthttp.Client
	// payIDs are pending invoices for the pay scenario; payNext hands each
	// out once.
	payIDs  []string
	payNext atomic.Int64
	// keyPrefix and keyNext make each createkey request's Idempotency-Key
	// new, in this run and across runs on one database.
	keyPrefix string
	keyNext   atomic.Int64
}

// newClient returns a keep-alive client with a connection per worker.
// It is fasthttp's, not net/http's: net/http's client hands every
// response between two goroutines per connection and allocates per
// request, which cost the box a quarter of a core more at the get rate,
// CPU the service and PostgreSQL then lacked.
func newClient(base, key string, conc int) *client {
	hc := &fasthttp.Client{
		MaxConnsPerHost:     conc * 2,
		MaxIdleConnDuration: time.Minute,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
	}
	return &client{base: strings.TrimRight(base, "/"), key: key, conc: conc, http: hc,
		keyPrefix: "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"}
}

// do sends one request and returns its status; read, when not nil, sees
// the body before it is recycled.
func (c *client) do(method, path string, body []byte, read func(body []byte) error, header ...string) (int, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.base + path)
	req.Header.SetMethod(method)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBodyRaw(body)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if err := c.http.Do(req, resp); err != nil {
		return 0, err
	}
	if read != nil {
		if err := read(resp.Body()); err != nil {
			return 0, err
		}
	}
	return resp.StatusCode(), nil
}

var createBody = []byte(`{"customerId":"cus_load","amount":19.99}`)

func (c *client) create() (string, error) { return c.createWith(nil) }

// createWith creates an invoice, with each header given as name and value.
func (c *client) createWith(header []string) (string, error) {
	var inv struct {
		ID string `json:"id"`
	}
	code, err := c.do(http.MethodPost, "/invoices", createBody, func(b []byte) error { return json.Unmarshal(b, &inv) }, header...)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("create: status %d", code)
	}
	return inv.ID, nil
}

func (c *client) seed(n int) ([]string, error) {
	ids := make([]string, 0, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range c.conc {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				id, err := c.create()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					ids = append(ids, id)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ids, firstErr
}

func expect(code int, err error, want int) error {
	if err != nil {
		return err
	}
	if code != want {
		return fmt.Errorf("status %d, want %d", code, want)
	}
	return nil
}

// scenarioFuncs returns each scenario as one request (or one create+get pair).
func scenarioFuncs(c *client, ids []string) map[string]func(i int) error {
	return map[string]func(int) error{
		"create": func(int) error { _, err := c.create(); return err },
		// createkey is create with a new Idempotency-Key on every request:
		// the cost of recording it with the events.
		"createkey": func(int) error {
			_, err := c.createWith([]string{"Idempotency-Key", c.keyPrefix + strconv.FormatInt(c.keyNext.Add(1), 10)})
			return err
		},
		"get": func(i int) error {
			code, err := c.do(http.MethodGet, "/invoices/"+ids[i%len(ids)], nil, nil)
			return expect(code, err, http.StatusOK)
		},
		"list": func(int) error {
			code, err := c.do(http.MethodGet, "/invoices", nil, nil)
			return expect(code, err, http.StatusOK)
		},
		"pay": func(int) error {
			n := int(c.payNext.Add(1) - 1)
			if n >= len(c.payIDs) {
				return errors.New("pay pool exhausted: raise -pay-pool")
			}
			code, err := c.do(http.MethodPost, "/invoices/"+c.payIDs[n]+"/pay", nil, nil)
			return expect(code, err, http.StatusOK)
		},
		"mixed": func(i int) error {
			if i%5 == 4 {
				code, err := c.do(http.MethodGet, "/invoices/"+ids[i%len(ids)], nil, nil)
				return expect(code, err, http.StatusOK)
			}
			_, err := c.create()
			return err
		},
		"ryw": func(int) error {
			id, err := c.create()
			if err != nil {
				return err
			}
			code, err := c.do(http.MethodGet, "/invoices/"+id, nil, nil)
			if err := expect(code, err, http.StatusOK); err != nil {
				return errors.Join(errors.New("read-your-writes violated"), err)
			}
			return nil
		},
	}
}

type result struct {
	rps              float64
	p50, p99         time.Duration
	errors, requests int
}

// run keeps conc workers issuing requests back to back for d.
func run(conc int, d time.Duration, fn func(i int) error) result {
	deadline := time.Now().Add(d)
	lat := make([][]time.Duration, conc)
	errs := make([]int, conc)
	var seq atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := fn(int(seq.Add(1)))
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					errs[w]++
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := result{}
	for w := range conc {
		all = append(all, lat[w]...)
		r.errors += errs[w]
	}
	slices.Sort(all)
	r.requests = len(all)
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	r.rps = float64(len(all)) / elapsed.Seconds()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "  first error:", e)
	}
	return r
}
