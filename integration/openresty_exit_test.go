package integration

import "testing"

// lua-nginx-module t/005-exit.t, rebuilt. nginx answers an error status
// with its built-in HTML page ("403 Forbidden"); Caddy sends an empty body
// (handle_errors can make one), so those bodies are not compared.
func TestOpenRestyExit(t *testing.T) {
	const f = "lua-nginx-module t/005-exit.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: throw 403", content: `ngx.exit(403);ngx.say('hi')`, status: 403, anyBody: true,
			noLogs: []string{"lua error"}},
		{src: f + "TEST 2: throw 404", content: `ngx.exit(404);ngx.say('hi');`, status: 404, anyBody: true},
		{src: f + "TEST 3: throw 404 after sending the header and partial body",
			content: `ngx.say('hi');ngx.exit(404);ngx.say(', you')`, body: "hi\n",
			logs: []string{"attempt to set status 404 via ngx.exit after sending out the response status 200"}},
		{src: f + "TEST 10: throw 0", content: `ngx.say('Hi'); ngx.eof(); ngx.exit(0);ngx.say('world')`, body: "Hi\n"},
		{src: f + "TEST 11: pcall safe", content: `
local function f ()
    ngx.say("hello")
    ngx.exit(200)
end

pcall(f)
ngx.say("world")`, body: "hello\n"},
		{src: f + "TEST 12: 501 Method Not Implemented", content: `ngx.exit(501)`, status: 501, anyBody: true},
		{src: f + "TEST 13: 501 Method Not Implemented", content: `ngx.exit(ngx.HTTP_METHOD_NOT_IMPLEMENTED)`, status: 501, anyBody: true},
		{src: f + "TEST 14: throw 403 after sending out headers with 200", rewrite: `
ngx.send_headers()
ngx.say("Hello World")
ngx.exit(403)`, body: "Hello World\n",
			logs: []string{"attempt to set status 403 via ngx.exit after sending out the response status 200"}},
		{src: f + "TEST 15: throw 403 after sending out headers with 403", rewrite: `
ngx.status = 403
ngx.send_headers()
ngx.say("Hello World")
ngx.exit(403)`, status: 403, body: "Hello World\n", noLogs: []string{"attempt to set status"}},
		{src: f + "TEST 16: throw 403 after sending out headers with 403 (HTTP 1.0 buffering)", rewrite: `
ngx.status = 403
ngx.say("Hello World")
ngx.exit(403)`, raw: "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n", status: 403, body: "Hello World\n"},
		{src: f + "TEST 17: throw 444 after sending out responses (HTTP 1.0)", content: `
ngx.say('ok');
return ngx.exit(444)`, raw: "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n", status: -1, anyBody: true,
			noLogs: []string{"lua error"}},
		{src: f + "TEST 18: throw 499 after sending out responses (HTTP 1.0)", content: `
ngx.say('ok');
return ngx.exit(499)`, raw: "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n", status: -1, anyBody: true,
			noLogs: []string{"lua error", "attempt to set status"}},
		{src: f + "TEST 19: throw 408 after sending out responses (HTTP 1.0)", content: `
ngx.say('ok');
return ngx.exit(408)`, raw: "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n", status: -1, anyBody: true,
			noLogs: []string{"lua error", "attempt to set status"}},
		{src: f + "TEST 20: exit(201) with custom response body", content: `
ngx.status = 201
ngx.say('ok');
return ngx.exit(201)`, status: 201, body: "ok\n", noLogs: []string{"lua error", "attempt to set status"}},
		{src: f + "TEST 21: exit 403 in header filter", content: `ngx.say('hi');`, hf: `return ngx.exit(403)`,
			status: 403, anyBody: true, noLogs: []string{"lua error"}},
		{src: f + "TEST 22: exit 201 in header filter", content: `ngx.say('hi');`, hf: `return ngx.exit(201)`,
			status: 201, body: ""},
		{src: f + "TEST 23: exit both in header filter and content handler",
			content: `ngx.status = 201 ngx.say('hi') ngx.exit(201)`, hf: `return ngx.exit(201)`,
			status: 201, body: "", noLogs: []string{"lua error"}},
		{src: f + "TEST 25: 501 Method Not Implemented", content: `ngx.exit(ngx.HTTP_NOT_IMPLEMENTED)`, status: 501, anyBody: true},
		{src: f + "TEST 26: accepts NGX_OK", content: `ngx.exit(ngx.OK)`, body: ""},
		{src: f + "TEST 29: refuses NGX_AGAIN", content: `ngx.exit(ngx.AGAIN)`, status: 500, anyBody: true,
			logs: []string{"bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE"}},
		{src: f + "TEST 30: refuses NGX_DONE", content: `ngx.exit(ngx.DONE)`, status: 500, anyBody: true,
			logs: []string{"bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE"}},
	})
}
