package integration

import "testing"

// lua-nginx-module t/056-flush.t, rebuilt (the blocks that need
// lua_http10_buffering, which caddy-resty does not have, are left out).
func TestOpenRestyFlush(t *testing.T) {
	const f = "lua-nginx-module t/056-flush.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: flush wait - content", content: `
ngx.say("hello, world")
local ok, err = ngx.flush(true)
if not ok then
    ngx.log(ngx.ERR, "flush failed: ", err)
    return
end
ngx.say("hiya")`, body: "hello, world\nhiya\n", noLogs: []string{"flush failed"}},
		{src: f + "TEST 2: flush no wait - content", content: `
ngx.say("hello, world")
local ok, err = ngx.flush(false)
if not ok then
    ngx.log(ngx.ERR, "flush failed: ", err)
    return
end
ngx.say("hiya")`, body: "hello, world\nhiya\n"},
		{src: f + "TEST 3: flush wait - rewrite", rewrite: `
ngx.say("hello, world")
ngx.flush(true)
ngx.say("hiya")`, content: `return`, body: "hello, world\nhiya\n"},
		{src: f + "TEST 4: flush no wait - rewrite", rewrite: `
ngx.say("hello, world")
ngx.flush(false)
ngx.say("hiya")`, content: `return`, body: "hello, world\nhiya\n"},
		{src: f + "TEST 9: http 1.0 (sync + buffering off)", content: `
ngx.say("hello, world")
ngx.flush(true)
ngx.say("hiya")
ngx.flush(true)
ngx.say("blah")`, raw: "GET /test HTTP/1.0\r\nHost: @HOST@\r\n\r\n", body: "hello, world\nhiya\nblah\n",
			headers: map[string]string{"Content-Length": "<absent>"}},
		{src: f + "TEST 10: http 1.0 (async)", content: `
ngx.say("hello, world")
ngx.flush(false)
ngx.say("hiya")
ngx.flush(false)
ngx.say("blah")`, raw: "GET /test HTTP/1.0\r\nHost: @HOST@\r\n\r\n", body: "hello, world\nhiya\nblah\n",
			headers: map[string]string{"Content-Length": "<absent>"}},
		{src: f + "TEST 13: flush wait in a user coroutine", content: `
local function f()
    ngx.say("hello, world")
    ngx.flush(true)
    coroutine.yield()
    ngx.say("hiya")
end
local c = coroutine.create(f)
ngx.say(coroutine.resume(c))
ngx.say(coroutine.resume(c))`, body: "hello, world\ntrue\nhiya\ntrue\n"},
		{src: f + "TEST 14: flush before sending out the header", content: `
ngx.flush()
ngx.status = 404
ngx.say("not found")`, status: 404, body: "not found\n"},
	})
}
