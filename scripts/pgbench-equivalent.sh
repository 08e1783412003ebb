#!/usr/bin/env bash
# The bare-SQL equivalent of placing an order of LINES lines (1 or 2, default 2), run by
# pgbench (64 clients) on the PostgreSQL of an ordo data directory: one implicit
# transaction inserting what ordo commits for such an order — an OrderPlaced, a
# StockReserved per line and the shopper's PurchaseOpened, copied from the newest ones in
# the store, so sizes match — into an `events` table made by ordo's
# own event-store migration (same indexes and triggers) in a scratch database.
# No decisions, no HTTP, no projections: the ceiling ordo's write path is measured against.
# With NO_NOTIFY=1 the feed's NOTIFY trigger is dropped from the scratch table: PostgreSQL
# commits NOTIFYing transactions one at a time, which is why ordo commits in groups.
# Usage: [NO_NOTIFY=1] [LINES=1|2] scripts/pgbench-equivalent.sh <ordo data dir, server running> [seconds, default 15]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1
SECONDS_PER_RUN=${2:-15}
LINES=${LINES:-2}
PG_BIN=${ORDO_POSTGRES_BIN_DIR:-/usr/lib/postgresql/15/bin}
PORT=$(sed -n 's/^port = //p' "$DATA/postgres/data/ordo.conf")
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=ordo PGPASSWORD
PGPASSWORD=$(cat "$DATA/postgres-password")
SCRATCH=pgbench_equivalent
WORK=$(mktemp -d /tmp/ordo-pgbench.XXXXXX)
trap 'rm -rf "$WORK"; "$PG_BIN/psql" -q -d ordo -c "DROP DATABASE IF EXISTS $SCRATCH" > /dev/null 2>&1 || true' EXIT

"$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -d ordo -c "DROP DATABASE IF EXISTS $SCRATCH" -c "CREATE DATABASE $SCRATCH"
"$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -d $SCRATCH -f migrations/20261124000001_event_store.sql
[ -n "${NO_NOTIFY:-}" ] && "$PG_BIN/psql" -q -d $SCRATCH -c "DROP TRIGGER events_notify ON events"
# The newest order's events, as samples (the sequence only keeps primary keys unique).
"$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -d ordo -c "COPY (
    SELECT aggregate_type, event_type, event_version, payload, metadata FROM (
        (SELECT * FROM events WHERE event_type = 'OrderPlaced' ORDER BY global_position DESC LIMIT 1)
        UNION ALL
        (SELECT * FROM events WHERE event_type = 'StockReserved' ORDER BY global_position DESC LIMIT $LINES)
        UNION ALL
        (SELECT * FROM events WHERE event_type = 'PurchaseOpened' ORDER BY global_position DESC LIMIT 1)) e
    ) TO STDOUT" > "$WORK/sample.tsv"
"$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -d $SCRATCH \
  -c "CREATE TABLE sample (n serial, aggregate_type text, event_type text, event_version text, payload json, metadata json)" \
  -c "\\copy sample (aggregate_type, event_type, event_version, payload, metadata) FROM '$WORK/sample.tsv'" \
  -c "CREATE SEQUENCE sample_sequence"
cat > "$WORK/order.sql" <<'SQL'
\set p1 random(1, 1000)
\set p2 random(1, 1000)
\set s random(1, 64)
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT aggregate_type,
       CASE WHEN event_type = 'OrderPlaced' THEN gen_random_uuid()::text
            WHEN event_type = 'PurchaseOpened' THEN 'shopper-' || :s
            ELSE 'product-' || CASE n WHEN 2 THEN :p1 ELSE :p2 END END,
       nextval('sample_sequence'), event_type, event_version, payload, metadata
  FROM sample;
SQL
echo; echo "== pgbench: the same events in bare SQL ($LINES-line order)${NO_NOTIFY:+, no NOTIFY trigger}, 64 clients, ${SECONDS_PER_RUN}s"
"$PG_BIN/pgbench" -n -c 64 -j 2 -T "$SECONDS_PER_RUN" -f "$WORK/order.sql" -r $SCRATCH \
  | grep -E '^(tps|latency|number of (transactions|failed))'
