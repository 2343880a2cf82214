-- jwt-auth: authenticates a request by a JSON Web Token, from the
-- Authorization field ("Bearer TOKEN" or the bare token), a query argument
-- (default `jwt`) or a cookie (default `jwt`), in that order. The token's
-- `key` claim names the consumer; the consumer's own algorithm and secret
-- or public key verify it:
--
--   "jwt-auth": {"consumers": [
--       {"name": "alice", "key": "alice-key", "secret": "s3cret"},
--       {"name": "bob", "key": "bob-key", "algorithm": "RS256",
--        "public_key": "-----BEGIN PUBLIC KEY-----\n..."}],
--     "issuer": "https://idp.example", "audience": "api"}
--
-- APISIX's jwt-auth (priority, fields, messages), with the consumers inline.
-- Verification is Go's (resty.jwt, golang-jwt): only the consumer's
-- algorithm is accepted ("alg": "none" and algorithm confusion refused),
-- exp and nbf are checked with lifetime_grace_period seconds of skew.
local ngx = ngx
local plugin = require "resty.plugin"
local jwt = require "resty.jwt"

local sub, lower, find, gsub = string.sub, string.lower, string.find, string.gsub

local algorithms = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
    "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
}

local _M = {
    name = "jwt-auth",
    priority = 2510,
    schema = {
        type = "object",
        properties = {
            header = { type = "string", minLength = 1, default = "authorization" },
            query = { type = "string", minLength = 1, default = "jwt" },
            cookie = { type = "string", minLength = 1, default = "jwt" },
            hide_credentials = { type = "boolean", default = true },
            key_claim_name = { type = "string", minLength = 1, default = "key" },
            realm = { type = "string", minLength = 1, pattern = [[^[^"\\]*$]], default = "jwt" },
            issuer = { type = "string", minLength = 1 },
            audience = { type = "string", minLength = 1 },
            consumers = {
                type = "array",
                minItems = 1,
                items = {
                    type = "object",
                    properties = {
                        name = { type = "string", minLength = 1 },
                        key = { type = "string", minLength = 1 },
                        custom_id = { type = "string" },
                        algorithm = { type = "string", enum = algorithms, default = "HS256" },
                        secret = { type = "string", minLength = 1 },
                        base64_secret = { type = "boolean", default = false },
                        public_key = { type = "string", minLength = 1 },
                        lifetime_grace_period = { type = "integer", minimum = 0, maximum = 86400, default = 0 },
                        issuer = { type = "string", minLength = 1 },
                        audience = { type = "string", minLength = 1 },
                    },
                    required = { "name", "key" },
                    -- HS* need a secret, the others a public key (checked
                    -- against the algorithm by check_schema)
                    anyOf = { { required = { "secret" } }, { required = { "public_key" } } },
                    additionalProperties = false,
                },
            },
        },
        required = { "consumers" },
        additionalProperties = false,
    },
}

local missing = { message = "Missing JWT token in request" }
local malformed = { message = "JWT token invalid" }
local no_key = { message = "missing user key in JWT token" }
local unknown = { message = "Invalid user key in JWT token" }
local failed = { message = "failed to verify jwt" }

-- verifiers prepares one verifier per consumer (the key parsed once),
-- by the consumers' key; nil and a message naming the field when a
-- consumer's key does not fit its algorithm (never the key itself).
local function verifiers(conf)
    local by_key, index = {}, {}
    for i, c in ipairs(conf.consumers) do
        local field = ("consumers[%d]."):format(i - 1)
        local j = index[c.key]
        if j then
            return nil, ("%skey: the same key as consumers[%d] (%s)"):format(field, j - 1, conf.consumers[j].name)
        end
        index[c.key] = i
        local opts = {
            alg = c.algorithm,
            leeway = c.lifetime_grace_period,
            issuer = c.issuer or conf.issuer,
            audience = c.audience or conf.audience,
        }
        local key_field
        if sub(c.algorithm, 1, 2) == "HS" then
            key_field = field .. "secret"
            if not c.secret then
                return nil, key_field .. ": " .. c.algorithm .. " needs a secret"
            end
            opts.secret = c.secret
            if c.base64_secret then
                opts.secret = ngx.decode_base64(c.secret)
                if not opts.secret then
                    return nil, key_field .. ": not valid base64 (base64_secret is true)"
                end
            end
        else
            key_field = field .. "public_key"
            if not c.public_key then
                return nil, key_field .. ": " .. c.algorithm .. " needs a public_key"
            end
            opts.public_key = c.public_key
        end
        local v, err = jwt.verifier(opts)
        if not v then
            -- "opts.public_key for RS256: <why>": the field is named already
            return nil, key_field .. ": " .. (gsub(err, "^opts%.[%w_]+ for (%w+):", "not a %1 key:"))
        end
        by_key[c.key] = { verifier = v, consumer = { name = c.name, custom_id = c.custom_id } }
    end
    return by_key
end

-- check_schema runs when the config loads, after the schema: every
-- consumer's key must fit its algorithm (a PEM key of the right type, a
-- base64 secret that decodes), and keys must be unique.
function _M.check_schema(conf)
    local by_key, err = verifiers(conf)
    if not by_key then
        return false, err
    end
    return true
end

-- init builds the verifiers (again: the ones check_schema built were on
-- another Lua state) and the request variables' names.
function _M.init(conf)
    local by_key, err = verifiers(conf)
    if not by_key then
        error("jwt-auth: " .. err) -- check_schema refused it at load already
    end
    conf.by_key = by_key
    conf.header_var = "http_" .. lower(conf.header):gsub("-", "_")
    conf.query_var = "arg_" .. conf.query
    conf.cookie_var = "cookie_" .. conf.cookie
    conf.challenge = { ["WWW-Authenticate"] = 'Bearer realm="' .. conf.realm .. '"' }
end

-- token returns the request's token and where it came from.
local function token(conf)
    local v = ngx.var[conf.header_var]
    if v and v ~= "" then
        if find(v, "^[Bb][Ee][Aa][Rr][Ee][Rr] ") then
            v = sub(v, 8)
        end
        return v, "header"
    end
    v = ngx.var[conf.query_var]
    if v and v ~= "" then
        return v, "query" -- base64url and dots: nothing to unescape
    end
    v = ngx.var[conf.cookie_var]
    if v and v ~= "" then
        return v, "cookie"
    end
    return nil
end

local drop_query_arg = plugin.drop_query_arg

-- hide removes the token from where it came from.
local function hide(conf, from)
    if from == "header" then
        ngx.req.clear_header(conf.header)
    elseif from == "query" then
        drop_query_arg(conf.query)
    else
        local kept = {}
        local prefix = conf.cookie .. "="
        for part in (ngx.var.http_cookie or ""):gmatch("[^;]+") do
            part = part:match("^%s*(.-)%s*$")
            if part ~= "" and sub(part, 1, #prefix) ~= prefix then
                kept[#kept + 1] = part
            end
        end
        if #kept > 0 then
            ngx.req.set_header("Cookie", table.concat(kept, "; "))
        else
            ngx.req.clear_header("Cookie")
        end
    end
end

function _M.rewrite(conf, ctx)
    local tok, from = token(conf)
    if not tok then
        ngx.log(ngx.WARN, "jwt-auth: no token in request (route ", ctx.route_name or "-", ")")
        return plugin.exit(401, missing, conf.challenge)
    end

    -- the unverified claims only pick the consumer whose key verifies
    local header, claims = jwt.parse(tok) -- nil, err when malformed
    if not header then
        ngx.log(ngx.WARN, "jwt-auth: malformed token from ", plugin.client_ip())
        return plugin.exit(401, malformed, conf.challenge)
    end
    local key = claims[conf.key_claim_name]
    if type(key) ~= "string" then
        ngx.log(ngx.WARN, "jwt-auth: no ", conf.key_claim_name, " claim in token from ", plugin.client_ip())
        return plugin.exit(401, no_key, conf.challenge)
    end
    local entry = conf.by_key[key]
    if not entry then
        ngx.log(ngx.WARN, "jwt-auth: unknown key ", ("%q"):format(key), " from ", plugin.client_ip())
        return plugin.exit(401, unknown, conf.challenge)
    end

    local verified, err = entry.verifier:verify(tok)
    if not verified then
        ngx.log(ngx.WARN, "jwt-auth: token of consumer ", entry.consumer.name, " refused: ", err)
        return plugin.exit(401, failed, conf.challenge)
    end

    if conf.hide_credentials then
        hide(conf, from)
    end
    ctx.jwt_claims = verified
    plugin.set_consumer(ctx, entry.consumer)
end

return _M
