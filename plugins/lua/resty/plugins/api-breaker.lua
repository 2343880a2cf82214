-- api-breaker: a circuit breaker for a route's upstream (APISIX's
-- api-breaker). After `unhealthy.failures` answers with a status of
-- `unhealthy.http_statuses`, the route answers break_response_code itself
-- for 2 seconds without calling the upstream; each further `failures`
-- failures double that time (2, 4, 8... seconds, at most
-- max_breaker_sec). Once the break is over, requests go through again,
-- and `healthy.successes` answers of `healthy.http_statuses` close the
-- breaker (forget the failures).
--
-- The state is in the shared dict plugin-api-breaker, per route (or
-- global plugin); the status is recorded in header_filter, so the next
-- request sees it, even one that starts before this one's log phase.
local ngx = ngx
local plugin = require "resty.plugin"
local math_ceil, tonumber = math.ceil, tonumber

local dict = ngx.shared["plugin-api-breaker"]

local _M = {
    name = "api-breaker",
    priority = 1005,
    schema = {
        type = "object",
        properties = {
            break_response_code = { type = "integer", minimum = 200, maximum = 599 },
            break_response_body = { type = "string" },
            break_response_headers = {
                type = "array",
                items = {
                    type = "object",
                    properties = {
                        key = { type = "string", minLength = 1 },
                        value = { type = "string", minLength = 1 }, -- $variables allowed
                    },
                    required = { "key", "value" },
                    additionalProperties = false,
                },
            },
            max_breaker_sec = { type = "integer", minimum = 3, default = 300 },
            unhealthy = {
                type = "object",
                properties = {
                    http_statuses = {
                        type = "array", minItems = 1, uniqueItems = true, default = { 500 },
                        items = { type = "integer", minimum = 500, maximum = 599 },
                    },
                    failures = { type = "integer", minimum = 1, default = 3 },
                },
                additionalProperties = false,
                default = { http_statuses = { 500 }, failures = 3 },
            },
            healthy = {
                type = "object",
                properties = {
                    http_statuses = {
                        type = "array", minItems = 1, uniqueItems = true, default = { 200 },
                        items = { type = "integer", minimum = 200, maximum = 499 },
                    },
                    successes = { type = "integer", minimum = 1, default = 3 },
                },
                additionalProperties = false,
                default = { http_statuses = { 200 }, successes = 3 },
            },
        },
        required = { "break_response_code" },
        additionalProperties = false,
    },
}

local function set_of(list)
    local s = {}
    for i = 1, #list do
        s[list[i]] = true
    end
    return s
end

function _M.init(conf)
    local scope = plugin.scope(conf)
    conf.unhealthy_key = "unhealthy:" .. scope
    conf.healthy_key = "healthy:" .. scope
    conf.lasttime_key = "lasttime:" .. scope
    conf.bad = set_of(conf.unhealthy.http_statuses)
    conf.good = set_of(conf.healthy.http_statuses)
end

function _M.access(conf, ctx)
    local failures = dict:get(conf.unhealthy_key)
    if not failures then
        return -- closed
    end
    local lasttime = dict:get(conf.lasttime_key)
    if not lasttime then
        return
    end
    -- the n-th break (n = failures / unhealthy.failures) lasts 2^n seconds
    local n = math_ceil(failures / conf.unhealthy.failures)
    if n < 1 then
        n = 1
    end
    local breaker_time = 2 ^ n
    if breaker_time > conf.max_breaker_sec then
        breaker_time = conf.max_breaker_sec
    end
    if ngx.now() >= lasttime + breaker_time then
        return -- half open: let requests try the upstream
    end

    ctx.api_breaker_broke = true
    ngx.log(ngx.WARN, "api-breaker: open for ", breaker_time, "s after ", failures,
        " failures; answering ", conf.break_response_code)
    if not conf.break_response_body then
        return plugin.exit(conf.break_response_code)
    end
    local headers
    local hs = conf.break_response_headers
    if hs then
        headers = {}
        for i = 1, #hs do
            headers[hs[i].key] = plugin.interpolate(hs[i].value)
        end
    end
    return plugin.exit(conf.break_response_code, conf.break_response_body, headers)
end

-- header_filter records the upstream's answer: its status (the last
-- attempt's), or the gateway's (502, 504) when the last attempt got no
-- answer. A response no upstream was asked for (a later plugin's
-- rejection, such as limit-count's 503) says nothing of the upstream's
-- health and is not counted, as in APISIX: else a client over its rate
-- limit would open the breaker for everyone.
function _M.header_filter(conf, ctx)
    if ctx.api_breaker_broke then
        return -- our own answer
    end
    local us = ngx.var.upstream_status
    if not us or us == "" then
        return -- no upstream attempt
    end
    local status = tonumber(us:match("(%d+)%D*$"))
    if not status or us:match("%-%s*$") then
        status = ngx.status -- the last attempt got no answer
    end

    if conf.bad[status] then
        local failures, err = dict:incr(conf.unhealthy_key, 1, 0)
        if not failures then
            ngx.log(ngx.ERR, "api-breaker: counting a failure: ", err)
            return
        end
        dict:delete(conf.healthy_key)
        -- every `failures` failures (re)open the breaker
        if failures % conf.unhealthy.failures == 0 then
            dict:set(conf.lasttime_key, ngx.now(), conf.max_breaker_sec)
            ngx.log(ngx.WARN, "api-breaker: ", failures, " failures (last status ", status,
                "): breaker open")
        end
        return
    end

    if not conf.good[status] or not dict:get(conf.unhealthy_key) then
        return
    end
    local successes = dict:incr(conf.healthy_key, 1, 0)
    if successes and successes >= conf.healthy.successes then
        ngx.log(ngx.WARN, "api-breaker: ", successes, " healthy answers: breaker closed")
        dict:delete(conf.lasttime_key)
        dict:delete(conf.unhealthy_key)
        dict:delete(conf.healthy_key)
    end
end

return _M
