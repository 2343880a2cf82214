-- proxy-cache: caches upstream responses in a shared dict and serves them
-- from the gateway, without touching the upstream, while they are fresh.
-- APISIX's proxy-cache with its memory strategy (same fields, defaults,
-- priority and PURGE), plus max_entry_size.
--
--   access        the key from cache_key; a fresh entry is answered here
--                 (status, headers, body, Age) and the request ends; PURGE
--                 deletes the entry
--   header_filter decides whether the upstream's response may be stored
--   body_filter   collects the body and stores the entry at its end
--
-- The response says what happened in Resty-Cache-Status: HIT, MISS,
-- EXPIRED (an entry was there but stale: fetched and stored again), STALE
-- (the client's Cache-Control max-age/min-fresh refused the entry) or
-- BYPASS (cache_bypass, or the client's no-cache/no-store).
--
-- Entries are one string each, read on a hit with no JSON decoding:
--
--   "E<status> <stored_at> <ttl>\n<Name>: <value>\n...\n\n<body>"
--
-- A response with Vary is stored as variants: the primary key then holds
-- a vary record, "V<version> <header> <header>...", and each variant is
-- at primary .. version .. the request's values of those headers. PURGE
-- deletes the record, which makes every variant unreachable at once (a
-- new record gets a new version); their memory is reclaimed when they
-- expire or are evicted.
local ngx = ngx
local plugin = require "resty.plugin"
local type, pairs, ipairs, tonumber, tostring = type, pairs, ipairs, tonumber, tostring
local byte, sub, find, match, gmatch, lower, format =
    string.byte, string.sub, string.find, string.match, string.gmatch, string.lower, string.format
local concat, sort = table.concat, table.sort
local floor, random = math.floor, math.random

local STATUS_HEADER = "Resty-Cache-Status"
-- Keys longer than this are stored by their MD5.
local MAX_RAW_KEY = 512

-- Response fields never stored: hop-by-hop ones, the length (the gateway
-- sends the body it has), our own status and Age (computed on a hit).
local not_stored = {
    ["connection"] = true, ["keep-alive"] = true, ["proxy-authenticate"] = true,
    ["proxy-authorization"] = true, ["te"] = true, ["trailer"] = true, ["trailers"] = true,
    ["transfer-encoding"] = true, ["upgrade"] = true, ["content-length"] = true,
    ["age"] = true, [lower(STATUS_HEADER)] = true,
}

-- A cache_key/cache_bypass/no_cache item: "$variable" or a literal.
local item = { type = "string", pattern = [[^(\$[0-9a-zA-Z_]+|[^$].*)$]] }

local schema = {
    type = "object",
    properties = {
        cache_zone = { type = "string", minLength = 1, maxLength = 100, default = "plugin-proxy-cache" },
        cache_strategy = { type = "string", enum = { "memory" }, default = "memory" },
        cache_key = {
            type = "array", minItems = 1, default = { "$host", "$request_uri" },
            items = { allOf = { item, { ["not"] = { enum = { "$request_method" } } } } },
        },
        cache_method = {
            type = "array", minItems = 1, uniqueItems = true, default = { "GET", "HEAD" },
            items = { type = "string", enum = { "GET", "POST", "HEAD" } },
        },
        cache_http_status = {
            type = "array", minItems = 1, uniqueItems = true, default = { 200, 301, 404 },
            items = { type = "integer", minimum = 200, maximum = 599 },
        },
        cache_ttl = { type = "integer", minimum = 1, default = 300 },
        cache_bypass = { type = "array", minItems = 1, items = item },
        no_cache = { type = "array", minItems = 1, items = item },
        cache_control = { type = "boolean", default = false },
        hide_cache_headers = { type = "boolean", default = false },
        max_entry_size = { type = "integer", minimum = 1, default = 1048576 },
    },
    additionalProperties = false,
}

-- compile turns a list of "$var"/literal items into a list where a
-- variable is {name} and a literal a string, once per conf.
local function compile(list)
    if type(list) ~= "table" then
        return nil
    end
    local parts = {}
    for i, s in ipairs(list) do
        if byte(s, 1) == 36 then -- "$"
            parts[i] = { sub(s, 2) }
        else
            parts[i] = s
        end
    end
    return parts
end

-- value concatenates a compiled list's values for this request.
local function value(parts)
    local n = #parts
    local out
    for i = 1, n do
        local p = parts[i]
        local v
        if type(p) == "table" then
            v = plugin.var(p[1]) or ""
        else
            v = p
        end
        out = out and out .. v or v
    end
    return out or ""
end

-- set: a non-empty value other than "0" (cache_bypass, no_cache).
local function is_set(parts)
    if not parts then
        return false
    end
    local v = value(parts)
    return v ~= "" and v ~= "0"
end

-- directives parses a Cache-Control value into {directive = number|true}.
local function directives(h)
    if h == nil then
        return nil
    end
    if type(h) == "table" then
        h = concat(h, ", ")
    end
    local t = {}
    for d in gmatch(h, "[^,]+") do
        local name, arg = match(d, "^%s*([^=%s]+)%s*=?%s*\"?([^\"]*)")
        if name then
            t[lower(name)] = tonumber(arg) or true
        end
    end
    return t
end

local function short_key(k)
    if #k > MAX_RAW_KEY then
        return ngx.md5(k)
    end
    return k
end

-- variant_key is the key of the request's variant under a vary record.
local function variant_key(primary, version, headers)
    local k = primary .. "\0" .. version
    for i = 1, #headers do
        local v = ngx.var["http_" .. headers[i]]
        if type(v) == "table" then
            v = concat(v, ", ")
        end
        k = k .. "\0" .. (v or "")
    end
    return short_key(k)
end

-- parse_record reads a vary record: version and header variable names.
local function parse_record(rec)
    local version, rest = match(rec, "^V(%S+)(.*)$")
    local headers = {}
    for h in gmatch(rest or "", "%S+") do
        headers[#headers + 1] = h
    end
    return version, headers
end

-- vary_headers parses the response's Vary into sorted variable suffixes
-- ("accept_encoding"); nil for Vary: *, {} for none.
local function vary_headers(v)
    if v == nil then
        return {}
    end
    if type(v) == "table" then
        v = concat(v, ",")
    end
    local list, seen = {}, {}
    for h in gmatch(v, "[^,%s]+") do
        if h == "*" then
            return nil
        end
        h = lower(h):gsub("-", "_")
        if not seen[h] then
            seen[h] = true
            list[#list + 1] = h
        end
    end
    sort(list)
    return list
end

local function set_status(s)
    ngx.header[STATUS_HEADER] = s
end

local _M = {
    name = "proxy-cache",
    priority = 1085,
    schema = schema,
}

-- check_schema runs when the config loads, after the schema: the zone
-- must be a shared dict (the app's, or one declared with shared_dict).
function _M.check_schema(conf)
    if not ngx.shared[conf.cache_zone] then
        return false, ("cache_zone: %s is not a shared dict (declare it: shared_dict NAME SIZE)"):format(conf.cache_zone)
    end
    return true
end

function _M.init(conf)
    -- check_schema refused a zone that is no shared dict; should one still
    -- be missing here, the plugin lets every request through uncached (an
    -- error would fail the responses in header_filter too).
    local dict = ngx.shared[conf.cache_zone]
    if not dict then
        ngx.log(ngx.ERR, "proxy-cache: cache_zone ", conf.cache_zone,
            " is not a shared dict; caching is off for ", plugin.scope(conf))
    end
    conf.dict = dict
    conf.prefix = "pc|" .. plugin.scope(conf) .. "|"
    local k = conf.cache_key
    -- The default key without a loop: $host$request_uri.
    conf.default_key = #k == 2 and k[1] == "$host" and k[2] == "$request_uri"
    conf.key_parts = compile(k)
    conf.bypass_parts = compile(conf.cache_bypass)
    conf.no_cache_parts = compile(conf.no_cache)
    local methods, statuses = {}, {}
    for _, m in ipairs(conf.cache_method) do
        methods[m] = true
    end
    for _, s in ipairs(conf.cache_http_status) do
        statuses[s] = true
    end
    conf.methods, conf.statuses = methods, statuses
end

-- serve answers the request with a stored entry (a hit): it ends here.
local function serve(conf, entry, now)
    local nl = find(entry, "\n", 1, true)
    local status, stored = match(entry, "^E(%d+) (%S+)")
    local hend = find(entry, "\n\n", nl, true)
    status = tonumber(status)
    ngx.status = status
    local hdr = ngx.header
    -- Header lines run from after the status line to hend, each
    -- "Name: value\n"; a repeated name is on consecutive lines.
    local hide = conf.hide_cache_headers
    local prev
    local pos = nl + 1
    while pos <= hend do
        local e = find(entry, "\n", pos, true)
        local c = find(entry, ": ", pos, true)
        local name, v = sub(entry, pos, c - 1), sub(entry, c + 2, e - 1)
        if hide and (name == "Cache-Control" or name == "Expires") then
            -- not sent
        elseif name == prev then
            ngx.resp.add_header(name, v)
        else
            hdr[name] = v
            prev = name
        end
        pos = e + 1
    end
    hdr["Age"] = floor(now - tonumber(stored))
    hdr[STATUS_HEADER] = "HIT"
    local body = sub(entry, hend + 2)
    if body == "" then
        ngx.send_headers()
    else
        ngx.print(body)
    end
    return ngx.exit(status)
end

local function purge(conf, dict, key)
    local v = dict:get_stale(key)
    if v == nil then
        return ngx.exit(404)
    end
    dict:delete(key)
    ngx.log(ngx.INFO, "proxy-cache: purged ", key)
    return ngx.exit(200)
end

function _M.access(conf, ctx)
    local dict = conf.dict
    if not dict then
        return
    end
    local var = ngx.var
    local key
    if conf.default_key then
        key = (var.host or "") .. (var.request_uri or "")
    else
        key = value(conf.key_parts)
    end
    key = short_key(conf.prefix .. key)
    local method = ngx.req.get_method()

    if method == "PURGE" then
        return purge(conf, dict, key)
    end
    if not conf.methods[method] then
        ctx.cache_status = "MISS"
        return
    end
    local cc
    if conf.cache_control then
        cc = directives(var.http_cache_control)
    end
    if is_set(conf.bypass_parts) or (cc and (cc["no-cache"] or cc["no-store"])) then
        ctx.cache_status = "BYPASS"
        return
    end

    -- From here the response may be stored: header_filter decides.
    ctx.cache_key = key
    local entry, _, stale = dict:get_stale(key)
    if entry and byte(entry, 1) == 86 then -- "V": a vary record
        local version, headers = parse_record(entry)
        ctx.cache_vary = { version = version, headers = headers }
        entry, _, stale = dict:get_stale(variant_key(key, version, headers))
    end
    if entry == nil then
        if cc and cc["only-if-cached"] then
            ctx.cache_status = "MISS"
            ctx.cache_key = nil
            return ngx.exit(504)
        end
        ctx.cache_status = "MISS"
        return
    end
    if stale then
        ctx.cache_status = "EXPIRED"
        return
    end
    local now = ngx.now()
    if cc and (cc["max-age"] or cc["min-fresh"]) then
        local stored, ttl = match(entry, "^E%d+ (%S+) (%d+)")
        local age = now - tonumber(stored)
        local max_age, min_fresh = cc["max-age"], cc["min-fresh"]
        if (type(max_age) == "number" and age > max_age)
            or (type(min_fresh) == "number" and tonumber(ttl) - age < min_fresh) then
            ctx.cache_status = "STALE"
            return
        end
    end
    ctx.cache_hit = true
    return serve(conf, entry, now)
end

-- ttl_of is how long the response may be stored: s-maxage, max-age,
-- Expires, else cache_ttl. 0 means not at all.
local function ttl_of(conf, cc, hdr)
    local age = cc and (cc["s-maxage"] or cc["max-age"])
    if type(age) == "number" then
        return floor(age)
    end
    local expires = hdr["Expires"]
    if type(expires) == "table" then
        expires = expires[#expires]
    end
    if expires then
        local t = ngx.parse_http_time(tostring(expires))
        if not t then
            return 0 -- an invalid Expires means already expired (RFC 9111)
        end
        return floor(t - ngx.now())
    end
    return conf.cache_ttl
end

-- cacheable says why the response may not be stored, or nil when it may.
local function not_cacheable(conf, ctx, hdr, cc)
    if not conf.statuses[ngx.status] then
        return "status"
    end
    -- A part of a body (a Range request's answer) would be served as the
    -- whole to every request of the key: never stored, even if listed.
    if ngx.status == 206 or hdr["Content-Range"] then
        return "partial content"
    end
    if is_set(conf.no_cache_parts) then
        return "no_cache"
    end
    if cc and (cc["private"] or cc["no-store"] or cc["no-cache"]) then
        return "Cache-Control"
    end
    if hdr["Set-Cookie"] then
        return "Set-Cookie"
    end
    return nil
end

function _M.header_filter(conf, ctx)
    if ctx.cache_hit then
        return
    end
    local status = ctx.cache_status
    if status then
        ngx.header[STATUS_HEADER] = status
    end
    local hdr = ngx.header
    local key = ctx.cache_key
    if key and ngx.req.get_method() ~= "HEAD" then
        local cc = directives(hdr["Cache-Control"])
        local why = not_cacheable(conf, ctx, hdr, cc)
        local vary, ttl
        if not why then
            vary = vary_headers(hdr["Vary"])
            if vary == nil then
                why = "Vary: *"
            else
                ttl = ttl_of(conf, cc, hdr)
                if ttl <= 0 then
                    why = "expired"
                end
            end
        end
        if why then
            ngx.log(ngx.DEBUG, "proxy-cache: not storing (", why, ")")
        else
            -- The header block, built now: later header_filters (lower
            -- priority) may still add fields, which are not stored.
            local lines, n = {}, 0
            for name, v in pairs(ngx.resp.get_headers(0, true)) do
                if not not_stored[lower(name)] then
                    if type(v) == "table" then
                        for i = 1, #v do
                            n = n + 1
                            lines[n] = name .. ": " .. v[i] .. "\n"
                        end
                    else
                        n = n + 1
                        lines[n] = name .. ": " .. v .. "\n"
                    end
                end
            end
            local cl = tonumber(hdr["Content-Length"])
            if cl and cl > conf.max_entry_size then
                ngx.log(ngx.INFO, "proxy-cache: not storing (", cl, " bytes > max_entry_size)")
            else
                ctx.cache_store = {
                    head = format("E%d %.3f %d\n", ngx.status, ngx.now(), ttl) .. concat(lines) .. "\n",
                    vary = vary, ttl = ttl, length = cl, size = 0, n = 0,
                }
            end
        end
    end
    if conf.hide_cache_headers then
        hdr["Cache-Control"] = nil
        hdr["Expires"] = nil
    end
end

-- store writes the entry, and the vary record for a response with Vary.
local function store(conf, ctx, st, body)
    local dict, key, ttl = conf.dict, ctx.cache_key, st.ttl
    local vary = st.vary
    local entry = st.head .. body
    local ok, err
    if #vary == 0 then
        ok, err = dict:set(key, entry, ttl)
    else
        local headers = concat(vary, " ")
        local rec = ctx.cache_vary
        local version
        if rec and concat(rec.headers, " ") == headers then
            version = rec.version
        else
            version = format("%x%x", floor(ngx.now() * 1000), random(0, 0x7fffffff))
        end
        -- The record lives as long as its longest-lived variant so far.
        local rttl = dict:ttl(key)
        if type(rttl) ~= "number" or rttl < ttl then
            rttl = ttl
        end
        ok, err = dict:set(key, "V" .. version .. " " .. headers, rttl)
        if ok then
            ok, err = dict:set(variant_key(key, version, vary), entry, ttl)
        end
    end
    if not ok then
        ngx.log(ngx.WARN, "proxy-cache: storing ", #entry, " bytes: ", err)
    end
end

function _M.body_filter(conf, ctx)
    local st = ctx.cache_store
    if not st then
        return
    end
    local chunk, eof = ngx.arg[1], ngx.arg[2]
    if chunk ~= "" then
        local size = st.size + #chunk
        if size > conf.max_entry_size then
            ngx.log(ngx.INFO, "proxy-cache: not storing (body over max_entry_size ", conf.max_entry_size, ")")
            ctx.cache_store = nil
            return
        end
        st.size = size
        st.n = st.n + 1
        st[st.n] = chunk
    end
    if eof then
        ctx.cache_store = nil
        if st.length and st.length ~= st.size then
            ngx.log(ngx.WARN, "proxy-cache: not storing an incomplete body (", st.size, " of ", st.length, " bytes)")
            return
        end
        store(conf, ctx, st, concat(st, "", 1, st.n))
    end
end

return _M
