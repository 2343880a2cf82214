package integration

import "testing"

// lua-nginx-module t/044-req-body.t and t/010-request_body.t, rebuilt.
// lua_need_request_body is a rewrite_by_lua that reads the body; the
// blocks' upstream echoing the request body is the test backend.
func TestOpenRestyReqBody(t *testing.T) {
	const f = "lua-nginx-module t/044-req-body.t "
	const f10 = "lua-nginx-module t/010-request_body.t "
	const needBody = `ngx.req.read_body()`
	const upstream = "proxy_pass http://@BACKEND@/echo_body"
	const binary = "hello\x00\x01\x02\nworld\x03\x04\xff"
	coreSuite(t, "", []coreCase{
		{src: f10 + "TEST 1: test reading request body", rewrite: needBody, content: `ngx.print(ngx.var.request_body or "nil")`,
			req: "POST /echo_body", reqBody: binary, body: binary},
		{src: f10 + "TEST 2: test not reading request body", content: `ngx.print(ngx.var.request_body or "nil")`,
			req: "POST /echo_body", reqBody: binary, body: "nil"},
		{src: f10 + "TEST 3: test default setting (not reading request body)", content: `ngx.print(ngx.var.request_body or "nil")`,
			req: "POST /echo_body", reqBody: binary, body: "nil"},
		{src: f10 + "TEST 13: test reading the first n bytes of request body", rewrite: needBody, content: `
local data = ngx.req.get_body_data(1)
ngx.say(data)`, req: "POST /echo_body", reqBody: "hello\n", body: "h\n"},
		{src: f + "TEST 1: read buffered body", content: `
ngx.req.read_body()
ngx.say(ngx.var.request_body)`, req: "POST /test", reqBody: "hello, world", body: "hello, world\n"},
		{src: f + "TEST 5: discard body", content: `
ngx.req.discard_body()
ngx.say("body: ", ngx.var.request_body)`, req: "POST /foo", reqBody: "hello, world", body: "body: nil\n"},
		{src: f + "TEST 6: not discard body (content_by_lua falls through)", content: `
-- ngx.req.discard_body()
ngx.say("body: ", ngx.var.request_body)`, req: "POST /foo", reqBody: "hello, world", body: "body: nil\n"},
		{src: f + "TEST 7: read buffered body and retrieve the data", content: `
ngx.req.read_body()
ngx.say(ngx.req.get_body_data())`, req: "POST /test", reqBody: "hello, world", body: "hello, world\n"},
		{src: f + "TEST 10: read buffered body to memory and retrieve the file", content: `
ngx.req.read_body()
ngx.say(ngx.req.get_body_file())`, req: "POST /test", reqBody: "hello, world", body: "nil\n"},
		{src: f + "TEST 13: do not read the current request body but replace it with our own in memory", content: `
ngx.req.set_body_data("hello, baby")
ngx.say(ngx.req.get_body_data())
ngx.say(ngx.var.request_body)
-- ngx.location.capture("/sleep")`, req: "POST /test", reqBody: "yeah", status: 500, anyBody: true,
			logs: []string{"_content.lua:2: request body not read yet"}},
		{src: f + "TEST 21: read buffered body to memory and reset it with data in memory + proxy", rewrite: `
ngx.req.read_body()
ngx.req.set_body_data("hiya, dear dear friend!")`, resty: upstream, req: "POST /test", reqBody: "hello, world",
			body: "hiya, dear dear friend!"},
		{src: f + "TEST 23: discard body and then read", content: `
ngx.req.discard_body()
ngx.req.read_body()
ngx.print(ngx.req.get_body_data())`, req: "POST /test", reqBody: "hello, world", body: "nil"},
		{src: f + "TEST 27: read buffered body to memory and reset it with data in memory + proxy twice", rewrite: `
ngx.req.read_body()
ngx.req.set_body_data("hiya, dear dear friend!")
ngx.req.set_body_data("howdy, my dear little sister!")`, resty: upstream, req: "POST /test", reqBody: "hello, world",
			body: "howdy, my dear little sister!"},
		{src: f + "TEST 29: read buffered body to memory and reset it with empty string + proxy twice", rewrite: `
ngx.req.read_body()
ngx.req.set_body_data("hiya, dear dear friend!")
ngx.req.set_body_data("")`, resty: upstream, req: "POST /test", reqBody: "hello, world", body: ""},
		{src: f + "TEST 31: init & append & finish (just in buffer)", content: `
ngx.req.read_body()
ngx.req.init_body(4)
ngx.req.append_body("h")
ngx.req.append_body("ell")
ngx.req.finish_body()

ngx.say("content length: ", ngx.var.http_content_length)

local data = ngx.req.get_body_data()
ngx.say("body: ", data)`, body: "content length: 4\nbody: hell\n"},
		{src: f + "TEST 33: init & append & finish (use default buffer size) - body not read yet", content: `
ngx.req.init_body()
ngx.req.append_body("h")
ngx.req.append_body("ell")
ngx.req.finish_body()

ngx.say("content length: ", ngx.var.http_content_length)

local data = ngx.req.get_body_data()
ngx.say("body: ", data)`, status: 500, anyBody: true, logs: []string{"_content.lua:2: request body not read yet"}},
		{src: f + "TEST 34: init & append & finish (use default buffer size)", content: `
ngx.req.read_body()
ngx.req.init_body()
ngx.req.append_body("h")
ngx.req.append_body("ell")
ngx.req.finish_body()

ngx.say("content length: ", ngx.var.http_content_length)

local data = ngx.req.get_body_data()
ngx.say("body: ", data)`, body: "content length: 4\nbody: hell\n"},
		{src: f + "TEST 36: init & append & finish (just in buffer, proxy)", rewrite: `
ngx.req.read_body()
ngx.req.init_body(4)
ngx.req.append_body("h")
ngx.req.append_body("ell")
ngx.req.finish_body()`, resty: upstream, req: "POST /t", reqBody: "i do like the sky", body: "hell"},
		{src: f + "TEST 43: chunked support in ngx.req.read_body", content: `
ngx.req.read_body()
ngx.say(ngx.req.get_body_data())`, raw: "POST /t HTTP/1.1\r\nHost: @HOST@\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			"5\r\nhello\r\n1\r\n,\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", body: "hello, world\n"},
		{src: f + "TEST 45: not discard body (content_by_lua exit 200)", content: `
-- ngx.req.discard_body()
ngx.say("body: ", ngx.var.request_body)
ngx.exit(200)`, req: "POST /foo", reqBody: "hello, world", body: "body: nil\n"},
		{src: f + "TEST 46: not discard body (content_by_lua exit 201)", content: `
-- ngx.req.discard_body()
ngx.say("body: ", ngx.var.request_body)
ngx.exit(201)`, req: "POST /foo", reqBody: "hello, world", body: "body: nil\n"},
		{src: f + "TEST 47: not discard body (content_by_lua exit 302)", content: `
-- ngx.req.discard_body()
-- ngx.say("body: ", ngx.var.request_body)
ngx.redirect("/blah")`, req: "POST /foo", reqBody: "hello, world", status: 302, anyBody: true},
		{src: f + "TEST 49: get body data at log phase", content: `
ngx.req.read_body()
ngx.say(ngx.req.get_body_data())`, log: `ngx.log(ngx.WARN, "request body:", ngx.req.get_body_data())`,
			req: "POST /test", reqBody: "hello, world", body: "hello, world\n", logs: []string{"request body:hello, world"}},
		{src: f + "TEST 50: init & append & finish (content_length = 0)", content: `
local old_http_content_length = ngx.var.http_content_length

ngx.req.read_body()
ngx.req.init_body()
ngx.req.append_body("he")
ngx.req.append_body("llo")
ngx.req.finish_body()

ngx.say("old content length: ", old_http_content_length)

local data = ngx.req.get_body_data()
local data_file = ngx.req.get_body_file()

if not data and data_file then
    ngx.say("no data in buf, go to data file")
end

ngx.say("content length: ", ngx.var.http_content_length)`,
			raw:  "GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			body: "old content length: 0\ncontent length: 5\n"},
	})
}
