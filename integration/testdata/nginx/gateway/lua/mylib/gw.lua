local _M = { tag = "gw-1" }
return _M
