package integration

import "testing"

// lua-nginx-module t/008-today.t, t/012-now.t, t/029-http-time.t,
// t/021-cookie-time.t, t/019-const.t and t/069-null.t, rebuilt. The
// set_by_lua blocks are set_by_lua here too; their `echo $a` is a
// content_by_lua printing the variable.
func TestOpenRestyTime(t *testing.T) {
	const today = "lua-nginx-module t/008-today.t "
	const now = "lua-nginx-module t/012-now.t "
	const ht = "lua-nginx-module t/029-http-time.t "
	const ct = "lua-nginx-module t/021-cookie-time.t "
	const cn = "lua-nginx-module t/019-const.t "
	const null = "lua-nginx-module t/069-null.t "
	const date = `^\d{4}-\d{2}-\d{2}\n$`
	const stamp = `^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n$`
	const secs = `^\d{10,}\n$`
	const msecs = `^\d{10,}(\.\d{1,3})?\n$`
	orSuite(t, "", []orCase{
		{src: today + "TEST 1: use ngx.today in content_by_lua", content: `ngx.say(ngx.today())`, bodyRe: date},
		{src: today + "TEST 2: use ngx.today in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.today()`}}, content: `ngx.say(ngx.var.res)`, bodyRe: date},

		{src: now + "TEST 1: use ngx.localtime in content_by_lua", content: `ngx.say(ngx.localtime())`, bodyRe: stamp},
		{src: now + "TEST 2: use ngx.localtime in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.localtime()`}}, content: `ngx.say(ngx.var.res)`, bodyRe: stamp},
		{src: now + "TEST 3: use ngx.time in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.time()`}}, content: `ngx.say(ngx.var.res)`, bodyRe: secs},
		{src: now + "TEST 4: use ngx.time in content_by_lua", content: `ngx.say(ngx.time())`, bodyRe: secs},
		{src: now + "TEST 5: use ngx.time in content_by_lua",
			content: `ngx.say(ngx.time())
ngx.say(ngx.localtime())
ngx.say(ngx.utctime())
ngx.say(ngx.cookie_time(ngx.time()))`,
			bodyRe: `^\d{10,}\n\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\n\w+, .*? GMT\n$`},
		{src: now + "TEST 6: use ngx.now in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.now()`}}, content: `ngx.say(ngx.var.res)`, bodyRe: msecs},
		{src: now + "TEST 7: use ngx.now in content_by_lua", content: `ngx.say(ngx.now())`, bodyRe: msecs},
		{src: now + "TEST 8: use ngx.update_time & ngx.now in content_by_lua", content: `ngx.update_time() ngx.say(ngx.now())`, bodyRe: msecs},

		{src: ht + "TEST 1: http_time in content_by_lua", content: `ngx.say(ngx.http_time(1290079655))`, body: "Thu, 18 Nov 2010 11:27:35 GMT\n"},
		{src: ht + "TEST 2: http_time in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.http_time(1290079655)`}}, content: `ngx.say(ngx.var.res)`, body: "Thu, 18 Nov 2010 11:27:35 GMT\n"},
		{src: ht + "TEST 3: parse_http_time in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT")`}}, content: `ngx.say(ngx.var.res)`, body: "1290079655\n"},
		{src: ht + "TEST 4: parse_http_time in content_by_lua", content: `ngx.say(ngx.parse_http_time("Thu, 18 Nov 2010 11:27:35 GMT"))`, body: "1290079655\n"},
		{src: ht + "TEST 5: bad arg for parse_http_time in content_by_lua", content: `ngx.say(ngx.parse_http_time("abc") or "nil")`, body: "nil\n"},

		{src: ct + "TEST 1: cookie_time", content: `ngx.say(ngx.cookie_time(1290079655))`, body: "Thu, 18-Nov-10 11:27:35 GMT\n"},
		{src: ct + "TEST 2: cookie_time in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.cookie_time(1290079655)`}}, content: `ngx.say(ngx.var.res)`, body: "Thu, 18-Nov-10 11:27:35 GMT\n"},

		{src: cn + "TEST 1: sanity", content: `ngx.say(ngx.OK) ngx.say(ngx.AGAIN) ngx.say(ngx.DONE) ngx.say(ngx.ERROR)`, body: "0\n-2\n-4\n-1\n"},
		{src: cn + "TEST 2: http constants", content: `ngx.say(ngx.HTTP_GATEWAY_TIMEOUT)`, body: "504\n"},

		{src: null + "TEST 1: compare ngx.null with cjson.null",
			content: `local cjson = require "cjson"
ngx.say(cjson.null == ngx.null)
ngx.say(cjson.encode(ngx.null))`,
			body: "true\nnull\n"},
		{src: null + "TEST 2: output ngx.null", content: `ngx.say("ngx.null: ", ngx.null)`, body: "ngx.null: null\n"},
		{src: null + "TEST 3: output ngx.null in a table", content: `ngx.say({"ngx.null: ", ngx.null})`, body: "ngx.null: null\n"},
		{src: null + "TEST 4: log ngx.null", content: `print("ngx.null: ", ngx.null) ngx.say("done")`,
			body: "done\n", errLog: []string{"ngx.null: null"}},
	})
}
