-- body-crypto: an encrypted version of a location, next to its plain one.
-- A request that names a key in the key id field (X-Key-Id by default)
-- sends its body encrypted with that key and gets its response body
-- encrypted with it; the upstream sees and sends plain bodies. A request
-- without the field is served as is.
--
-- AES-256-GCM (resty.crypto): a message is nonce (12 bytes) .. ciphertext
-- .. tag (16 bytes), base64-encoded by default. No APISIX equivalent.
--
-- Priority 2850, in rewrite: before request-validation (2800, rewrite),
-- which must see the plain body, and so also before the auth plugins
-- (key-auth 2500, rewrite): a body that fails to decrypt is refused before
-- authentication (GCM authenticates the body itself: only a holder of the
-- key can produce one that decrypts).
local ngx = ngx
local plugin = require "resty.plugin"
local crypto = require "resty.crypto"
local type, pairs = type, pairs
local concat = table.concat
local encrypt, decrypt = crypto.aes_gcm_encrypt, crypto.aes_gcm_decrypt

-- A 32-byte key in standard base64: 43 characters, the last of which
-- carries 2 bits of padding (so one of 16), then "=". Checked as "not not
-- the pattern": a failed `pattern` would print the value (a secret) in
-- the error; a failed `not` prints nothing but the field.
local KEY32 = [[^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$]]
local key32 = { type = "string", ["not"] = { ["not"] = { pattern = KEY32 } } }
local FIELD_NAME = [[^[!#$%&'*+.^_`|~0-9A-Za-z-]+$]]

local _M = {
    name = "body-crypto",
    priority = 2850,
    schema = {
        type = "object",
        properties = {
            keys = {
                type = "object",
                minProperties = 1,
                patternProperties = { ["^[A-Za-z0-9._~-]{1,64}$"] = key32 },
                additionalProperties = false,
            },
            key_id_header = { type = "string", default = "X-Key-Id", pattern = FIELD_NAME },
            encoding = { type = "string", enum = { "base64", "binary" }, default = "base64" },
            decrypt_request = { type = "boolean", default = true },
            encrypt_response = { type = "boolean", default = true },
        },
        required = { "keys" },
        additionalProperties = false,
    },
}

-- init decodes the keys once (the schema made sure they are 32 bytes).
function _M.init(conf)
    local raw = {}
    for id, b64 in pairs(conf.keys) do
        raw[id] = ngx.decode_base64(b64)
    end
    conf.raw_keys = raw
    conf.base64 = conf.encoding == "base64"
end

local function refuse(msg, why, id)
    ngx.log(ngx.WARN, "body-crypto: ", why, " (key id ", id, ")")
    return plugin.exit(400, { message = msg })
end

function _M.rewrite(conf, ctx)
    -- 0: every field (the default table stops at 100 lines, and padding
    -- lines must not hide the key id, which would pass the body as plain)
    local id = ngx.req.get_headers(0)[conf.key_id_header]
    if id == nil then
        return -- the plain version
    end
    if type(id) == "table" then
        return refuse("more than one key id", "several " .. conf.key_id_header .. " fields", concat(id, ","))
    end
    local key = conf.raw_keys[id]
    if not key then
        return refuse("unknown key id", "unknown key id", id)
    end
    if conf.decrypt_request then
        ngx.req.read_body()
        local data = ngx.req.get_body_data()
        if data == nil and ngx.req.get_body_file() then
            ngx.log(ngx.WARN, "body-crypto: the request body is over the in-memory buffer (lua_body_buffer_size)")
            return plugin.exit(413, { message = "request body too large to decrypt" })
        end
        if data ~= nil then
            if conf.base64 then
                data = ngx.decode_base64(data)
                if not data then
                    return refuse("invalid request body", "the body is not base64", id)
                end
            end
            local plain, err = decrypt(key, data)
            if not plain then
                return refuse("invalid request body", "decrypting the body: " .. err, id)
            end
            ngx.req.set_body_data(plain)
        end
    end
    -- The upstream speaks plain: no key id, and an uncompressed response
    -- (the response is encrypted as sent).
    ngx.req.clear_header(conf.key_id_header)
    if conf.encrypt_response then
        ngx.req.clear_header("Accept-Encoding")
        ctx.body_crypto_key, ctx.body_crypto_id = key, id
    end
end

function _M.header_filter(conf, ctx)
    -- Caches must keep the plain and encrypted versions apart.
    ngx.resp.add_header("Vary", conf.key_id_header)
    if not ctx.body_crypto_key then
        return
    end
    local status = ngx.status
    if status == 204 or status == 304 or ngx.req.get_method() == "HEAD" then
        ctx.body_crypto_key = nil -- no body to encrypt
        return
    end
    ngx.header.content_length = nil
    ngx.header[conf.key_id_header] = ctx.body_crypto_id
    -- An upstream that compressed anyway: the sealed body is not gzip (a
    -- client would try to inflate it); the plain body's encoding is said
    -- in X-Plain-Content-Encoding instead.
    local ce = ngx.header["Content-Encoding"]
    if ce then
        ngx.header["Content-Encoding"] = nil
        ngx.header["X-Plain-Content-Encoding"] = ce
    end
    ctx.body_crypto_buf = {}
end

function _M.body_filter(conf, ctx)
    local buf = ctx.body_crypto_buf
    if not buf then
        return
    end
    local chunk, eof = ngx.arg[1], ngx.arg[2]
    if chunk ~= "" then
        buf[#buf + 1] = chunk
    end
    if not eof then
        ngx.arg[1] = nil
        return
    end
    ctx.body_crypto_buf = nil
    local sealed = encrypt(ctx.body_crypto_key, concat(buf))
    if conf.base64 then
        sealed = ngx.encode_base64(sealed)
    end
    ngx.arg[1] = sealed
end

return _M
