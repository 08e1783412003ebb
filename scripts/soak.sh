#!/usr/bin/env bash
# Soak: an ordinary shop's traffic for a long while against a release build, to see
# whether ordo slows down or grows as its history grows. 24 shoppers (dev logins) run
# journeys over 200 products: an order of 1-3 lines; a third paid through the dev
# simulator, a third cancelled, the rest left to a 20 s payment timeout; each journey
# ends with the shopper's order list. Prints a line a minute (journeys, requests, p50,
# p99, wrong answers, server RSS), then runs `ordo audit verify`. Asserts nothing.
# Needs a release build (cargo build --release).
# Usage: scripts/soak.sh [minutes, default 30]
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
BIN=target/release/ordo
PORT=18383
BASE=http://127.0.0.1:$PORT
WORK=$(mktemp -d /tmp/ordo-soak.XXXXXX)
chmod 755 "$WORK"

# Rate limits off: one address plays 24 shoppers. Each leaves a third of its orders to
# the payment timeout, many more than the default open-order cap: the cap is lifted.
ORDO_RATE_LIMIT_IP=off ORDO_RATE_LIMIT_USER=off ORDO_MAX_UNPAID_ORDERS=1000000 RUST_LOG=warn ORDER_PAYMENT_TIMEOUT=20s \
  "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:$PORT > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do curl -sf "$BASE/healthz" > /dev/null && break; sleep 0.5; done

ADMIN=$("$BIN" token --admin --sub soak --ttl 24h --data-dir "$WORK/data" 2> /dev/null)
"$BIN" soak --url "$BASE" --admin-token "$ADMIN" --minutes "$MINUTES" --server-pid "$SERVER"
echo; echo "== ordo audit verify"
"$BIN" audit verify --data-dir "$WORK/data" 2>&1 | tail -8
