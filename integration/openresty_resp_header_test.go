package integration

import "testing"

// lua-nginx-module t/016-resp-header.t, rebuilt. caddy-resty's
// default_type is text/plain (the blocks' nginx.conf sets text/html or
// text/my-plain); nginx's error pages are not compared.
func TestOpenRestyRespHeader(t *testing.T) {
	const f = "lua-nginx-module t/016-resp-header.t "
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const none = "<absent>"
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: set response content-type header", content: `
ngx.header.content_type = "text/my-plain";
ngx.say("Hi");`, headers: h("Content-Type", "text/my-plain"), body: "Hi\n"},
		{src: f + "TEST 2: set response content-type header (invalid content_length)", content: `
ngx.header.content_length = "text/my-plain";
ngx.say("Hi");`, status: 500, anyBody: true},
		{src: f + "TEST 3: set response content-length header", content: `
ngx.header.content_length = 3
ngx.say("Hello")`, headers: h("Content-Length", "3"), body: "Hel"},
		{src: f + "TEST 4: set response content-type header (Location)", content: `
ngx.status = 302;
ngx.header["Location"] = "http://agentzh.org/foo";`, status: 302, headers: h("Location", "http://agentzh.org/foo"), body: ""},
		{src: f + "TEST 5: set response content-type header (clear content_length)", content: `
ngx.header.content_length = 3
ngx.header.content_length = nil
ngx.say("Hello")`, body: "Hello\n"}, // Go frames a small finished response with a Content-Length of its own
		{src: f + "TEST 6: set multi response content-type header", content: `
ngx.header["X-Foo"] = {"a", "bc"}
ngx.say("Hello")`, headers: h("X-Foo", "a, bc"), body: "Hello\n"},
		{src: f + "TEST 7: set response content-type header (table)", content: `
ngx.header.content_type = {"a", "bc"}
ngx.say("Hello")`, headers: h("Content-Type", "bc"), body: "Hello\n"},
		{src: f + "TEST 8: set multi response content-type header and clears it", content: `
ngx.header["X-Foo"] = {"a", "bc"}
ngx.header["X-Foo"] = {}
ngx.say("Hello")`, headers: h("X-Foo", none), body: "Hello\n"},
		{src: f + "TEST 9: set multi response content-type header and clears it", content: `
ngx.header["X-Foo"] = {"a", "bc"}
ngx.header["X-Foo"] = nil
ngx.say("Hello")`, headers: h("X-Foo", none), body: "Hello\n"},
		{src: f + "TEST 10: set multi response content-type header (multiple times)", content: `
ngx.header["X-Foo"] = {"a", "bc"}
ngx.header["X-Foo"] = {"a", "abc"}
ngx.say("Hello")`, headers: h("X-Foo", "a, abc"), body: "Hello\n"},
		{src: f + "TEST 11: clear first, then add", content: `
ngx.header["Foo"] = {}
ngx.header["Foo"] = {"a", "b"}
ngx.send_headers()`, headers: h("Foo", "a, b"), body: ""},
		{src: f + "TEST 12: first add, then clear, then add again", content: `
ngx.header["Foo"] = {"c", "d"}
ngx.header["Foo"] = {}
ngx.header["Foo"] = {"a", "b"}
ngx.send_headers()`, headers: h("Foo", "a, b"), body: ""},
		{src: f + "TEST 13: names are the same in the beginning (one value per key)", content: `
ngx.header["Foox"] = "barx"
ngx.header["Fooy"] = "bary"
ngx.send_headers()`, headers: h("Foox", "barx", "Fooy", "bary"), body: ""},
		{src: f + "TEST 14: names are the same in the beginning (multiple values per key)", content: `
ngx.header["Foox"] = {"conx1", "conx2" }
ngx.header["Fooy"] = {"cony1", "cony2" }
ngx.send_headers()`, headers: h("Foox", "conx1, conx2", "Fooy", "cony1, cony2"), body: ""},
		{src: f + "TEST 15: set header after ngx.print", content: `
ngx.print("hello")
ngx.header.content_type = "text/foo"`, body: "hello",
			logs: []string{"attempt to set ngx.header.HEADER after sending out response headers"}},
		{src: f + "TEST 17: get content-length header", content: `
ngx.header.content_length = 2;
ngx.say(ngx.header.content_length);`, headers: h("Content-Length", "2"), body: "2\n"},
		{src: f + "TEST 18: get content-length header (foo)", content: `
ngx.header.foo = "bar";
ngx.say(ngx.header.foo);`, headers: h("foo", "bar"), body: "bar\n"},
		{src: f + "TEST 27: get non-existent header", content: `ngx.say(ngx.header.foo);`,
			headers: h("foo", none), body: "nil\n"},
		{src: f + "TEST 28: get non-existent header (cleared)", content: `
ngx.header.foo = {"bah", "baz", "blah"}
ngx.header.foo = nil
ngx.say(ngx.header.foo);`, headers: h("foo", none), body: "nil\n"},
		{src: f + "TEST 30: set single value to cache-control", content: `
ngx.header.cache_control = "private"
ngx.say("Cache-Control: ", ngx.var.sent_http_cache_control)`,
			headers: h("Cache-Control", "private"), body: "Cache-Control: private\n"},
		{src: f + "TEST 31: set multi values to cache-control", content: `
ngx.header.cache_control = { "private", "no-store" }
ngx.say("Cache-Control: ", ngx.var.sent_http_cache_control)`,
			headers: h("Cache-Control", "private, no-store"), bodyRe: `^Cache-Control: private[;,] no-store\n$`},
		{src: f + "TEST 32: set single value to Link header", content: `
ngx.header.link = "</foo.jpg>; rel=preload"
ngx.say("Link: ", ngx.var.sent_http_link)`,
			headers: h("Link", "</foo.jpg>; rel=preload"), body: "Link: </foo.jpg>; rel=preload\n"},
		{src: f + "TEST 33: set multi values to Link header", content: `
ngx.header.link = {
    "</foo.jpg>; rel=preload",
    "</bar.css>; rel=preload; as=style"
}

ngx.say("Link: ", ngx.var.sent_http_link)`,
			headers: h("Link", "</foo.jpg>; rel=preload, </bar.css>; rel=preload; as=style"),
			bodyRe:  `^Link: </foo.jpg>; rel=preload[;,] </bar.css>; rel=preload; as=style\n$`},
		{src: f + "TEST 34: set multi values to cache-control and override it with a single value", content: `
ngx.header.cache_control = { "private", "no-store" }
ngx.header.cache_control = { "no-cache" }
ngx.say("Cache-Control: ", ngx.var.sent_http_cache_control)
ngx.say("Cache-Control: ", ngx.header.cache_control)`,
			headers: h("Cache-Control", "no-cache"), body: "Cache-Control: no-cache\nCache-Control: no-cache\n"},
		{src: f + "TEST 35: set multi values to Link header and override it with a single value", content: `
ngx.header.link = {
    "</foo.jpg>; rel=preload",
    "</bar.css>; rel=preload; as=style"
}
ngx.header.link = "</hello.jpg>; rel=preload"
ngx.say("Link: ", ngx.var.sent_http_link)
ngx.say("Link: ", ngx.header.link)`,
			headers: h("Link", "</hello.jpg>; rel=preload"), body: "Link: </hello.jpg>; rel=preload\nLink: </hello.jpg>; rel=preload\n"},
		{src: f + "TEST 36: set multi values to cache-control and override it with multiple values", content: `
ngx.header.cache_control = { "private", "no-store" }
ngx.header.cache_control = { "no-cache", "blah", "foo" }
ngx.say("Cache-Control: ", ngx.var.sent_http_cache_control)
ngx.say("Cache-Control: ", table.concat(ngx.header.cache_control, ", "))`,
			headers: h("Cache-Control", "no-cache, blah, foo"),
			bodyRe:  `^Cache-Control: no-cache[;,] blah[;,] foo\nCache-Control: no-cache[;,] blah[;,] foo\n$`},
		{src: f + "TEST 37: set multi values to Link header and override it with multiple values", content: `
ngx.header.link = {
    "</foo.jpg>; rel=preload",
    "</bar.css>; rel=preload; as=style"
}
ngx.header.link = {
    "</foo.jpg>; rel=preload",
    "</hello.css>; rel=preload",
    "</bar.css>; rel=preload; as=style"
}
ngx.say("Link: ", ngx.var.sent_http_link)
ngx.say("Link: ", table.concat(ngx.header.link, ", "))`,
			headers: h("Link", "</foo.jpg>; rel=preload, </hello.css>; rel=preload, </bar.css>; rel=preload; as=style"),
			bodyRe:  `^Link: </foo.jpg>; rel=preload[;,] </hello.css>; rel=preload[;,] </bar.css>; rel=preload; as=style\nLink: </foo.jpg>; rel=preload[;,] </hello.css>; rel=preload[;,] </bar.css>; rel=preload; as=style\n$`},
		{src: f + "TEST 38: set the www-authenticate response header", content: `
ngx.header.www_authenticate = "blah"
ngx.say("WWW-Authenticate: ", ngx.var.sent_http_www_authenticate)`,
			headers: h("WWW-Authenticate", "blah"), body: "WWW-Authenticate: blah\n"},
		{src: f + "TEST 39: set and clear the www-authenticate response header", content: `
ngx.header.foo = "blah"
ngx.header.foo = nil
ngx.say("Foo: ", ngx.var.sent_http_foo)`, headers: h("Foo", none), body: "Foo: nil\n"},
		{src: f + "TEST 42: set last-modified and return 200", content: `
ngx.header["Last-Modified"] = ngx.http_time(1290079655)
ngx.say(ngx.header["Last-Modified"])`, hdr: []string{"If-Modified-Since: Thu, 18 Nov 2010 11:27:34 GMTT"},
			headers: h("Last-Modified", "Thu, 18 Nov 2010 11:27:35 GMT"), body: "Thu, 18 Nov 2010 11:27:35 GMT\n"},
		{src: f + "TEST 45: with transform underscores (write)", content: `
ngx.header.foo_bar = "Hello"
ngx.say(ngx.header.foo_bar)
ngx.say(ngx.header["foo-bar"])`, headers: h("Foo-Bar", "Hello"), body: "Hello\nHello\n"},
		{src: f + "TEST 46: github issue #199: underscores in lua variables", content: `
ngx.header.content_type = "text/my-plain"

local results = {}
results.something = "hello"
results.content_type = "anything"
results.something_else = "hi"

local arr = {}
for k in pairs(results) do table.insert(arr, k) end
table.sort(arr)
for i, k in ipairs(arr) do
  ngx.say(k .. ": " .. results[k])
end`, headers: h("Content-Type", "text/my-plain"), body: "content_type: anything\nsomething: hello\nsomething_else: hi\n"},
		{src: f + "TEST 47: set multiple response header", content: `
for i = 1, 50 do
    ngx.header["X-Direct-" .. i] = "text/my-plain-" .. i;
end

ngx.say(ngx.header["X-Direct-50"]);`, body: "text/my-plain-50\n"},
		{src: f + "TEST 48: set multiple response header and then reset and then clear", content: `
for i = 1, 50 do
    ngx.header["X-Direct-" .. i] = "text/my-plain-" .. i;
end

for i = 1, 50 do
    ngx.header["X-Direct-" .. i] = "text/my-plain"
end

for i = 1, 50 do
    ngx.header["X-Direct-" .. i] = nil
end

ngx.say("ok");`, body: "ok\n"},
		{src: f + "TEST 49: set response content-type header for multiple times", content: `
ngx.header.content_type = "text/my-plain";
ngx.header.content_type = "text/my-plain-2";
ngx.say("Hi");`, headers: h("Content-Type", "text/my-plain-2"), body: "Hi\n"},
		{src: f + "TEST 50: set Last-Modified response header for multiple times", content: `
ngx.header.last_modified = ngx.http_time(1290079655)
ngx.header.last_modified = ngx.http_time(1290079654)
ngx.say("ok");`, headers: h("Last-Modified", "Thu, 18 Nov 2010 11:27:34 GMT"), body: "ok\n"},
		{src: f + "TEST 51: set Last-Modified response header and then clear", content: `
ngx.header.last_modified = ngx.http_time(1290079655)
ngx.header.last_modified = nil
ngx.say("ok");`, headers: h("Last-Modified", none), body: "ok\n"},
		{src: f + "TEST 58: clear Cache-Control when there was no Cache-Control", content: `
ngx.header["Cache-Control"] = nil
ngx.say("Cache-Control: ", ngx.var.sent_http_cache_control)`, headers: h("Cache-Control", none), body: "Cache-Control: nil\n"},
		{src: f + "TEST 59: clear Link header when there was no Link", content: `
ngx.header["Link"] = nil
ngx.say("Link: ", ngx.var.sent_http_link)`, headers: h("Link", none), body: "Link: nil\n"},
		{src: f + "TEST 60: set response content-type header (read with a variable key)", content: `
local s = "content_type"
local v = ngx.header[s]
ngx.say("s = ", s)`, body: "s = content_type\n"},
		{src: f + "TEST 61: set a number header name", content: `
ngx.header[32] = "private"
ngx.say("32: ", ngx.var.sent_http_32)`, headers: h("32", "private"), body: "32: private\n"},
		{src: f + "TEST 62: set a number header name (in a table value)", content: `
ngx.header.foo = {32}
ngx.say("foo: ", ngx.var.sent_http_foo)`, headers: h("foo", "32"), body: "foo: 32\n"},
		{src: f + "TEST 63: random access resp headers", content: `
ngx.header["Foo"] = "bar"
ngx.header["Bar"] = "baz"
local headers, err = ngx.resp.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo: ", headers["Foo"] or "nil")
ngx.say("foo: ", headers["foo"] or "nil")
ngx.say("Bar: ", headers["Bar"] or "nil")

headers, err = ngx.resp.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("bar: ", headers["bar"] or "nil")`, headers: h("Foo", "bar", "Bar", "baz"), body: "Foo: bar\nfoo: bar\nBar: baz\nbar: baz\n"},
		{src: f + "TEST 64: iterating through raw resp headers", content: `
ngx.header["Foo"] = "bar"
ngx.header["Bar"] = "baz"

local headers, err = ngx.resp.get_headers(nil, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

local h = {}
for k, v in pairs(headers) do
    h[k] = v
end
ngx.say("Foo: ", h["Foo"] or "nil")
ngx.say("foo: ", h["foo"] or "nil")
ngx.say("Bar: ", h["Bar"] or "nil")
ngx.say("bar: ", h["bar"] or "nil")`, headers: h("Foo", "bar", "Bar", "baz"), body: "Foo: bar\nfoo: nil\nBar: baz\nbar: nil\n"},
		{src: f + "TEST 65: removed response headers", content: `
ngx.header["Foo"] = "bar"
ngx.header["Foo"] = nil
ngx.header["Bar"] = "baz"

local headers, err = ngx.resp.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo: ", headers["Foo"] or "nil")
ngx.say("foo: ", headers["foo"] or "nil")
ngx.say("Bar: ", headers["Bar"] or "nil")
ngx.say("bar: ", headers["bar"] or "nil")`, headers: h("Foo", none, "Bar", "baz"), body: "Foo: nil\nfoo: nil\nBar: baz\nbar: baz\n"},
		{src: f + "TEST 66: built-in Content-Type header", content: `ngx.say("hi")`, hf: `
local hs, err = ngx.resp.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

print("my Content-Type: ", hs["Content-Type"])
print("my content-type: ", hs["content-type"])
print("my content_type: ", hs["content_type"])`, body: "hi\n",
			logs: []string{"my Content-Type: text/plain", "my content-type: text/plain", "my content_type: text/plain"}},
		{src: f + "TEST 71: set Location (no host)", content: `
ngx.header.location = "/foo/bar"
return ngx.exit(301)`, status: 301, anyBody: true, headers: h("Location", "/foo/bar")},
		{src: f + "TEST 72: set Location (with host)", content: `
ngx.header.location = "http://test.com/foo/bar"
return ngx.exit(301)`, status: 301, anyBody: true, headers: h("Location", "http://test.com/foo/bar")},
		{src: f + `TEST 74: ngx.header["Content-Type"] with "; blah"`, content: `
ngx.header["Content-Type"] = "; blah"
ngx.say("test")`, headers: h("Content-Encoding", none, "Content-Type", "; blah"), body: "test\n"},
		{src: f + "TEST 79: return nil if Content-Type is not set yet", content: `
ngx.log(ngx.WARN, "Content-Type: ", ngx.header["content-type"])
ngx.say("Content-Type: ", ngx.header["content-type"])`, headers: h("Content-Type", "text/plain"),
			body: "Content-Type: nil\n", logs: []string{"Content-Type: nil"}},
		{src: f + "TEST 80: don't generate Content-Type when setting other response header (upstream clears it)",
			rewrite: `ngx.header.blah = "foo"`, resty: "proxy_pass http://@BACKEND@/echo_body",
			hf: `ngx.header.content_type = nil`, req: "POST /t", reqBody: "foo\n",
			body: "foo\n", headers: h("blah", "foo", "Content-Type", none)},
		{src: f + "TEST 82: don't generate Content-Type when getting it (upstream clears it)",
			resty: "proxy_pass http://@BACKEND@/echo_body", hf: `
ngx.header.content_type = nil
ngx.log(ngx.WARN, "Content-Type: ", ngx.header["content-type"])`, req: "POST /t", reqBody: "foo\n",
			body: "foo\n", headers: h("Content-Type", none), logs: []string{"Content-Type: nil"}},
		{src: f + "TEST 83: generate default Content-Type when setting other response header", content: `
ngx.header.blah = "foo"
ngx.say("foo")`, body: "foo\n", headers: h("blah", "foo", "Content-Type", "text/plain")},
		{src: f + "TEST 84: don't generate Content-Type when calling ngx.resp.get_headers() (upstream clears it)",
			resty: "proxy_pass http://@BACKEND@/echo_body", hf: `
ngx.header.content_type = nil
local h, err = ngx.resp.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return
end

ngx.log(ngx.WARN, "Content-Type: ", h["content-type"])`, req: "POST /t", reqBody: "foo\n",
			body: "foo\n", headers: h("Content-Type", none), logs: []string{"Content-Type: nil"}},
		{src: f + "TEST 85: don't generate default Content-Type when Content-Type is cleared", content: `
ngx.header["Content-Type"] = nil
ngx.say("foo")`, body: "foo\n", headers: h("Content-Type", none)},
		{src: f + "TEST 86: don't generate default Content-Type when Content-Type is set", content: `
ngx.header["Content-Type"] = "application/json"
ngx.say("foo")`, body: "foo\n", headers: h("Content-Type", "application/json")},
		{src: f + "TEST 87: unsafe header value (with '\\r')", content: `
ngx.header.header = "value\rfoo:bar\nbar:foo"
ngx.say("foo")`, body: "foo\n", headers: h("header", "value%0Dfoo:bar%0Abar:foo", "foo", none, "bar", none)},
		{src: f + "TEST 88: unsafe header value (with '\\n')", content: `
ngx.header.header = "value\nfoo:bar\rbar:foo"
ngx.say("foo")`, body: "foo\n", headers: h("header", "value%0Afoo:bar%0Dbar:foo", "foo", none, "bar", none)},
		{src: f + "TEST 89: unsafe header name (with '\\r')", content: `
ngx.header["header: value\rfoo:bar\nbar:foo"] = "xx"
ngx.say("foo")`, body: "foo\n", headers: h("header%3A%20value%0Dfoo%3Abar%0Abar%3Afoo", "xx", "header", none, "foo", none, "bar", none)},
		{src: f + "TEST 90: unsafe header name (with '\\n')", content: `
ngx.header["header: value\nfoo:bar\rbar:foo"] = "xx"
ngx.say("foo")`, body: "foo\n", headers: h("header%3A%20value%0Afoo%3Abar%0Dbar%3Afoo", "xx", "header", none, "foo", none, "bar", none)},
		{src: f + "TEST 91: unsafe header name (with prefix '\\r')", content: `
ngx.header["\rheader: value\rfoo:bar\nbar:foo"] = "xx"
ngx.say("foo")`, body: "foo\n", headers: h("%0Dheader%3A%20value%0Dfoo%3Abar%0Abar%3Afoo", "xx", "header", none, "foo", none, "bar", none)},
		{src: f + "TEST 92: unsafe header name (with prefix '\\n')", content: `
ngx.header["\nheader: value\nfoo:bar\rbar:foo"] = "xx"
ngx.say("foo")`, body: "foo\n", headers: h("%0Aheader%3A%20value%0Afoo%3Abar%0Dbar%3Afoo", "xx", "header", none, "foo", none, "bar", none)},
		{src: f + "TEST 93: multiple unsafe header values (with '\\n' and '\\r')", content: `
ngx.header["foo"] = {
    "foo\nxx:bar",
    "bar\rxxx:foo",
}
ngx.say("foo")`, body: "foo\n", headers: h("foo", "foo%0Axx:bar, bar%0Dxxx:foo", "xx", none, "xxx", none)},
		{src: f + "TEST 97: 'Last-Modified' does not exist", hf: `
local last_modified = ngx.header["Last-Modified"]
if last_modified == nil then
    ngx.log(ngx.INFO, "Last-Modified is nil as expected")
    return
end

ngx.log(ngx.ERR, "Last-Modified expected to be nil, but got ", last_modified)`, content: `ngx.say("Hello World")`,
			body: "Hello World\n", noLogs: []string{"Last-Modified expected to be nil"}},
		{src: f + "TEST 98: override WWW-Authenticate from upstream in header_filter_by_lua",
			resty: "proxy_pass http://@BACKEND@/echo_status", hf: `ngx.header["WWW-Authenticate"] = "Bearer realm=\"new\""`,
			status: 401, headers: h("WWW-Authenticate", `Bearer realm="new"`), body: "unauth\n"},
		{src: f + "TEST 99: override WWW-Authenticate set earlier in the same phase", content: `
ngx.header["WWW-Authenticate"] = "Basic realm=\"old\""
ngx.header["WWW-Authenticate"] = "Bearer realm=\"new\""
ngx.status = 401
ngx.say("unauth")`, status: 401, headers: h("WWW-Authenticate", `Bearer realm="new"`), body: "unauth\n"},
		{src: f + "TEST 100: set WWW-Authenticate to table value (multi-value)", content: `
ngx.header["WWW-Authenticate"] = { "Basic realm=\"a\"", "Bearer realm=\"b\"" }
ngx.status = 401
ngx.say("unauth")`, status: 401, headers: h("WWW-Authenticate", `Basic realm="a", Bearer realm="b"`), body: "unauth\n"},
		{src: f + "TEST 101: clear WWW-Authenticate from upstream in header_filter_by_lua",
			resty: "proxy_pass http://@BACKEND@/echo_status", hf: `ngx.header["WWW-Authenticate"] = nil`,
			status: 401, headers: h("WWW-Authenticate", none), body: "unauth\n"},
	})
}
