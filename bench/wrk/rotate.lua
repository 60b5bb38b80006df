-- wrk script for bench/bench_distribution.py: rotates through a list of request paths and
-- prints one JSON line (prefixed "WRKJSON ") with throughput, latency percentiles and errors.
--
-- Configured through the environment (wrk passes no options to Lua scripts):
--   WRK_PATHS    file with one request per line: "<path>" or "<path>\t<etag>" (the etag,
--                quotes included, is sent as If-None-Match)
--   WRK_METHOD   GET (default) or HEAD
--   WRK_TOKEN    bearer token; empty or unset sends no Authorization header
--   WRK_THREADS  the -t value, so that thread k takes entries k, k+T, k+2T, ...
--   WRK_HOST     the Host header (wrk leaves it out of requests formatted with headers of
--                their own; uvicorn accepts that, nginx answers 400); unset sends none
--
-- Every thread runs this file in its own Lua state, so each loads the list once.

local method = os.getenv("WRK_METHOD") or "GET"
local token = os.getenv("WRK_TOKEN") or ""
local step = tonumber(os.getenv("WRK_THREADS") or "1")
local host = os.getenv("WRK_HOST")
local entries = {}

local file = assert(io.open(assert(os.getenv("WRK_PATHS"), "WRK_PATHS is not set"), "r"))
for line in file:lines() do
  if #line > 0 then
    local path, etag = line:match("^([^\t]+)\t(.+)$")
    if path == nil then path = line end
    local headers = {}
    if host ~= nil and #host > 0 then headers["Host"] = host end
    if #token > 0 then headers["Authorization"] = "Bearer " .. token end
    if etag ~= nil then headers["If-None-Match"] = etag end
    -- Pre-format every request once: request() then only picks the next string.
    entries[#entries + 1] = wrk.format(method, path, headers)
  end
end
file:close()
assert(#entries > 0, "WRK_PATHS lists no requests")

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local position

function init(args)
  position = (thread_id or 0) % #entries
end

function request()
  local r = entries[position + 1]
  position = (position + step) % #entries
  return r
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_s":%.6f,"rps":%.2f,"bytes":%d,' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    summary.requests, seconds, summary.requests / seconds, summary.bytes,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
