-- limit-count: at most `count` requests per key in a fixed window of
-- `time_window` seconds, which starts with the key's first request
-- (APISIX's limit-count). The counters live in the shared dict
-- plugin-limit-count (policy "local": one node) or in Redis (policy
-- "redis": shared by every node using that Redis).
--
-- Every answer, accepted or rejected, carries X-RateLimit-Limit,
-- X-RateLimit-Remaining and X-RateLimit-Reset (seconds until the window
-- ends) unless show_limit_quota_header is false.
--
-- For plugin authors, the pattern of a lean per-request path: whatever
-- depends on the configuration only (the counter key prefix, header
-- values, Redis options) is computed once in init; access does one atomic
-- counter update and sets three headers.
local ngx = ngx
local plugin = require "resty.plugin"
local redis = require "resty.redis"
local math_ceil, tostring, tonumber = math.ceil, tostring, tonumber

local dict = ngx.shared["plugin-limit-count"]

-- Redis: INCR, the window's expiry set by the first request, and the time
-- left, in one atomic round trip. Returns {count, milliseconds left}.
local redis_script = [[
local n = redis.call('incr', KEYS[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
    redis.call('pexpire', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {n, ttl}
]]

local _M = {
    name = "limit-count",
    priority = 1002,
    schema = {
        type = "object",
        properties = {
            count = { type = "integer", exclusiveMinimum = 0 },
            time_window = { type = "integer", exclusiveMinimum = 0 },
            key = { type = "string", minLength = 1, default = "remote_addr" },
            key_type = { type = "string", enum = { "var", "var_combination", "constant" }, default = "var" },
            rejected_code = { type = "integer", minimum = 200, maximum = 599, default = 503 },
            rejected_msg = { type = "string", minLength = 1 },
            -- configurations with the same group share their counters
            group = { type = "string", minLength = 1 },
            policy = { type = "string", enum = { "local", "redis" }, default = "local" },
            allow_degradation = { type = "boolean", default = false },
            show_limit_quota_header = { type = "boolean", default = true },
            -- policy "redis", the contract's form...
            redis = {
                type = "object",
                properties = {
                    -- host:port, [v6]:port or host (port 6379)
                    address = { type = "string", pattern = [[^(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+)(:[0-9]{1,5})?$]] },
                    username = { type = "string", minLength = 1 },
                    password = { type = "string" },
                    database = { type = "integer", minimum = 0, default = 0 },
                    timeout = { type = "integer", minimum = 1, default = 1000 }, -- ms
                },
                required = { "address" },
                additionalProperties = false,
            },
            -- ...and APISIX's
            redis_host = { type = "string", minLength = 2 },
            redis_port = { type = "integer", minimum = 1, maximum = 65535, default = 6379 },
            redis_username = { type = "string", minLength = 1 },
            redis_password = { type = "string" },
            redis_database = { type = "integer", minimum = 0, default = 0 },
            redis_timeout = { type = "integer", minimum = 1, default = 1000 }, -- ms
        },
        required = { "count", "time_window" },
        additionalProperties = false,
        -- policy "redis" needs a server
        anyOf = {
            { properties = { policy = { enum = { "local" } } } },
            { required = { "redis" } },
            { required = { "redis_host" } },
        },
    },
}

-- redis_options returns host, port, connect options and timeout (ms) from
-- either form of the Redis settings.
local function redis_options(conf)
    local r = conf.redis
    if type(r) == "table" then
        local host, port = r.address:match("^%[(.+)%]:(%d+)$")
        if not host then
            host, port = r.address:match("^([^:]+):(%d+)$")
        end
        if not host then
            host, port = r.address:gsub("^%[(.+)%]$", "%1"), 6379
        end
        return host, tonumber(port), r.username, r.password, r.database, r.timeout
    end
    return conf.redis_host, conf.redis_port, conf.redis_username, conf.redis_password,
        conf.redis_database, conf.redis_timeout
end

function _M.init(conf)
    -- the counter of a request is prefix .. key
    conf.prefix = plugin.scope(conf) .. ":"
    conf.limit_str = tostring(conf.count)
    conf.rejected_body = plugin.rejected_body(conf)
    if conf.policy == "redis" then
        local host, port, user, password, db, timeout = redis_options(conf)
        conf.r_host, conf.r_port, conf.r_timeout = host, port, timeout
        conf.r_opts = { db = db }
        if password and password ~= "" then
            conf.r_opts.password, conf.r_opts.username = password, user
        end
        conf.prefix = "plugin-limit-count:" .. conf.prefix
        conf.window_ms = conf.time_window * 1000
    end
end

-- redis_incoming counts a request of key in Redis: the count so far and
-- the seconds left in the window, or nil and an error.
local function redis_incoming(conf, key)
    local red = redis:new()
    local t = conf.r_timeout
    red:set_timeouts(t, t, t)
    local ok, err = red:connect(conf.r_host, conf.r_port, conf.r_opts)
    if not ok then
        return nil, nil, "connecting to redis " .. conf.r_host .. ":" .. conf.r_port .. ": " .. tostring(err)
    end
    local res, err = red:eval(redis_script, 1, key, conf.window_ms)
    red:set_keepalive(60000, 100) -- a failed connection is closed instead
    if type(res) ~= "table" then
        return nil, nil, "redis: " .. tostring(err)
    end
    return tonumber(res[1]), tonumber(res[2]) / 1000
end

local set_response_headers = plugin.set_headers

local function set_headers(conf, remaining, reset)
    set_response_headers("X-RateLimit-Limit", conf.limit_str, "X-RateLimit-Remaining", remaining,
        "X-RateLimit-Reset", reset)
end

function _M.access(conf, ctx)
    local key = conf.prefix .. plugin.key(conf)
    local used, ttl, err
    if conf.policy == "redis" then
        used, ttl, err = redis_incoming(conf, key)
    else
        -- one atomic update: a new key starts at 0 and expires with the window
        used, err = dict:incr(key, 1, 0, conf.time_window)
        if used == 1 then
            ttl = conf.time_window -- this request opened the window
        elseif used and conf.show_limit_quota_header then
            ttl = dict:ttl(key)
        end
    end
    if not used then
        return plugin.limit_failed("limit-count", "count", conf, err)
    end

    local remaining = conf.count - used
    if conf.show_limit_quota_header then
        set_headers(conf, remaining > 0 and remaining or 0, ttl and math_ceil(ttl) or conf.time_window)
    end
    if remaining < 0 then
        ngx.log(ngx.WARN, "limit-count: rejected, over ", conf.count, " requests in ",
            conf.time_window, "s for ", key)
        return plugin.exit(conf.rejected_code, conf.rejected_body)
    end
end

return _M
