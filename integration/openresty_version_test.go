package integration

import "testing"

// lua-nginx-module t/121-version.t and t/161-load-resty-core.t, rebuilt.
func TestOpenRestyVersion(t *testing.T) {
	const src = "lua-nginx-module "
	// coreLoaded compares what package.loaded had with what require gives.
	const coreLoaded = `
local before = package.loaded["resty.core"]
local core = require "resty.core"
ngx.say("resty.core loaded: ", before == core)`
	engSuite(t, "", nil, []engCase{
		{src: src + "t/121-version.t TEST 1: nginx version",
			content: `ngx.say("version: ", ngx.config.nginx_version)`,
			engReq:  engReq{bodyRe: `^version: \d+\n$`},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/121-version.t TEST 2: ngx_lua_version",
			content: `ngx.say("version: ", ngx.config.ngx_lua_version)`,
			engReq:  engReq{bodyRe: `^version: \d+\n$`},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/161-load-resty-core.t TEST 1: resty.core is automatically loaded in the Lua VM",
			content: coreLoaded,
			engReq:  engReq{body: "resty.core loaded: true\n"},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/161-load-resty-core.t TEST 2: resty.core is automatically loaded in the Lua VM when 'lua_shared_dict' is used",
			// The suite's Caddy declares the shared dict d.
			content: coreLoaded,
			engReq:  engReq{body: "resty.core loaded: true\n"},
			noLogs:  []engLog{elog("error", "")}},
	})
}
