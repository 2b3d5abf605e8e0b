package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"go.uber.org/zap"

	"invoices/adapters/store"
	"invoices/app"
	"invoices/app/projection"
	"invoices/config"
	"invoices/domain/event"
)

// projectionsStatus prints each projector's durable checkpoint, the event
// store's head and the lag, read straight from the configured stores (so it
// works beside a running service, or without one).
func projectionsStatus(out io.Writer) int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoices: invalid configuration:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := storedStatus(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoices projections status:", err)
		return 1
	}
	// tabwriter buffers; Flush reports any write error.
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := "ok"
	if st.Error != "" {
		state = "stalled: " + st.Error
	}
	_, _ = fmt.Fprintln(tw, "PROJECTOR\tCHECKPOINT\tHEAD\tLAG EVENTS\tLAG SECONDS\tSTATE")
	_, _ = fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%s\n", st.Name, st.Checkpoint, st.Head, st.LagEvents, st.LagSeconds, state)
	if err := tw.Flush(); err != nil {
		return 1
	}
	if st.Error != "" {
		return 3 // stalled: scripts and probes can tell it from a lag
	}
	return 0
}

func storedStatus(ctx context.Context, cfg config.Config) (projection.Status, error) {
	stores, codec, err := openStores(ctx, cfg)
	if err != nil {
		return projection.Status{}, err
	}
	defer func() { _ = stores.Close() }()
	return projection.StoredStatus(ctx, stores.Events, stores.Read, codec)
}

// openStores opens and migrates the configured stores for a command run
// beside the service, trying each database once, and returns them with the
// event codec.
func openStores(ctx context.Context, cfg config.Config) (*store.Stores, *event.Registry, error) {
	cfg.EventStore.ConnectTimeout, cfg.ReadDB.ConnectTimeout = 0, 0
	stores, err := store.OpenStores(ctx, cfg, engineFor(zap.NewNop()), zap.NewNop())
	if err != nil {
		return nil, nil, err
	}
	codec, err := app.NewCodec(stores.Events.Recorded())
	if err != nil {
		return nil, nil, errors.Join(err, stores.Close())
	}
	return stores, codec, nil
}

// projectionsRebuild replays the whole event store into a fresh read model
// and swaps it in (see projection.Rebuild), printing progress to out: a
// progress bar when out is a terminal, otherwise a line a second. SIGINT or
// SIGTERM stops it and drops the half-built model; the live one stays.
func projectionsRebuild(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("invoices projections rebuild", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	batchSize := fs.Int("batch-size", projection.DefaultRebuildBatchSize, "events folded and written per transaction")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *batchSize < 1 {
		fmt.Fprintln(os.Stderr, "usage: invoices projections rebuild [-batch-size N]   (N >= 1)")
		return 2
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "invoices: invalid configuration:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := newRebuildPrinter(out, isTerminal(out))
	res, err := rebuild(ctx, cfg, projection.RebuildOptions{BatchSize: *batchSize, Progress: p.update})
	if err != nil {
		p.abort()
		fmt.Fprintln(os.Stderr, "invoices projections rebuild:", err)
		fmt.Fprintln(os.Stderr, "invoices projections rebuild: the read model was left as it was")
		return 1
	}
	if _, err := fmt.Fprintf(out, "rebuild: done: %d events in %s (%.0f events/s); read model swapped in at position %d\n",
		res.Position, res.Elapsed.Round(time.Millisecond), res.EventsPerSecond(), res.Position); err != nil {
		return 1
	}
	return 0
}

// rebuild opens the configured stores and runs the rebuild.
func rebuild(ctx context.Context, cfg config.Config, opts projection.RebuildOptions) (projection.RebuildResult, error) {
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stores, codec, err := openStores(octx, cfg)
	if err != nil {
		return projection.RebuildResult{}, err
	}
	defer func() { _ = stores.Close() }()
	return projection.Rebuild(ctx, stores.Events, stores.Read, codec, opts)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// rebuildPrinter shows a rebuild's progress: a bar redrawn in place on a
// terminal, or one plain line a second for logs and pipes. Events/s is the
// average since the start, and the ETA assumes it holds for what is left.
type rebuildPrinter struct {
	out      io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time
	last     time.Time // when a line was last printed; zero before the first
	drawn    bool      // a bar is on screen without its newline
}

func newRebuildPrinter(out io.Writer, tty bool) *rebuildPrinter {
	p := &rebuildPrinter{out: out, tty: tty, interval: time.Second, now: time.Now}
	if tty {
		p.interval = 100 * time.Millisecond
	}
	return p
}

// update prints p's progress when the interval has passed since the last
// print, and always for the first and the last update.
func (p *rebuildPrinter) update(pr projection.RebuildProgress) {
	now := p.now()
	if !p.last.IsZero() && !pr.Done && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	total := max(pr.Head, pr.Position)
	rate := 0.0
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.Position) / s
	}
	eta := "--"
	switch {
	case pr.Position >= total:
		eta = "0s"
	case rate > 0:
		eta = (time.Duration(float64(total-pr.Position) / rate * float64(time.Second))).Round(time.Second).String()
	}
	percent := 100.0
	if total > 0 {
		percent = 100 * float64(pr.Position) / float64(total)
	}
	// Output is best effort: a closed pipe must not stop the rebuild.
	if !p.tty {
		if pr.Done {
			return // the summary line follows
		}
		_, _ = fmt.Fprintf(p.out, "rebuild: %d/%d events (%.1f%%), %.0f events/s, ETA %s\n", pr.Position, total, percent, rate, eta)
		return
	}
	const width = 30
	filled := int(percent / 100 * width)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if filled > 0 && filled < width {
		bar = bar[:filled-1] + ">" + bar[filled:]
	}
	// \r returns to the line start, \x1b[K clears what a longer line left.
	_, _ = fmt.Fprintf(p.out, "\r[%s] %5.1f%%  %d/%d events  %.0f events/s  ETA %s\x1b[K", bar, percent, pr.Position, total, rate, eta)
	p.drawn = true
	if pr.Done {
		_, _ = fmt.Fprintln(p.out)
		p.drawn = false
	}
}

// abort ends a bar left on screen so an error starts on its own line.
func (p *rebuildPrinter) abort() {
	if p.drawn {
		_, _ = fmt.Fprintln(p.out)
		p.drawn = false
	}
}
