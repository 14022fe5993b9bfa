-- wrk script of the benchmark harness (bench/wrk.py writes the data file and reads the result).
--
--   wrk ... -s bench/wrk_requests.lua URL -- REQUESTS.lua THREADS [STARTS]
--
-- REQUESTS.lua returns a list of {method, path, headers, body}. Thread k of THREADS sends
-- entries k+1, k+1+THREADS, ... in turn (all of them when there are fewer entries than threads),
-- so a list with one entry per member keeps members apart across threads. STARTS, when given,
-- is one number per thread, comma-separated: how many of its entries that thread sent in an
-- earlier run (the warm-up), so this run goes on from there instead of sending them again.
-- Every response status is counted; done() prints one line "WXBENCH {json}" with the counts,
-- the latencies, each thread's position and how many requests went round the list again.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local prepared = {}
position = 0
repeated = 0
statuses = {}

local function format(entry)
  local body = entry[4]
  if body == "" then body = nil end
  return wrk.format(entry[1], entry[2], entry[3], body)
end

function init(args)
  local data = dofile(args[1])
  local count = tonumber(args[2])
  for i, entry in ipairs(data) do
    if (i - 1) % count == index then table.insert(prepared, format(entry)) end
  end
  if #prepared == 0 then
    for _, entry in ipairs(data) do table.insert(prepared, format(entry)) end
  end
  if args[3] then
    local k = 0
    for value in string.gmatch(args[3], "[^,]+") do
      if k == index then position = tonumber(value) end
      k = k + 1
    end
  end
end

function request()
  position = position + 1
  if position > #prepared then repeated = repeated + 1 end
  return prepared[(position - 1) % #prepared + 1]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local positions = {}
  local again = 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + n
    end
    table.insert(positions, string.format("%d", thread:get("position") or 0))
    again = again + (thread:get("repeated") or 0)
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WXBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"max_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"statuses":{%s},' ..
    '"positions":[%s],"repeated":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ","),
    table.concat(positions, ","), again))
end
