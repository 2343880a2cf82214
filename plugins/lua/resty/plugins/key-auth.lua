-- key-auth: authenticates a request by an API key sent in a request field
-- (default `apikey`) or a query argument (default `apikey`), against the
-- consumers listed in the configuration:
--
--   "key-auth": {"header": "X-Api-Key",
--                "consumers": [{"name": "alice", "key": "k-alice"}]}
--
-- APISIX's key-auth (priority, fields, messages), with the consumers inline
-- and the key removed before proxying by default (hide_credentials true).
--
-- Keys are looked up by their HMAC-SHA256 under a random per-state secret:
-- a table lookup whose timing depends on an unpredictable digest, not on
-- the key itself, so the lookup leaks nothing useful about valid keys.
local ngx = ngx
local plugin = require "resty.plugin"
local crypto = require "resty.crypto"
local random = require "resty.random"

local hmac = crypto.hmac

-- the digest key of this Lua state, made once
local salt = random.bytes(32, true)

local function digest(key)
    return hmac("sha256", salt, key)
end

local consumer_schema = {
    type = "object",
    properties = {
        name = { type = "string", minLength = 1 },
        key = { type = "string", minLength = 1 },
        custom_id = { type = "string" },
    },
    required = { "name", "key" },
    additionalProperties = false,
}

local _M = {
    name = "key-auth",
    priority = 2500,
    schema = {
        type = "object",
        properties = {
            header = { type = "string", minLength = 1, default = "apikey" },
            query = { type = "string", minLength = 1, default = "apikey" },
            hide_credentials = { type = "boolean", default = true },
            consumers = { type = "array", items = consumer_schema, minItems = 1 },
        },
        required = { "consumers" },
        additionalProperties = false,
    },
}

local missing = { message = "Missing API key in request" }
local invalid = { message = "Invalid API key in request" }

-- check_schema runs when the config loads, after the schema: what a schema
-- cannot say. Two consumers with one key would make the key name either of
-- them. The message names the consumers, never the key (a secret).
function _M.check_schema(conf)
    local seen = {}
    for i, c in ipairs(conf.consumers) do
        local j = seen[c.key]
        if j then
            return false, ("consumers[%d].key: the same key as consumers[%d] (%s)"):format(i - 1, j - 1,
                conf.consumers[j].name)
        end
        seen[c.key] = i
    end
    return true
end

-- init runs once per configuration and Lua state: the per-request work is
-- two variable reads and one digest.
function _M.init(conf)
    local by_digest = {}
    for _, c in ipairs(conf.consumers) do
        by_digest[digest(c.key)] = { name = c.name, custom_id = c.custom_id }
    end
    conf.by_digest = by_digest
    conf.header_var = "http_" .. conf.header:lower():gsub("-", "_")
    conf.query_var = "arg_" .. conf.query
end

-- query_arg returns the decoded value of the query argument (the first
-- one of that name, any case, as ngx.var.arg_NAME).
local function query_arg(conf)
    local v = ngx.var[conf.query_var]
    if v and (v:find("%", 1, true) or v:find("+", 1, true)) then
        v = ngx.unescape_uri((v:gsub("%+", " ")))
    end
    return v
end

local drop_query_arg = plugin.drop_query_arg

function _M.rewrite(conf, ctx)
    local from_header = true
    local key = ngx.var[conf.header_var]
    if not key or key == "" then
        from_header = false
        key = query_arg(conf)
    end
    if not key or key == "" then
        ngx.log(ngx.WARN, "key-auth: no API key in request (route ", ctx.route_name or "-", ")")
        return plugin.exit(401, missing)
    end

    local consumer = conf.by_digest[digest(key)]
    if not consumer then
        ngx.log(ngx.WARN, "key-auth: invalid API key from ", plugin.client_ip())
        return plugin.exit(401, invalid)
    end

    if conf.hide_credentials then
        if from_header then
            ngx.req.clear_header(conf.header)
        else
            drop_query_arg(conf.query)
        end
    end
    plugin.set_consumer(ctx, consumer)
end

return _M
