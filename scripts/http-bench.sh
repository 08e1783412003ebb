#!/usr/bin/env bash
# HTTP benchmark of the API as the mini program uses it: POST /orders spread over 1,000
# products, then GET /orders/{id}, 64 connections from 127.0.0.1 with wrk, authenticated
# with real session tokens. Prints wrk's figures and the server's RSS. Asserts nothing.
# With `hot`: instead, one product with 10,000,000 units bought by everyone, in
# consecutive rounds (does a hot product slow down as its history grows?).
# With `two-line`: orders of two lines over the 1,000 products, then pgbench (64 clients,
# same database server) running the bare-SQL transaction that writes the same events,
# and the ratio between the two: how much of what PostgreSQL can commit ordo uses.
# With HOLD_TRANSACTION=1: a psql session holds a transaction id in the shop's database
# for the whole run, as a forgotten `BEGIN; SELECT pg_current_xact_id();` does (the feed's
# horizon must pass it: writes keep their speed).
# With ANNOUNCE=off: the trigger by which appends announce themselves to the feed's
# horizon is disabled for the run (what the horizon costs each write; never in service).
# Needs wrk (apt-get install -y wrk), psql for HOLD_TRANSACTION and ANNOUNCE, and a release build
# (cargo build --release).
# Usage: [HOLD_TRANSACTION=1] scripts/http-bench.sh [seconds per run, default 15] [hot [rounds, default 10] | two-line]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-15}
MODE=${2:-spread}
ROUNDS=${3:-10}
BIN=target/release/ordo
PORT=18181
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d /tmp/ordo-http-bench.XXXXXX)
chmod 755 "$WORK"

# Rate limits off: one address plays 64 shoppers. They never pay, so the open-order
# cap is lifted (it is still decided with every order, as are the purchase limits).
ORDO_RATE_LIMIT_IP=off ORDO_RATE_LIMIT_USER=off ORDO_MAX_UNPAID_ORDERS=1000000000 RUST_LOG=warn \
  "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.5; done

ADMIN=$("$BIN" token --admin --sub bench --data-dir "$WORK/data" 2> /dev/null)
if [ "$MODE" = hot ]; then PRODUCTS=1 STOCK=10000000; else PRODUCTS=1000 STOCK=1000000; fi
echo "creating $PRODUCTS products and 64 shoppers..."
: > "$WORK/products"
for i in $(seq 1 $PRODUCTS); do
  curl -sf -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"name\":\"product $i\",\"category\":\"bench\",\"price_cents\":$((100 + i)),\"initial_stock\":$STOCK}" \
    "$BASE/api/v1/admin/products" | sed -E 's/.*"id":"([^"]+)".*/\1\n/' >> "$WORK/products"
done
ADDRESS='{"name":"Bench","phone":"13800000000","province":"Zhejiang","city":"Hangzhou","district":"Xihu","detail":"1 Lake Road"}'
: > "$WORK/tokens"; : > "$WORK/orders"
for i in $(seq 1 64); do
  token=$(curl -sf -H 'content-type: application/json' -d "{\"code\":\"dev:shopper$i\"}" \
    "$BASE/api/v1/auth/wechat-login" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  product=$(sed -n "$(( (i - 1) % PRODUCTS + 1 ))p" "$WORK/products")
  order=$(curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"lines\":[{\"product_id\":\"$product\",\"quantity\":1}],\"address\":$ADDRESS}" \
    "$BASE/api/v1/orders" | sed -E 's/.*"data":\{"id":"([^"]+)".*/\1/')
  echo "$token" >> "$WORK/tokens"; echo "$order" >> "$WORK/orders"
done

shop_psql() {
  PGPASSWORD=$(cat "$WORK/data/postgres-password") \
    psql -h 127.0.0.1 -p "$(sed -n 4p "$WORK/data/postgres/data/postmaster.pid")" -U ordo -d ordo "$@"
}
if [ "${ANNOUNCE:-}" = off ]; then
  shop_psql -qc 'ALTER TABLE events DISABLE TRIGGER events_announce_append'
  echo "appends do not announce themselves (the horizon's cost left out)"
fi
if [ "${HOLD_TRANSACTION:-}" = 1 ]; then
  shop_psql \
    -c 'SET idle_in_transaction_session_timeout = 0' \
    -c 'BEGIN' -c 'SELECT pg_current_xact_id()' -c 'SELECT pg_sleep(3600)' > /dev/null 2>&1 &
  HOLDER=$!
  trap 'kill $HOLDER 2>/dev/null; kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
  sleep 1
  kill -0 "$HOLDER" 2>/dev/null || { echo "could not hold a transaction (psql failed)"; exit 1; }
  echo "holding a transaction id in the shop's database (psql pid $HOLDER) for the whole run"
  # At the end: the server names it (pid, state, query).
  trap 'curl -s "$BASE/readyz" | grep -o "\"long_running\":\[[^]]*\]" | head -c 400; echo;
        kill $HOLDER 2>/dev/null; kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
fi

lua_list() { printf '%s = {' "$1"; sed 's/.*/"&",/' "$2" | tr -d '\n'; echo '}'; }
{
  lua_list tokens "$WORK/tokens"; lua_list products "$WORK/products"
  cat <<LUA
address = '$ADDRESS'
two_lines = $([ "$MODE" = two-line ] && echo true || echo false)
counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local product = products[math.random(#products)]
  local line = '{"product_id":"' .. product .. '","quantity":1}'
  if two_lines then
    local other = products[math.random(#products)]
    while other == product do other = products[math.random(#products)] end
    line = line .. ',{"product_id":"' .. other .. '","quantity":1}'
  end
  local body = '{"lines":[' .. line .. '],"address":' .. address .. '}'
  return wrk.format("POST", "/api/v1/orders",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
LUA
} > "$WORK/post.lua"
{
  lua_list tokens "$WORK/tokens"; lua_list orders "$WORK/orders"
  cat <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  local i = (counter % #tokens) + 1
  return wrk.format("GET", "/api/v1/orders/" .. orders[i], {["Authorization"] = "Bearer " .. tokens[i]})
end
LUA
} > "$WORK/get.lua"

rss() { echo "server RSS: $(( $(ps -o rss= -p $SERVER) / 1024 )) MiB"; }
if [ "$MODE" = hot ]; then
  echo; echo "== one hot product: $ROUNDS rounds of POST /api/v1/orders, 64 connections, ${SECONDS_PER_RUN}s each"
  printf '%-6s %12s %10s %10s %10s\n' round orders/s p50 p99 RSS
  for round in $(seq 1 "$ROUNDS"); do
    out=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "$BASE")
    printf '%-6s %12s %10s %10s %7s MiB\n' "$round" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$out" | awk '$1 == "50%" {print $2}')" \
      "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
      "$(( $(ps -o rss= -p $SERVER) / 1024 ))"
    if echo "$out" | grep -q 'Non-2xx'; then echo "$out" | grep 'Non-2xx'; fi
  done
  exit 0
fi
if [ "$MODE" = two-line ]; then
  echo; echo "== POST /api/v1/orders with 2 lines over $PRODUCTS products, 64 connections, ${SECONDS_PER_RUN}s"
  out=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "$BASE")
  echo "$out"; rss
  ordo_rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  scripts/pgbench-equivalent.sh "$WORK/data" "$SECONDS_PER_RUN" | tee "$WORK/pgbench.out"
  NO_NOTIFY=1 scripts/pgbench-equivalent.sh "$WORK/data" "$SECONDS_PER_RUN" | tee "$WORK/pgbench-bare.out"
  with_trigger=$(awk '/^tps/ {print $3}' "$WORK/pgbench.out")
  bare=$(awk '/^tps/ {print $3}' "$WORK/pgbench-bare.out")
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", 100 * a / b}'; }
  echo
  echo "ordo: $ordo_rate orders/s"
  echo "bare SQL, events table as ordo has it (NOTIFY trigger): $with_trigger transactions/s; ordo reaches $(ratio "$ordo_rate" "$with_trigger") %"
  echo "bare SQL, without the NOTIFY trigger: $bare transactions/s; ordo reaches $(ratio "$ordo_rate" "$bare") %"
  exit 0
fi
echo; echo "== POST /api/v1/orders, 64 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "$BASE"
rss
echo; echo "== GET /api/v1/orders/{id}, 64 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/get.lua" "$BASE"
rss
