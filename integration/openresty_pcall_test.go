package integration

import "testing"

// lua-nginx-module t/064-pcall.t, rebuilt.
func TestOpenRestyPcall(t *testing.T) {
	const src = "lua-nginx-module t/064-pcall.t "
	// zeroCheck fails with "zero error" when both arguments are 0.
	const zeroCheck = `
local function check(x, y)
    if x == 0 and y == 0 then
        error("zero error")
    end
    return 23, "hello", true
end
`
	engSuite(t, "", nil, []engCase{
		{src: src + "TEST 1: pcall works",
			content: zeroCheck + `
local res = {pcall(check, 0, 0)}
ngx.say("res len: ", #res)
ngx.say("res: ", unpack(res))
res = {pcall(check, 0)}
ngx.say("res len: ", #res)
ngx.say("res: ", unpack(res))`,
			engReq: engReq{bodyRe: `^res len: 2\nres: false/\S+/c\d+_content\.lua:4: zero error\nres len: 4\nres: true23hellotrue\n$`},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 2: xpcall works",
			content: zeroCheck + `
local function both() return check(0, 0) end
local function one() return check(0) end
local function handler(...)
    ngx.say("error handler called: ", ...)
    return "this is the new err"
end
local res = {xpcall(both, handler)}
ngx.say("res len: ", #res)
ngx.say("res: ", unpack(res))
res = {xpcall(one, handler)}
ngx.say("res len: ", #res)
ngx.say("res: ", unpack(res))`,
			engReq: engReq{bodyRe: `^error handler called: /\S+/c\d+_content\.lua:4: zero error\nres len: 2\nres: falsethis is the new err\nres len: 4\nres: true23hellotrue\n$`},
			noLogs: []engLog{elog("error", "")}},
	})
}
