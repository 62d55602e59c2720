# Shared by the benchmark scripts (sourced, not run): builds the release binary, starts
# `overdue serve` on a fresh database for $engine (sqlite|postgres), creates a project and
# $checks checks through the API, and cleans everything up on exit. Leaves $bin, $base,
# $api_key, $tmp (with uuids.txt, one check UUID per line) and $bench_dir set.

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

