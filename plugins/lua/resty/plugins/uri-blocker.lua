-- uri-blocker: rejects requests whose URI (path and query, as the client
-- sent it: $request_uri) matches one of block_rules, regexes checked when
-- the config loads. APISIX's uri-blocker.
local ngx = ngx
local re_find = ngx.re.find
local plugin = require "resty.plugin"

local _M = {
    name = "uri-blocker",
    priority = 2900,
    schema = {
        type = "object",
        properties = {
            block_rules = {
                type = "array",
                items = { type = "string", minLength = 1, maxLength = 4096 },
                minItems = 1,
                uniqueItems = true,
            },
            rejected_code = { type = "integer", minimum = 200, maximum = 599, default = 403 },
            rejected_msg = { type = "string", minLength = 1 },
            case_insensitive = { type = "boolean", default = false },
        },
        required = { "block_rules" },
        additionalProperties = false,
    },
}

function _M.check_schema(conf)
    for i, rule in ipairs(conf.block_rules) do
        local _, _, err = re_find("", rule, "jo")
        if err then
            return false, "block_rules[" .. i .. "]: invalid regex " .. rule .. ": " .. err
        end
    end
    return true
end

-- init joins the rules into one regex and its flags, once per conf.
function _M.init(conf)
    conf.regex = "(?:" .. table.concat(conf.block_rules, ")|(?:") .. ")"
    conf.flags = conf.case_insensitive and "joi" or "jo"
    if conf.rejected_msg then
        conf.body = { error_msg = conf.rejected_msg }
    end
end

function _M.rewrite(conf, ctx)
    local uri = ngx.var.request_uri
    local from, _, err = re_find(uri, conf.regex, conf.flags)
    if err then
        ngx.log(ngx.ERR, "uri-blocker: ", err)
        return
    end
    if from then
        ngx.log(ngx.WARN, "uri-blocker: blocked ", uri)
        return plugin.exit(conf.rejected_code, conf.body)
    end
end

return _M
