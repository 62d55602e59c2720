#!/usr/bin/env bash
# Property-based API test: schemathesis generates requests from /api/v3/openapi.json and
# checks every answer against it (no 5xx, documented status codes, content types, headers
# and bodies). Runs against a live `overdue serve` on SQLite, and on PostgreSQL when
# TEST_DATABASE_URL is set.
#
#   tests/schemathesis.sh [MAX_EXAMPLES]     (default 30 per operation; needs schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-30}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --bin overdue
bin="$target/debug/overdue"
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run ENGINE DATABASE_URL
run() {
  local engine="$1" url="$2" port key
  port="$(free_port)"
  export DATABASE_URL="$url" OVERDUE_LISTEN="127.0.0.1:$port" OVERDUE_RATE_LIMITS=off
  "$bin" migrate
  key="$("$bin" project create --name schemathesis | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
  "$bin" serve >"$work/$engine.log" 2>&1 &
  server=$!
  for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/api/v3/status/" >/dev/null && break
    sleep 0.2
  done
  echo "==> schemathesis on $engine ($examples examples per operation)"
  if ! st run "http://127.0.0.1:$port/api/v3/openapi.json" \
    --header "X-Api-Key: $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "$examples" --seed 1 --generation-database none --generation-allow-x00 true \
    --request-timeout 30 \
    --report junit --report-dir "$work/report-$engine"; then
    echo "==> schemathesis failed on $engine; the server's log ends:" >&2
    tail -n 60 "$work/$engine.log" >&2
    exit 1
  fi
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
  if grep -q "panicked" "$work/$engine.log"; then
    grep -B2 -A10 "panicked" "$work/$engine.log" >&2
    exit 1
  fi
}

run sqlite "sqlite://$work/overdue.db"

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  db="overdue_schemathesis_$$"
  admin="$TEST_DATABASE_URL"
  psql -q "$admin" -c "drop database if exists $db" -c "create database $db"
  run postgres "${admin%/*}/$db"
  psql -q "$admin" -c "drop database if exists $db"
fi
