-- Appends :n invoice.created events (n new invoices) to the event store in
-- one transaction, the way one appended batch would: the head row is locked
-- and advanced, positions continue from it without a gap, and the commit
-- notifies the service, whose projector then brings the read model up to
-- date. make bench uses it to hold 1,000,000 invoices before it measures;
-- creating them through the API would take minutes.
--
--   psql -v ON_ERROR_STOP=1 -v n=1000000 -f bench/seed-invoices.sql "$EVENT_STORE_URL"
BEGIN;
SELECT position AS head FROM event_store_head WHERE id = 1 FOR UPDATE \gset
INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, recorded_at)
SELECT :head + g, md5('bench-seed-event-' || g)::uuid, s, 1, 'invoice.created',
	jsonb_build_object(
		'invoiceId', s::text,
		'customerId', 'cus_seed_' || (g % 10000),
		'amount', ((1 + g % 9999)::text || '.' || lpad((g % 100)::text, 2, '0'))::numeric,
		'createdAt', to_char((now() - (:n - g) * interval '1 microsecond') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
	'{"correlationId":"bench-seed","causationId":"CreateInvoice"}'::jsonb,
	now()
FROM generate_series(1, :n) AS g, LATERAL (SELECT md5('bench-seed-invoice-' || g)::uuid AS s) AS x;
UPDATE event_store_head SET position = :head + :n WHERE id = 1;
SELECT pg_notify('invoices_events', (:head + :n)::text);
COMMIT;
