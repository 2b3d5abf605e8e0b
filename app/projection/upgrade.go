package projection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"invoices/ports"
)

// upgradeLogEvery spaces the progress lines an upgrade's rebuild logs.
const upgradeLogEvery = 5 * time.Second

// upgrade brings a read model built by an older ports.ReadModelVersion up
// to this release's before the projector writes to it: it rebuilds it
// beside the live one and swaps it in (Rebuild), or, while another
// instance is doing that, waits for it. Errors are retried with backoff,
// never skipped: the projector does not start on a read model it would
// misread. It returns when the model is current or ctx ends.
func (p *Projector) upgrade(ctx context.Context) {
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for {
		err := p.ensureCurrent(ctx)
		if ctx.Err() != nil {
			return
		}
		p.setErr(err)
		if err == nil {
			p.setUpgrading("")
			return
		}
		p.log.Error("read model upgrade failed; retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// ensureCurrent rebuilds the read model if an older release built it, and
// reloads the checkpoint once it is current.
func (p *Projector) ensureCurrent(ctx context.Context) error {
	waiting := false
	for {
		version, err := p.opts.Rebuilder.ReadModelVersion(ctx)
		if err != nil {
			return err
		}
		if version == ports.ReadModelVersion {
			if waiting {
				p.log.Info("another instance rebuilt the read model", zap.Int("version", version))
			}
			return p.LoadCheckpoint(ctx)
		}
		if version > ports.ReadModelVersion {
			return fmt.Errorf("the read model was built by a newer release (version %d; this one builds %d)", version, ports.ReadModelVersion)
		}
		what := fmt.Sprintf("rebuilding the read model built by version %d for version %d", version, ports.ReadModelVersion)
		p.setUpgrading(what)
		p.log.Info("read model built by an older release: rebuilding it before serving",
			zap.Int("from_version", version), zap.Int("to_version", ports.ReadModelVersion))
		var logged time.Time
		res, err := Rebuild(ctx, p.events, p.opts.Rebuilder, p.codec, RebuildOptions{
			OnlyIfStale: true,
			Progress: func(r RebuildProgress) {
				p.setUpgrading(fmt.Sprintf("%s: %d of %d events", what, r.Position, r.Head))
				if time.Since(logged) >= upgradeLogEvery || r.Done {
					logged = time.Now()
					p.log.Info("rebuilding read model", zap.Int64("position", r.Position), zap.Int64("head", r.Head),
						zap.Duration("elapsed", r.Elapsed), zap.Bool("done", r.Done))
				}
			},
		})
		if errors.Is(err, ports.ErrRebuildRunning) {
			if !waiting {
				p.log.Info("another instance is rebuilding the read model; waiting for it")
			}
			waiting = true
			p.setUpgrading("waiting for another instance's rebuild of the read model")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(p.opts.PollInterval):
			}
			continue
		}
		if err != nil {
			return err
		}
		if res.Skipped {
			continue // another instance's rebuild swapped in meanwhile
		}
		p.log.Info("read model rebuilt for this release", zap.Int("version", ports.ReadModelVersion),
			zap.Int64("position", res.Position), zap.Duration("elapsed", res.Elapsed))
	}
}

func (p *Projector) setUpgrading(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.upgrading = what
}
