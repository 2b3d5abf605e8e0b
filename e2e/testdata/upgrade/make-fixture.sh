#!/usr/bin/env bash
# Rebuilds the upgrade fixture: the databases of a deployment running the
# last release before currencies, due dates and void (commit 1aab8f6), on
# both engines, dumped as SQL. TestUpgradeFromRelease loads them and starts
# today's binary on them. Run from the repository root, with PostgreSQL on
# 127.0.0.1:5432 (trust); the fixture is committed, so this is only needed
# to make it again, never in CI.
set -euo pipefail
rev=1aab8f6
out=e2e/testdata/upgrade
work=$(mktemp -d)
trap 'git worktree remove --force "$work/src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/src" "$rev" >/dev/null
(cd "$work/src" && go build -o "$work/invoices" .)

pg=postgres://postgres@127.0.0.1:5432
for db in upgrade_fixture_events upgrade_fixture_read; do
	psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done

# The same requests against each engine: four invoices, two of them paid.
populate() {
	local port=$1
	for _ in $(seq 50); do curl -fs "localhost:$port/readyz" >/dev/null && break; sleep 0.2; done
	ids=()
	for body in '{"customerId":"cus_a","amount":19.99}' '{"customerId":"cus_b","amount":20}' \
		'{"customerId":"cus_a","amount":0.01}' '{"customerId":"cus_c","amount":999999999999.99}'; do
		ids+=("$(curl -fs -XPOST "localhost:$port/invoices" -H 'content-type: application/json' -d "$body" |
			sed -n 's/.*"id":"\([^"]*\)".*/\1/p')")
	done
	curl -fs -XPOST "localhost:$port/invoices/${ids[0]}/pay" >/dev/null
	curl -fs -XPOST "localhost:$port/invoices/${ids[3]}/pay" >/dev/null
}

PORT=3801 DATA_DIR="$work/data" "$work/invoices" >"$work/sqlite.log" 2>&1 &
pid=$!
populate 3801
kill -TERM $pid && wait $pid || true
sqlite3 "$work/data/events.db" .dump >"$out/sqlite-events.sql"
sqlite3 "$work/data/read.db" .dump >"$out/sqlite-read.sql"

PORT=3802 EVENT_STORE_URL="$pg/upgrade_fixture_events?sslmode=disable" READ_DB_URL="$pg/upgrade_fixture_read?sslmode=disable" \
	"$work/invoices" >"$work/pg.log" 2>&1 &
pid=$!
populate 3802
kill -TERM $pid && wait $pid || true
# Plain SQL without owners or psql meta-commands, so database/sql can run it.
for part in events read; do
	pg_dump --no-owner --no-privileges --inserts "$pg/upgrade_fixture_$part" | grep -v '^\\' >"$out/postgres-$part.sql"
done
for db in upgrade_fixture_events upgrade_fixture_read; do psql -q "$pg/postgres" -c "DROP DATABASE $db"; done
