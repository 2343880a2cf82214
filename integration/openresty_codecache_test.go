package integration

import (
	"fmt"
	"testing"
)

// lua-nginx-module t/025-codecache.t, rebuilt: the blocks with the code
// cache on, caddy-resty's only mode (a changed *_by_lua_file script or
// module is picked up by POST /resty/lua/reload or a config reload, not on
// the next request). The blocks with lua_code_cache off are not ported.
func TestOpenRestyCodeCache(t *testing.T) {
	const src = "lua-nginx-module t/025-codecache.t "
	files := map[string]string{
		"cc_mod.lua": "module(..., package.seeall); return 32;",
	}
	hello := `ngx.log(ngx.INFO, "hello")`
	// ran checks that the case's script name logged hello from line 1.
	ran := func(script string) engLog {
		return elogRe("info", fmt.Sprintf(`(?s)^hello\n\S*c\d+_%s\.lua:1$`, script))
	}
	engSuite(t, "lua_max_states 1\nlua_package_path @DIR@/?.lua", files, []engCase{
		{src: src + "TEST 1: code cache on by default",
			content: "ngx.say(32)\n",
			engReq:  engReq{body: "32\n"},
			more: []engReq{{body: "32\n", before: func(t *testing.T, c engCtx) {
				c.write(t, "content", "ngx.say(101)")
			}}}},

		{src: src + "TEST 9: code cache explicitly on (affects require) + set_by_lua_file",
			set:     []orSet{{v: "a", lua: `return require "cc_mod"`}},
			content: `ngx.say(ngx.var.a)`,
			engReq:  engReq{body: "32\n"},
			more: []engReq{{body: "32\n", before: func(t *testing.T, c engCtx) {
				c.write(t, "cc_mod.lua", "module(..., package.seeall); return 102;")
			}}}},

		{src: src + "TEST 11: code cache explicitly on + set_by_lua_file",
			set:     []orSet{{v: "a", lua: "return 32\n"}},
			content: `ngx.say(ngx.var.a)`,
			engReq:  engReq{body: "32\n"},
			more: []engReq{{body: "32\n", before: func(t *testing.T, c engCtx) {
				c.write(t, "set0", "return 101")
			}}}},

		{src: src + "TEST 41: same chunk from different directives produces different closures",
			set: []orSet{{v: "res", lua: hello}},
			phases: map[string]string{"rewrite": hello, "access": hello, "content": hello,
				"header_filter": hello, "body_filter": hello, "log": hello},
			engReq: engReq{body: ""},
			logs: []engLog{ran("set0"), ran("rewrite"), ran("access"), ran("content"),
				ran("header_filter"), ran("body_filter"), ran("log")},
			noLogs: []engLog{elog("error", "")}},
	})
}
