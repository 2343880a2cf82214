-- ip-restriction: allows (whitelist) or denies (blacklist) clients by IP
-- address or CIDR range, IPv4 and IPv6. APISIX's ip-restriction.
--
-- The client IP is Caddy's (plugin.client_ip()): the peer address, or the
-- address a trusted proxy forwarded when the server has trusted_proxies;
-- an X-Forwarded-For from an untrusted peer is ignored.
local ngx = ngx
local plugin = require "resty.plugin"
local ipmatcher = require "resty.ipmatcher"

local ip_list = {
    type = "array",
    items = { type = "string", minLength = 1, maxLength = 64 },
    minItems = 1,
}

local _M = {
    name = "ip-restriction",
    priority = 3000,
    schema = {
        type = "object",
        properties = {
            whitelist = ip_list,
            blacklist = ip_list,
            message = {
                type = "string", minLength = 1, maxLength = 1024,
                default = "Your IP address is not allowed",
            },
            response_code = { type = "integer", minimum = 403, maximum = 404, default = 403 },
        },
        -- exactly one of the two lists, as APISIX
        oneOf = {
            { required = { "whitelist" } },
            { required = { "blacklist" } },
        },
        additionalProperties = false,
    },
}

-- check_schema runs when the config loads: a bad address refuses the
-- config there, naming the list and the entry.
function _M.check_schema(conf)
    for _, field in ipairs({ "whitelist", "blacklist" }) do
        local list = conf[field]
        if list then
            local _, err = ipmatcher.new(list)
            if err then
                return false, field .. ": " .. err
            end
        end
    end
    return true
end

-- init builds the matcher once per conf and Lua state.
function _M.init(conf)
    local m, err = ipmatcher.new(conf.whitelist or conf.blacklist)
    if not m then
        error(err)
    end
    conf.matcher = m
    conf.allow_listed = conf.whitelist ~= nil
    conf.body = { message = conf.message }
end

function _M.access(conf, ctx)
    local ip = plugin.client_ip()
    local hit, err = conf.matcher:match(ip)
    if hit == nil then
        ngx.log(ngx.WARN, "ip-restriction: client address ", tostring(ip), ": ", err)
    end
    -- in the whitelist: pass; in the blacklist: deny; an address that
    -- does not parse: deny (fail closed)
    if hit ~= nil and hit == conf.allow_listed then
        return
    end
    ngx.log(ngx.WARN, "ip-restriction: denied ", tostring(ip))
    return plugin.exit(conf.response_code, conf.body)
end

return _M
