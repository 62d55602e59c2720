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

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

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
