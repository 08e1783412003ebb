#!/usr/bin/env bash
# What one more event row per order costs PostgreSQL, in isolation: a scratch cluster
# (the system's PostgreSQL binaries, as the `postgres` user), ordo's migrations, then a
# server-side loop appending 20,000 single-line orders as ordo does (one INSERT each:
# OrderPlaced + StockReserved over 1,000 stocks), and again with the shopper's
# PurchaseOpened (1,000 shoppers). Prints µs per order of each, three runs each.
# No network, no ordo process, nothing asserted. Usage: scripts/append-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PG_BIN=${ORDO_POSTGRES_BIN_DIR:-/usr/lib/postgresql/15/bin}
WORK=$(mktemp -d /tmp/ordo-append-cost.XXXXXX)
chmod 755 "$WORK"
chown postgres "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$PG_BIN/initdb" -D "$WORK/data" -A trust > /dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" -o "-p 5497 -k $WORK -c listen_addresses=''" -l "$WORK/log" start > /dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$WORK/data" stop -m fast > /dev/null; rm -rf "$WORK"' EXIT
PSQL=("$PG_BIN/psql" -h "$WORK" -p 5497 -U postgres -q -v ON_ERROR_STOP=1)

# $1: with the shopper's row (true/false). Prints µs per order.
run() {
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS cost" -c "CREATE DATABASE cost"
  cat migrations/*.sql | "${PSQL[@]}" -d cost > /dev/null
  "${PSQL[@]}" -d cost 2>&1 <<SQL | sed -n 's/.*NOTICE: *//p'
DO \$\$
DECLARE
  started timestamptz := clock_timestamp();
  md json := '{"actor_id":"0191b4a0-0000-5000-8000-0000000000a1","actor_role":"user","request_id":"req-1"}';
  o uuid;
BEGIN
  FOR i IN 1..20000 LOOP
    o := gen_random_uuid();
    INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
    SELECT * FROM (VALUES
      ('Order', o::text, 1::bigint, 'OrderPlaced', '1', ('{"OrderPlaced":{"user_id":"0191b4a0-0000-5000-8000-0000000000a1","lines":[{"product_id":"0191b4a0-0000-7000-8000-000000000001","name":"Oolong 2026","unit_price_cents":5000,"quantity":1}],"total_cents":5000,"address":{"name":"Li Lei","phone":"13800000000","province":"Zhejiang","city":"Hangzhou","district":"Xihu","detail":"1 Lake Road"},"remark":"","placed_at":"2026-11-24T08:01:00Z","expires_at":"2026-11-24T08:16:00Z"}}')::json, md),
      ('Stock', 'stock-' || ((i - 1) % 1000), (i - 1) / 1000 + 1, 'StockReserved', '1', ('{"StockReserved":{"order_id":"' || o || '","quantity":1}}')::json, md),
      ('Shopper', 'shopper-' || ((i - 1) % 1000), (i - 1) / 1000 + 1, 'PurchaseOpened', '1', ('{"PurchaseOpened":{"order_id":"' || o || '","lines":[["0191b4a0-0000-7000-8000-000000000001",1]]}}')::json, md)
    ) AS e WHERE e.column1 <> 'Shopper' OR $1;
  END LOOP;
  RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - started) * 1000000 / 20000, 1);
END \$\$;
SQL
}

for with_shopper in false true; do
  label=$([ "$with_shopper" = true ] && echo "order + stock + shopper rows" || echo "order + stock rows          ")
  for _ in 1 2 3; do echo "$label: $(run $with_shopper) µs per order"; done
done
