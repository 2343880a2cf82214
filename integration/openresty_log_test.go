package integration

import (
	"strings"
	"testing"
)

// lua-nginx-module t/009-log.t, rebuilt. ngx.log and print go to Caddy's
// log (zap): nginx's levels map to zap's (STDERR, EMERG, ALERT, CRIT and
// ERR to error, WARN to warn, NOTICE and INFO to info, DEBUG to debug), so
// the blocks' "[error] … [lua] chunk:line: message" lines are checked as
// an entry of that level with that message, the chunk:line being the
// entry's source field (nginx's "bar(): " function name in the line
// prefix has no counterpart).
func TestOpenRestyLog(t *testing.T) {
	const src = "lua-nginx-module t/009-log.t "
	// level logs "hello, log", 1234, 3.14159 at an ngx level between two
	// lines of output.
	level := func(name string) string {
		return `
ngx.say("before log")
ngx.log(ngx.` + name + `, "hello, log", 1234, 3.14159)
ngx.say("after log")`
	}
	beforeAfter := elines("before log", "after log")
	hello := "hello, log12343.14159"
	// at is the source of line n of the case's content script.
	at := func(n string) engLog { return elogRe("", `c\d+_content\.lua:`+n+`$`) }

	cases := []engCase{}
	for _, lv := range []struct{ test, name, zap string }{
		{"TEST 1: test log-level STDERR", "STDERR", "error"},
		{"TEST 2: test log-level EMERG", "EMERG", "error"},
		{"TEST 3: test log-level ALERT", "ALERT", "error"},
		{"TEST 4: test log-level CRIT", "CRIT", "error"},
		{"TEST 5: test log-level ERR", "ERR", "error"},
		{"TEST 6: test log-level WARN", "WARN", "warn"},
		{"TEST 7: test log-level NOTICE", "NOTICE", "info"},
		{"TEST 8: test log-level INFO", "INFO", "info"},
		{"TEST 9: test log-level DEBUG", "DEBUG", "debug"},
	} {
		cases = append(cases, engCase{src: src + lv.test, content: level(lv.name),
			engReq: engReq{body: beforeAfter}, logs: []engLog{elogMsg(lv.zap, hello), at("3")}})
	}
	cases = append(cases, []engCase{
		{src: src + "TEST 10: regression test print()",
			content: `
ngx.say("before log")
print("hello, log", 1234, 3.14159)
ngx.say("after log")`,
			engReq: engReq{body: beforeAfter},
			logs:   []engLog{elogMsg("info", hello), at("3")}},

		{src: src + "TEST 11: print(nil)",
			content: `
print()
print(nil)
print("nil: ", nil)
ngx.say("hi")`,
			engReq: engReq{body: "hi\n"},
			logs:   []engLog{elogMsg("info", ""), elogMsg("info", "nil"), elogMsg("info", "nil: nil"), at("2"), at("3"), at("4")}},

		{src: src + "TEST 12: ngx.log in set_by_lua",
			set: []orSet{{v: "a", lua: `
ngx.log(ngx.ERR, "HELLO")
return 32`}},
			content: `ngx.say(ngx.var.a)`,
			engReq:  engReq{body: "32\n"},
			logs:    []engLog{elogMsg("error", "HELLO"), elogRe("", `c\d+_set0\.lua:2$`)}},

		{src: src + "TEST 13: test booleans and nil",
			set: []orSet{{v: "a", lua: `
ngx.log(ngx.ERR, true, false, nil)
return 32`}},
			content: `ngx.say(ngx.var.a)`,
			engReq:  engReq{body: "32\n"},
			logs:    []engLog{elogMsg("error", "truefalsenil")}},

		{src: src + "TEST 14: test table with metamethod",
			content: `
ngx.say("before log")
local obj = setmetatable({v = "value"}, {
    __tostring = function(self) return "tostring " .. self.v end
})
ngx.log(ngx.ERR, obj)
ngx.say("after log")`,
			engReq: engReq{body: beforeAfter},
			logs:   []engLog{elogMsg("error", "tostring value"), at("6")}},

		{src: src + "TEST 15: test table without metamethod",
			content: `
ngx.log(ngx.ERR, {})
ngx.say("done")`,
			engReq: engReq{status: 500, lacks: "done"},
			logs:   []engLog{elog("error", "bad argument #1 to 'log' (expected table to have __tostring metamethod)")}},

		{src: src + "TEST 16: test tables mixed with other types",
			content: `
ngx.say("before log")
local obj = setmetatable({v = "value"}, {
    __tostring = function(self) return "tostring: " .. self.v end
})
ngx.log(ngx.ERR, obj, " hello ", obj)
ngx.say("after log")`,
			engReq: engReq{body: beforeAfter},
			logs:   []engLog{elogMsg("error", "tostring: value hello tostring: value")}},

		{src: src + "TEST 17: test print with tables",
			content: `
ngx.say("before log")
local obj = setmetatable({v = "value"}, {
    __tostring = function(self) return "tostring: " .. self.v end
})
print(obj, " hello ", obj)
ngx.say("after log")`,
			engReq: engReq{body: beforeAfter},
			logs:   []engLog{elogMsg("info", "tostring: value hello tostring: value")}},

		{src: src + "TEST 18: print() in header filter",
			phases: map[string]string{"header_filter": `
print("hello world")
ngx.header.foo = 32`},
			content: `ngx.say("hi")`,
			engReq:  engReq{body: "hi\n", headers: map[string]string{"foo": "32"}},
			logs:    []engLog{elogMsg("info", "hello world"), elogRe("", `c\d+_header_filter\.lua:2$`)}},

		{src: src + "TEST 19: ngx.log in header filter",
			phases: map[string]string{"header_filter": `
ngx.log(ngx.ERR, "howdy, lua!")
ngx.header.foo = 32`},
			content: `ngx.say("hi")`,
			engReq:  engReq{body: "hi\n", headers: map[string]string{"foo": "32"}},
			logs:    []engLog{elogMsg("error", "howdy, lua!")}},

		{src: src + "TEST 20: ngx.log big data",
			content: `
ngx.log(ngx.ERR, "a" .. string.rep("h", 1970) .. "b")
ngx.say("hi")`,
			engReq: engReq{body: "hi\n"},
			logs:   []engLog{elogMsg("error", "a"+strings.Repeat("h", 1970)+"b")}},

		{src: src + "TEST 21: ngx.log in Lua function calls & inlined lua",
			content: `
local outer, inner
function outer()
    inner()
end
function inner()
    ngx.log(ngx.ERR, "hello, log", 1234, 3.14159)
end
outer()
ngx.say("done")`,
			engReq: engReq{body: "done\n"},
			logs:   []engLog{elogMsg("error", hello), at("7")}},

		{src: src + "TEST 22: ngx.log in Lua function tail-calls & inlined lua",
			content: `
local outer, countdown
function outer()
    return countdown(5)
end
function countdown(n)
    if n < 1 then
        ngx.log(ngx.ERR, "hello, log", 1234, 3.14159)
        return n
    end
    return countdown(n - 1)
end
outer()
ngx.say("done")`,
			engReq: engReq{body: "done\n"},
			logs:   []engLog{elogMsg("error", hello), at("8")}},

		{src: src + "TEST 23: ngx.log in Lua files",
			content: `
local outer, inner
function outer()
    inner()
end

function inner()
    ngx.log(ngx.ERR, "hello, log", 1234, 3.14159)
end

outer()
ngx.say("done")`,
			engReq: engReq{body: "done\n"},
			logs:   []engLog{elogMsg("error", hello), at("8")}},

		{src: src + "TEST 24: ngx.log with bad levels (ngx.ERROR, -1)",
			content: `
ngx.log(ngx.ERROR, "hello lua")
ngx.say("done")`,
			engReq: engReq{status: 500, lacks: "done"},
			logs:   []engLog{elog("error", "bad log level: -1")}},

		{src: src + "TEST 25: ngx.log with bad levels (9)",
			content: `
ngx.log(9, "hello lua")
ngx.say("done")`,
			engReq: engReq{status: 500, lacks: "done"},
			logs:   []engLog{elog("error", "bad log level: 9")}},

		{src: src + "TEST 26: \\0 in the log message",
			content: `
ngx.log(ngx.WARN, "hello\0world")
ngx.say("ok")`,
			engReq: engReq{body: "ok\n"},
			logs:   []engLog{elogMsg("warn", "hello\x00world")},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 27: test log-level STDERR",
			content: `
ngx.say("before log")
ngx.log(ngx.STDERR, 3.14159265357939723846)
ngx.say("after log")`,
			engReq: engReq{body: beforeAfter},
			logs:   []engLog{elogMsg("error", "3.1415926535794")}},
	}...)
	// As the blocks' log_level('debug'): Caddy's default logger at DEBUG
	// (the harness's global resty block is closed early for it, and its
	// closing brace ends the log block).
	engSuite(t, "}\nlog {\nlevel DEBUG", nil, cases)
}
