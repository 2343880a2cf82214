-- limit-conn: at most `conn` requests in flight per key, `burst` more
-- delayed (by default_conn_delay per `conn` excess requests), the rest
-- rejected with rejected_code (APISIX's limit-conn, on resty.limit.conn
-- and the shared dict plugin-limit-conn).
--
-- A request counted in access is taken off the count in the log phase,
-- which runs for every request that got that far (rejected by a later
-- plugin, failed upstream, aborted response included).
local ngx = ngx
local plugin = require "resty.plugin"
local limit_conn = require "resty.limit.conn"

local _M = {
    name = "limit-conn",
    priority = 1003,
    schema = {
        type = "object",
        properties = {
            conn = { type = "integer", exclusiveMinimum = 0 },
            burst = { type = "integer", minimum = 0 },
            default_conn_delay = { type = "number", exclusiveMinimum = 0 },
            only_use_default_delay = { type = "boolean", default = false },
            key = { type = "string", minLength = 1 },
            key_type = { type = "string", enum = { "var", "var_combination" }, default = "var" },
            rejected_code = { type = "integer", minimum = 200, maximum = 599, default = 503 },
            rejected_msg = { type = "string", minLength = 1 },
            allow_degradation = { type = "boolean", default = false },
        },
        required = { "conn", "burst", "default_conn_delay", "key" },
        additionalProperties = false,
    },
}

function _M.init(conf)
    local lim, err = limit_conn.new("plugin-limit-conn", conf.conn, conf.burst, conf.default_conn_delay)
    if not lim then
        error("limit-conn: " .. tostring(err))
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
            ngx.log(ngx.WARN, "limit-conn: rejected, over ", conf.conn, " (burst ", conf.burst,
                ") requests in flight for ", key)
            return plugin.exit(conf.rejected_code, conf.rejected_body)
        end
        return plugin.limit_failed("limit-conn", "conn", conf, err)
    end
    -- counted: the log phase takes it off (incoming with commit counts
    -- every request it does not reject)
    ctx.limit_conn_key = key
    ctx.limit_conn_delay = delay
    if delay >= 0.001 then
        ngx.sleep(delay)
    end
end

function _M.log(conf, ctx)
    local key = ctx.limit_conn_key
    if not key then
        return
    end
    ctx.limit_conn_key = nil
    -- the request's time less the delay imposed here adapts the delay of
    -- the next requests over `conn`; only_use_default_delay keeps it
    local latency
    if not conf.only_use_default_delay then
        latency = ngx.now() - ngx.req.start_time() - ctx.limit_conn_delay
        if latency < 0 then
            latency = 0
        end
    end
    local _, err = conf.lim:leaving(key, latency)
    if err then
        ngx.log(ngx.ERR, "limit-conn: failed to record the request's end: ", err)
    end
end

return _M
