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
	// The live records of a batch's idempotency keys, one primary-key probe
	// each, and the insert of its new ones (replacing an expired record:
	// the live ones were read). OFFSET 0 keeps the planner from pulling the
	// lateral probe up into a join: pgx prepares the statement once per
	// connection, and the join planned while the table is nearly empty
	// hashes a sequential scan of it, kept as it grows (measured: appends
	// with a key at a third of the rate without, BenchmarkAppendWithKey).
	keysSQL = `SELECT k.scope, k.idempotency_key, k.fingerprint, k.command, k.stream_id::text, k.version, k.position, k.created_at, k.expires_at
		FROM unnest($1::text::text[], $2::text::text[]) AS q(scope, idempotency_key)
		CROSS JOIN LATERAL (SELECT * FROM idempotency_keys i
			WHERE i.scope = q.scope AND i.idempotency_key = q.idempotency_key AND i.expires_at > $3 OFFSET 0) AS k`
	insertKeysSQL = `INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, command, stream_id, version, position, created_at, expires_at)
		SELECT * FROM unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text::text[], $5::text::uuid[],
			$6::text::bigint[], $7::text::bigint[], $8::text::timestamptz[], $9::text::timestamptz[])
		ON CONFLICT (scope, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint, command = excluded.command,
			stream_id = excluded.stream_id, version = excluded.version, position = excluded.position,
			created_at = excluded.created_at, expires_at = excluded.expires_at`
	// Advancing the head also notifies every listening process (see
	// WatchCommits); PostgreSQL delivers the notification at commit.
	advanceSQL = `UPDATE event_store_head SET position = $1 WHERE id = 1 RETURNING pg_notify($2, $3)`
)

// AppendBatch implements store.Appender.
func (a *appender) AppendBatch(ctx context.Context, b store.Batch, plan store.PlanFunc) error {
	err := withPgx(ctx, a.pool, func(c *pgx.Conn) (err error) {
		defer rollbackOnError(c, &err)
		var ids pgArray
		for _, id := range b.Streams {
			ids.add(id)
		}
		first := &pgx.Batch{}
		first.Queue("BEGIN")
		first.Queue(lockHeadSQL)
		first.Queue(versionsSQL, ids.String())
		if len(b.Keys) > 0 {
			var scopes, keys pgArray
			for _, k := range b.Keys {
				scopes.add(k.Scope)
				keys.add(k.Key)
			}
			first.Queue(keysSQL, scopes.String(), keys.String(), b.Now)
		}
		l := store.Locked{Versions: make(map[string]int, len(b.Streams))}
		versions := l.Versions
		err = runBatch(ctx, c, first, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
			if err := br.QueryRow().Scan(&l.Head); err != nil {
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
			if len(b.Keys) > 0 {
				if l.Keys, err = scanKeys(br); err != nil {
					return fmt.Errorf("read idempotency keys: %w", err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		p := plan(l)
		second := &pgx.Batch{}
		if len(p.Rows) > 0 {
			second.Queue(insertEventsSQL, eventArrays(p.Rows)...)
			if len(p.Keys) > 0 {
				second.Queue(insertKeysSQL, keyArrays(p.Keys)...)
			}
			second.Queue(advanceSQL, p.Head, appendChannel, notification{head: p.Head, from: a.id}.payload())
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

// scanKeys reads keysSQL's result.
func scanKeys(br pgx.BatchResults) (map[store.IdempotencyKey]store.IdempotencyRow, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	out := make(map[store.IdempotencyKey]store.IdempotencyRow)
	var r store.IdempotencyRow
	var stream string
	_, err = pgx.ForEachRow(rows, []any{&r.Scope, &r.Key, &r.Fingerprint, &r.Command, &stream, &r.Version, &r.Position, &r.CreatedAt, &r.ExpiresAt},
		func() error {
			r.StreamID = store.UUID(stream)
			out[store.IdempotencyKey{Scope: r.Scope, Key: r.Key}] = r
			return nil
		})
	return out, err
}

// keyArrays returns insertKeysSQL's parameters for rows.
func keyArrays(rows []store.IdempotencyRow) []any {
	var scope, key, fingerprint, command, stream, version, position, created, expires pgArray
	for i := range rows {
		r := &rows[i]
		scope.add(r.Scope)
		key.add(r.Key)
		fingerprint.add(r.Fingerprint)
		command.add(r.Command)
		stream.add(string(r.StreamID))
		version.add(strconv.Itoa(r.Version))
		position.add(strconv.FormatInt(r.Position, 10))
		created.addTime(&r.CreatedAt)
		expires.addTime(&r.ExpiresAt)
	}
	return []any{scope.String(), key.String(), fingerprint.String(), command.String(), stream.String(),
		version.String(), position.String(), created.String(), expires.String()}
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
