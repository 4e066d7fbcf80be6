-- wrk's summary as one line of JSON on standard output (latencies in microseconds).
-- Given a file of paths (wrk ... -- FILE), each request asks for one of them at random.
init = function(args)
  if args[1] then
    local paths = {}
    for line in io.lines(args[1]) do paths[#paths + 1] = line end
    math.randomseed(os.time() + math.floor(os.clock() * 1e6))
    request = function()
      return wrk.format(nil, paths[math.random(#paths)])
    end
  end
end

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "failed": %d, "not_2xx": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99)))
end
