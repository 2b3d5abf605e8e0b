package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"invoices/adapters/gormstore"
	"invoices/app"
	"invoices/app/projection"
	"invoices/config"
	"invoices/domain/invoice"
	"invoices/ports"
)

func TestProjectionsStatus(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg, err := config.FromEnv([]string{"DATA_DIR=" + dir})
	if err != nil {
		t.Fatal(err)
	}
	edb, err := gormstore.Open(ctx, cfg.EventStore)
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := gormstore.Open(ctx, cfg.ReadDB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closeQuietly(edb.DB())
		closeQuietly(rdb.DB())
	})
	events, err := gormstore.NewEventStore(ctx, edb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(events.Close)
	read, err := gormstore.NewReadModel(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		id := uuid.NewString()
		data, _ := json.Marshal(invoice.Created{InvoiceID: id, CustomerID: "c", Amount: 100, CreatedAt: time.Now().UTC()})
		if _, err := events.Append(ctx, id, 0, []ports.NewEvent{{ID: uuid.NewString(), Type: invoice.CreatedEventName, Data: data}}, ports.Metadata{}); err != nil {
			t.Fatal(err)
		}
	}
	codec, err := app.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	p := projection.New(events, read, codec, zap.NewNop(), projection.Options{BatchSize: 2, PollInterval: time.Hour})
	if _, err := read.Checkpoint(ctx, projection.InvoicesProjector); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Step(ctx); n != 2 || err != nil {
		t.Fatalf("step = %d, %v", n, err)
	}

	st, err := storedStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Checkpoint != 2 || st.Head != 3 || st.LagEvents != 1 || st.LagSeconds < 0 {
		t.Errorf("status = %+v, want checkpoint 2, head 3, lag 1", st)
	}

	t.Setenv("DATA_DIR", dir)
	var out bytes.Buffer
	if code := projectionsStatus(&out); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "invoices 2 3 1 ") ||
		!strings.HasSuffix(lines[1], " ok") {
		t.Errorf("output:\n%s", out.String())
	}

	// An event the projector cannot apply shows as a stall, exit code 3.
	id := uuid.NewString()
	if _, err := events.Append(ctx, id, 0, []ports.NewEvent{{ID: uuid.NewString(), Type: "invoice.voided", Data: []byte(`{}`)}}, ports.Metadata{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Step(ctx); err == nil {
		t.Fatal("the projector applied a batch holding an unknown event")
	}
	out.Reset()
	if code := projectionsStatus(&out); code != 3 {
		t.Errorf("exit code %d for a stalled projector, want 3", code)
	}
	if !strings.Contains(out.String(), "stalled: event at position 4") || !strings.Contains(out.String(), "unknown event type") {
		t.Errorf("output does not show the stall:\n%s", out.String())
	}
}
