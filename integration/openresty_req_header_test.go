package integration

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// lua-nginx-module t/028-req-header.t, rebuilt. The blocks' `echo
// "Foo: $http_foo"` is a content_by_lua printing the same; their upstream
// echoing the request headers is the test backend (it prints them
// sorted, so the blocks' checks of header order are not kept). Blocks
// that list every request header send a raw request, so that the Go
// client's own headers do not count.
func TestOpenRestyReqHeader(t *testing.T) {
	const f = "lua-nginx-module t/028-req-header.t "
	const upstream = "proxy_pass http://@BACKEND@"
	const listAll = `
local headers, err = ngx.req.get_headers(%s)
if err then
    ngx.say("err: ", err)
end

local keys = {}
for key, val in pairs(headers) do
    table.insert(keys, key)
end

table.sort(keys)
for i, key in ipairs(keys) do
    ngx.say(key, ": ", headers[key])
end`
	const count = `
local headers, err = ngx.req.get_headers(%s)
if err then
    ngx.say("err: ", err)
end

local cnt = 0
for key, val in pairs(headers) do
    cnt = cnt + 1
end

ngx.say("found ", cnt, " headers.");`
	// raw sends a request with n headers X-i:i.
	raw := func(n int) string {
		var b strings.Builder
		b.WriteString("GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\n")
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "X-%d:%d\r\n", i, i)
		}
		b.WriteString("\r\n")
		return b.String()
	}
	// listed is the body listAll prints for raw(n): sorted "key: value".
	listed := func(n int) string {
		vals := map[string]string{"connection": "close", "host": "HOST"}
		keys := []string{"connection", "host"}
		for i := 1; i <= n; i++ {
			k := fmt.Sprintf("x-%d", i)
			keys = append(keys, k)
			vals[k] = fmt.Sprint(i)
		}
		sort.Strings(keys)
		lines := make([]string, len(keys))
		for i, k := range keys {
			lines[i] = k + ": " + vals[k]
		}
		re := regexp.QuoteMeta(strings.Join(lines, "\n") + "\n")
		return "^" + strings.Replace(re, "HOST", `c\d+\.test`, 1) + "$"
	}
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: random access req headers", content: `
local headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo: ", headers["Foo"] or "nil")
ngx.say("Bar: ", headers["Bar"] or "nil")`, hdr: []string{"Foo: bar", "Bar: baz"}, body: "Foo: bar\nBar: baz\n"},
		{src: f + "TEST 2: iterating through headers", content: `
local headers, err = ngx.req.get_headers(nil, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

local h = {}
for k, v in pairs(headers) do
    h[k] = v
end
ngx.say("Foo: ", h["Foo"] or "nil")
ngx.say("Bar: ", h["Bar"] or "nil")`, hdr: []string{"Foo: bar", "Bar: baz"}, body: "Foo: bar\nBar: baz\n"},
		{src: f + "TEST 3: set input header", rewrite: `ngx.req.set_header("Foo", "new value");`,
			content: `ngx.say("Foo: ", ngx.var.http_foo or "")`, hdr: []string{"Foo: bar", "Bar: baz"}, body: "Foo: new value\n"},
		{src: f + "TEST 4: clear input header", rewrite: `ngx.req.set_header("Foo", nil);`,
			content: `ngx.say("Foo: ", ngx.var.http_foo or "")`, hdr: []string{"Foo: bar", "Bar: baz"}, body: "Foo: \n"},
		{src: f + "TEST 7: rewrite host and user-agent", rewrite: `
ngx.req.set_header("Host", "foo")
ngx.req.set_header("User-Agent", "blah")`, content: `
ngx.say("Host: ", ngx.var.host)
ngx.say("User-Agent: ", ngx.var.http_user_agent or "")`, body: "Host: foo\nUser-Agent: blah\n"},
		{src: f + "TEST 10: clear content-length", access: `ngx.req.clear_header("Content-Length")`,
			content: `ngx.say("Content-Length: ", ngx.var.http_content_length or "")`, req: "POST /bar", reqBody: "hello",
			body: "Content-Length: \n"},
		{src: f + "TEST 11: rewrite type", access: `ngx.req.set_header("Content-Type", "text/css")`,
			content: `ngx.say("Content-Type: ", ngx.var.content_type or "")`, req: "POST /bar", reqBody: "hello",
			hdr: []string{"Content-Type: text/plain"}, body: "Content-Type: text/css\n"},
		{src: f + "TEST 12: clear type", access: `ngx.req.clear_header("Content-Type")`,
			content: `ngx.say("Content-Type: ", ngx.var.content_type or "")`, req: "POST /bar", reqBody: "hello",
			hdr: []string{"Content-Type: text/plain"}, body: "Content-Type: \n"},
		{src: f + "TEST 13: add multiple request headers", access: `ngx.req.set_header("Foo", {"a", "b"})`,
			content: `ngx.say("Foo: ", ngx.var.http_foo or "")`, body: "Foo: a, b\n"},
		{src: f + "TEST 14: add multiple request headers", access: `ngx.req.set_header("Foo", {"a", "abc"})`,
			resty: upstream, bodyRe: `(?s)\bFoo: a\n.*?\bFoo: abc\b`},
		{src: f + "TEST 15: set_header and clear_header should refresh ngx.req.get_headers() automatically", content: `
local headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo: ", headers["Foo"] or "nil")

ngx.req.set_header("Foo", 32)

headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo 1: ", headers["Foo"] or "nil")

ngx.req.set_header("Foo", "abc")

headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo 2: ", headers["Foo"] or "nil")

ngx.req.clear_header("Foo")

headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("Foo 3: ", headers["Foo"] or "nil")`, hdr: []string{"Foo: foo"}, body: "Foo: foo\nFoo 1: 32\nFoo 2: abc\nFoo 3: nil\n"},
		{src: f + "TEST 16: duplicate req headers", content: `
collectgarbage()
local headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

local vals = headers["Foo"]
ngx.say("value is of type ", type(vals), ".")
if type(vals) == "table" then
    ngx.say("Foo takes ", #vals or "nil", " values.")
    ngx.say("They are ", table.concat(vals, ", "), ".")
end`, hdr: []string{"Foo: foo", "Foo: bar", "Foo: baz"}, body: "value is of type table.\nFoo takes 3 values.\nThey are foo, bar, baz.\n"},
		{src: f + "TEST 20: NOT exceeding default max 100 header limit", content: fmt.Sprintf(listAll, "") + "\n", raw: raw(98), bodyRe: listed(98)},
		{src: f + "TEST 22: NOT exceeding custom max 102 header limit", content: fmt.Sprintf(listAll, "102"), raw: raw(100), bodyRe: listed(100)},
		{src: f + "TEST 23: custom unlimited headers", content: fmt.Sprintf(listAll, "0"), raw: raw(105), bodyRe: listed(105)},
		{src: f + "TEST 25: clear_header should clear all the instances of the user custom header",
			rewrite: `ngx.req.clear_header("Foo")`, resty: upstream, hdr: []string{"Foo: foo", "Foo: bah", "Test-Header: 1"},
			bodyRe: `^GET /t HTTP/1\.1\nTest-Header: 1\n`},
		{src: f + "TEST 26: clear_header should clear all the instances of the builtin header",
			rewrite: `ngx.req.clear_header("Content-Type")`, resty: upstream, hdr: []string{"Content-Type: foo", "Content-Type: bah", "Test-Header: 1"},
			bodyRe: `^GET /t HTTP/1\.1\nTest-Header: 1\n`},
		{src: f + "TEST 29: iterating through headers (raw form)", content: `
local h = {}
local arr = {}
local headers, err = ngx.req.get_headers(nil, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

for k, v in pairs(headers) do
    h[k] = v
    table.insert(arr, k)
end
table.sort(arr)
for i, k in ipairs(arr) do
    ngx.say(k, ": ", h[k])
end`, raw: "GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\nMy-Foo: bar\r\nBar: baz\r\n\r\n",
			bodyRe: `^Bar: baz\nConnection: close\nHost: c\d+\.test\nMy-Foo: bar\n$`},
		{src: f + `TEST 30: __index metamethod not working for "raw" mode`, content: `
local h, err = ngx.req.get_headers(nil, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("My-Foo-Header: ", h.my_foo_header)`, hdr: []string{"My-Foo-Header: Hello World"}, body: "My-Foo-Header: nil\n"},
		{src: f + "TEST 31: __index metamethod not working for the default mode", content: `
local h, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say("My-Foo-Header: ", h.my_foo_header)`, hdr: []string{"My-Foo-Header: Hello World"}, body: "My-Foo-Header: Hello World\n"},
		{src: f + "TEST 36: raw form", content: `
local headers, err = ngx.req.get_headers(0, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

-- get ALL the raw headers (0 == no limit, not recommended)
local h = {}
local arr = {}
for k, v in pairs(headers) do
    h[k] = v
    table.insert(arr, k)
end
table.sort(arr)
for i, k in ipairs(arr) do
    ngx.say(k, ": ", h[k])
end`, raw: "GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\nMy-Foo: bar\r\nBar: baz\r\n\r\n",
			bodyRe: `^Bar: baz\nConnection: close\nHost: c\d+\.test\nMy-Foo: bar\n$`},
		{src: f + "TEST 37: clear X-Real-IP", rewrite: `ngx.req.set_header("X-Real-IP", nil)`,
			content: `ngx.say("X-Real-IP: ", ngx.var.http_x_real_ip or "")`, hdr: []string{"X-Real-IP: 8.8.8.8"}, body: "X-Real-IP: \n"},
		{src: f + "TEST 38: set custom X-Real-IP", rewrite: `ngx.req.set_header("X-Real-IP", "8.8.4.4")`,
			content: `ngx.say("X-Real-IP: ", ngx.var.http_x_real_ip or "")`, body: "X-Real-IP: 8.8.4.4\n"},
		{src: f + "TEST 39: clear Via", rewrite: `ngx.req.set_header("Via", nil)`,
			content: `ngx.say("Via: ", ngx.var.http_via or "")`, hdr: []string{"Via: 1.0 fred, 1.1 nowhere.com (Apache/1.1)"}, body: "Via: \n"},
		{src: f + "TEST 40: set custom Via", rewrite: `ngx.req.set_header("Via", "1.0 fred, 1.1 nowhere.com (Apache/1.1)")`,
			content: `ngx.say("Via: ", ngx.var.http_via or "")`, body: "Via: 1.0 fred, 1.1 nowhere.com (Apache/1.1)\n"},
		{src: f + "TEST 41: set input header (with underscores in the header name)", rewrite: `ngx.req.set_header("foo_bar", "some value");`,
			resty: upstream, bodyRe: `\nFoo-Bar: some value\n`},
		{src: f + "TEST 44: Host header with port and $host (github issue #292)", rewrite: `ngx.req.set_header("Host", "agentzh.org:1984")`,
			content: `
ngx.say("host var: ", ngx.var.host)
ngx.say("http_host var: ", ngx.var.http_host)`, body: "host var: agentzh.org\nhttp_host var: agentzh.org:1984\n"},
		{src: f + "TEST 45: Host header with upper case letters and $host (github issue #292)", rewrite: `ngx.req.set_header("Host", "agentZH.org:1984")`,
			content: `
ngx.say("host var: ", ngx.var.host)
ngx.say("http_host var: ", ngx.var.http_host)`, body: "host var: agentzh.org\nhttp_host var: agentZH.org:1984\n"},
		{src: f + "TEST 46: clear all and re-insert", content: `
local headers, err = ngx.req.get_headers(100, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

local n = 0
for header, _ in pairs(headers) do
    n = n + 1
    ngx.req.clear_header(header)
end
ngx.say("got ", n, " headers")
local i = 0
for header, value in pairs(headers) do
    i = i + 1
    print("1: reinsert header ", header, ": ", i)
    ngx.req.set_header(header, value)
end

headers, err = ngx.req.get_headers(100, true)
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

n = 0
for header, _ in pairs(headers) do
    n = n + 1
    ngx.req.clear_header(header)
end
ngx.say("got ", n, " headers")
-- do return end
local i = 0
for header, value in pairs(headers) do
    i = i + 1
    if i > 8 then
        break
    end
    print("2: reinsert header ", header, ": ", i)
    ngx.req.set_header(header, value)
end`, raw: "GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\nCache-Control: max-age=0\r\n" +
			"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8\r\n" +
			"User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/30.0.1599.101 Safari/537.36\r\n" +
			"Accept-Encoding: gzip,deflate,sdch\r\nAccept-Language: en-US,en;q=0.8\r\nCookie: test=cookie;\r\n\r\n",
			body: "got 8 headers\ngot 8 headers\n"},
		{src: f + "TEST 47: github issue #314: ngx.req.set_header does not override request headers with multiple values", content: `
ngx.req.set_header("AAA", "111")
local headers, err = ngx.req.get_headers()
if err then
    ngx.log(ngx.ERR, "err: ", err)
    return ngx.exit(500)
end

ngx.say(headers["AAA"])`, hdr: []string{"AAA: 123", "AAA: 456", "AAA: 678"}, body: "111\n"},
		{src: f + "TEST 48: clear If-Match req header", content: `
ngx.req.clear_header("if-match")
if not ngx.send_headers() then
    return
end
ngx.say("test")`, hdr: []string{"If-Match: abc"}, body: "test\n"},
		{src: f + "TEST 49: clear If-Unmodified-Since req header", content: `
ngx.req.clear_header("if-unmodified-since")
ngx.header["Last-Modified"] = "Tue, 30 Jun 2011 12:16:36 GMT"
if not ngx.send_headers() then
    return
end
ngx.say("test")`, hdr: []string{"If-Unmodified-Since: Tue, 28 Jun 2011 12:16:36 GMT"}, body: "test\n"},
		{src: f + "TEST 50: clear If-None-Match req header", content: `
ngx.req.clear_header("if-none-match")
-- ngx.header["etags"] = "abc"
if not ngx.send_headers() then
    return
end
ngx.say("test")`, hdr: []string{"If-None-Match: *"}, body: "test\n"},
		{src: f + "TEST 57: exceeding custom 3 header limit", content: fmt.Sprintf(count, "3"), raw: raw(2), body: "err: truncated\nfound 3 headers.\n"},
		{src: f + "TEST 58: NOT exceeding custom 3 header limit", content: fmt.Sprintf(count, "3"), raw: raw(1), body: "found 3 headers.\n"},
		{src: f + "TEST 59: exceeding custom 3 header limit (raw)", content: fmt.Sprintf(count, "3, true"), raw: raw(2), body: "err: truncated\nfound 3 headers.\n"},
		{src: f + "TEST 60: NOT exceeding custom 3 header limit (raw)", content: fmt.Sprintf(count, "3, true"), raw: raw(1), body: "found 3 headers.\n"},
		{src: f + "TEST 61: setting Host header clears cached $host variable", content: `
ngx.say(ngx.var.host)
ngx.req.set_header("Host", "new");
ngx.say(ngx.var.host)`, bodyRe: `^c\d+\.test\nnew\n$`},
		{src: f + "TEST 62: unsafe header name (with '\\r')", rewrite: `ngx.req.set_header("Foo\rfoo", "new value");`,
			content: `ngx.say("Foo: ", ngx.var.http_foo or "")`, body: "Foo: \n"},
		{src: f + "TEST 63: unsafe header value (with '\\n')", rewrite: `ngx.req.set_header("Foo", "new\nvalue");`,
			content: `ngx.say("Foo: ", ngx.var.http_foo or "")`, body: "Foo: new%0Avalue\n"},
		{src: f + "TEST 64: multiple unsafe header values (with '\\n' and '\\t')", rewrite: `ngx.req.set_header("Foo", { "new\nvalue", "foo\tbar" } );`,
			content: `ngx.say(table.concat(ngx.req.get_headers()["foo"], ", "), ".")`, body: "new%0Avalue, foo\tbar.\n"},
		{src: f + "TEST 65: unsafe names/values logging escapes '\"' and '\\' characters", rewrite: `ngx.req.set_header("Foo", "\"new\nvalue\\\"");`,
			content: `ngx.say(ngx.req.get_headers()["foo"])`, body: "\"new%0Avalue\\\"\n"},
		{src: f + "TEST 66: add request headers with '\\r\\n'", access: `ngx.req.set_header("Foo\r", "123\r\n")`,
			resty: upstream, bodyRe: `(?i)\bFoo%0D: 123%0D%0A\n`},
		{src: f + "TEST 67: add request headers with '\\0'", access: `ngx.req.set_header("Foo", "\0")`,
			resty: upstream, bodyRe: `\bFoo: %00\n`},
		{src: f + "TEST 68: add request headers with '中文'", access: `ngx.req.set_header("Foo中文", "ab中文a")`,
			resty: upstream, bodyRe: `(?i)\bFoo%E4%B8%AD%E6%96%87: ab中文a\n`},
	})
}
