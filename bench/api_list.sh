#!/usr/bin/env bash
# Management API benchmark: wrk sends `GET /api/v3/checks/` (every check of a project, as
# JSON) with a read-write key, on a fresh database with N checks.
#
#   bench/api_list.sh sqlite|postgres [seconds=20] [connections=8] [checks=1000]
#
# Needs what bench/ping.sh needs. Everything stays on loopback. Exits non-zero unless every
# answer was a 200 listing all the checks.
set -euo pipefail

usage() {
  echo "usage: $0 sqlite|postgres [seconds=20] [connections=8] [checks=1000]" >&2
  exit 2
}

engine="${1:-}"
seconds="${2:-20}"
connections="${3:-8}"
checks="${4:-1000}"
case "$engine" in sqlite | postgres) ;; *) usage ;; esac
for n in "$seconds" "$connections" "$checks"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
done
((connections >= 2)) || { echo "connections must be >= 2" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

listed="$(curl -fsS --max-time 60 -H "X-Api-Key: $api_key" "$base/api/v3/checks/" |
  python3 -c 'import json, sys; print(len(json.load(sys.stdin)["checks"]))')"
((listed == checks)) || { echo "expected $checks checks in the list, got $listed" >&2; exit 1; }

echo "==> wrk ${seconds}s, $connections connections, GET /api/v3/checks/ with $checks checks" >&2
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency \
  -H "X-Api-Key: $api_key" -s "$bench_dir/list.lua" "$base/api/v3/checks/" | tee "$tmp/wrk.out"

line="$(grep '^BENCH ' "$tmp/wrk.out" | tail -n 1)"
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $line"; }
python3 - "$engine" "$checks" "$(field requests)" "$(field duration_us)" "$(field p50_us)" \
  "$(field p99_us)" "$(field max_us)" "$(field non2xx)" "$(field errors)" <<'PY'
import sys
engine, checks, requests, duration, p50, p99, top, non2xx, errors = sys.argv[1:]
ok = int(non2xx) == 0 and int(errors) == 0
print(f"engine={engine} checks={checks} rps={int(requests) / (int(duration) / 1e6):.0f} "
      f"p50={int(p50) / 1000:.1f}ms p99={int(p99) / 1000:.1f}ms max={int(top) / 1000:.1f}ms "
      f"non2xx={non2xx} errors={errors} verdict={'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
