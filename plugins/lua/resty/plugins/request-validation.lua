-- request-validation: checks the request headers and JSON (or form) body
-- against JSON schemas before the request goes on. APISIX's
-- request-validation; the schemas are compiled once (resty.jsonschema,
-- in Go) and checked when the config loads.
local ngx = ngx
local type = type
local plugin = require "resty.plugin"
local jsonschema = require "resty.jsonschema"

local _M = {
    name = "request-validation",
    priority = 2800,
    schema = {
        type = "object",
        properties = {
            header_schema = { type = "object" },
            body_schema = { type = "object" },
            -- bodies larger than this get 413 (APISIX: rejected_code)
            max_req_body_size = { type = "integer", minimum = 1, default = 1048576 },
            rejected_code = { type = "integer", minimum = 200, maximum = 599, default = 400 },
            rejected_msg = { type = "string", minLength = 1, maxLength = 256 },
        },
        anyOf = {
            { required = { "header_schema" } },
            { required = { "body_schema" } },
        },
        additionalProperties = false,
    },
}

function _M.check_schema(conf)
    for _, field in ipairs({ "header_schema", "body_schema" }) do
        if conf[field] then
            local _, err = jsonschema.new(conf[field])
            if err then
                return false, field .. ": " .. err
            end
        end
    end
    return true
end

function _M.init(conf)
    if conf.header_schema then
        conf.header_validator = assert(jsonschema.new(conf.header_schema))
    end
    if conf.body_schema then
        conf.body_validator = assert(jsonschema.new(conf.body_schema))
    end
end

local function reject(conf, code, why)
    ngx.log(ngx.WARN, "request-validation: ", why)
    return plugin.exit(code, conf.rejected_msg or why)
end

-- read_body returns the request body, or nil and the status and reason to
-- reject the request with.
local function read_body(conf)
    local max = conf.max_req_body_size
    local len = tonumber(ngx.var.content_length)
    if len and len > max then
        return nil, 413, "request body of " .. len .. " bytes is larger than " .. max
    end
    ngx.req.read_body() -- lua_max_body_size still applies (413)
    local body = ngx.req.get_body_data()
    if not body then
        if ngx.req.get_body_file() then
            return nil, 413, "request body is larger than the body buffer (lua_body_buffer_size)"
        end
        return ""
    end
    if #body > max then
        return nil, 413, "request body of " .. #body .. " bytes is larger than " .. max
    end
    return body
end

function _M.rewrite(conf, ctx)
    -- every header line (0: no limit; Caddy's max_header_size bounds
    -- them): with the default 100, extra lines could push the header a
    -- schema checks out of the table, and the request would pass
    local headers = ngx.req.get_headers(0)

    if conf.header_validator then
        local ok, err = conf.header_validator:validate(headers)
        if not ok then
            return reject(conf, conf.rejected_code, "header: " .. err)
        end
    end

    local v = conf.body_validator
    if not v then
        return
    end
    local body, code, why = read_body(conf)
    if not body then
        ngx.log(ngx.WARN, "request-validation: ", why)
        return plugin.exit(code, { message = why })
    end

    local ctype = headers["content-type"]
    if type(ctype) == "table" then
        -- two Content-Types: the upstream may read the body otherwise
        return reject(conf, conf.rejected_code, "duplicated Content-Type header")
    end
    local ok, err
    if ctype and ctype:lower():find("application/x-www-form-urlencoded", 1, true) == 1 then
        ok, err = v:validate(ngx.decode_args(body, 0))
    else -- JSON by default
        ok, err = v:validate_json(body)
    end
    if not ok then
        return reject(conf, conf.rejected_code, "body: " .. err)
    end
end

return _M
