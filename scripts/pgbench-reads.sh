#!/usr/bin/env bash
# What PostgreSQL alone answers for the reads `GET /orders/{id}` and `GET /orders` make,
# run by pgbench (64 clients, prepared statements) on the PostgreSQL of an ordo data
# directory, over the shoppers' orders the HTTP bench read: a point select of an order's
# view by id and shopper (the columns ordo reads), and a page of a shopper's 20 newest
# orders with the count from `order_counts`. No HTTP, no auth, no JSON: the ceiling ordo's
# read path is measured against. The statements are spelled as in
# projections/src/orders/query.rs.
# Usage: scripts/pgbench-reads.sh <ordo data dir, server running> [seconds, default 15] <file of order ids>
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1
SECONDS_PER_RUN=${2:-15}
ORDERS=$3
PG_BIN=${ORDO_POSTGRES_BIN_DIR:-/usr/lib/postgresql/15/bin}
PORT=$(sed -n 's/^port = //p' "$DATA/postgres/data/ordo.conf")
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=ordo PGPASSWORD
PGPASSWORD=$(cat "$DATA/postgres-password")
WORK=$(mktemp -d /tmp/ordo-pgbench-reads.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

COLUMNS="order_id, status, lines, total_cents, address, remark, created_at, expires_at, paid_at,
  cancelled_at, cancel_reason, carrier, tracking_no, shipped_at, completed_at, payment_id,
  refunds_due, refunds, refunded_at"
ids=$(sed "s/.*/'&'/" "$ORDERS" | paste -sd, -)
# One script per order (pgbench picks among them at random): each a fixed statement,
# prepared once per connection, as ordo's are.
"$PG_BIN/psql" -qtA -F ' ' -v ON_ERROR_STOP=1 -d ordo \
  -c "SELECT order_id, user_id FROM order_views WHERE order_id IN ($ids)" > "$WORK/rows"
point=() page=()
n=0
while read -r order user; do
  n=$((n + 1))
  echo "SELECT $COLUMNS FROM order_views WHERE order_id = '$order' AND user_id = '$user';" \
    > "$WORK/point$n.sql"
  cat > "$WORK/page$n.sql" <<SQL
SELECT coalesce(sum(orders), 0)::bigint FROM order_counts WHERE user_id = '$user';
SELECT $COLUMNS FROM order_views WHERE user_id = '$user'
 ORDER BY created_at DESC, order_id DESC LIMIT 20 OFFSET 0;
SQL
  point+=(-f "$WORK/point$n.sql") page+=(-f "$WORK/page$n.sql")
done < "$WORK/rows"
[ "$n" -gt 0 ] || { echo "none of the orders is in order_views" >&2; exit 1; }

run() {
  "$PG_BIN/pgbench" -n -M prepared -c 64 -j 2 -T "$SECONDS_PER_RUN" "$@" ordo \
    | awk '/^tps/ {print $3}'
}
echo; echo "== pgbench: prepared selects of $n order views, 64 clients, ${SECONDS_PER_RUN}s each"
echo "point select tps: $(run "${point[@]}")"
echo "page select tps: $(run "${page[@]}")"
