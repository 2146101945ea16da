-- wrk script for the service benchmarks (driven by benchmarks/loadgen.py).
--
-- Configuration comes from the environment, because wrk decides from the script's
-- top-level definitions whether it calls delay() and response():
--   WRK_REQUESTS      file of request lines, tab-separated, walked in order and wrapped:
--                       GET<TAB>/path<TAB>
--                       POST<TAB>/path<TAB>json body
--                       EVENT<TAB>"user id"<TAB>"item id"   (JSON-quoted ids; a click event
--                                                           with a fresh event_id each time)
--   WRK_RATE          total requests/s to schedule (absent or 0: closed loop, as fast as the
--                     server answers on every connection)
--   WRK_THREADS       wrk's -t, to split WRK_RATE between threads
--   WRK_CAPTURE       1: read each response and attach the last recommendation_id and first
--                     item_id seen to the next click event (what a storefront would send)
--   WRK_MAX_REQUESTS  stop a thread after this many requests (0: no count limit)
--   WRK_RUN_ID        prefix of generated event ids, unique per run
--
-- Constant rate: each thread keeps one schedule of send slots, WRK_RATE / WRK_THREADS per
-- second. A connection that becomes free claims the next slot and waits for it (delay()
-- has millisecond resolution). A slot claimed after its time means every connection was
-- busy: that send is late and wrk's latency (measured from the actual send) would hide the
-- wait, so late sends are counted ("late", "max_late_us") and reported. With enough idle
-- connections there are none, and wrk's latency is the latency a client would see.
--
-- done() prints one line "WRKJSON {...}" with the figures loadgen.py reads.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

local rate = tonumber(os.getenv("WRK_RATE") or "0") or 0
local n_threads = tonumber(os.getenv("WRK_THREADS") or "1") or 1
local capture = os.getenv("WRK_CAPTURE") == "1"
local max_requests = tonumber(os.getenv("WRK_MAX_REQUESTS") or "0") or 0
local run_id = os.getenv("WRK_RUN_ID") or "bench"

local requests_list = {}
local events_list = {}   -- index -> {user, item} for EVENT lines
local position = 0
local json_headers = { ["Content-Type"] = "application/json" }
local plain_headers = {}
local last_recommendation = nil
local last_item = nil

-- per-thread counters, read by done() through thread:get
thread_id = 0
sent = 0
late = 0
max_late_us = 0
events_sent = 0
attributed = 0

local threads = {}
local next_thread_id = 0

function setup(thread)
   next_thread_id = next_thread_id + 1
   thread:set("thread_id", next_thread_id)
   table.insert(threads, thread)
end

function init(args)
   local path = os.getenv("WRK_REQUESTS")
   if not path then
      error("WRK_REQUESTS is not set")
   end
   for line in io.lines(path) do
      local method, a, b = line:match("^([^\t]+)\t([^\t]*)\t?(.*)$")
      if method == "EVENT" then
         table.insert(requests_list, false)
         events_list[#requests_list] = { a, b }
      elseif method == "POST" then
         table.insert(requests_list, wrk.format("POST", a, json_headers, b))
      elseif method == "GET" then
         table.insert(requests_list, wrk.format("GET", a, plain_headers, nil))
      end
   end
   if #requests_list == 0 then
      error("no request lines in " .. path)
   end
   -- threads start at different offsets so they do not send the same sequence
   position = ((thread_id - 1) * 7919) % #requests_list
end

local function event_request(user, item)
   events_sent = events_sent + 1
   local extra = ""
   local clicked = item
   if last_recommendation then
      extra = ',"recommendation_id":"' .. last_recommendation .. '"'
      clicked = '"' .. last_item .. '"'
      attributed = attributed + 1
   end
   local body = string.format(
      '{"events":[{"event_id":"%s-%d-%d","type":"click","user_id":%s,"item_id":%s,"timestamp":"%s"%s}]}',
      run_id, thread_id, events_sent, user, clicked, os.date("!%Y-%m-%dT%H:%M:%SZ"), extra)
   return wrk.format("POST", "/v1/events", json_headers, body)
end

function request()
   if max_requests > 0 and sent >= max_requests then
      wrk.thread:stop()
   end
   sent = sent + 1
   position = position % #requests_list + 1
   local prepared = requests_list[position]
   if prepared then
      return prepared
   end
   local event = events_list[position]
   return event_request(event[1], event[2])
end

if rate > 0 then
   local interval_us = 1000000 * n_threads / rate
   local next_slot = nil

   function delay()
      local now = now_us()
      if next_slot == nil then
         next_slot = now
      end
      local slot = next_slot
      next_slot = next_slot + interval_us
      local wait = slot - now
      if wait < -1000 then
         late = late + 1
         if -wait > max_late_us then
            max_late_us = -wait
         end
      end
      if wait <= 0 then
         return 0
      end
      return math.floor(wait / 1000 + 0.5)
   end
end

if capture then
   function response(status, headers, body)
      local recommendation = body:match('"recommendation_id":"(%x+)"')
      if recommendation then
         local item = body:match('"item_id":"([^"\\]+)"')
         if item then
            last_recommendation = recommendation
            last_item = item
         end
      end
   end
end

function done(summary, latency, requests)
   local totals = { sent = 0, late = 0, max_late_us = 0, events_sent = 0, attributed = 0 }
   for _, thread in ipairs(threads) do
      for key, _ in pairs(totals) do
         local value = thread:get(key) or 0
         if key == "max_late_us" then
            if value > totals[key] then totals[key] = value end
         else
            totals[key] = totals[key] + value
         end
      end
   end
   local e = summary.errors
   local parts = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
         e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
         latency.min, latency.mean, latency.max, latency:percentile(50.0),
         latency:percentile(90.0), latency:percentile(99.0), latency:percentile(99.9)),
      string.format('"sent":%d,"late":%d,"max_late_us":%d,"events_sent":%d,"attributed":%d',
         totals.sent, totals.late, totals.max_late_us, totals.events_sent, totals.attributed),
   }
   io.write("WRKJSON {" .. table.concat(parts, ",") .. "}\n")
end
