package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// lua-nginx-module t/014-bugs.t, rebuilt: the blocks that do not need
// subrequests, nginx modules (echo, memc, charset, proxy's upstream
// handling), DNS or public hosts. One Lua state, so that the blocks'
// pipelined requests share their globals as on one nginx worker; each
// block uses a global of its own name.
func TestOpenRestyBugs(t *testing.T) {
	const src = "lua-nginx-module t/014-bugs.t "
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "args: %s\n", r.URL.RawQuery)
	}))
	t.Cleanup(backend.Close)

	manyHeaders := map[string]string{"Authorization": "blah"}
	for i := 1; i <= 25; i++ {
		manyHeaders[fmt.Sprintf("A%d", i)] = fmt.Sprint(i)
	}
	// counter bumps the global NAME (0 the first time).
	counter := func(name string) string {
		return strings.ReplaceAll(`
if _G.NAME then
    _G.NAME = _G.NAME + 1
else
    _G.NAME = 0
end
`, "NAME", name)
	}
	three := func(first string, next ...string) (engReq, []engReq) {
		var more []engReq
		for _, b := range next {
			more = append(more, engReq{body: b, pause: 150 * time.Millisecond})
		}
		return engReq{body: first}, more
	}
	r26, m26 := three("0", "1", "2")
	r27, m27 := three("0", "1", "2")
	r28, m28 := three("0", "1", "2")
	r29, m29 := three("0", "1", "2")

	files := map[string]string{
		// A module whose function body does not compile.
		"broken.lua": `module(..., package.seeall);

function foo ()
    return 1
    return 2
end
`,
	}
	cases := []engCase{
		{src: src + "TEST 1: sanity (a module that does not compile)",
			content: `
package.loaded.broken = nil
local broken = require "broken"
broken.hi()`,
			engReq: engReq{status: 500, skipBody: true},
			logs:   []engLog{elogRe("error", `error loading module 'broken' from file '\S+broken\.lua'`)}},

		{src: src + "TEST 6: print lua empty strings",
			content: `ngx.print("") ngx.flush() ngx.print("Hi")`,
			engReq:  engReq{body: "Hi"}},

		{src: src + "TEST 7: say lua empty strings",
			content: `ngx.say("") ngx.flush() ngx.print("Hi")`,
			engReq:  engReq{body: "\nHi"}},

		{src: src + "TEST 17: set content-type header with charset",
			content: `
ngx.header.content_type = "text/xml; charset=UTF-8"
ngx.say("hi")`,
			engReq: engReq{body: "hi\n", headers: map[string]string{"Content-Type": "text/xml; charset=UTF-8"}}},

		{src: src + "TEST 25: set 20+ headers",
			phases: map[string]string{"rewrite": `ngx.req.clear_header("Authorization")`},
			content: `
for _, name in ipairs({"a1", "authorization", "a2", "a3", "a23", "a24", "a25"}) do
    ngx.say(ngx.var["http_" .. name] or "")
end`,
			engReq: engReq{reqHeaders: manyHeaders, body: elines("1", "", "2", "3", "23", "24", "25")}},

		{src: src + "TEST 26: globals sharing by using _G",
			content: counter("bugs_t26") + `ngx.print(bugs_t26)`,
			engReq:  r26, more: m26},

		{src: src + "TEST 27: globals sharing by using _G (set_by_lua*)",
			set:     []orSet{{v: "a", lua: counter("bugs_t27") + `return bugs_t27`}},
			content: `ngx.print(ngx.var.a)`,
			engReq:  r27, more: m27},

		{src: src + "TEST 28: globals sharing by using _G (log_by_lua*)",
			content: `ngx.print(ngx.shared.d:get("bugs_t28") or 0)`,
			phases: map[string]string{"log": `
if _G.bugs_t28 then
    _G.bugs_t28 = _G.bugs_t28 + 1
else
    _G.bugs_t28 = 1
end
ngx.shared.d:set("bugs_t28", bugs_t28)`},
			engReq: r28, more: m28},

		{src: src + "TEST 29: globals sharing by using _G (header_filter_by_lua*)",
			phases: map[string]string{"header_filter": counter("bugs_t29") + `ngx.ctx.cnt = tostring(bugs_t29)`},
			content: `
ngx.send_headers()
ngx.print(ngx.ctx.cnt or 0)`,
			engReq: r29, more: m29},

		{src: src + "TEST 30: globals sharing by using _G (body_filter_by_lua*)",
			phases: map[string]string{"body_filter": counter("bugs_t30") + `ngx.ctx.cnt = _G.bugs_t30`},
			content: `
ngx.print("a")
ngx.say(ngx.ctx.cnt or 0)`,
			engReq: engReq{body: "a0\n"},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 36: line comments in the last line of the inlined Lua code",
			content: `ngx.say("ok") -- blah`,
			engReq:  engReq{body: "ok\n"},
			noLogs:  []engLog{elog("error", "")}},

		{src: src + "TEST 38: resolving names with a trailing dot (args set before proxying)",
			phases: map[string]string{"rewrite": `ngx.var.args = "foo=1&bar=2"`},
			site:   "reverse_proxy " + strings.TrimPrefix(backend.URL, "http://"),
			engReq: engReq{body: "args: foo=1&bar=2\n"},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 40: .lua file of exactly N*1024 bytes (github issue #385)",
			// The case's content_by_lua_file: 8192 bytes, blanks, then the code.
			content: strings.Repeat(" ", 8192-len("ngx.say('ok')\n")) + "ngx.say('ok')\n",
			engReq:  engReq{body: "ok\n"},
			noLogs:  []engLog{elog("error", "")}},
	}
	engSuite(t, "lua_max_states 1\nlua_package_path @DIR@/?.lua", files, cases)
}
