local _M = {}
function _M.hello(name)
    return "hello, " .. name
end
return _M
