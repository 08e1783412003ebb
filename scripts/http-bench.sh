#!/usr/bin/env bash
# HTTP benchmark of the API as the mini program uses it, 64 connections from 127.0.0.1 with
# wrk, authenticated with real session tokens. Every rate printed counts successful (2xx)
# answers only; the others are counted apart (409, other 4xx, 5xx, socket errors).
# Default (`spread`): POST /orders of one line spread over 1,000 products, then
# GET /orders/{id} and GET /orders (a page of 20), then, on the same PostgreSQL in the same
# run, pgbench (64 clients) running the bare-SQL transaction that writes the same events
# and prepared selects of the same read-model rows, and the ratios: how much of what
# PostgreSQL can do ordo uses.
# With `two-line`: the same with orders of two lines.
# With `hot`: instead, one product with 10,000,000 units bought by everyone, in
# consecutive rounds (does a hot product slow down as its history grows?).
# With `flash`: one product of 1,000 units, at most 2 per shopper, 500 shoppers over
# 256 connections: decisions/s (sold and sold out), and whether exactly 1,000 were sold.
# With HOLD_TRANSACTION=1: a psql session holds a transaction id in the shop's database
# for the whole run, as a forgotten `BEGIN; SELECT pg_current_xact_id();` does (the feed's
# horizon must pass it: writes keep their speed).
# With ANNOUNCE=off: the trigger by which appends announce themselves to the feed's
# horizon is disabled for the run (what the horizon costs each write; never in service).
# With PROFILE=post|get|list: `perf record -g` of the server during that run, written to
# $PROFILE_OUT (default /tmp/ordo-<run>.perf; read it with `perf report -i`).
# Needs wrk (apt-get install -y wrk), psql for HOLD_TRANSACTION and ANNOUNCE, perf for
# PROFILE, and a release build (cargo build --release; ORDO_BIN=path runs another binary).
# Usage: [HOLD_TRANSACTION=1] [PROFILE=get] scripts/http-bench.sh [seconds per run, default 15] [spread | two-line | hot [rounds, default 10] | flash]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-15}
MODE=${2:-spread}
ROUNDS=${3:-10}
BIN=${ORDO_BIN:-target/release/ordo}
PORT=18181
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d /tmp/ordo-http-bench.XXXXXX)
chmod 755 "$WORK"

# Rate limits off: one address plays 64 shoppers. They never pay, so the open-order
# cap is lifted (it is still decided with every order, as are the purchase limits).
ORDO_RATE_LIMIT_IP=off ORDO_RATE_LIMIT_USER=off ORDO_RATE_LIMIT_LOGIN=off \
  ORDO_MAX_UNPAID_ORDERS=1000000000 RUST_LOG=warn \
  "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.5; done

ADMIN=$("$BIN" token --admin --sub bench --data-dir "$WORK/data" 2> /dev/null)
case "$MODE" in
  hot) PRODUCTS=1 STOCK=10000000 SHOPPERS=64 LIMIT=null ;;
  flash) PRODUCTS=1 STOCK=1000 SHOPPERS=500 LIMIT=2 ;;
  *) PRODUCTS=1000 STOCK=1000000 SHOPPERS=64 LIMIT=null ;;
esac
echo "creating $PRODUCTS products and $SHOPPERS shoppers..."
: > "$WORK/products"
for i in $(seq 1 $PRODUCTS); do
  curl -sf -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d "{\"name\":\"product $i\",\"category\":\"bench\",\"price_cents\":$((100 + i)),\"initial_stock\":$STOCK,\"limit_per_user\":$LIMIT}" \
    "$BASE/api/v1/admin/products" | sed -E 's/.*"id":"([^"]+)".*/\1\n/' >> "$WORK/products"
done
ADDRESS='{"name":"Bench","phone":"13800000000","province":"Zhejiang","city":"Hangzhou","district":"Xihu","detail":"1 Lake Road"}'
: > "$WORK/tokens"; : > "$WORK/orders"
for i in $(seq 1 $SHOPPERS); do
  token=$(curl -sf -H 'content-type: application/json' -d "{\"code\":\"dev:shopper$i\"}" \
    "$BASE/api/v1/auth/wechat-login" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  echo "$token" >> "$WORK/tokens"
  # A first order each, for the GETs (not in a flash sale: its units are the test).
  [ "$MODE" = flash ] && continue
  product=$(sed -n "$(( (i - 1) % PRODUCTS + 1 ))p" "$WORK/products")
  curl -sf -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"lines\":[{\"product_id\":\"$product\",\"quantity\":1}],\"address\":$ADDRESS}" \
    "$BASE/api/v1/orders" | sed -E 's/.*"data":\{"id":"([^"]+)".*/\1\n/' >> "$WORK/orders"
done
[ "$(wc -l < "$WORK/tokens")" = "$SHOPPERS" ] || { echo "only $(wc -l < "$WORK/tokens") of $SHOPPERS shoppers logged in"; exit 1; }
[ "$MODE" = flash ] || [ "$(wc -l < "$WORK/orders")" = "$SHOPPERS" ] \
  || { echo "only $(wc -l < "$WORK/orders") of $SHOPPERS first orders placed"; exit 1; }

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

# Appended to every wrk script: counts answers by kind in each thread and prints one
# line at the end that `outcome` reads (wrk's own Requests/sec counts every answer).
counting_lua() {
  cat <<'LUA'
threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) ok = 0; sold_out = 0; limited = 0; conflict = 0; client = 0; server = 0 end
response = function(status, headers, body)
  if status < 300 then ok = ok + 1
  elseif status == 409 and body:find('"code":40901', 1, true) then sold_out = sold_out + 1
  elseif status == 409 and body:find('"code":40904', 1, true) then limited = limited + 1
  elseif status == 409 then conflict = conflict + 1
  elseif status < 500 then client = client + 1
  else server = server + 1 end
end
done = function(summary, latency, requests)
  local total = {ok = 0, sold_out = 0, limited = 0, conflict = 0, client = 0, server = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(total) do total[name] = total[name] + thread:get(name) end
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("OUTCOME seconds=%.3f ok=%d sold_out=%d limited=%d conflict=%d client=%d server=%d socket=%d p50=%.2f p99=%.2f\n",
    summary.duration / 1e6, total.ok, total.sold_out, total.limited, total.conflict, total.client, total.server, errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
}

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
  counting_lua
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
  counting_lua
} > "$WORK/get.lua"
{
  lua_list tokens "$WORK/tokens"
  cat <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/v1/orders?page=1&size=20",
    {["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1]})
end
LUA
  counting_lua
} > "$WORK/list.lua"

rss() { echo "server RSS: $(( $(ps -o rss= -p $SERVER) / 1024 )) MiB"; }
# Runs wrk (`connections`, script) and prints the successful answers per second, the
# others by kind, p50/p99 of every answer; leaves the rate in $RATE.
measure() {
  local connections=$1 script=$2 out line perf=
  if [ -n "${PROFILE:-}" ] && [ "$(basename "$script" .lua)" = "$PROFILE" ]; then
    perf record -F 499 -g -p "$SERVER" -o "${PROFILE_OUT:-/tmp/ordo-$PROFILE.perf}" \
      -- sleep "$SECONDS_PER_RUN" > /dev/null 2>&1 &
    perf=$!
  fi
  out=$(wrk -t2 -c"$connections" -d"${SECONDS_PER_RUN}s" --latency -s "$script" "$BASE")
  line=$(echo "$out" | grep '^OUTCOME')
  [ -n "$perf" ] && wait "$perf"
  eval "$(echo "$line" | cut -d' ' -f2- | tr ' ' '\n' | sed 's/^/local /')"
  RATE=$(awk -v n="$ok" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
  printf '%s/s successful (%s in %.1f s), p50 %s ms, p99 %s ms; apart: %s sold out, %s over the limit, %s other 409, %s other 4xx, %s 5xx, %s socket errors\n' \
    "$RATE" "$ok" "$seconds" "$p50" "$p99" "$sold_out" "$limited" "$conflict" "$client" "$server" "$socket"
  REFUSED=$(( sold_out + limited ))
  SECONDS_MEASURED=$seconds
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

if [ "$MODE" = hot ]; then
  echo; echo "== one hot product: $ROUNDS rounds of POST /api/v1/orders, 64 connections, ${SECONDS_PER_RUN}s each"
  for round in $(seq 1 "$ROUNDS"); do
    printf 'round %2s: %s; RSS %s MiB\n' "$round" "$(measure 64 "$WORK/post.lua")" \
      "$(( $(ps -o rss= -p $SERVER) / 1024 ))"
  done
  exit 0
fi

if [ "$MODE" = flash ]; then
  product=$(cat "$WORK/products")
  echo; echo "== flash sale: $STOCK units, at most $LIMIT each, $SHOPPERS shoppers, 256 connections, ${SECONDS_PER_RUN}s"
  measure 256 "$WORK/post.lua" > "$WORK/flash.out"; cat "$WORK/flash.out"
  sold=$(sed -E 's/.*\(([0-9]+) in .*/\1/' "$WORK/flash.out")
  decisions=$(( sold + REFUSED ))
  echo "decisions (sold, sold out or over the limit): $(awk -v n="$decisions" -v s="$SECONDS_MEASURED" 'BEGIN {printf "%.0f", n / s}')/s"
  available=$(curl -sf "$BASE/api/v1/products/$product" | sed -E 's/.*"available":([0-9]+).*/\1/')
  placed=$(shop_psql -tAc "SELECT count(*) FROM events WHERE event_type = 'OrderPlaced'")
  echo "sold: $sold answered 201, $placed orders in the log, $available units left of $STOCK"
  [ "$sold" = "$STOCK" ] && [ "$placed" = "$STOCK" ] && [ "$available" = 0 ] \
    && echo "exactly $STOCK sold" || echo "NOT exactly $STOCK sold"
  rss; exit 0
fi

echo; echo "== POST /api/v1/orders ($MODE), 64 connections, ${SECONDS_PER_RUN}s"
measure 64 "$WORK/post.lua"; ORDERS=$RATE; rss
echo; echo "== GET /api/v1/orders/{id}, 64 connections, ${SECONDS_PER_RUN}s"
measure 64 "$WORK/get.lua"; ONE=$RATE; rss
echo; echo "== GET /api/v1/orders?size=20, 64 connections, ${SECONDS_PER_RUN}s"
measure 64 "$WORK/list.lua"; PAGE=$RATE; rss

LINES=$([ "$MODE" = two-line ] && echo 2 || echo 1)
LINES=$LINES scripts/pgbench-equivalent.sh "$WORK/data" "$SECONDS_PER_RUN" | tee "$WORK/pgbench.out"
NO_NOTIFY=1 LINES=$LINES scripts/pgbench-equivalent.sh "$WORK/data" "$SECONDS_PER_RUN" | tee "$WORK/pgbench-bare.out"
scripts/pgbench-reads.sh "$WORK/data" "$SECONDS_PER_RUN" "$WORK/orders" | tee "$WORK/pgbench-reads.out"
with_trigger=$(awk '/^tps/ {print $3}' "$WORK/pgbench.out")
bare=$(awk '/^tps/ {print $3}' "$WORK/pgbench-bare.out")
point=$(awk '/^point select tps/ {print $4}' "$WORK/pgbench-reads.out")
page=$(awk '/^page select tps/ {print $4}' "$WORK/pgbench-reads.out")
echo
echo "== ratios (same run, same PostgreSQL)"
echo "POST /orders ($LINES line): $ORDERS/s; bare SQL with the NOTIFY trigger $with_trigger/s -> $(ratio "$ORDERS" "$with_trigger")x; without $bare/s -> $(ratio "$ORDERS" "$bare")x"
echo "GET /orders/{id}: $ONE/s; prepared point select of an order view $point/s -> $(ratio "$ONE" "$point")x"
echo "GET /orders (20): $PAGE/s; vs the point select -> $(ratio "$PAGE" "$point")x; prepared page select (20 rows and the count) $page/s -> $(ratio "$PAGE" "$page")x"
