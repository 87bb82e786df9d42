-- wrk script of benchmarks/load_test.py: one endpoint per run, configured by the environment:
--   LOAD_METHOD (GET or POST), LOAD_PATH, LOAD_BODY (JSON, for POST), LOAD_TOKEN (bearer token),
--   LOAD_EXPECT (text every good body contains), LOAD_REJECT (text no good body contains).
-- A response counts as a failure unless it is a 200 whose body passes both checks. done() prints
-- the figures load_test.py reads, one "name value" pair per line, after wrk's own report.

wrk.method = os.getenv("LOAD_METHOD") or "GET"
wrk.path = os.getenv("LOAD_PATH")
wrk.body = os.getenv("LOAD_BODY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("LOAD_TOKEN")
wrk.headers["Accept"] = "application/json"
if wrk.body then
  wrk.headers["Content-Type"] = "application/json"
end

local expect = os.getenv("LOAD_EXPECT")
local reject = os.getenv("LOAD_REJECT")
local threads = {}
failures = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200
      or (expect and not string.find(body, expect, 1, true))
      or (reject and string.find(body, reject, 1, true)) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
  end
  local errors = summary.errors
  io.write(string.format("load_requests %d\n", summary.requests))
  io.write(string.format("load_duration_us %d\n", summary.duration))
  io.write(string.format("load_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("load_p99_us %d\n", latency:percentile(99)))
  io.write(string.format("load_failed_responses %d\n", failed))
  io.write(string.format("load_socket_errors %d\n",
    errors.connect + errors.read + errors.write + errors.timeout))
end
