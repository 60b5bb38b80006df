-- wrk script for bench/bench_fleet.py: issues one new certificate per request
-- (POST /divoc/api/v1/certify, a new preEnrollmentCode each) and prints the same JSON line
-- as rotate.lua ("WRKJSON ...").
--
-- Configured through the environment:
--   WRK_BODY     file with the JSON request body; every "@CODE@" in it becomes the code
--   WRK_PREFIX   prefix of the codes (unique per run: a code issued twice answers 409)
--   WRK_TOKEN    bearer token (role certificate-issuer)
--   WRK_HOST     the Host header (nginx answers 400 to a request without one)

local token = os.getenv("WRK_TOKEN") or ""
local prefix = assert(os.getenv("WRK_PREFIX"), "WRK_PREFIX is not set")
local file = assert(io.open(assert(os.getenv("WRK_BODY"), "WRK_BODY is not set"), "r"))
local template = file:read("*a")
file:close()
local headers = {["Content-Type"] = "application/json"}
local host = os.getenv("WRK_HOST")
if host ~= nil and #host > 0 then headers["Host"] = host end
if #token > 0 then headers["Authorization"] = "Bearer " .. token end

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local counter = 0

function request()
  counter = counter + 1
  local code = string.format("%s%d%07d", prefix, thread_id or 0, counter)
  local body = template:gsub("@CODE@", code)
  return wrk.format("POST", "/divoc/api/v1/certify", headers, body)
end

-- The "WRKJSON" summary line, shared with the other scripts of this folder.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
