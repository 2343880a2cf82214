package integration

import "testing"

// lua-nginx-module t/030-uri-args.t, rebuilt. The blocks' `echo $uri?$args`
// is a content_by_lua printing the same; their upstreams echoing
// $query_string are the test backend, which answers with its request line.
func TestOpenRestyURIArgs(t *testing.T) {
	const f = "lua-nginx-module t/030-uri-args.t "
	dump := func(call string) string {
		return coreArgsLua + "\ndump(" + call + ")\n"
	}
	const upstream = "proxy_pass http://@BACKEND@"
	const echoURI = `ngx.say("foo: ", ngx.var.uri, "?", ngx.var.args)`
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: sanity", content: dump("ngx.req.get_uri_args()"), req: "GET /t?a=3&b=4&c", body: "a = 3\nb = 4\nc = true\n"},
		{src: f + "TEST 2: args take no value", content: dump("ngx.req.get_uri_args()"), req: "GET /t?foo&baz=&bar=42",
			body: "bar = 42\nbaz = \nfoo = true\n"},
		{src: f + "TEST 3: arg key and value escaped", content: dump("ngx.req.get_uri_args()") + `ngx.say("again...")` + "\ndump(ngx.req.get_uri_args())",
			req: "GET /t?%3d&b%20r=4%61+2", body: "= = true\nb r = 4a 2\nagain...\n= = true\nb r = 4a 2\n"},
		{src: f + "TEST 4: empty", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`, body: "done\n"},
		{src: f + "TEST 5: empty arg, but with = and &", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`,
			req: "GET /t?=&&", body: "done\n"},
		{src: f + "TEST 6: multi-value keys", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`,
			req: "GET /t?foo=32&foo==&foo=baz", body: "foo = [32, =, baz]\ndone\n"},
		{src: f + "TEST 7: multi-value keys", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`,
			req: "GET /t?foo=32&foo==&bar=baz", body: "bar = baz\nfoo = [32, =]\ndone\n"},
		{src: f + "TEST 8: empty arg", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`, req: "GET /t?&=", body: "done\n"},
		{src: f + "TEST 9: = in value", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`, req: "GET /t?foo===",
			body: "foo = ==\ndone\n"},
		{src: f + "TEST 10: empty key, but non-empty values", content: dump("ngx.req.get_uri_args()") + `ngx.say("done")`,
			req: "GET /t?=hello&=world", body: "done\n"},
		{src: f + "TEST 11: updating args with $args", content: dump("ngx.req.get_uri_args()") + `
ngx.say("updating args...")
ngx.var.args = "a=3&b=4"
dump(ngx.req.get_uri_args())
ngx.say("done")`, req: "GET /t?foo=bar", body: "foo = bar\nupdating args...\na = 3\nb = 4\ndone\n"},
		{src: f + "TEST 15: rewrite (break cycle explicitly)", rewrite: `
ngx.req.set_uri("/bar")
ngx.req.set_uri_args("hello")`, content: echoURI, req: "GET /foo?world", body: "foo: /bar?hello\n"},
		{src: f + "TEST 16: rewrite uri (zero-length)", rewrite: `
local res, err = pcall(ngx.req.set_uri, "")
print("rewrite: err: ", err)`, content: echoURI, req: "GET /foo?world", body: "foo: /foo?world\n",
			logs: []string{"rewrite: err: attempt to use zero-length uri"}},
		{src: f + "TEST 17: rewrite uri and args", rewrite: `
ngx.req.set_uri_args("hello")
ngx.req.set_uri("/bar")`, resty: upstream, req: "GET /foo?world", bodyRe: `^GET /bar\?hello HTTP/1\.1\n`},
		{src: f + "TEST 18: rewrite uri and args (table args)", rewrite: `
ngx.req.set_uri("/bar")
ngx.req.set_uri_args({["ca t"] = "%"})`, resty: upstream, req: "GET /foo?world", bodyRe: `^GET /bar\?ca%20t=%25 HTTP/1\.1\n`},
		{src: f + "TEST 20: ngx.req.set_uri with jump not allowed in access phase", access: `
local res, err = pcall(ngx.req.set_uri, "/bar", true);
ngx.var.err = err`, content: `ngx.say("err: ", ngx.var.err)`, req: "GET /foo?world",
			body: "err: API disabled in the context of access_by_lua*\n"},
		{src: f + "TEST 21: ngx.req.set_uri without jump allowed in access phase", access: `ngx.req.set_uri("/bar")`,
			content: `ngx.say("uri: ", ngx.var.uri)`, req: "GET /foo?world", body: "uri: /bar\n"},
		{src: f + "TEST 22: ngx.req.set_uri with jump not allowed in content phase", content: `
local res, err = pcall(ngx.req.set_uri, "/bar", true);
ngx.say("err: ", err)`, req: "GET /foo?world", body: "err: API disabled in the context of content_by_lua*\n"},
		{src: f + "TEST 23: ngx.req.set_uri without jump allowed in content phase", content: `
ngx.req.set_uri("/bar")
ngx.say("uri: ", ngx.var.uri)`, req: "GET /foo?world", body: "uri: /bar\n"},
		{src: f + "TEST 26: ngx.encode_args (empty table)", content: `
local t = {a = nil}
ngx.say("args:" .. ngx.encode_args(t))`, body: "args:\n"},
		{src: f + "TEST 27: ngx.encode_args (value is table)", content: `
local t = {a = {9, 2}, b = 3}
ngx.say("args:" .. ngx.encode_args(t))`, bodyRe: `^args:(a=9&a=2&b=3|b=3&a=9&a=2)\n$`},
		{src: f + "TEST 28: ngx.encode_args (boolean values)", content: `
local t = {a = true, foo = 3}
ngx.say("args: " .. ngx.encode_args(t))`, bodyRe: `^args: (?:a&foo=3|foo=3&a)\n$`},
		{src: f + "TEST 29: ngx.encode_args (boolean values, false)", content: `
local t = {a = false, foo = 3}
ngx.say("args: " .. ngx.encode_args(t))`, body: "args: foo=3\n"},
		{src: f + "TEST 32: ngx.encode_args (empty table)", content: `
local t = {}
ngx.say("args: ", ngx.encode_args(t))`, body: "args: \n"},
		{src: f + "TEST 34: max args (limited after normal key=value)", content: dump("ngx.req.get_uri_args(2)"),
			req: "GET /t?foo=3&bar=4&baz=2", body: "err: truncated\nbar = 4\nfoo = 3\n"},
		{src: f + "TEST 35: max args (limited after an orphan key)", content: dump("ngx.req.get_uri_args(2)"),
			req: "GET /t?foo=3&bar&baz=2", body: "err: truncated\nbar = true\nfoo = 3\n"},
		{src: f + "TEST 36: max args (limited after an empty key, but non-empty values)", content: dump("ngx.req.get_uri_args(2)") + `ngx.say("done")`,
			req: "GET /t?foo=3&=hello&=world", body: "err: truncated\nfoo = 3\ndone\n"},
		{src: f + "TEST 37: default max 100 args", content: dump("ngx.req.get_uri_args()"),
			req: "GET /t?" + manyArgs(102), body: "err: truncated\n" + manyArgsBody(100)},
		{src: f + "TEST 38: custom max 102 args", content: dump("ngx.req.get_uri_args(102)"),
			req: "GET /t?" + manyArgs(103), body: "err: truncated\n" + manyArgsBody(102)},
		{src: f + "TEST 39: custom unlimited args", content: dump("ngx.req.get_uri_args(0)"),
			req: "GET /t?" + manyArgs(105), body: manyArgsBody(105)},
		{src: f + "TEST 40: rewrite uri and args (multi-value args)", rewrite: `
ngx.req.set_uri_args({a = 3, b = {5, 6}})
ngx.req.set_uri("/bar")`, resty: upstream, req: "GET /foo?world", bodyRe: `^GET /bar\?(a=3&b=5&b=6|b=5&b=6&a=3|b=6&b=5&a=3) HTTP/1\.1\n`},
		{src: f + "TEST 41: ngx.decode_args (sanity)", content: `
local err
local args = "a=bar&b=foo"
args, err = ngx.decode_args(args)
if err then ngx.say("err: ", err) end
ngx.say("a = ", args.a)
ngx.say("b = ", args.b)`, body: "a = bar\nb = foo\n"},
		{src: f + "TEST 42: ngx.decode_args (multi-value)", content: `
local err
local args = "a=bar&b=foo&a=baz"
args, err = ngx.decode_args(args)
if err then ngx.say("err: ", err) end
ngx.say("a = ", table.concat(args.a, ", "))
ngx.say("b = ", args.b)`, body: "a = bar, baz\nb = foo\n"},
		{src: f + "TEST 43: ngx.decode_args (empty string)", content: `
local err
local args = ""
args, err = ngx.decode_args(args)
if err then ngx.say("err: ", err) end
ngx.say("n = ", #args)`, body: "n = 0\n"},
		{src: f + "TEST 44: ngx.decode_args (boolean args)", content: `
local err
local args = "a&b"
args, err = ngx.decode_args(args)
if err then ngx.say("err: ", err) end
ngx.say("a = ", args.a)
ngx.say("b = ", args.b)`, body: "a = true\nb = true\n"},
		{src: f + "TEST 45: ngx.decode_args (empty value args)", content: `
local err
local args = "a=&b="
args, err = ngx.decode_args(args)
if err then ngx.say("err: ", err) end
ngx.say("a = ", args.a)
ngx.say("b = ", args.b)`, body: "a = \nb = \n"},
		{src: f + "TEST 46: ngx.decode_args (max_args = 1)", content: `
local err
local args = "a=bar&b=foo"
args, err = ngx.decode_args(args, 1)
if err then ngx.say("err: ", err) end
ngx.say("a = ", args.a)
ngx.say("b = ", args.b)`, body: "err: truncated\na = bar\nb = nil\n"},
		{src: f + "TEST 47: ngx.decode_args (max_args = -1)", content: `
local err
local args = "a=bar&b=foo"
args, err = ngx.decode_args(args, -1)
if err then ngx.say("err: ", err) end
ngx.say("a = ", args.a)
ngx.say("b = ", args.b)`, body: "a = bar\nb = foo\n"},
		{src: f + "TEST 48: ngx.decode_args should not modify lua strings in place", content: `
local s = "f+f=bar&B=foo"
local args, err = ngx.decode_args(s)
if err then ngx.say("err: ", err) end
local arr = {}
for k, v in pairs(args) do
    table.insert(arr, k)
end
table.sort(arr)
for i, k in ipairs(arr) do
    ngx.say("key: ", k)
end
ngx.say("s = ", s)`, body: "key: B\nkey: f f\ns = f+f=bar&B=foo\n"},
		{src: f + "TEST 55: rewrite uri and args (boolean in multi-value args)", rewrite: `
ngx.req.set_uri_args({a = 3, b = {5, true, 6}})
ngx.req.set_uri("/bar")`, resty: upstream, req: "GET /foo?world", bodyRe: `^GET /bar\?(a=3&b=5&b&b=6|b=5&b&b=6&a=3) HTTP/1\.1\n`},
		{src: f + "TEST 56: rewrite uri and args (boolean value)", rewrite: `
ngx.req.set_uri_args({a = 3, b = true})
ngx.req.set_uri("/bar")`, resty: upstream, req: "GET /foo?world", bodyRe: `^GET /bar\?(a=3&b|b&a=3) HTTP/1\.1\n`},
		{src: f + "TEST 58: set_uri with unsafe uri (with '\\t')", content: `
local new_uri = "/foo\tbar"
ngx.req.set_uri(new_uri)
ngx.say(ngx.var.uri)`, body: "/foo\tbar\n"},
		{src: f + "TEST 59: set_uri with unsafe uri (with '\\0')", content: `
local new_uri = '\0foo'
ngx.req.set_uri(new_uri, false, true)
ngx.say(ngx.var.uri)`, bodyRe: "\x00foo"},
		{src: f + "TEST 60: set_uri with safe uri (with ' ')", rewrite: `
local new_uri = "/foo bar"
ngx.req.set_uri(new_uri)`, resty: upstream, bodyRe: `^GET /foo%20bar HTTP/1\.1\n`},
		{src: f + "TEST 61: set_uri_args with boolean", rewrite: `
ngx.req.set_uri_args(true)
ngx.req.set_uri("/bar", true)`, req: "GET /foo?world", status: 500, anyBody: true,
			logs: []string{"bad argument #1 to 'set_uri_args' (string, number, or table expected, but got boolean)"}},
		{src: f + "TEST 62: set_uri_args with nil", rewrite: `
ngx.req.set_uri_args(nil)
ngx.req.set_uri("/bar", true)`, req: "GET /foo?world", status: 500, anyBody: true,
			logs: []string{"bad argument #1 to 'set_uri_args' (string, number, or table expected, but got nil)"}},
		{src: f + "TEST 63: set_uri_args with userdata", rewrite: `
ngx.req.set_uri_args(ngx.null)
ngx.req.set_uri("/bar", true)`, req: "GET /foo?world", status: 500, anyBody: true,
			logs: []string{"bad argument #1 to 'set_uri_args' (string, number, or table expected, but got userdata)"}},
		{src: f + "TEST 64: set_uri binary option with unsafe uri", rewrite: `
local new_uri = "/foo\r\nbar"
ngx.req.set_uri(new_uri, false, true)`, resty: upstream, bodyRe: `^GET /foo%0D%0Abar HTTP/1\.1\n`},
		{src: f + "TEST 65: set_uri binary option with unsafe uri", rewrite: `
local new_uri = "/foo\r\nbar"
ngx.req.set_uri(new_uri, false, false)`, resty: upstream, status: 500, anyBody: true,
			logs: []string{`_rewrite.lua:3: unsafe byte "0x0d" in uri "/foo\x0D\x0Abar" (maybe you want to set the 'binary' argument?)`}},
		{src: f + "TEST 66: set_uri binary option with safe uri", rewrite: `
local new_uri = "/foo bar"
ngx.req.set_uri(new_uri, false, true)`, resty: upstream, bodyRe: `^GET /foo%20bar HTTP/1\.1\n`},
	})
}
