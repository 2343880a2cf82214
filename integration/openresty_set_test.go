package integration

import "testing"

// lua-nginx-module t/001-set.t, rebuilt. nginx's `echo $res` is a content
// phase printing ngx.var.res; nginx's `set $b 32` an earlier set_by_lua.
// Left out: TEST 9 and 30 (nginx refuses to write a variable no `set`
// declared; here ngx.var.NAME = v sets a Caddy variable), 17, 18 and 21
// (ngx.location.capture*, ngx.exec: not supported in any phase), 25
// (ngx.req.socket: not supported), 28 ($limit_rate), 29 ($args via
// nginx's set), 34 (a variable as the file path), 39-44 (server and if
// scopes: nginx config structure), 45 (backtrace format), 46 (a missing
// file is refused at config load here).
func TestOpenRestySet(t *testing.T) {
	const echoRes = `ngx.say(ngx.var.res)`
	disabled := func(src, code string) orCase {
		return orCase{src: src, set: []orSet{{v: "res", lua: code}}, content: echoRes,
			status: 500, skipBody: true, errLog: []string{"API disabled in the context of set_by_lua*"}}
	}
	// TEST 38's module.
	files := map[string]string{"setfoo.lua": "module(\"setfoo\", package.seeall)\n\nfunction go()\n    return ngx.arg[1] + ngx.arg[2]\nend\n"}
	orSuiteFiles(t, "\t\tlua_package_path @DIR@/?.lua", files, []orCase{
		{src: "lua-nginx-module t/001-set.t TEST 1: simple set (integer)",
			set: []orSet{{v: "res", lua: `return 1+1`}}, content: echoRes, body: "2\n"},
		{src: "lua-nginx-module t/001-set.t TEST 2: simple set (string)",
			set: []orSet{{v: "res", lua: `return 'hello' .. 'world'`}}, content: echoRes, body: "helloworld\n"},
		{src: "lua-nginx-module t/001-set.t TEST 3: internal only",
			set:     []orSet{{v: "res", lua: `local function fib(n) if n > 2 then return fib(n-1)+fib(n-2) else return 1 end end return fib(10)`}},
			content: echoRes, body: "55\n"},
		{src: "lua-nginx-module t/001-set.t TEST 4: inlined script with arguments",
			set:     []orSet{{v: "$res", lua: `return ngx.arg[1] + ngx.arg[2]`, args: []string{"$arg_a", "$arg_b"}}},
			content: echoRes, request: "GET /t?a=1&b=2", body: "3\n"},
		{src: "lua-nginx-module t/001-set.t TEST 5: fib by arg",
			set:     []orSet{{v: "res", lua: `local function fib(n) if n > 2 then return fib(n-1)+fib(n-2) else return 1 end end return fib(tonumber(ngx.arg[1]))`, args: []string{"$arg_n"}}},
			content: echoRes, request: "GET /fib?n=10", body: "55\n"},
		{src: "lua-nginx-module t/001-set.t TEST 6: adder",
			set: []orSet{{v: "res", lua: "local a = tonumber(ngx.arg[1])\n local b = tonumber(ngx.arg[2])\n return a + b",
				args: []string{"$arg_a", "$arg_b"}}},
			content: echoRes, request: "GET /adder?a=25&b=75", body: "100\n"},
		{src: "lua-nginx-module t/001-set.t TEST 7: read nginx variables directly from within Lua",
			set:     []orSet{{v: "b", lua: `return 32`}, {v: "a", lua: `return tonumber(ngx.var.b) + 1`}},
			content: `ngx.say("a = ", ngx.var.a)`, body: "a = 33\n"},
		{src: "lua-nginx-module t/001-set.t TEST 8: set nginx variables directly from within Lua",
			set:     []orSet{{v: "b", lua: `return ""`}, {v: "a", lua: `ngx.var.b = 32; return 7`}},
			content: `ngx.say("a = ", ngx.var.a) ngx.say("b = ", ngx.var.b)`, body: "a = 7\nb = 32\n"},
		{src: "lua-nginx-module t/001-set.t TEST 10: set quote sql str",
			set:     []orSet{{v: "a", lua: `return ""`}, {v: "a", lua: `return ngx.quote_sql_str(ngx.var.a)`}},
			content: `ngx.say(ngx.var.a)`, body: "''\n"},
		{src: "lua-nginx-module t/001-set.t TEST 11: set md5",
			set: []orSet{{v: "a", lua: `return ngx.md5("hello")`}}, content: `ngx.say(ngx.var.a)`,
			body: "5d41402abc4b2a76b9719d911017c592\n"},
		disabled("lua-nginx-module t/001-set.t TEST 12: no ngx.print", `ngx.print(32) return 1`),
		disabled("lua-nginx-module t/001-set.t TEST 13: no ngx.say", `ngx.say(32) return 1`),
		disabled("lua-nginx-module t/001-set.t TEST 14: no ngx.flush", `ngx.flush()`),
		disabled("lua-nginx-module t/001-set.t TEST 15: no ngx.eof", `ngx.eof()`),
		disabled("lua-nginx-module t/001-set.t TEST 16: no ngx.send_headers", `ngx.send_headers()`),
		disabled("lua-nginx-module t/001-set.t TEST 19: no ngx.exit", `ngx.exit(0)`),
		disabled("lua-nginx-module t/001-set.t TEST 20: no ngx.redirect", `ngx.redirect("/blah")`),
		disabled("lua-nginx-module t/001-set.t TEST 22: no ngx.req.set_uri(uri, true)", `ngx.req.set_uri("/blah", true)`),
		{src: "lua-nginx-module t/001-set.t TEST 23: ngx.req.set_uri(uri) exists",
			set: []orSet{{v: "res", lua: `ngx.req.set_uri("/blah") return 1`}}, content: `ngx.say(ngx.var.uri)`,
			request: "GET /t", body: "/blah\n"},
		disabled("lua-nginx-module t/001-set.t TEST 24: no ngx.req.read_body()", `ngx.req.read_body()`),
		disabled("lua-nginx-module t/001-set.t TEST 26: no ngx.socket.tcp()", `return ngx.socket.tcp()`),
		disabled("lua-nginx-module t/001-set.t TEST 27: no ngx.socket.connect()", `return ngx.socket.connect("127.0.0.1", 80)`),
		{src: "lua-nginx-module t/001-set.t TEST 31: symbol $ in lua code of set_by_lua",
			set: []orSet{{v: "res", lua: `return "$unknown"`}}, content: echoRes, body: "$unknown\n"},
		{src: "lua-nginx-module t/001-set.t TEST 33: external script files with arguments",
			set:     []orSet{{v: "res", lua: `return ngx.arg[1] + ngx.arg[2]`, args: []string{"$arg_a", "$arg_b"}}},
			content: echoRes, request: "GET /t?a=5&b=2", body: "7\n"},
		{src: "lua-nginx-module t/001-set.t TEST 35: lua error (string)",
			set: []orSet{{v: "res", lua: `error("Bad")`}}, content: echoRes,
			status: 500, skipBody: true, errLog: []string{":1: Bad"}},
		{src: "lua-nginx-module t/001-set.t TEST 36: lua error (nil)",
			set: []orSet{{v: "res", lua: `error(nil)`}}, content: echoRes, status: 500, skipBody: true},
		{src: "lua-nginx-module t/001-set.t TEST 37: globals are shared in all requests",
			set:     []orSet{{v: "res", lua: "if not foo then\n foo = 1\nelse\n foo = foo + 1\nend\nreturn foo"}},
			content: echoRes, bodyRe: `\A[12]\n\z`, errLog: []string{"writing a global Lua variable ('foo')"}},
		{src: "lua-nginx-module t/001-set.t TEST 38: user modules using ngx.arg",
			set:     []orSet{{v: "res", lua: `local foo = require "setfoo" return foo.go()`, args: []string{"$arg_a", "$arg_b"}}},
			content: echoRes, request: "GET /t?a=1&b=2", body: "3\n"},
		// Beyond the suite: Caddy placeholders as arguments, and the value
		// as a Caddy variable other handlers read.
		{src: "caddy-resty: set_by_lua with a placeholder argument, read as {http.vars.NAME}",
			set:  []orSet{{v: "greeting", lua: `return "hello " .. ngx.arg[1]`, args: []string{"{http.request.uri.query.who}"}}},
			site: `respond "{http.vars.greeting}"`, request: "GET /x?who=caddy", body: "hello caddy"},
	})
}
