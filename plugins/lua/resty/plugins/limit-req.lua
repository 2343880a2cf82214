-- limit-req: a leaky bucket per key (APISIX's limit-req, on
-- resty.limit.req and the shared dict plugin-limit-req). Requests over
-- `rate` per second and up to `burst` more are delayed to the rate (or
-- let through at once with nodelay); beyond the burst they are rejected
-- with rejected_code.
local ngx = ngx
local plugin = require "resty.plugin"
local limit_req = require "resty.limit.req"

local _M = {
    name = "limit-req",
    priority = 1001,
    schema = {
        type = "object",
        properties = {
            rate = { type = "number", exclusiveMinimum = 0 },
            burst = { type = "number", minimum = 0 },
            key = { type = "string", minLength = 1 },
            key_type = { type = "string", enum = { "var", "var_combination" }, default = "var" },
            rejected_code = { type = "integer", minimum = 200, maximum = 599, default = 503 },
            rejected_msg = { type = "string", minLength = 1 },
            nodelay = { type = "boolean", default = false },
            allow_degradation = { type = "boolean", default = false },
        },
        required = { "rate", "burst", "key" },
        additionalProperties = false,
    },
}

-- init makes the limiter of this configuration (one per Lua state; the
-- bucket itself is in the shared dict) and the key prefix.
function _M.init(conf)
    local lim, err = limit_req.new("plugin-limit-req", conf.rate, conf.burst)
    if not lim then
        error("limit-req: " .. tostring(err))
    end
    conf.lim = lim
    conf.prefix = plugin.scope(conf) .. ":"
    conf.rejected_body = plugin.rejected_body(conf)
end

function _M.access(conf, ctx)
    local key = conf.prefix .. plugin.key(conf)
    local delay, err = conf.lim:incoming(key, true)
    if not delay then
        if err == "rejected" then
            ngx.log(ngx.WARN, "limit-req: rejected, over ", conf.rate, " r/s (burst ", conf.burst, ") for ", key)
            return plugin.exit(conf.rejected_code, conf.rejected_body)
        end
        return plugin.limit_failed("limit-req", "req", conf, err)
    end
    if delay >= 0.001 and not conf.nodelay then
        ngx.sleep(delay)
    end
end

return _M
