package integration

import "testing"

// lua-nginx-module t/102-req-start-time.t, t/103-req-http-ver.t and
// t/104-req-raw-header.t, rebuilt. Go's HTTP server keeps no raw request
// head: raw_header rebuilds it (Host first, then the other fields in no
// set order), so only the blocks with at most one field besides Host are
// kept.
func TestOpenRestyReqMisc(t *testing.T) {
	const f102 = "lua-nginx-module t/102-req-start-time.t "
	const f103 = "lua-nginx-module t/103-req-http-ver.t "
	const f104 = "lua-nginx-module t/104-req-raw-header.t "
	const rawReq = "GET /t HTTP/1.1\r\nHost: @HOST@\r\nConnection: close\r\n\r\n"
	coreSuite(t, "", []coreCase{
		{src: f102 + "TEST 1: start time", content: `ngx.say(ngx.req.start_time())`, bodyRe: `^\d{10,}(\.\d+)?\n$`},
		{src: f102 + "TEST 3: request time", content: `
ngx.sleep(0.1)
local req_time = ngx.now() - ngx.req.start_time()
ngx.say(req_time)
ngx.say(ngx.req.start_time() < ngx.now())`, bodyRe: `^(?:0\.[12]|0\.099|0\.098)\d*\ntrue\n$`},
		{src: f102 + "TEST 4: request time update", content: `
ngx.sleep(0.1)
local req_time = ngx.now() - ngx.req.start_time()
ngx.sleep(0.1)
ngx.update_time()
local req_time_updated = ngx.now() - ngx.req.start_time()
ngx.say(req_time)
ngx.say(req_time_updated)
ngx.say(req_time_updated > req_time)`, bodyRe: `^(?:0\.[12]|0\.099|0\.098)\d*\n0\.\d+\ntrue\n$`},
		{src: f103 + "TEST 1: HTTP 1.1", content: `ngx.say(ngx.req.http_version())`, body: "1.1\n"},
		{src: f103 + "TEST 2: HTTP 1.0", content: `ngx.say(ngx.req.http_version())`,
			raw: "GET /t HTTP/1.0\r\nHost: @HOST@\r\n\r\n", body: "1\n"},
		{src: f104 + "TEST 1: small header", content: `ngx.print(ngx.req.raw_header())`, raw: rawReq,
			bodyRe: `^GET /t HTTP/1\.1\r\nHost: c\d+\.test\r\nConnection: close\r\n\r\n$`},
		{src: f104 + "TEST 4: small header (no request line)", content: `ngx.print(ngx.req.raw_header(true))`, raw: rawReq,
			bodyRe: `^Host: c\d+\.test\r\nConnection: close\r\n\r\n$`},
	})
}
