-- proxy-rewrite: changes what the upstream is sent: the URI (a template
-- with $variables, or regex_uri's first matching pattern and replacement),
-- the Host, the method and request fields. APISIX's proxy-rewrite; it runs
-- in rewrite, so a route's `proxy` action (and proxy_pass) forwards the
-- rewritten request. A route's own `proxy UPSTREAM URI` template, applied
-- after the access phase, still wins over this plugin's uri.
local ngx = ngx
local plugin = require "resty.plugin"
local re_find, re_match, re_sub = ngx.re.find, ngx.re.match, ngx.re.sub
local type, tostring, tonumber, pairs = type, tostring, tonumber, pairs
local byte, find, sub = string.byte, string.find, string.sub

-- PCRE constructs Go's RE2 refuses (look-around, atomic groups,
-- back-references): refused by the schema, with a message that says so.
-- Other syntax errors are found by check_schema (see there).
local PCRE_ONLY = [=[\(\?(?:[=!>]|<[=!])|(?:^|[^\\])(?:\\\\)*\\[1-9]]=]

-- Request field names (RFC 9110 tokens) and values (no CR or LF).
local FIELD_NAME = [[^[!#$%&'*+.^_`|~0-9A-Za-z-]+$]]
local field_value = { type = { "string", "number" }, pattern = [[^[^\r\n]*$]] }
local field_map = {
    type = "object",
    patternProperties = { [FIELD_NAME] = field_value },
    additionalProperties = false,
}

-- regex_uri is pairs of pattern and template: an even number of strings.
local even_sizes = {}
for n = 2, 32, 2 do
    even_sizes[#even_sizes + 1] = { minItems = n, maxItems = n }
end

local methods = { "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "MKCOL", "COPY", "MOVE",
    "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE" }

local _M = {
    name = "proxy-rewrite",
    priority = 1008,
    schema = {
        type = "object",
        properties = {
            uri = { type = "string", minLength = 1, maxLength = 4096, pattern = [[^/]] },
            regex_uri = {
                type = "array",
                minItems = 2,
                maxItems = 32,
                items = { type = "string", minLength = 1, ["not"] = { pattern = PCRE_ONLY } },
                anyOf = even_sizes,
            },
            host = { type = "string", pattern = [[^[0-9a-zA-Z.-]+(:\d{1,5})?$]] },
            method = { type = "string", enum = methods },
            headers = {
                type = "object",
                minProperties = 1,
                anyOf = {
                    { -- {set = {...}, add = {...}, remove = {...}}
                        properties = {
                            set = field_map,
                            add = field_map,
                            remove = { type = "array", items = { type = "string", pattern = FIELD_NAME } },
                        },
                        additionalProperties = false,
                    },
                    -- APISIX's older form: {name = value}, set ("" removes)
                    field_map,
                },
            },
        },
        minProperties = 1,
        additionalProperties = false,
    },
}


local template, expand = plugin.template, plugin.expand

-- field_list turns {name = value} into a list of {name, template}; it
-- tells whether a template uses a capture ($1..).
local function field_list(map)
    local list, caps = {}, false
    if type(map) == "table" then
        for name, value in pairs(map) do
            list[#list + 1] = { name, template(value) }
            if find(tostring(value), "%$%d") then
                caps = true
            end
        end
    end
    return list, caps
end

-- check_schema runs when the config loads, after the schema: each
-- regex_uri pattern must compile with the engine that runs it (a schema
-- cannot tell a valid pattern from an invalid one).
function _M.check_schema(conf)
    local rx = conf.regex_uri
    if rx ~= nil then
        for i = 1, #rx, 2 do
            local _, _, err = re_find("", rx[i], "jo")
            if err then
                return false, ("regex_uri[%d]: invalid pattern: %s"):format(i - 1, err)
            end
        end
    end
    return true
end

-- init prepares the templates, once per configuration and Lua state.
function _M.init(conf)
    if conf.uri ~= nil then
        -- Only a "?" of the template itself starts the query: one in a
        -- variable's value is part of the path.
        local q = find(conf.uri, "?", 1, true)
        if q then
            conf.uri_t, conf.uri_q = template(sub(conf.uri, 1, q - 1)), template(sub(conf.uri, q + 1))
        else
            conf.uri_t = template(conf.uri)
        end
    end
    if conf.method then
        conf.method_id = ngx["HTTP_" .. conf.method]
    end
    local h = conf.headers
    if type(h) == "table" then
        local c1, c2
        if h.set ~= nil or h.add ~= nil or h.remove ~= nil then
            conf.add_t, c1 = field_list(h.add)
            conf.set_t, c2 = field_list(h.set)
            conf.remove_t = type(h.remove) == "table" and h.remove or {}
        else
            conf.add_t, conf.remove_t = {}, {}
            conf.set_t, c2 = field_list(h)
        end
        conf.uses_caps = c1 or c2
    end
end

-- new_uri is the upstream path (decoded) and query of uri, or of the
-- first regex_uri pattern that matches (with the captures for the
-- fields), or nil.
local function new_uri(conf, uri)
    if conf.uri_t then
        return expand(conf.uri_t), conf.uri_q and expand(conf.uri_q)
    end
    local rx = conf.regex_uri
    if rx then
        for i = 1, #rx, 2 do
            local res, n, err = re_sub(uri, rx[i], rx[i + 1], "jo")
            if not res then
                ngx.log(ngx.ERR, "proxy-rewrite: substituting ", uri, " with ", rx[i], ": ", err)
                return nil
            end
            if n > 0 then
                -- The fields' templates may use the captures too.
                local caps = conf.uses_caps and re_match(uri, rx[i], "jo") or nil
                -- A "?" of the replacement starts a query; when the path
                -- had one (the client's %3F, which a capture may carry),
                -- none does, as in APISIX: the client cannot turn its
                -- path into query arguments the gateway never saw.
                local query
                if not find(uri, "?", 1, true) then
                    local q = find(res, "?", 1, true)
                    if q then
                        res, query = sub(res, 1, q - 1), sub(res, q + 1)
                    end
                end
                return res, query, caps
            end
        end
    end
    return nil
end

function _M.rewrite(conf, ctx)
    local upstream_uri, query, caps = new_uri(conf, ngx.var.uri)
    if upstream_uri then
        -- The new URI's query comes first; the client's follows it.
        if query then
            local args = ngx.var.args
            if args and args ~= "" then
                query = query == "" and args or (query .. "&" .. args)
            end
            ngx.req.set_uri_args(query)
        end
        if upstream_uri == "" then
            upstream_uri = "/"
        end
        ngx.req.set_uri(upstream_uri)
    end
    if conf.host then
        ngx.req.set_header("Host", conf.host)
    end
    if conf.method_id then
        ngx.req.set_method(conf.method_id)
    end
    if conf.set_t then
        -- Values come from the request as it was before these changes;
        -- then APISIX's order: add, remove, set.
        local add, set = conf.add_t, conf.set_t
        local add_v, set_v = {}, {}
        for i = 1, #add do
            add_v[i] = expand(add[i][2], caps)
        end
        for i = 1, #set do
            set_v[i] = expand(set[i][2], caps)
        end
        for i = 1, #add do
            local name, v = add[i][1], add_v[i]
            local cur = ngx.req.get_headers(0)[name] -- 0: all, not the first 100
            if cur == nil then
                ngx.req.set_header(name, v)
            elseif type(cur) == "table" then
                cur[#cur + 1] = v
                ngx.req.set_header(name, cur)
            else
                ngx.req.set_header(name, { cur, v })
            end
        end
        local remove = conf.remove_t
        for i = 1, #remove do
            ngx.req.clear_header(remove[i])
        end
        for i = 1, #set do
            if set_v[i] == "" then
                ngx.req.clear_header(set[i][1])
            else
                ngx.req.set_header(set[i][1], set_v[i])
            end
        end
    end
end

return _M
