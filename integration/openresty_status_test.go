package integration

import "testing"

// lua-nginx-module t/015-status.t, rebuilt.
func TestOpenRestyStatus(t *testing.T) {
	const f = "lua-nginx-module t/015-status.t "
	const http10 = "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n"
	// the upstream of TEST 19, 20, 22, 23, which must not be reached
	const upstream = "proxy_pass http://@BACKEND@"
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: no key found", content: `ngx.say(ngx.blah_blah == nil and "nil" or "not nil")`, body: "nil\n"},
		{src: f + "TEST 2: .status found", content: `ngx.say(ngx.status == nil and "nil" or "not nil")`, body: "not nil\n"},
		{src: f + "TEST 3: default to 0", content: `ngx.say(ngx.status);`, body: "0\n"},
		{src: f + "TEST 4: default to 0", content: `
ngx.say("blah");
ngx.say(ngx.status);`, body: "blah\n200\n"},
		{src: f + "TEST 5: set 201", content: `
ngx.status = 201;
ngx.say("created");`, status: 201, body: "created\n"},
		{src: f + `TEST 6: set "201"`, content: `
ngx.status = "201";
ngx.say("created");`, status: 201, body: "created\n"},
		{src: f + `TEST 7: set "201.7"`, content: `
ngx.status = "201.7";
ngx.say("created");`, status: 201, body: "created\n"},
		{src: f + `TEST 8: set "abc"`, content: `
ngx.status = "abc";
ngx.say("created");`, status: 500, anyBody: true},
		{src: f + "TEST 9: set blah", content: `
ngx.blah = 201;
ngx.say("created");`, body: "created\n"},
		{src: f + "TEST 10: set ngx.status before headers are sent", content: `
ngx.say("ok")
ngx.status = 201`, body: "ok\n", logs: []string{"attempt to set ngx.status after sending out response headers"}},
		{src: f + "TEST 11: http 1.0 and ngx.status", content: `
ngx.status = ngx.HTTP_UNAUTHORIZED
ngx.say("invalid request")
ngx.exit(ngx.HTTP_OK)`, raw: http10, status: 401, body: "invalid request\n"},
		{src: f + "TEST 15: err status", content: `ngx.exit(502)`, bf: `
if ngx.arg[2] then
    ngx.log(ngx.WARN, "ngx.status = ", ngx.status)
end`, status: 502, anyBody: true, logs: []string{"ngx.status = 502"}},
		{src: f + "TEST 16: ngx.status assignment should clear r->err_status (return 502: respond 502)",
			site: `respond "Bad Gateway" 502`, hf: `
if ngx.status == 502 then
    ngx.status = 654
    ngx.log(ngx.WARN, "ngx.status: ", ngx.status)
end`, status: 654, anyBody: true, logs: []string{"ngx.status: 654"}},
		{src: f + "TEST 19: set ngx.status in rewrite_by_lua_block", rewrite: `
ngx.status = 403
ngx.say("Hello World")`, resty: upstream, raw: http10, status: 403, body: "Hello World\n"},
		{src: f + "TEST 20: set ngx.status in access_by_lua_block", access: `
ngx.status = 403
ngx.say("Hello World")`, resty: upstream, raw: http10, status: 403, body: "Hello World\n"},
		{src: f + "TEST 22: set ngx.status in rewrite_by_lua_block with sleep", rewrite: `
ngx.sleep(0.001)
ngx.status = 403
ngx.say("Hello World")`, resty: upstream, raw: http10, status: 403, body: "Hello World\n"},
		{src: f + "TEST 23: set ngx.status in access_by_lua_block", access: `
ngx.sleep(0.001)
ngx.status = 403
ngx.say("Hello World")`, resty: upstream, raw: http10, status: 403, body: "Hello World\n"},
	})
}
