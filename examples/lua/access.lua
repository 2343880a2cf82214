-- API-key check and a fixed-window rate limit per key.
local keys = require "keys"

local key = ngx.var.http_x_api_key
if not key then
    ngx.header["WWW-Authenticate"] = 'ApiKey header="X-Api-Key"'
    return ngx.exit(ngx.HTTP_UNAUTHORIZED)
end

local owner = keys.owner(key)
if not owner then
    return ngx.exit(ngx.HTTP_FORBIDDEN)
end
ngx.req.set_header("X-Consumer", owner)

local limits = ngx.shared.limits
local window = 10
local count, err = limits:incr("rl:" .. key, 1, 0, window)
if not count then
    ngx.log(ngx.ERR, "rate limit counter failed: ", err)
    return
end
ngx.header["X-RateLimit-Remaining"] = math.max(0, 10 - count)
if count > 10 then
    ngx.header["Retry-After"] = window
    return ngx.exit(ngx.HTTP_TOO_MANY_REQUESTS)
end
