-- wrk script for bench/bench_distribution.py: rotates through a list of request paths and
-- prints one JSON line (prefixed "WRKJSON ", report.lua) with throughput, latency and errors.
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

-- The "WRKJSON" summary line, shared with the other scripts of this folder.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
