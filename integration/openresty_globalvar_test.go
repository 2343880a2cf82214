package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// lua-nginx-module t/158-global-var.t, rebuilt. Globals are shared by the
// requests of a Lua state as by those of an nginx worker, and writing one
// from request code logs lua-nginx-module's warning. The suite runs on one
// state (lua_max_states 1) so that the blocks' second request (their
// repeat_each) sees the first one's global; each block uses a global of
// its own name (all blocks share the state).
func TestOpenRestyGlobalVar(t *testing.T) {
	const src = "lua-nginx-module t/158-global-var.t "
	// bump creates the global NAME (1) or logs its old value and adds one.
	bump := func(name string) string {
		return strings.ReplaceAll(`
if not NAME then
    NAME = 1
else
    ngx.log(ngx.WARN, "old NAME: ", NAME)
    NAME = NAME + 1
end
`, "NAME", name)
	}
	warn := func(name string) engLog {
		return elogMsg("warn", fmt.Sprintf("writing a global Lua variable ('%s') which may lead to race "+
			"conditions between concurrent requests, so prefer the use of 'local' variables", name))
	}
	grep := func(name string) string {
		return `old ` + name + `: \d+|writing a global Lua variable \('\w+'\)`
	}
	written := func(name string) string { return fmt.Sprintf("writing a global Lua variable ('%s')", name) }
	// source checks where the warning was logged from.
	source := func(script string, line int) engLog {
		return elogRe("warn", fmt.Sprintf(`(?s)^writing a global Lua variable.*\n\S*c\d+_%s\.lua:%d$`, script, line))
	}
	// After the log phase, in case the previous request had one.
	const settle = 150 * time.Millisecond

	engSuite(t, "lua_max_states 1", nil, []engCase{
		{src: src + "TEST 1: set_by_lua",
			set:      []orSet{{v: "res", lua: bump("g_set") + "return g_set"}},
			content:  `ngx.say(ngx.var.res)`,
			engReq:   engReq{body: "1\n"},
			more:     []engReq{{body: "2\n"}},
			logs:     []engLog{warn("g_set"), source("set0", 3)},
			grep:     grep("g_set"),
			grepWant: []string{written("g_set"), "old g_set: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 2: rewrite_by_lua",
			phases:   map[string]string{"rewrite": bump("g_rewrite") + "ngx.say(g_rewrite)"},
			engReq:   engReq{body: "1\n"},
			more:     []engReq{{body: "2\n"}},
			logs:     []engLog{warn("g_rewrite"), source("rewrite", 3)},
			grep:     grep("g_rewrite"),
			grepWant: []string{written("g_rewrite"), "old g_rewrite: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 3: access_by_lua",
			phases:   map[string]string{"access": bump("g_access") + "ngx.say(g_access)"},
			engReq:   engReq{body: "1\n"},
			more:     []engReq{{body: "2\n"}},
			logs:     []engLog{warn("g_access"), source("access", 3)},
			grep:     grep("g_access"),
			grepWant: []string{written("g_access"), "old g_access: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 4: content_by_lua",
			content:  bump("g_content") + "ngx.say(g_content)",
			engReq:   engReq{body: "1\n"},
			more:     []engReq{{body: "2\n"}},
			logs:     []engLog{warn("g_content"), source("content", 3)},
			grep:     grep("g_content"),
			grepWant: []string{written("g_content"), "old g_content: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 5: header_filter_by_lua",
			content:  `ngx.say(g_hf)`,
			phases:   map[string]string{"header_filter": bump("g_hf")},
			engReq:   engReq{body: "nil\n"},
			more:     []engReq{{body: "1\n"}},
			logs:     []engLog{warn("g_hf"), source("header_filter", 3)},
			grep:     grep("g_hf"),
			grepWant: []string{written("g_hf"), "old g_hf: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 6: body_filter_by_lua",
			content: `ngx.say(g_bf)`,
			phases:  map[string]string{"body_filter": bump("g_bf")},
			engReq:  engReq{body: "nil\n"},
			more:    []engReq{{body: "2\n"}},
			logs:    []engLog{warn("g_bf"), source("body_filter", 3)},
			// The filter runs twice a request: the chunk, then eof.
			grep:     grep("g_bf"),
			grepWant: []string{written("g_bf"), "old g_bf: 1", "old g_bf: 2", "old g_bf: 3"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 7: log_by_lua",
			content:  `ngx.say(g_log)`,
			phases:   map[string]string{"log": bump("g_log")},
			engReq:   engReq{body: "nil\n"},
			more:     []engReq{{pause: settle, body: "1\n"}},
			logs:     []engLog{warn("g_log"), source("log", 3)},
			grep:     grep("g_log"),
			grepWant: []string{written("g_log"), "old g_log: 1"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 9: timer",
			content: `
local function tick()
` + bump("g_timer") + `
end
local ok, err = ngx.timer.at(0, tick)
if not ok then
    ngx.say("failed to set timer: ", err)
    return
end
ngx.sleep(0.01)
ngx.say(g_timer)`,
			engReq:   engReq{body: "1\n"},
			more:     []engReq{{body: "2\n"}},
			logs:     []engLog{warn("g_timer"), source("content", 5)},
			grep:     grep("g_timer"),
			grepWant: []string{written("g_timer"), "old g_timer: 1"},
			noLogs:   []engLog{elog("error", "")}},
	})
}
