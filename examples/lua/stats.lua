-- Reports the counters the log phase keeps.
local cjson = require "cjson"
local stats = ngx.shared.stats
local out = {}
for _, k in ipairs(stats:get_keys(0)) do
    out[k] = stats:get(k)
end
ngx.header.content_type = "application/json"
ngx.say(cjson.encode(out))
