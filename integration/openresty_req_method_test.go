package integration

import "testing"

// lua-nginx-module t/088-req-method.t, rebuilt: the blocks' upstream that
// echoes $request_method is the test backend.
func TestOpenRestyReqMethod(t *testing.T) {
	const f = "lua-nginx-module t/088-req-method.t "
	const upstream = "proxy_pass http://@BACKEND@/echo_method"
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: get method name in main request", content: `ngx.say("method: [", ngx.req.get_method(), "]")`,
			body: "method: [GET]\n"},
		{src: f + "TEST 3: set GET to POST", rewrite: `ngx.req.set_method(ngx.HTTP_POST)`, resty: upstream, body: "POST\n"},
		{src: f + "TEST 4: set POST to GET", rewrite: `ngx.req.set_method(ngx.HTTP_GET)`, resty: upstream,
			req: "POST /t", reqBody: "hello world", body: "GET\n"},
		{src: f + "TEST 5: set POST to DELETE", rewrite: `ngx.req.set_method(ngx.HTTP_DELETE)`, resty: upstream,
			req: "POST /t", reqBody: "hello world", body: "DELETE\n"},
		{src: f + "TEST 6: set POST to PUT", rewrite: `ngx.req.set_method(ngx.HTTP_PUT)`, resty: upstream,
			req: "POST /t", reqBody: "hello world", body: "PUT\n"},
		{src: f + "TEST 7: set POST to PUT (using $requeset_method)", rewrite: `ngx.req.set_method(ngx.HTTP_PUT)`,
			content: `ngx.say(ngx.var.request_method)`, req: "POST /t", reqBody: "hello world", body: "PUT\n"},
		// sent as GET: Go's server sends no body to a HEAD request
		{src: f + "TEST 11: set GET to WebDAV methods", content: `
local methods = {
    ngx.HTTP_MKCOL,
    ngx.HTTP_COPY,
    ngx.HTTP_MOVE,
    ngx.HTTP_PROPFIND,
    ngx.HTTP_PROPPATCH,
    ngx.HTTP_LOCK,
    ngx.HTTP_UNLOCK,
    ngx.HTTP_PATCH,
    ngx.HTTP_TRACE,
}
for i, method in ipairs(methods) do
    ngx.req.set_method(method)
    ngx.say("method: ", ngx.var.request_method)
end`, body: "method: MKCOL\nmethod: COPY\nmethod: MOVE\nmethod: PROPFIND\nmethod: PROPPATCH\nmethod: LOCK\nmethod: UNLOCK\nmethod: PATCH\nmethod: TRACE\n"},
	})
}
