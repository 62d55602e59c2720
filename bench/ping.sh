#!/usr/bin/env bash
# Ping ingest benchmark: wrk hammers GET /ping/<uuid> over N checks on a fresh
# database, then the pings the server recorded are checked against the 2xx
# responses wrk received.
#
#   bench/ping.sh sqlite|postgres [seconds=30] [connections=64] [checks=1000]
#
# Needs cargo, curl, python3, wrk (apt-get install -y wrk) and, for postgres,
# psql with a trusting server on 127.0.0.1 (PGPORT, default 5432, user postgres).
# Everything stays on loopback. Exit status is non-zero if the check fails.
set -euo pipefail

usage() {
  echo "usage: $0 sqlite|postgres [seconds=30] [connections=64] [checks=1000]" >&2
  exit 2
}

engine="${1:-}"
seconds="${2:-30}"
connections="${3:-64}"
checks="${4:-1000}"
case "$engine" in sqlite | postgres) ;; *) usage ;; esac
for n in "$seconds" "$connections" "$checks"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
done
# wrk needs at least one connection per thread.
((connections >= 2)) || { echo "connections must be >= 2" >&2; exit 2; }

for tool in cargo curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [[ "$engine" == postgres ]]; then
  command -v psql >/dev/null || { echo "missing tool: psql" >&2; exit 1; }
fi

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench_dir/.." && pwd)"
cd "$repo"

echo "==> cargo build --release" >&2
cargo build --release
target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" == /* ]] || target_dir="$repo/$target_dir"
bin="$target_dir/release/overdue"
[[ -x "$bin" ]] || { echo "no binary at $bin" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/overdue-bench.XXXXXX")"
server_pid=""
pg_db=""
pg_port="${PGPORT:-5432}"

psql_admin() {
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt -c "$1"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    # Up to 5 s for a graceful stop, then force it.
    for _ in $(seq 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -s "$tmp/server.log" ]]; then
    echo "--- last lines of the server log:" >&2
    tail -n 30 "$tmp/server.log" >&2
  fi
  if [[ -n "$pg_db" ]]; then
    psql_admin "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "warning: could not drop database $pg_db" >&2
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "$engine" in
  sqlite)
    export DATABASE_URL="sqlite://$tmp/overdue.db"
    ;;
  postgres)
    pg_db="overdue_bench_$$"
    psql_admin "CREATE DATABASE \"$pg_db\""
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/$pg_db"
    ;;
esac

# A free loopback port, chosen by the kernel.
port="$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export OVERDUE_LISTEN="127.0.0.1:$port"
export OVERDUE_RATE_LIMITS=off

echo "==> overdue migrate ($engine)" >&2
"$bin" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }

echo "==> overdue serve on $OVERDUE_LISTEN" >&2
"$bin" serve >"$tmp/server.log" 2>&1 &
server_pid=$!

# Up to 30 s for the server to answer.
up=0
for _ in $(seq 300); do
  kill -0 "$server_pid" 2>/dev/null || { echo "server exited during startup" >&2; exit 1; }
  if curl -fsS --max-time 2 "$base/api/v3/status/" >/dev/null 2>&1; then
    up=1
    break
  fi
  sleep 0.1
done
((up)) || { echo "server did not come up within 30 s" >&2; exit 1; }

project_json="$("$bin" project create --name "bench-$$")"
api_key="$(python3 -c 'import json, sys
line = [l for l in sys.argv[1].splitlines() if l.startswith("{")][-1]
print(json.loads(line)["api_key"])' "$project_json")"

echo "==> creating $checks checks" >&2
mkdir "$tmp/checks"
# One response file per check, so parallel curls can't interleave their output.
seq 1 "$checks" | xargs -P 8 -I{} \
  curl -fsS --max-time 30 -o "$tmp/checks/{}.json" \
  -H "X-Api-Key: $api_key" -H 'Content-Type: application/json' \
  -d '{"name":"bench-{}","timeout":3600,"grace":3600}' \
  "$base/api/v3/checks/"
python3 - "$tmp/checks" "$checks" >"$tmp/uuids.txt" <<'EOF'
import json, os, sys
d, want = sys.argv[1], int(sys.argv[2])
uuids = {json.load(open(os.path.join(d, f)))["uuid"] for f in os.listdir(d)}
if len(uuids) != want:
    sys.exit(f"expected {want} distinct check UUIDs, got {len(uuids)}")
print("\n".join(sorted(uuids)))
EOF

sum_pings() {
  curl -fsS --max-time 60 -H "X-Api-Key: $api_key" "$base/api/v3/checks/" |
    python3 -c 'import json, sys; print(sum(c["n_pings"] for c in json.load(sys.stdin)["checks"]))'
}
before="$(sum_pings)"
((before == 0)) || { echo "expected 0 pings before the run, found $before" >&2; exit 1; }

echo "==> wrk ${seconds}s, $connections connections, $checks checks" >&2
# --timeout above wrk's 2 s default, so slow responses still land in the latency
# histogram instead of only being counted as timeouts.
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency \
  -s "$bench_dir/ping.lua" "$base" -- "$tmp/uuids.txt" | tee "$tmp/wrk.out"

bench_line="$(grep '^BENCH ' "$tmp/wrk.out" | tail -n 1)"
[[ -n "$bench_line" ]] || { echo "no BENCH line in wrk output" >&2; exit 1; }
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $bench_line"; }
requests="$(field requests)"
sent="$(field sent)"
non2xx="$(field non2xx)"
sock_errors=$(($(field connect) + $(field read) + $(field write)))
timeouts="$(field timeout)"
duration_us="$(field duration_us)"
p50_us="$(field p50_us)"
p99_us="$(field p99_us)"
responses_2xx=$((requests - non2xx))

# Requests still in flight when wrk stopped may commit after it exits: read the
# total until two reads 0.5 s apart agree (at most ~15 s).
pings="$(sum_pings)"
for _ in $(seq 30); do
  sleep 0.5
  again="$(sum_pings)"
  [[ "$again" == "$pings" ]] && break
  pings="$again"
done

# Every 2xx must be a recorded ping. wrk drops requests in flight at the end of
# the run, which the server may still record, so up to (sent - requests) extra
# pings are expected; more than that, or fewer than the 2xx count, is a bug.
in_flight=$((sent - requests))
verdict=ok
if ((pings < responses_2xx)); then
  verdict="FAIL:lost_$((responses_2xx - pings))_acknowledged_pings"
elif ((pings > responses_2xx + in_flight)); then
  verdict="FAIL:$((pings - responses_2xx - in_flight))_pings_beyond_requests_sent"
elif ((non2xx > 0)); then
  verdict="FAIL:${non2xx}_non2xx_responses"
fi

python3 - "$engine" "$requests" "$duration_us" "$p50_us" "$p99_us" "$pings" "$responses_2xx" \
  "$in_flight" "$non2xx" "$sock_errors" "$timeouts" "$verdict" <<'EOF'
import sys
(engine, requests, duration_us, p50, p99, pings, ok, in_flight, non2xx, sock, timeouts,
 verdict) = sys.argv[1:]
rps = int(requests) / (int(duration_us) / 1e6)
print(f"engine={engine} rps={rps:.0f} p50={int(p50) / 1000:.2f}ms p99={int(p99) / 1000:.2f}ms "
      f"pings_recorded={pings} responses_2xx={ok} in_flight_at_stop={in_flight} "
      f"non2xx={non2xx} socket_errors={sock} timeouts={timeouts} verdict={verdict}")
EOF

[[ "$verdict" == ok ]]
