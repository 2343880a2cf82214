package integration

import "testing"

// lua-nginx-module t/004-require.t, rebuilt (one Lua state, so that the
// later requests see the module the first one loaded).
func TestOpenRestyRequire(t *testing.T) {
	const src = "lua-nginx-module t/004-require.t "
	files := map[string]string{
		// A Lua 5.1 style module: module(), a global function.
		"greeter.lua": `module(..., package.seeall);

ngx.say("loading");

function hi ()
    ngx.say("hello, foo")
end;
`,
	}
	engSuite(t, "lua_max_states 1\nlua_package_path @DIR@/?.lua", files, []engCase{
		{src: src + "TEST 1: sanity (/load, then /check twice)",
			content: `
if ngx.var.uri == "/load" then
    package.loaded.greeter = nil
    collectgarbage()
    local greeter = require "greeter"
    greeter.hi()
    return
end
local greeter = package.loaded.greeter
if greeter then
    ngx.say("found")
    greeter.hi()
else
    ngx.say("not found")
end`,
			engReq: engReq{request: "GET /load", body: elines("loading", "hello, foo")},
			more: []engReq{
				{request: "GET /check", body: elines("found", "hello, foo")},
				{request: "GET /check", body: elines("found", "hello, foo")},
			}},

		{src: src + "TEST 7: require \"ngx\" (content_by_lua)",
			content: `
local n = require "ngx"
n.say("hello, world")`,
			engReq: engReq{body: "hello, world\n"}},

		{src: src + "TEST 8: require \"ngx\" (set_by_lua)",
			set: []orSet{{v: "res", lua: `
local n = require "ngx"
return n.escape_uri(" ")`}},
			content: `ngx.say(ngx.var.res)`,
			engReq:  engReq{body: "%20\n"}},
	})
}
