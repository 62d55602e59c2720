#!/usr/bin/env bash
# Dashboard benchmark: wrk requests the checks list page (`GET /projects/<code>/checks/`,
# the whole HTML page) as a logged-in user, on a fresh database with N checks.
#
#   bench/dashboard_list.sh sqlite|postgres [seconds=20] [connections=1] [checks=1000]
#
# With one connection each request has the server to itself, so its latency is the time
# the server takes to render the page. Needs what bench/ping.sh needs. Everything stays on
# loopback. Exits non-zero unless every answer was a 200 showing every check.
set -euo pipefail

usage() {
  echo "usage: $0 sqlite|postgres [seconds=20] [connections=1] [checks=1000]" >&2
  exit 2
}

engine="${1:-}"
seconds="${2:-20}"
connections="${3:-1}"
want="${4:-1000}"
case "$engine" in sqlite | postgres) ;; *) usage ;; esac
for n in "$seconds" "$connections" "$want"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
done

# The shared setup makes no checks of its own here: they go into the user's project.
checks=0
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

jar="$tmp/cookies.txt"
# The value of the form's hidden CSRF field in the HTML on stdin.
csrf() { python3 -c 'import re, sys; print(re.search(r"name=\"csrf\" value=\"([^\"]+)\"", sys.stdin.read())[1])'; }

echo "==> signing up and making an API key" >&2
token="$(curl -fsS -c "$jar" -b "$jar" "$base/accounts/signup/" | csrf)"
curl -fsS -o /dev/null -c "$jar" -b "$jar" -H "Origin: $base" \
  --data-urlencode "csrf=$token" --data-urlencode "email=bench@example.org" \
  --data-urlencode "password=bench password" "$base/accounts/signup/"
code="$(curl -fsS -b "$jar" "$base/" |
  python3 -c 'import re, sys; print(re.search(r"/projects/([0-9a-f-]{36})/checks/", sys.stdin.read())[1])')"
settings="$base/projects/$code/settings/"
token="$(curl -fsS -b "$jar" "$settings" | csrf)"
api_key="$(curl -fsS -b "$jar" -H "Origin: $base" \
  --data-urlencode "csrf=$token" -d action=create -d key=rw "$settings" |
  python3 -c 'import re, sys; print(re.search(r"id=\"new-key\">([^<]+)<", sys.stdin.read())[1])')"

echo "==> creating $want checks" >&2
seq 1 "$want" | xargs -P 8 -I{} \
  curl -fsS --max-time 30 -o /dev/null \
  -H "X-Api-Key: $api_key" -H 'Content-Type: application/json' \
  -d '{"name":"bench-{}","tags":"prod db-{}","timeout":3600,"grace":3600}' \
  "$base/api/v3/checks/"

page="$base/projects/$code/checks/"
session="$(awk '$6 == "overdue_session" { print $7 }' "$jar")"
shown="$(curl -fsS --max-time 60 -b "$jar" "$page" | grep -c 'class="check-name"' || true)"
((shown == want)) || { echo "expected $want checks on the page, got $shown" >&2; exit 1; }

echo "==> wrk ${seconds}s, $connections connections, GET /projects/<code>/checks/ with $want checks" >&2
wrk -t1 -c"$connections" -d"${seconds}s" --timeout 10s --latency \
  -H "Cookie: overdue_session=$session" -s "$bench_dir/list.lua" "$page" | tee "$tmp/wrk.out"

line="$(grep '^BENCH ' "$tmp/wrk.out" | tail -n 1)"
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<" $line"; }
python3 - "$engine" "$want" "$connections" "$(field requests)" "$(field duration_us)" \
  "$(field p50_us)" "$(field p99_us)" "$(field max_us)" "$(field non2xx)" "$(field errors)" <<'PY'
import sys
engine, checks, connections, requests, duration, p50, p99, top, non2xx, errors = sys.argv[1:]
ok = int(non2xx) == 0 and int(errors) == 0
print(f"engine={engine} checks={checks} connections={connections} "
      f"pages/s={int(requests) / (int(duration) / 1e6):.0f} "
      f"p50={int(p50) / 1000:.1f}ms p99={int(p99) / 1000:.1f}ms max={int(top) / 1000:.1f}ms "
      f"non2xx={non2xx} errors={errors} verdict={'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
