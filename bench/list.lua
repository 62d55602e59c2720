-- wrk script for bench/api_list.sh: prints one parseable line when done.
--   BENCH requests=N non2xx=N errors=N duration_us=N p50_us=N p99_us=N max_us=N
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d non2xx=%d errors=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max))
end
