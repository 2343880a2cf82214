-- resty.plugin: the toolkit of caddy-resty's bundled plugins, for plugin
-- authors too. What APISIX's core module gives its plugins, on the ngx API:
--
--   plugin.exit(code, body, headers)  end the request (in rewrite/access)
--   plugin.var(name)                  ngx.var.NAME ("$name" accepted)
--   plugin.interpolate(s)             "$remote_addr:$http_x_user" -> values
--   plugin.template(s), plugin.expand(t [, caps])
--                                     the same, prepared once, expanded per
--                                     request ($1.. from a regex's captures)
--   plugin.key(conf, ctx)             a limit key from conf.key/key_type
--   plugin.scope(conf)                what state shared between requests is
--                                     keyed by: "global" or "route:NAME"
--   plugin.client_ip()                Caddy's client IP (trusted_proxies)
--   plugin.set_consumer(ctx, c)       record the authenticated consumer
--   plugin.strip_consumer_headers()   drop client-sent X-Consumer-* fields
--   plugin.consumer_by(list, field)   index a consumers list by a field
--   plugin.drop_query_arg(name)       remove a query argument (credentials)
--   plugin.rejected_body(conf), plugin.limit_failed(name, what, conf, err)
--                                     the limiters' rejection and failure
--   plugin.set_headers(n1, v1, ...)   set response fields in one call
--
-- The consumer an auth plugin matched is ctx.consumer (a table with at
-- least `name`) for the later plugins, ngx.ctx.consumer for scripts,
-- ngx.var.consumer_name (Caddy's {http.vars.consumer_name}) for logs, and
-- the X-Consumer-Username request field for the upstream.

local ngx = ngx
local type, tostring, pairs = type, tostring, pairs
local cjson = require "cjson.safe"
local native = require "resty.plugin.native"

local _M = { version = "1.0" }

local json_type = "application/json"

-- exit ends the request with code: body is sent as JSON when it is a
-- table, as text/plain when it is a string; headers (a table) are set
-- first. With no body, the status goes through Caddy's error handling
-- (handle_errors) like ngx.exit(code).
function _M.exit(code, body, headers)
    if headers then
        for k, v in pairs(headers) do
            ngx.header[k] = v
        end
    end
    if body == nil then
        return ngx.exit(code)
    end
    if type(body) == "table" then
        local s, err = cjson.encode(body)
        if not s then
            ngx.log(ngx.ERR, "resty.plugin.exit: encoding the body: ", err)
            return ngx.exit(500)
        end
        body = s
        if not (headers and (headers["Content-Type"] or headers["content-type"])) then
            ngx.header["Content-Type"] = json_type
        end
    elseif not (headers and (headers["Content-Type"] or headers["content-type"])) then
        ngx.header["Content-Type"] = "text/plain; charset=utf-8"
    end
    ngx.status = code
    ngx.say(body)
    return ngx.exit(code)
end

-- var returns the value of an nginx or Caddy variable, "$" prefix
-- optional; nil when unset.
function _M.var(name)
    if name:byte(1) == 36 then -- "$"
        name = name:sub(2)
    end
    if name == "consumer_name" then
        local c = ngx.ctx.consumer
        if c then
            return c.name
        end
    end
    local v = ngx.var[name]
    if v == nil or v == "" then
        return nil
    end
    return v
end

-- interpolate replaces each $name (letters, digits, '_' and '.') of s with
-- the variable's value ("" when unset).
function _M.interpolate(s)
    return (s:gsub("%$([%w_%.]+)", function(name)
        local v = _M.var(name)
        if v == nil then
            return ""
        end
        return tostring(v)
    end))
end

-- template prepares a string with $variables (and $1..$9 captures) for
-- expand: a string without "$" stays the string; else a list of literal
-- parts and {name} variables. Prepare once (init), expand per request.
function _M.template(s)
    s = tostring(s)
    if not s:find("$", 1, true) then
        return s
    end
    local parts, pos = {}, 1
    while true do
        local i, j = s:find("%$[%w_%.]+", pos)
        if not i then
            break
        end
        if i > pos then
            parts[#parts + 1] = s:sub(pos, i - 1)
        end
        parts[#parts + 1] = { s:sub(i + 1, j) }
        pos = j + 1
    end
    if pos <= #s then
        parts[#parts + 1] = s:sub(pos)
    end
    return parts
end

-- expand gives a template's value for this request: variables unset are
-- "", $1..$9 are caps' captures (a regex match's table; "" without caps).
function _M.expand(t, caps)
    if type(t) == "string" then
        return t
    end
    local out = {}
    for i = 1, #t do
        local p = t[i]
        if type(p) == "table" then
            local name, v = p[1], nil
            local b = name:byte(1)
            if b >= 48 and b <= 57 then -- a digit: a capture
                v = caps and caps[tonumber(name)]
            else
                v = _M.var(name)
            end
            p = v and tostring(v) or ""
        end
        out[i] = p
    end
    return table.concat(out)
end

-- client_ip is Caddy's client IP: the peer, or the address a trusted proxy
-- forwarded for (the server's trusted_proxies).
function _M.client_ip()
    return ngx.var.client_ip or ngx.var.remote_addr
end

-- key returns the key conf limits by, as APISIX's limit plugins read it:
-- key_type "var" (default) names one variable (conf.key, default
-- "remote_addr"), "var_combination" interpolates $variables in conf.key,
-- "constant" is conf.key itself. An empty key falls back to the client IP
-- (logged), so that a missing header never puts every client in one
-- bucket named "".
function _M.key(conf)
    local key_type = conf.key_type or "var"
    local key = conf.key or "remote_addr"
    local v
    if key_type == "constant" then
        v = key
    elseif key_type == "var_combination" then
        v = _M.interpolate(key)
    else
        if key == "remote_addr" or key == "$remote_addr" then
            v = _M.client_ip()
        else
            v = _M.var(key)
        end
    end
    if v == nil or v == "" then
        ngx.log(ngx.WARN, "the limit key ", key, " is empty for this request; limiting by the client IP")
        v = _M.client_ip()
    end
    return tostring(v)
end

-- scope is what a configuration's shared state (counters, breakers) is
-- keyed by: "global" for a global plugin, "route:NAME" for a route's (the
-- route table adds it to every configuration); conf.group, when given,
-- names a state shared by every configuration of that group.
function _M.scope(conf)
    if conf.group and conf.group ~= "" then
        return "group:" .. conf.group
    end
    return conf._scope or "global"
end

local consumer_headers = { "X-Consumer-Username", "X-Consumer-Custom-Id", "X-Credential-Identifier" }

-- strip_consumer_headers removes the consumer fields a client may have
-- sent, so that the upstream never trusts them: only set_consumer sets
-- them.
function _M.strip_consumer_headers()
    for i = 1, #consumer_headers do
        ngx.req.clear_header(consumer_headers[i])
    end
end

-- set_consumer records the authenticated consumer c (a table with at least
-- name; custom_id optional) for later plugins, scripts, logs and the
-- upstream. The request fields and the variable are set in one Go call
-- (resty.plugin.native).
function _M.set_consumer(ctx, c)
    ctx.consumer = c
    ctx.consumer_name = c.name
    ngx.ctx.consumer = c
    native.consumer(c.name, c.custom_id)
end

-- set_headers sets response fields, as ngx.header[name] = value would, in
-- one Go call: set_headers(name1, value1, name2, value2, ...).
_M.set_headers = native.set_headers

-- rejected_body is the body of a limiter's rejection: {"error_msg":
-- rejected_msg} when conf has rejected_msg, else nil (the bare status).
function _M.rejected_body(conf)
    if conf.rejected_msg then
        return { error_msg = conf.rejected_msg }
    end
end

-- limit_failed handles a limiter's own failure (a full dict, Redis down)
-- for the plugin name limiting what ("req", "conn", "count"): with
-- conf.allow_degradation the request goes on (logged), else 500
-- {"error_msg": "failed to limit WHAT"}, as APISIX's limit plugins.
function _M.limit_failed(name, what, conf, err)
    if conf.allow_degradation then
        ngx.log(ngx.ERR, name, ": letting the request through (allow_degradation): ", err)
        return
    end
    ngx.log(ngx.ERR, name, ": failed to limit ", what, ": ", err)
    return _M.exit(500, { error_msg = "failed to limit " .. what })
end

-- drop_query_arg removes every query argument named name (in any case,
-- after unescaping) from the request, keeping the others as sent: how the
-- auth plugins hide a credential that came in the query.
function _M.drop_query_arg(name)
    local args = ngx.var.args
    if not args or args == "" then
        return
    end
    local lname = name:lower()
    local kept = {}
    for pair in args:gmatch("[^&]+") do
        local k = pair:match("^[^=]*")
        if ngx.unescape_uri(k):lower() ~= lname then
            kept[#kept + 1] = pair
        end
    end
    ngx.req.set_uri_args(table.concat(kept, "&"))
end

-- consumer_by indexes a consumers list by one of its fields (for example
-- key-auth's "key"), for a lookup per request; built once per
-- configuration in the plugin's init.
function _M.consumer_by(list, field)
    local idx = {}
    if type(list) ~= "table" then
        return idx
    end
    for i = 1, #list do
        local c = list[i]
        local v = c[field]
        if v ~= nil then
            idx[v] = c
        end
    end
    return idx
end

return _M
