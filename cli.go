package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"invoices/adapters/gormstore"
	"invoices/app/projection"
	"invoices/config"
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
	_, _ = fmt.Fprintln(tw, "PROJECTOR\tCHECKPOINT\tHEAD\tLAG EVENTS\tLAG SECONDS")
	_, _ = fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\n", st.Name, st.Checkpoint, st.Head, st.LagEvents, st.LagSeconds)
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func storedStatus(ctx context.Context, cfg config.Config) (projection.Status, error) {
	edb, err := gormstore.Open(ctx, cfg.EventStore)
	if err != nil {
		return projection.Status{}, err
	}
	defer closeQuietly(edb.DB())
	rdb, err := gormstore.Open(ctx, cfg.ReadDB)
	if err != nil {
		return projection.Status{}, err
	}
	defer closeQuietly(rdb.DB())
	events, err := gormstore.NewEventStore(ctx, edb)
	if err != nil {
		return projection.Status{}, err
	}
	defer events.Close()
	read, err := gormstore.NewReadModel(ctx, rdb)
	if err != nil {
		return projection.Status{}, err
	}
	return projection.StoredStatus(ctx, events, read)
}

func closeQuietly(db interface{ Close() error }, err error) {
	if err == nil {
		_ = db.Close()
	}
}
