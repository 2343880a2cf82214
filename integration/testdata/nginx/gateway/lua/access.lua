-- Server-level access phase of the gateway test config: a module from
-- lua_package_path tags the response; ?deny=1 is refused.
local gw = require "mylib.gw"
if ngx.var.arg_deny == "1" then
    return ngx.exit(403)
end
ngx.header["X-Lib"] = gw.tag
