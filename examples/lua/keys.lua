-- A module loaded once per Lua state with `require`; its table is the
-- module-level state OpenResty users keep in modules.
local _M = {}

local owners = {
    ["demo-key"] = "alice",
    ["other-key"] = "bob",
}

function _M.owner(key)
    return owners[key]
end

return _M
