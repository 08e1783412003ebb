#!/usr/bin/env bash
# The production topology on this machine, without containers: one PostgreSQL, two ordo
# processes on it, and nginx terminating TLS in front of them with deploy/nginx/ordo.conf
# (its ports and paths replaced) and a self-signed certificate.
#
#   deploy/local-topology.sh up <dir>     start everything under <dir>; prints KEY=VALUE
#                                         lines (the HTTPS URL, the CA file, the pids)
#   deploy/local-topology.sh down <dir>   stop everything started under <dir>
#
# Settings (environment):
#   ORDO_BIN                  the ordo binary (default: target/release/ordo, then PATH)
#   PG_PORT, ORDO_1_PORT, ORDO_2_PORT, HTTPS_PORT, HTTP_PORT
#                             default 55432, 58081, 58082, 58443, 58080
#   ORDO_PG_BIN_DIR           PostgreSQL's server binaries (default: Debian's 15)
#   ORDO_MEDIA_STORE          product images (default: <dir>/media, shared by both
#                             processes as a bucket would be)
#   every other ORDO_* setting is passed to both ordo processes (WeChat, WeChat Pay,
#   rate limits, ...). They run in production mode: set ORDO_WECHAT_APP_ID and the rest,
#   or ORDO_DEV=true for a dev topology.
#
# Needs: nginx, openssl, curl (Debian: apt-get install nginx openssl curl).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command="${1:-}"
dir="${2:-}"
if [[ -z "$command" || -z "$dir" ]]; then
    echo "usage: $0 up|down <dir>" >&2
    exit 2
fi

pg_bin="${ORDO_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
pg_port="${PG_PORT:-55432}"
ordo_ports=("${ORDO_1_PORT:-58081}" "${ORDO_2_PORT:-58082}")
https_port="${HTTPS_PORT:-58443}"
http_port="${HTTP_PORT:-58080}"

# PostgreSQL refuses to run as root: as root, its commands run as the postgres user.
as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Whether a process has exited (a zombie nobody reaped counts as exited).
stopped() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 0
    [[ -z "$state" || "$state" == Z ]]
}

# Waits up to 60 s for a URL to answer 200, while the process with pid $2 lives.
wait_for() {
    local url="$1" pid="$2" log="$3"
    shift 3
    for _ in $(seq 600); do
        if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then
            return 0
        fi
        if stopped "$pid"; then
            echo "exited before answering $url; the end of $log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "never answered: $url" >&2
    return 1
}

start_postgres() {
    mkdir -p "$dir/postgres"
    local password
    password="$(openssl rand -hex 16)"
    printf '%s\n' "$password" >"$dir/postgres/superuser-password"
    if [[ "$(id -u)" == 0 ]]; then
        chown -R postgres: "$dir/postgres"
    fi
    as_postgres "$pg_bin/initdb" -D "$dir/postgres/data" -U postgres -A scram-sha-256 \
        --pwfile="$dir/postgres/superuser-password" >"$dir/logs/initdb.log"
    as_postgres "$pg_bin/pg_ctl" -D "$dir/postgres/data" -l "$dir/postgres/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/postgres" start >/dev/null
    local ordo_password
    ordo_password="$(openssl rand -hex 16)"
    local psql="$pg_bin/psql"
    [[ -x "$psql" ]] || psql="psql"
    PGPASSWORD="$password" "$psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -c "CREATE ROLE ordo LOGIN PASSWORD '$ordo_password'" \
        -c "CREATE DATABASE ordo OWNER ordo"
    printf 'postgres://ordo:%s@127.0.0.1:%s/ordo\n' "$ordo_password" "$pg_port" \
        >"$dir/secrets/database-url"
}

# A throwaway certificate authority and the server's certificate signed by it: clients
# trust the authority (ORDO_CA_CERT), as they trust a public one in production.
make_certificate() {
    local tls="$dir/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ordo local topology CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
        -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>>"$dir/logs/openssl.log"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$tls/key.pem" -out "$tls/request.pem" 2>>"$dir/logs/openssl.log"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tls/extensions.cnf"
    openssl x509 -req -in "$tls/request.pem" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
        -CAcreateserial -days 2 -extfile "$tls/extensions.cnf" -out "$tls/cert.pem" \
        2>>"$dir/logs/openssl.log"
}

start_ordo() {
    local n="$1" port="$2"
    # The caller's JWT secret when given (to mint tokens the processes accept), a new one
    # otherwise; both processes must share it.
    if [[ -z "${ORDO_JWT_SECRET:-}${ORDO_JWT_SECRET_FILE:-}" ]]; then
        export ORDO_JWT_SECRET_FILE="$dir/secrets/jwt-secret"
    fi
    DATABASE_URL_FILE="$dir/secrets/database-url" \
        ORDO_TRUSTED_PROXIES=127.0.0.1 \
        ORDO_LISTEN="127.0.0.1:$port" \
        ORDO_DATA_DIR="$dir/ordo-$n" \
        ORDO_MEDIA_STORE="${ORDO_MEDIA_STORE:-$dir/media}" \
        nohup "$ordo_bin" serve >"$dir/logs/ordo-$n.log" 2>&1 &
    echo $! >"$dir/ordo-$n.pid"
}

start_nginx() {
    mkdir -p "$dir/nginx/temp"
    # nginx's workers drop root for nobody: they write their temporary files here.
    chmod 1777 "$dir/nginx/temp"
    sed -e "s|127.0.0.1:8081|127.0.0.1:${ordo_ports[0]}|" \
        -e "s|127.0.0.1:8082|127.0.0.1:${ordo_ports[1]}|" \
        -e "s|^\( *\)listen 443 ssl http2;|\1listen 127.0.0.1:$https_port ssl http2;|" \
        -e "s|^\( *\)listen 80;|\1listen 127.0.0.1:$http_port;|" \
        -e "/listen \[::\]/d" \
        -e "s|/etc/ssl/certs/shop.example.com.pem|$dir/tls/cert.pem|" \
        -e "s|/etc/ssl/private/shop.example.com.key|$dir/tls/key.pem|" \
        -e "s|/var/log/nginx/|$dir/nginx/|" \
        "$here/nginx/ordo.conf" >"$dir/nginx/ordo.conf"
    cat >"$dir/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $dir/nginx/temp/body;
    proxy_temp_path       $dir/nginx/temp/proxy;
    fastcgi_temp_path     $dir/nginx/temp/fastcgi;
    uwsgi_temp_path       $dir/nginx/temp/uwsgi;
    scgi_temp_path        $dir/nginx/temp/scgi;
    include $dir/nginx/ordo.conf;
}
EOF
    nginx -q -t -p "$dir/nginx" -c "$dir/nginx/nginx.conf"
    nginx -p "$dir/nginx" -c "$dir/nginx/nginx.conf"
}

up() {
    for tool in nginx openssl curl; do
        if ! command -v "$tool" >/dev/null; then
            echo "$tool is not installed (Debian: apt-get install $tool)" >&2
            exit 1
        fi
    done
    if [[ -e "$dir/ordo-1.pid" ]]; then
        echo "$dir holds a topology already: run '$0 down $dir' first" >&2
        exit 1
    fi
    ordo_bin="${ORDO_BIN:-}"
    if [[ -z "$ordo_bin" ]]; then
        ordo_bin="$(cd "$here/.." && pwd)/target/release/ordo"
        [[ -x "$ordo_bin" ]] || ordo_bin="$(command -v ordo)"
    fi
    ordo_bin="$(realpath "$ordo_bin")"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    chmod 755 "$dir"
    mkdir -p "$dir/logs" "$dir/secrets" "$dir/tls"
    chmod 700 "$dir/secrets"
    openssl rand -hex 32 >"$dir/secrets/jwt-secret"
    start_postgres
    make_certificate
    start_ordo 1 "${ordo_ports[0]}"
    start_ordo 2 "${ordo_ports[1]}"
    for n in 1 2; do
        wait_for "http://127.0.0.1:${ordo_ports[n - 1]}/readyz" "$(cat "$dir/ordo-$n.pid")" \
            "$dir/logs/ordo-$n.log"
    done
    start_nginx
    wait_for "https://127.0.0.1:$https_port/readyz" "$(cat "$dir/nginx/nginx.pid")" \
        "$dir/nginx/error.log" --cacert "$dir/tls/ca.pem"
    echo "ORDO_HTTPS_URL=https://127.0.0.1:$https_port"
    echo "ORDO_HTTP_URL=http://127.0.0.1:$http_port"
    echo "ORDO_CA_CERT=$dir/tls/ca.pem"
    echo "ORDO_1_PID=$(cat "$dir/ordo-1.pid")"
    echo "ORDO_2_PID=$(cat "$dir/ordo-2.pid")"
    echo "DATABASE_URL_FILE=$dir/secrets/database-url"
}

down() {
    [[ -d "$dir" ]] || return 0
    dir="$(cd "$dir" && pwd)"
    if [[ -f "$dir/nginx/nginx.pid" ]]; then
        kill "$(cat "$dir/nginx/nginx.pid")" 2>/dev/null || true
    fi
    local pids=()
    for n in 1 2; do
        if [[ -f "$dir/ordo-$n.pid" ]]; then
            pids+=("$(cat "$dir/ordo-$n.pid")")
            rm -f "$dir/ordo-$n.pid"
        fi
    done
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        stopped "$pid" || sleep 0.1
        for _ in $(seq 400); do
            stopped "$pid" && break
            sleep 0.1
        done
    done
    if [[ -f "$dir/postgres/data/postmaster.pid" ]]; then
        as_postgres "$pg_bin/pg_ctl" -D "$dir/postgres/data" -m fast -w stop >/dev/null || true
    fi
}

case "$command" in
    up) up ;;
    down) down ;;
    *)
        echo "usage: $0 up|down <dir>" >&2
        exit 2
        ;;
esac
