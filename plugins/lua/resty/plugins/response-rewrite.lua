-- response-rewrite: changes the response the client gets: the status, the
-- response fields, the body (replaced, or edited by regex filters), all
-- or only when `vars` holds. APISIX's response-rewrite. The status and
-- fields change in header_filter; a new or filtered body is built in
-- body_filter: the chunks are kept until the last one, so the body is
-- buffered whole (and Content-Length dropped).
local ngx = ngx
local plugin = require "resty.plugin"
local re_find, re_sub, re_gsub = ngx.re.find, ngx.re.sub, ngx.re.gsub
local type, tostring, tonumber, pairs, ipairs = type, tostring, tonumber, pairs, ipairs
local find, sub, concat = string.find, string.sub, table.concat

-- PCRE constructs Go's RE2 refuses (look-around, atomic groups,
-- back-references): refused by the schema, with a message that says so.
-- Other syntax errors are found by check_schema (see there).
local PCRE_ONLY = [=[\(\?(?:[=!>]|<[=!])|(?:^|[^\\])(?:\\\\)*\\[1-9]]=]
local FIELD_NAME = [[^[!#$%&'*+.^_`|~0-9A-Za-z-]+$]]
local NO_CRLF = [[^[^\r\n]*$]]
local BASE64 = [[^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$]]

local field_map = {
    type = "object",
    patternProperties = { [FIELD_NAME] = { type = { "string", "number" }, pattern = NO_CRLF } },
    additionalProperties = false,
}

-- The operators of `vars` (a subset of lua-resty-expr's).
local var_ops = { "==", "~=", ">", "<", ">=", "<=", "~~", "~*", "in" }

local _M = {
    name = "response-rewrite",
    priority = 899,
    schema = {
        type = "object",
        properties = {
            status_code = { type = "integer", minimum = 200, maximum = 598 },
            body = { type = "string" },
            body_base64 = { type = "boolean", default = false },
            headers = {
                type = "object",
                minProperties = 1,
                anyOf = {
                    { -- {add = {"Name: value"}, set = {...}, remove = {...}}
                        properties = {
                            add = {
                                type = "array",
                                minItems = 1,
                                items = { type = "string", pattern = [[^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*$]] },
                            },
                            set = field_map,
                            remove = { type = "array", minItems = 1, items = { type = "string", pattern = FIELD_NAME } },
                        },
                        additionalProperties = false,
                    },
                    -- APISIX's older form: {name = value}, set ("" removes)
                    field_map,
                },
            },
            vars = {
                type = "array",
                items = {
                    type = "array",
                    anyOf = {
                        { -- {var, op, value}
                            minItems = 3,
                            maxItems = 3,
                            items = { { type = "string", minLength = 1 }, { enum = var_ops } },
                        },
                        { -- {var, "!", op, value}
                            minItems = 4,
                            maxItems = 4,
                            items = { { type = "string", minLength = 1 }, { const = "!" }, { enum = var_ops } },
                        },
                    },
                },
            },
            filters = {
                type = "array",
                minItems = 1,
                items = {
                    type = "object",
                    properties = {
                        regex = { type = "string", minLength = 1, ["not"] = { pattern = PCRE_ONLY } },
                        scope = { type = "string", enum = { "once", "global" }, default = "once" },
                        replace = { type = "string" },
                        options = { type = "string", default = "jo", pattern = [[^[ijomsuxUaDd]*$]] },
                    },
                    required = { "regex", "replace" },
                    additionalProperties = false,
                },
            },
        },
        -- body and filters exclude each other; body_base64 needs a base64
        -- body.
        dependencies = {
            filters = { properties = { body = false } },
            body_base64 = {
                anyOf = {
                    { properties = { body_base64 = { const = false } } },
                    { properties = { body = { pattern = BASE64 } } },
                },
            },
        },
        additionalProperties = false,
    },
}


local template, expand = plugin.template, plugin.expand

-- check_schema runs when the config loads, after the schema: every
-- pattern (filters, vars' ~~ and ~*) must compile with the engine and
-- options that run it (a schema cannot tell a valid pattern from an
-- invalid one).
function _M.check_schema(conf)
    if type(conf.filters) == "table" then
        for i, f in ipairs(conf.filters) do
            local _, _, err = re_find("", f.regex, f.options)
            if err then
                return false, ("filters[%d].regex: invalid pattern: %s"):format(i - 1, err)
            end
        end
    end
    if type(conf.vars) == "table" then
        for i, v in ipairs(conf.vars) do
            local at = v[2] == "!" and 3 or 2
            local op = v[at]
            if op == "~~" or op == "~*" then
                local _, _, err = re_find("", tostring(v[at + 1]), op == "~~" and "jo" or "joi")
                if err then
                    return false, ("vars[%d]: invalid pattern: %s"):format(i - 1, err)
                end
            end
        end
    end
    return true
end

-- init prepares the fields' templates, the conditions and the body, once
-- per configuration and Lua state.
function _M.init(conf)
    local h = conf.headers
    if type(h) == "table" then
        conf.add_t, conf.set_t, conf.remove_t = {}, {}, {}
        if h.add ~= nil or h.set ~= nil or h.remove ~= nil then
            for _, line in ipairs(type(h.add) == "table" and h.add or {}) do
                local c = find(line, ":", 1, true)
                local value = sub(line, c + 1):gsub("^%s+", ""):gsub("%s+$", "")
                conf.add_t[#conf.add_t + 1] = { sub(line, 1, c - 1), template(value) }
            end
            for name, value in pairs(type(h.set) == "table" and h.set or {}) do
                conf.set_t[#conf.set_t + 1] = { name, template(value) }
            end
            if type(h.remove) == "table" then
                conf.remove_t = h.remove
            end
        else
            for name, value in pairs(h) do
                conf.set_t[#conf.set_t + 1] = { name, template(value) }
            end
        end
    end
    if conf.body ~= nil and conf.body_base64 then
        conf.body = ngx.decode_base64(conf.body)
    end
    if type(conf.vars) == "table" then
        local conds = {}
        for _, v in ipairs(conf.vars) do
            local c
            if v[2] == "!" then
                c = { name = v[1], op = v[3], value = v[4], negate = true }
            else
                c = { name = v[1], op = v[2], value = v[3], negate = false }
            end
            conds[#conds + 1] = c
        end
        conf.conds = conds
    end
    conf.edits_body = conf.body ~= nil or conf.filters ~= nil
end

-- test is one condition of vars on this request or response.
local function test(c)
    local v, want, op = plugin.var(c.name), c.value, c.op
    local ok
    if op == "==" or op == "~=" then
        if type(want) == "number" then
            v = tonumber(v)
        end
        ok = (v == want) == (op == "==")
    elseif op == "~~" or op == "~*" then
        ok = v ~= nil and re_find(v, want, op == "~~" and "jo" or "joi") ~= nil
    elseif op == "in" then
        ok = false
        if type(want) == "table" then
            for i = 1, #want do
                if tostring(want[i]) == v then
                    ok = true
                    break
                end
            end
        end
    else -- numeric comparisons
        local a, b = tonumber(v), tonumber(want)
        if a == nil or b == nil then
            ok = false
        elseif op == ">" then
            ok = a > b
        elseif op == "<" then
            ok = a < b
        elseif op == ">=" then
            ok = a >= b
        else
            ok = a <= b
        end
    end
    if c.negate then
        return not ok
    end
    return ok
end

local function conditions_hold(conf)
    local conds = conf.conds
    if conds then
        for i = 1, #conds do
            if not test(conds[i]) then
                return false
            end
        end
    end
    return true
end

-- rewrite asks the upstream for an uncompressed body when the body is to
-- be edited.
function _M.rewrite(conf, ctx)
    if conf.edits_body then
        ngx.req.clear_header("Accept-Encoding")
    end
end

function _M.header_filter(conf, ctx)
    if not conditions_hold(conf) then
        return
    end
    if conf.status_code then
        ngx.status = conf.status_code
    end
    if conf.set_t then
        -- APISIX's order: add, remove, set.
        local add = conf.add_t
        for i = 1, #add do
            ngx.resp.add_header(add[i][1], expand(add[i][2]))
        end
        local remove = conf.remove_t
        for i = 1, #remove do
            ngx.header[remove[i]] = nil
        end
        local set = conf.set_t
        for i = 1, #set do
            local v = expand(set[i][2])
            ngx.header[set[i][1]] = v ~= "" and v or nil
        end
    end
    if not conf.edits_body then
        return
    end
    if conf.body == nil then
        -- Filters edit the body's text: a compressed one is left alone.
        local enc = ngx.header["Content-Encoding"]
        if enc and enc ~= "" and enc ~= "identity" then
            ngx.log(ngx.WARN, "response-rewrite: the response is ", enc, "-encoded; filters not applied")
            return
        end
    else
        ngx.header["Content-Encoding"] = nil
    end
    ngx.header.content_length = nil
    ctx.response_rewrite_buf = {}
end

function _M.body_filter(conf, ctx)
    local buf = ctx.response_rewrite_buf
    if not buf then
        return
    end
    local chunk, eof = ngx.arg[1], ngx.arg[2]
    if not eof then
        -- Keep the chunk (a new body needs none) until the last one.
        if conf.body == nil and chunk ~= "" then
            buf[#buf + 1] = chunk
        end
        ngx.arg[1] = nil
        return
    end
    if conf.body ~= nil then
        ngx.arg[1] = conf.body
        return
    end
    buf[#buf + 1] = chunk
    local body = concat(buf)
    ctx.response_rewrite_buf = nil
    local filters = conf.filters
    for i = 1, #filters do
        local f = filters[i]
        local res, _, err
        if f.scope == "once" then
            res, _, err = re_sub(body, f.regex, f.replace, f.options)
        else
            res, _, err = re_gsub(body, f.regex, f.replace, f.options)
        end
        if res then
            body = res
        else
            ngx.log(ngx.ERR, "response-rewrite: filter ", f.regex, ": ", err)
        end
    end
    ngx.arg[1] = body
end

return _M
