-- csrf: double-submit cookie protection. Every response sets a signed
-- token cookie; a request with an unsafe method (not GET, HEAD, OPTIONS)
-- must send the cookie's token back in the header named `name` too, and
-- the token's signature must be valid and unexpired. APISIX's csrf (the
-- token format differs: random.issued.hmac, HMAC-SHA256 with `key`).
local ngx = ngx
local crypto = require "resty.crypto"
local random = require "resty.random"
local str = require "resty.string"
local plugin = require "resty.plugin"

local safe_methods = { GET = true, HEAD = true, OPTIONS = true }

local _M = {
    name = "csrf",
    priority = 2980,
    schema = {
        type = "object",
        properties = {
            key = { type = "string", minLength = 1 },
            expires = { type = "integer", default = 7200 },
            name = { type = "string", minLength = 1, default = "apisix-csrf-token" },
        },
        required = { "key" },
        additionalProperties = false,
    },
}

-- sign is the token's signature: hex HMAC-SHA256 of "random.issued".
local function sign(key, payload)
    return str.to_hex(crypto.hmac("sha256", key, payload))
end

function _M.init(conf)
    conf.cookie_var = "cookie_" .. conf.name
    conf.header_var = "http_" .. conf.name:lower():gsub("-", "_")
    conf.cookie_tail = "; Path=/; SameSite=Lax; Expires="
end

-- valid checks a token's signature and age.
local function valid(conf, token)
    local rnd, issued, sig = token:match("^(%x+)%.(%d+)%.(%x+)$")
    if not rnd then
        return false, "malformed token"
    end
    if not crypto.equal(sig, sign(conf.key, rnd .. "." .. issued)) then
        return false, "bad signature"
    end
    if conf.expires > 0 and ngx.time() - tonumber(issued) > conf.expires then
        return false, "token expired"
    end
    return true
end

local function deny(msg, why)
    ngx.log(ngx.WARN, "csrf: ", why or msg)
    return plugin.exit(401, { error_msg = msg })
end

function _M.access(conf, ctx)
    if safe_methods[ngx.req.get_method()] then
        return
    end
    local header_token = ngx.var[conf.header_var]
    if not header_token or header_token == "" then
        return deny("no csrf token in headers")
    end
    local cookie_token = ngx.var[conf.cookie_var]
    if not cookie_token then
        return deny("no csrf cookie")
    end
    if not crypto.equal(header_token, cookie_token) then
        return deny("csrf token mismatch")
    end
    local ok, why = valid(conf, cookie_token)
    if not ok then
        return deny("Failed to verify the csrf token signature", why)
    end
end

function _M.header_filter(conf, ctx)
    local now = ngx.time()
    local rnd = str.to_hex(random.bytes(16, true))
    local payload = rnd .. "." .. now
    local token = payload .. "." .. sign(conf.key, payload)
    local cookie = conf.name .. "=" .. token .. conf.cookie_tail .. ngx.cookie_time(now + conf.expires)
    local prev = ngx.header["Set-Cookie"]
    if prev == nil then
        ngx.header["Set-Cookie"] = cookie
    elseif type(prev) == "table" then
        prev[#prev + 1] = cookie
        ngx.header["Set-Cookie"] = prev
    else
        ngx.header["Set-Cookie"] = { prev, cookie }
    end
end

return _M
