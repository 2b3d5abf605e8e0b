package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"invoices/adapters/store"
)

// appender writes group-commit batches in two round trips: pgx sends BEGIN,
// the head lock and the version check as one pipeline, and once the batch
// is decided, the insert, the head advance with its notification and COMMIT
// as a second. GORM cannot pipeline, which is why this is pgx. Within a
// pipeline each statement starts after the previous one finished, so the
// version check still reads after the lock is held.
type appender struct {
	pool *sql.DB
	dsn  string // for the listening connection, outside the pool
	id   string // the EventStore's, sent with every notification
	log  *zap.Logger
}

var (
	_ store.StreamLoader  = (*appender)(nil)
	_ store.CommitWatcher = (*appender)(nil)
)

// The statements of an append.
const (
	lockHeadSQL = `UPDATE event_store_head SET position = position WHERE id = 1 RETURNING position`
	// One statement text for any batch size, and a per-stream index probe
	// the planner cannot trade for a scan: pgx prepares each statement once
	// per connection, and the plan PostgreSQL picks for "stream_id IN ($1,
	// ...)" while the table is nearly empty is a sequential scan, kept as
	// the table grows.
	versionsSQL = `SELECT s.id::text, COALESCE((SELECT MAX(e.version) FROM events e WHERE e.stream_id = s.id), 0)
		FROM unnest($1::text::uuid[]) AS s(id)`
	// One INSERT ... SELECT FROM unnest(...) of array literals: one
	// statement text for any batch size, and no reflection per row.
	insertEventsSQL = `INSERT INTO events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at)
		SELECT * FROM unnest($1::text::bigint[], $2::text::uuid[], $3::text::uuid[], $4::text::bigint[], $5::text::text[],
			$6::text::bigint[], $7::text::jsonb[], $8::text::jsonb[], $9::text::timestamptz[])`
	// Advancing the head also notifies every listening process (see
	// WatchCommits); PostgreSQL delivers the notification at commit.
	advanceSQL = `UPDATE event_store_head SET position = $1 WHERE id = 1 RETURNING pg_notify($2, $3)`
)

// AppendBatch implements store.Appender.
func (a *appender) AppendBatch(ctx context.Context, streams []string, plan store.PlanFunc) error {
	err := withPgx(ctx, a.pool, func(c *pgx.Conn) (err error) {
		defer rollbackOnError(c, &err)
		var ids pgArray
		for _, id := range streams {
			ids.add(id)
		}
		first := &pgx.Batch{}
		first.Queue("BEGIN")
		first.Queue(lockHeadSQL)
		first.Queue(versionsSQL, ids.String())
		var head int64
		versions := make(map[string]int, len(streams))
		err = runBatch(ctx, c, first, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			if err := br.QueryRow().Scan(&head); err != nil {
				return fmt.Errorf("lock head: %w", err)
			}
			vr, err := br.Query()
			if err != nil {
				return fmt.Errorf("read stream versions: %w", err)
			}
			var id string
			var v int
			_, err = pgx.ForEachRow(vr, []any{&id, &v}, func() error { versions[id] = v; return nil })
			if err != nil {
				return fmt.Errorf("read stream versions: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows, pos := plan(head, versions)
		second := &pgx.Batch{}
		if len(rows) > 0 {
			second.Queue(insertEventsSQL, eventArrays(rows)...)
			second.Queue(advanceSQL, pos, appendChannel, notification{head: pos, from: a.id}.payload())
		}
		second.Queue("COMMIT")
		return runBatch(ctx, c, second, func(br pgx.BatchResults) error {
			for range second.Len() {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return duplicate(err)
}

// eventArrays returns insertEventsSQL's parameters for rows.
func eventArrays(rows []store.EventRow) []any {
	var position, eventID, streamID, version, typ, schemaVersion, data, metadata, recordedAt pgArray
	for i := range rows {
		r := &rows[i]
		position.add(strconv.FormatInt(r.Position, 10))
		eventID.add(string(r.EventID))
		streamID.add(string(r.StreamID))
		version.add(strconv.Itoa(r.Version))
		typ.add(r.Type)
		schemaVersion.add(strconv.Itoa(r.SchemaVersion))
		data.add(string(r.Data))
		metadata.add(string(r.Metadata))
		recordedAt.addTime(&r.RecordedAt)
	}
	return []any{position.String(), eventID.String(), streamID.String(), version.String(), typ.String(),
		schemaVersion.String(), data.String(), metadata.String(), recordedAt.String()}
}

// LoadStream implements store.StreamLoader. Every pay loads its stream
// first; pgx scans it without database/sql's per-column conversions
// (BENCHMARKS.md, BenchmarkRepositoryLoad).
func (a *appender) LoadStream(ctx context.Context, streamID string) ([]store.EventRow, error) {
	id, err := pgUUID(streamID)
	if err != nil {
		return nil, err
	}
	var rows []store.EventRow
	err = withPgx(ctx, a.pool, func(c *pgx.Conn) error {
		res, err := c.Query(ctx, `SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at
			FROM events WHERE stream_id = $1 ORDER BY version`, id)
		if err != nil {
			return err
		}
		defer res.Close()
		for res.Next() {
			var r store.EventRow
			var eventID, stream string
			var data, metadata []byte
			if err := res.Scan(&r.Position, &eventID, &stream, &r.Version, &r.Type, &r.SchemaVersion, &data, &metadata, &r.RecordedAt); err != nil {
				return err
			}
			r.EventID, r.StreamID, r.Data, r.Metadata = store.UUID(eventID), store.UUID(stream), store.JSON(data), store.JSON(metadata)
			rows = append(rows, r)
		}
		return res.Err()
	})
	return rows, err
}
