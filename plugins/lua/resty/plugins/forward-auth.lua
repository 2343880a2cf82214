-- forward-auth: asks an external service whether a request may pass, as
-- Traefik's ForwardAuth and nginx's auth_request do:
--
--   "forward-auth": {"uri": "http://auth.internal/check",
--                    "request_headers": ["Authorization"],
--                    "upstream_headers": ["X-User-Id"],
--                    "client_headers": ["Location"]}
--
-- The service gets the request's method, host, URI, scheme and client
-- address in X-Forwarded-* fields and the listed request_headers. A 2xx
-- answer lets the request through with the service's upstream_headers
-- (the client's own values of those fields are always removed first: they
-- are never trusted); any other answer goes to the client as is (status,
-- body, client_headers). When the service cannot be reached, the request
-- is refused with status_on_error (403), or let through with
-- allow_degradation. APISIX's forward-auth (priority, fields, defaults).
local ngx = ngx
local plugin = require "resty.plugin"
local http = require "resty.http"

local ipairs, pairs, type = ipairs, pairs, type

local _M = {
    name = "forward-auth",
    priority = 2002,
    schema = {
        type = "object",
        properties = {
            uri = { type = "string", pattern = "^[Hh][Tt][Tt][Pp][Ss]?://" },
            allow_degradation = { type = "boolean", default = false },
            status_on_error = { type = "integer", minimum = 200, maximum = 599, default = 403 },
            ssl_verify = { type = "boolean", default = true },
            request_method = { type = "string", enum = { "GET", "POST" }, default = "GET" },
            request_headers = { type = "array", items = { type = "string", minLength = 1 }, default = {} },
            extra_headers = {
                type = "object",
                minProperties = 1,
                patternProperties = { ["^[^:]+$"] = { type = "string" } },
                additionalProperties = false,
            },
            upstream_headers = { type = "array", items = { type = "string", minLength = 1 }, default = {} },
            client_headers = { type = "array", items = { type = "string", minLength = 1 }, default = {} },
            consumer_header = { type = "string", minLength = 1 },
            timeout = { type = "integer", minimum = 1, maximum = 60000, default = 3000 },
            keepalive = { type = "boolean", default = true },
            keepalive_timeout = { type = "integer", minimum = 1000, default = 60000 },
            keepalive_pool = { type = "integer", minimum = 1, default = 5 },
        },
        required = { "uri" },
        additionalProperties = false,
    },
}

-- valid_uri tells whether resty.http's request_uri can parse uri:
-- http[s]://host[:port][/path][?query], the scheme in lower case, an IPv6
-- host in brackets.
local function valid_uri(uri)
    local rest = uri:match("^https?://(.*)$")
    if not rest then
        return false
    end
    local host, after
    if rest:sub(1, 1) == "[" then
        host, after = rest:match("^%[([^%]]+)%](.*)$")
    else
        host, after = rest:match("^([^:/?]*)(.*)$")
        if host == "" or host:find("[%[%]]") then
            return false
        end
    end
    if not host then
        return false
    end
    if after:sub(1, 1) == ":" then
        local port, tail = after:match("^:(%d+)(.*)$")
        if not port or tonumber(port) > 65535 or not (tail == "" or tail:find("^[/?]")) then
            return false
        end
    end
    return true
end

-- check_schema runs when the config loads, after the schema (which only
-- checks the scheme): a uri resty.http cannot parse would fail every
-- request. The message does not repeat the URI (it may hold credentials).
function _M.check_schema(conf)
    if not valid_uri(conf.uri) then
        return false, "uri: not a valid http(s) URI (http[s]://host[:port][/path][?query], scheme in lower case)"
    end
    return true
end

-- the fields the gateway sets itself: a request_headers entry naming one
-- of them (in any case) is left out, so that the client's copy never goes
-- along with (or instead of) the gateway's
local own_fields = {
    ["x-forwarded-proto"] = true, ["x-forwarded-method"] = true, ["x-forwarded-host"] = true,
    ["x-forwarded-uri"] = true, ["x-forwarded-for"] = true,
}

-- init turns the request_headers into variable names, once.
function _M.init(conf)
    local skip = {}
    for name in pairs(own_fields) do
        skip[name] = true
    end
    if conf.request_method == "POST" then
        skip["content-type"], skip["content-encoding"] = true, true
    end
    for name in pairs(conf.extra_headers or {}) do
        skip[name:lower()] = true
    end
    local names, vars = {}, {}
    for _, name in ipairs(conf.request_headers) do
        local lname = name:lower()
        if not skip[lname] then
            skip[lname] = true -- listed twice: once
            names[#names + 1] = name
            vars[#vars + 1] = "http_" .. lname:gsub("-", "_")
        end
    end
    conf.request_names = names
    conf.request_vars = vars
end

-- auth_headers are the fields sent to the auth service.
local function auth_headers(conf)
    local var = ngx.var
    local h = {
        ["X-Forwarded-Proto"] = var.scheme,
        ["X-Forwarded-Method"] = var.request_method,
        ["X-Forwarded-Host"] = var.host,
        ["X-Forwarded-Uri"] = var.request_uri,
        ["X-Forwarded-For"] = plugin.client_ip(),
    }
    if conf.request_method == "POST" then
        h["Content-Type"] = var.http_content_type
        h["Content-Encoding"] = var.http_content_encoding
    end
    if conf.extra_headers then
        for name, value in pairs(conf.extra_headers) do
            h[name] = plugin.interpolate(value)
        end
    end
    local names = conf.request_names
    for i, v in ipairs(conf.request_vars) do
        h[names[i]] = var[v]
    end
    return h
end

-- first is a response field's first value (resty.http gives a table for
-- a repeated field).
local function first(v)
    if type(v) == "table" then
        return v[1]
    end
    return v
end

function _M.rewrite(conf, ctx)
    -- fields the auth service sets for the upstream are never the client's
    for _, name in ipairs(conf.upstream_headers) do
        ngx.req.clear_header(name)
    end

    -- a table per request: the request waits (body, network) and other
    -- requests of this Lua state run meanwhile
    local params = {
        method = conf.request_method,
        headers = auth_headers(conf),
        ssl_verify = conf.ssl_verify,
        keepalive = conf.keepalive,
        keepalive_timeout = conf.keepalive_timeout,
        keepalive_pool = conf.keepalive_pool,
    }
    if conf.request_method == "POST" then
        ngx.req.read_body()
        params.body = ngx.req.get_body_data()
    end

    local httpc = http.new()
    httpc:set_timeout(conf.timeout)
    local res, err = httpc:request_uri(conf.uri, params)
    if not res then
        if conf.allow_degradation then
            ngx.log(ngx.WARN, "forward-auth: auth service ", conf.uri, " failed (", err, "); letting the request through (allow_degradation)")
            return
        end
        ngx.log(ngx.WARN, "forward-auth: auth service ", conf.uri, " failed: ", err)
        return plugin.exit(conf.status_on_error)
    end

    if res.status < 200 or res.status >= 300 then
        ngx.log(ngx.WARN, "forward-auth: auth service refused the request with ", res.status)
        for _, name in ipairs(conf.client_headers) do
            local v = res.headers[name]
            if v ~= nil then
                ngx.header[name] = v
            end
        end
        ngx.status = res.status
        if res.body and res.body ~= "" then
            ngx.print(res.body)
        end
        return ngx.exit(res.status)
    end

    if conf.consumer_header then
        local name = first(res.headers[conf.consumer_header])
        if not name or name == "" then
            ngx.log(ngx.ERR, "forward-auth: the auth service's answer lacks ", conf.consumer_header)
            return plugin.exit(403, { message = "consumer header missing in auth response" })
        end
        plugin.set_consumer(ctx, { name = name })
    end
    for _, name in ipairs(conf.upstream_headers) do
        local v = res.headers[name]
        if v ~= nil then
            ngx.req.set_header(name, v)
        end
    end
end

return _M
