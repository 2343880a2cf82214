-- basic-auth: HTTP Basic authentication (RFC 7617) against the consumers
-- listed in the configuration:
--
--   "basic-auth": {"consumers": [{"name": "alice", "username": "alice",
--                                 "password": "wonderland"}]}
--
-- APISIX's basic-auth (priority, messages, WWW-Authenticate), with the
-- consumers inline and the Authorization field removed before proxying by
-- default (hide_credentials true). Passwords are compared in constant time
-- (resty.crypto equal), and an unknown user costs the same comparison.
local ngx = ngx
local plugin = require "resty.plugin"
local crypto = require "resty.crypto"

local equal = crypto.equal
local decode_base64 = ngx.decode_base64
local find, sub, match = string.find, string.sub, string.match

local _M = {
    name = "basic-auth",
    priority = 2520,
    schema = {
        type = "object",
        properties = {
            hide_credentials = { type = "boolean", default = true },
            realm = { type = "string", minLength = 1, pattern = [[^[^"\\]*$]], default = "basic" },
            consumers = {
                type = "array",
                minItems = 1,
                items = {
                    type = "object",
                    properties = {
                        name = { type = "string", minLength = 1 },
                        username = { type = "string", minLength = 1, pattern = "^[^:]*$" },
                        password = { type = "string" },
                        custom_id = { type = "string" },
                    },
                    required = { "name", "username", "password" },
                    additionalProperties = false,
                },
            },
        },
        required = { "consumers" },
        additionalProperties = false,
    },
}

local missing = { message = "Missing authorization in request" }
local malformed = { message = "Invalid authorization in request" }
local invalid = { message = "Invalid user authorization" }

-- a password to compare with when the user is unknown
local dummy = string.rep("x", 32)

-- check_schema runs when the config loads, after the schema: a username
-- may name one consumer only.
function _M.check_schema(conf)
    local seen = {}
    for i, c in ipairs(conf.consumers) do
        local j = seen[c.username]
        if j then
            return false, ("consumers[%d].username: the same username as consumers[%d] (%s)"):format(
                i - 1, j - 1, conf.consumers[j].name)
        end
        seen[c.username] = i
    end
    return true
end

function _M.init(conf)
    local users = {}
    for _, c in ipairs(conf.consumers) do
        users[c.username] = { password = c.password, consumer = { name = c.name, custom_id = c.custom_id } }
    end
    conf.users = users
    conf.challenge = { ["WWW-Authenticate"] = 'Basic realm="' .. conf.realm .. '"' }
end

-- credentials returns the user and password of an Authorization value, or
-- nil when it is not a well-formed Basic credential.
local function credentials(auth)
    -- the scheme is case-insensitive: "Basic", "basic", "BASIC"; then only
    -- base64 and trailing spaces: nginx's decoding stops at the first "=",
    -- so "Basic <b64>=junk" or a second Authorization field (joined with
    -- ", ") would pass with a value the upstream may read otherwise
    local b64 = match(auth, "^[Bb][Aa][Ss][Ii][Cc] +([%w+/]+=?=?) *$")
    if not b64 then
        return nil
    end
    local raw = decode_base64(b64)
    if not raw then
        return nil
    end
    local colon = find(raw, ":", 1, true)
    if not colon then
        return nil
    end
    return sub(raw, 1, colon - 1), sub(raw, colon + 1)
end

function _M.rewrite(conf, ctx)
    local auth = ngx.var.http_authorization
    if not auth or auth == "" then
        ngx.log(ngx.WARN, "basic-auth: no Authorization in request (route ", ctx.route_name or "-", ")")
        return plugin.exit(401, missing, conf.challenge)
    end

    local user, password = credentials(auth)
    if not user then
        ngx.log(ngx.WARN, "basic-auth: malformed Authorization from ", plugin.client_ip())
        return plugin.exit(401, malformed, conf.challenge)
    end

    local u = conf.users[user]
    local ok = equal(password, u and u.password or dummy)
    if not (u and ok) then
        ngx.log(ngx.WARN, "basic-auth: invalid credentials for user ", ("%q"):format(user),
            " from ", plugin.client_ip())
        return plugin.exit(401, invalid, conf.challenge)
    end

    if conf.hide_credentials then
        ngx.req.clear_header("Authorization")
    end
    plugin.set_consumer(ctx, u.consumer)
end

return _M
