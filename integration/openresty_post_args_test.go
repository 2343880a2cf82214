package integration

import "testing"

// lua-nginx-module t/031-post-args.t, rebuilt (lua_need_request_body is
// a rewrite_by_lua that reads the body).
func TestOpenRestyPostArgs(t *testing.T) {
	const f = "lua-nginx-module t/031-post-args.t "
	dump := func(read, call string) string {
		return coreArgsLua + "\n" + read + "\ndump(" + call + ")\n"
	}
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: sanity", rewrite: `ngx.req.read_body()`, content: dump("", "ngx.req.get_post_args()"),
			req: "POST /t", reqBody: "a=3&b=4&c", body: "a = 3\nb = 4\nc = true\n"},
		{src: f + "TEST 2: lua_need_request_body off", content: dump("", "ngx.req.get_post_args()"),
			req: "POST /t", reqBody: "a=3&b=4&c", status: 500, anyBody: true},
		{src: f + "TEST 3: empty request body", rewrite: `ngx.req.read_body()`, content: dump("", "ngx.req.get_post_args()"),
			req: "POST /t", body: ""},
		{src: f + "TEST 4: max args (limited after normal key=value)", content: dump("ngx.req.read_body();", "ngx.req.get_post_args(2)"),
			req: "POST /t", reqBody: "foo=3&bar=4&baz=2", body: "err: truncated\nbar = 4\nfoo = 3\n"},
		{src: f + "TEST 5: max args (limited after an orphan key)", content: dump("ngx.req.read_body();", "ngx.req.get_post_args(2)"),
			req: "POST /t", reqBody: "foo=3&bar&baz=2", body: "err: truncated\nbar = true\nfoo = 3\n"},
		{src: f + "TEST 6: max args (limited after an empty key, but non-empty values)",
			content: dump("ngx.req.read_body();", "ngx.req.get_post_args(2)") + `ngx.say("done")`,
			req:     "POST /t", reqBody: "foo=3&=hello&=world", body: "err: truncated\nfoo = 3\ndone\n"},
		{src: f + "TEST 7: default max 100 args", content: dump("ngx.req.read_body();", "ngx.req.get_post_args()"),
			req: "POST /t", reqBody: manyArgs(102), body: "err: truncated\n" + manyArgsBody(100)},
		{src: f + "TEST 8: custom max 102 args", content: dump("ngx.req.read_body()", "ngx.req.get_post_args(102)"),
			req: "POST /t", reqBody: manyArgs(103), body: "err: truncated\n" + manyArgsBody(102)},
		{src: f + "TEST 9: custom unlimited args", content: dump("ngx.req.read_body()", "ngx.req.get_post_args(0)"),
			req: "POST /t", reqBody: manyArgs(105), body: manyArgsBody(105)},
	})
}
