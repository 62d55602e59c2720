-- wrk script for bench/ping.sh: GET /ping/<uuid> with a random check per request.
-- UUIDs come one per line from the file named by the first script argument
-- (`wrk ... -s ping.lua URL -- FILE`) or by $BENCH_UUIDS.
--
-- done() prints one parseable line:
--   BENCH requests=N sent=N non2xx=N connect=N read=N write=N timeout=N duration_us=N p50_us=N p99_us=N
-- `sent` counts requests handed to the socket (request() calls), so it also covers
-- requests still in flight when wrk stopped. `non2xx` is wrk's status-error count
-- (status >= 400); a response() callback would be exact but slows wrk down.

local threads = {}

function setup(thread)
   thread:set("id", #threads + 1)
   table.insert(threads, thread)
end

local uuids = {}
local n = 0
sent = 0

function init(args)
   local path = args[1] or os.getenv("BENCH_UUIDS")
   if not path or path == "" then
      error("ping.lua: pass the UUID file as `-- FILE` or in $BENCH_UUIDS")
   end
   local f = assert(io.open(path, "r"))
   for line in f:lines() do
      local u = line:match("^%s*(%S+)%s*$")
      if u then
         n = n + 1
         uuids[n] = "/ping/" .. u
      end
   end
   f:close()
   if n == 0 then
      error("ping.lua: no UUIDs in " .. path)
   end
   -- Each thread has its own Lua state; give each its own random sequence.
   math.randomseed(os.time() * 1000 + id)
end

function request()
   sent = sent + 1
   return wrk.format("GET", uuids[math.random(n)])
end

function done(summary, latency, requests)
   local total_sent = 0
   for _, t in ipairs(threads) do
      total_sent = total_sent + (t:get("sent") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d sent=%d non2xx=%d connect=%d read=%d write=%d timeout=%d duration_us=%d p50_us=%d p99_us=%d\n",
      summary.requests, total_sent, e.status, e.connect, e.read, e.write, e.timeout,
      summary.duration, latency:percentile(50), latency:percentile(99)))
end
