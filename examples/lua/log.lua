-- Runs after the response went out: count requests by status.
local stats = ngx.shared.stats
stats:incr("requests", 1, 0)
stats:incr("status:" .. ngx.status, 1, 0)
local started = ngx.ctx.started
if started then
    stats:incr("time_ms", math.floor((ngx.now() - started) * 1000), 0)
end
