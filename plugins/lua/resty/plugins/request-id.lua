-- request-id: gives every request an id, in a request field for the
-- upstream and (by default) in the response. A request that already has
-- the field keeps its id. APISIX's request-id (uuid algorithm).
local ngx = ngx
local crypto = require "resty.crypto"

return {
    name = "request-id",
    priority = 12015,
    schema = {
        type = "object",
        properties = {
            header_name = { type = "string", default = "X-Request-Id", minLength = 1 },
            include_in_response = { type = "boolean", default = true },
            algorithm = { type = "string", enum = { "uuid" }, default = "uuid" },
        },
        additionalProperties = false,
    },

    init = function(conf)
        conf.header_var = "http_" .. conf.header_name:lower():gsub("-", "_")
    end,

    rewrite = function(conf, ctx)
        -- $http_NAME: the field whatever the number of lines before it
        local id = ngx.var[conf.header_var]
        if not id or id == "" then
            id = crypto.uuid()
            ngx.req.set_header(conf.header_name, id)
        end
        ctx.request_id = id
    end,

    header_filter = function(conf, ctx)
        if conf.include_in_response and ctx.request_id then
            ngx.header[conf.header_name] = ctx.request_id
        end
    end,
}
