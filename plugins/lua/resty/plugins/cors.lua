-- cors: Cross-Origin Resource Sharing. Answers preflight requests (OPTIONS
-- with Access-Control-Request-Method) in the gateway, and adds the CORS
-- headers to the responses of allowed origins. APISIX's cors.
--
-- allow_origins is "*" (any origin), "**" (any, even with credentials:
-- the request's origin is echoed), or a comma-separated list of origins
-- ("https://a.example,https://b.example"); allow_origins_by_regex, when
-- given, replaces it. An origin that is not allowed gets no CORS headers.
local ngx = ngx
local re_find = ngx.re.find

local all_methods = "GET,POST,PUT,DELETE,PATCH,HEAD,OPTIONS,CONNECT,TRACE"

local _M = {
    name = "cors",
    priority = 4000,
    schema = {
        type = "object",
        properties = {
            allow_origins = {
                type = "string", default = "*",
                pattern = [[^(\*|\*\*|null|\w+://[^,]+(,\w+://[^,]+)*)$]],
            },
            allow_methods = { type = "string", default = "*" },
            allow_headers = { type = "string", default = "*" },
            expose_headers = { type = "string" },
            max_age = { type = "integer", default = 5 },
            allow_credential = { type = "boolean", default = false },
            allow_origins_by_regex = {
                type = "array",
                items = { type = "string", minLength = 1, maxLength = 4096 },
                minItems = 1,
                uniqueItems = true,
            },
        },
        additionalProperties = false,
    },
}

function _M.check_schema(conf)
    if conf.allow_credential then
        for _, f in ipairs({ "allow_origins", "allow_methods", "allow_headers", "expose_headers" }) do
            if conf[f] == "*" then
                return false, f .. ": you can not set '*' for other option when 'allow_credential' is true"
            end
        end
    end
    for i, rule in ipairs(conf.allow_origins_by_regex or {}) do
        local _, _, err = re_find("", rule, "jo")
        if err then
            return false, "allow_origins_by_regex[" .. i .. "]: invalid regex " .. rule .. ": " .. err
        end
    end
    return true
end

-- init turns the lists into what a request needs: a set of origins, one
-- regex, the header values.
function _M.init(conf)
    if conf.allow_origins_by_regex then
        conf.origin_regex = "(?:" .. table.concat(conf.allow_origins_by_regex, ")|(?:") .. ")"
    elseif conf.allow_origins ~= "*" and conf.allow_origins ~= "**" then
        local set = {}
        for o in conf.allow_origins:gmatch("[^,]+") do
            set[o] = true
        end
        conf.origin_set = set
    end
    conf.methods = conf.allow_methods == "**" and all_methods or conf.allow_methods
    conf.max_age_s = tostring(conf.max_age)
    if conf.expose_headers == "" then
        conf.expose_headers = nil
    end
end

-- allowed_origin returns the Access-Control-Allow-Origin value for the
-- request's origin, or nil when the origin is not allowed.
local function allowed_origin(conf, origin)
    if conf.origin_regex then
        if origin and re_find(origin, conf.origin_regex, "jo") then
            return origin
        end
        return nil
    end
    if conf.origin_set then
        if origin and conf.origin_set[origin] then
            return origin
        end
        return nil
    end
    if conf.allow_origins == "**" then
        return origin or "*"
    end
    return "*"
end

local function set_headers(conf, ctx)
    local h = ngx.header
    if conf.allow_origins ~= "*" then
        local vary = h["Vary"]
        if vary == nil or vary == "" then
            h["Vary"] = "Origin"
        elseif type(vary) == "string" and not vary:find("Origin", 1, true) then
            h["Vary"] = vary .. ", Origin"
        end
    end
    local origin = allowed_origin(conf, ctx.cors_origin)
    if not origin then
        return
    end
    h["Access-Control-Allow-Origin"] = origin
    h["Access-Control-Allow-Methods"] = conf.methods
    h["Access-Control-Max-Age"] = conf.max_age_s
    if conf.allow_headers == "**" then
        h["Access-Control-Allow-Headers"] = ngx.var.http_access_control_request_headers
    else
        h["Access-Control-Allow-Headers"] = conf.allow_headers
    end
    if conf.expose_headers then
        h["Access-Control-Expose-Headers"] = conf.expose_headers
    end
    if conf.allow_credential then
        h["Access-Control-Allow-Credentials"] = "true"
    end
end

function _M.rewrite(conf, ctx)
    -- the origin as the client sent it (a later plugin may change it)
    ctx.cors_origin = ngx.var.http_origin
    if ngx.req.get_method() == "OPTIONS" and ngx.var.http_access_control_request_method then
        -- a preflight: answered here, never proxied
        set_headers(conf, ctx)
        ctx.cors_done = true
        return ngx.exit(200)
    end
end

function _M.header_filter(conf, ctx)
    if not ctx.cors_done then
        set_headers(conf, ctx)
    end
end

return _M
