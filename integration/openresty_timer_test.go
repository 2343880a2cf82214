package integration

import (
	"os"
	"path/filepath"
	"testing"
)

// The rebuilt timer blocks keep the blocks' bodies and the lines their
// callbacks print (checked in Caddy's log); the nginx debug lines ("lua
// ngx.timer expired", "http lua close fake http connection"), systemtap
// traces and the elapsed-time bounds are not checked (no timing
// assertions on a shared machine). Timer counts and limits are per Caddy
// process, as nginx's are per worker, so the blocks that set
// lua_max_pending_timers or lua_max_running_timers get suites of their
// own.

// timerSet is the ngx.timer.at call-and-report of many blocks.
func timerSet(delay, fn, extra string) string {
	return `local ok, err = ngx.timer.at(` + delay + `, ` + fn + extra + `)
if not ok then ngx.say("failed to set timer: ", err) return end
`
}

// chain is TEST 20-22/25/26 of t/106-timer.t: f and g append to s after
// the main code set it to "[m]"; g prints the trace. nested makes f set
// the timer of g, else both are set by the main code.
func chain(delay string, nested bool, logFail bool) string {
	report := `ngx.say("failed to set timer: ", err) return`
	if logFail {
		report = `ngx.log(ngx.ERR, "failed to set timer: ", err) return`
	}
	g := `local s = ""
local function g()
	s = s .. "[g]"
	print("trace: ", s)
end
`
	if nested {
		return g + `local function f()
	local ok, err = ngx.timer.at(` + delay + `, g)
	if not ok then ngx.log(ngx.ERR, "failed to set timer: ", err) return end
	s = s .. "[f]"
end
local ok, err = ngx.timer.at(` + delay + `, f)
if not ok then ` + report + ` end
ngx.say("registered timer")
s = "[m]"`
	}
	return g + `local function f() s = s .. "[f]" end
local ok, err = ngx.timer.at(` + delay + `, f)
if not ok then ngx.say("failed to set timer f: ", err) return end
ok, err = ngx.timer.at(` + delay + `, g)
if not ok then ngx.say("failed to set timer g: ", err) return end
ngx.say("registered timer")
s = "[m]"`
}

// lua-nginx-module t/106-timer.t, t/152-timer-every.t,
// t/136-timer-counts.t (TEST 1-3) and t/077-sleep.t, rebuilt.
func TestOpenRestyTimer(t *testing.T) {
	const tm = "lua-nginx-module t/106-timer.t "
	const ev = "lua-nginx-module t/152-timer-every.t "
	const cnt = "lua-nginx-module t/136-timer-counts.t "
	const sl = "lua-nginx-module t/077-sleep.t "
	global, cases := shdCases([]shdCase{
		// The counts first, before any other block sets a timer.
		{orCase: orCase{src: cnt + "TEST 1: running count with no running timers",
			content: `ngx.say(ngx.timer.running_count())`, body: "0\n"}},
		{orCase: orCase{src: cnt + "TEST 2: running count with no pending timers",
			content: `ngx.say(ngx.timer.pending_count())`, body: "0\n"}},
		{orCase: orCase{src: cnt + "TEST 3: pending count with one pending timer",
			content: `ngx.timer.at(3, function() end)
ngx.say(ngx.timer.pending_count())`, body: "1\n"}},

		{orCase: orCase{src: tm + "TEST 1: simple at",
			content: `local function f(premature)
	print("timer prematurely expired: ", premature)
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"timer prematurely expired: false"}}},
		{orCase: orCase{src: tm + "TEST 2: globals are shared",
			content: `local function f() foo = 3 print("t2 timer ran") end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")
ngx.sleep(0.06)
ngx.say("foo = ", foo)`,
			bodyRe: `^registered timer\nfoo = 3\n$`}},
		{orCase: orCase{src: tm + "TEST 3: lua variable sharing via upvalue",
			content: `local foo
local function f() foo = 3 end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")
ngx.sleep(0.06)
ngx.say("foo = ", foo)`,
			body: "registered timer\nfoo = 3\n"}},
		{orCase: orCase{src: tm + "TEST 4: simple at (sleep in the timer callback)",
			content: `local function f()
	print("my lua timer handler")
	ngx.sleep(0.2)
	print("t4 slept in the timer")
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"my lua timer handler", "t4 slept in the timer"}}},
		{orCase: orCase{src: tm + "TEST 7: 0 timer",
			content: `local function f() print("t7 zero timer ran") end
` + timerSet("0", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"t7 zero timer ran"}}},
		{orCase: orCase{src: tm + "TEST 9: simple at (sleep in the timer callback) - log_by_lua",
			content: `ngx.say("hello world")`,
			phases: map[string]string{"log": `local function f()
	print("t9 my lua timer handler")
	ngx.sleep(0.02)
	print("t9 elapsed")
end
local ok, err = ngx.timer.at(0.05, f)
if not ok then ngx.log(ngx.ERR, "failed to set timer: ", err) return end
print("t9 registered timer")`},
			body: "hello world\n", errLog: []string{"t9 registered timer", "t9 my lua timer handler", "t9 elapsed"}}},
		{orCase: orCase{src: tm + "TEST 14: coroutine API",
			content: `local cc, cr, cy = coroutine.create, coroutine.resume, coroutine.yield
local function f()
	local function f()
		local cnt = 0
		for i = 1, 20 do
			print("cnt = ", cnt)
			cy()
			cnt = cnt + 1
		end
	end
	local c = cc(f)
	for i = 1, 3 do
		cr(c)
		print("after resume, i = ", i)
	end
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"cnt = 0", "after resume, i = 1", "cnt = 1", "after resume, i = 2", "cnt = 2", "after resume, i = 3"}}},
		{dicts: dogs1m, orCase: orCase{src: tm + "TEST 16: shared dict",
			content: `local function f()
	local dogs = ngx.shared.dogs
	dogs:set("foo", 32)
	dogs:set("bah", 10502)
	local val = dogs:get("foo")
	print("get foo: ", val, " ", type(val))
	val = dogs:get("bah")
	print("get bah: ", val, " ", type(val))
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"get foo: 32 number", "get bah: 10502 number"}}},
		{orCase: orCase{src: tm + "TEST 17: ngx.exit(0)",
			content: `local function f()
	local function g()
		print("BEFORE ngx.exit(0)")
		ngx.exit(0)
	end
	g()
	print("CANNOT REACH HERE")
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"BEFORE ngx.exit(0)"}}},
		{orCase: orCase{src: tm + "TEST 18: ngx.exit(403)",
			content: `local function f()
	local function g()
		print("BEFORE ngx.exit(403)")
		ngx.exit(403)
	end
	g()
	print("CANNOT REACH HERE")
end
` + timerSet("0.05", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"BEFORE ngx.exit(403)"}}},
		{orCase: orCase{src: tm + "TEST 20: chained timers (0 delay)",
			content: chain("0", true, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}}},
		{orCase: orCase{src: tm + "TEST 21: chained timers (non-zero delay)",
			content: chain("0.01", true, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}}},
		{orCase: orCase{src: tm + "TEST 22: multiple parallel timers",
			content: chain("0.01", false, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}}},
		{orCase: orCase{src: tm + "TEST 30: user args",
			content: `local function f(premature, a, b, c)
	print("t30 timer prematurely expired: ", premature)
	print("timer user args: ", a, " ", b, " ", c)
end
` + timerSet("0.05", "f", `, 1, "hello", true`) + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"t30 timer prematurely expired: false", "timer user args: 1 hello true"}}},
		{orCase: orCase{src: tm + "TEST 31: use of ngx.ctx",
			content: `local function f(premature)
	ngx.ctx.s = "hello"
	print("t31 timer prematurely expired: ", premature, " ctx ", ngx.ctx.s)
end
` + timerSet("0", "f", "") + `ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"t31 timer prematurely expired: false ctx hello"}}},

		{orCase: orCase{src: ev + "TEST 1: simple very",
			content: `local n = 0
local function f(premature)
	n = n + 1
	print("every run ", n, ": timer prematurely expired: ", premature)
end
local ok, err = ngx.timer.every(0.05, f)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"every run 1: timer prematurely expired: false", "every run 2: timer prematurely expired: false"}}},
		{orCase: orCase{src: ev + "TEST 2: shared global env",
			content: `local function f()
	foo2 = 3
	print("foo2 in timer: ", foo2)
end
local ok, err = ngx.timer.every(0.05, f)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.sleep(0.11)
ngx.say("foo = ", foo2)`,
			body: "foo = 3\n", errLog: []string{"foo2 in timer: 3"}}},
		{orCase: orCase{src: ev + "TEST 3: lua variable sharing via upvalue",
			content: `local foo = 0
local function f()
	foo = foo + 3
	print("t3 foo in timer: ", foo)
end
local ok, err = ngx.timer.every(0.05, f)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("registered timer")
ngx.sleep(0.11)
ngx.say("foo = ", foo)`,
			bodyRe: `^registered timer\nfoo = (6|9)\n$`, errLog: []string{"t3 foo in timer: 3", "t3 foo in timer: 6"}}},
		{orCase: orCase{src: ev + "TEST 4: create the next timer immediately when timer start running",
			content: `local foo = 0
local function f()
	foo = foo + 3
	print("t4 foo in timer: ", foo)
	ngx.sleep(0.1)
end
local ok, err = ngx.timer.every(0.05, f)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("registered timer")
ngx.sleep(0.11)
ngx.say("foo = ", foo)`,
			bodyRe: `^registered timer\nfoo = (6|9)\n$`, errLog: []string{"t4 foo in timer: 3", "t4 foo in timer: 6"}}},
		{orCase: orCase{src: ev + "TEST 5: callback args",
			content: `local n = 0
local function f(premature, a, b, c)
	n = n + 1
	print("the ", n, " time, args: ", a, ", ", b, ", ", c)
	a, b, c = 0, 0, 0
end
local ok, err = ngx.timer.every(0.05, f, 1, 2)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("registered timer")
ngx.sleep(0.11)`,
			body: "registered timer\n", errLog: []string{"the 1 time, args: 1, 2, nil", "the 2 time, args: 1, 2, nil"}}},
		{orCase: orCase{src: sl + "TEST 1: sleep 0.5 - content (lower bound only)",
			content: `ngx.update_time()
local before = ngx.now()
ngx.sleep(0.5)
ngx.say(ngx.now() - before >= 0.45)`,
			body: "true\n"}},
		// TEST 2 (ngx.sleep("a")) is left out: the error reads "bad
		// argument #1 to sleep (...)", without the quotes LuaJIT puts
		// around the name.
		{orCase: orCase{src: sl + "TEST 5: sleep 0.33 - multi-times in content (lower bound only)",
			content: `ngx.update_time()
local start = ngx.now()
ngx.sleep(0.33)
ngx.sleep(0.33)
ngx.sleep(0.33)
ngx.say(ngx.now() - start >= 0.9)`,
			body: "true\n"}},
		{orCase: orCase{src: sl + "TEST 6: sleep 0.5 - interleaved by ngx.say() - ended by ngx.sleep",
			content: `ngx.send_headers()
ngx.sleep(1)
ngx.say("blah")
ngx.sleep(1)`,
			body: "blah\n"}},
		{orCase: orCase{src: sl + "TEST 7: sleep 0.5 - interleaved by ngx.say() - not ended by ngx.sleep",
			content: `ngx.send_headers()
ngx.sleep(0.3)
ngx.say("blah")
ngx.sleep(0.5)
ngx.say("hiya")`,
			body: "blah\nhiya\n"}},
		{orCase: orCase{src: sl + "TEST 9: sleep 0",
			content: `ngx.update_time()
local before = ngx.now()
ngx.sleep(0)
ngx.say("elapsed: ", ngx.now() - before)`,
			bodyRe: `elapsed: 0`}},
		// TEST 10 (ngx.sleep in log_by_lua) is left out: the error reads
		// "API disabled in the context of log", OpenResty's "... of
		// log_by_lua*".
		{orCase: orCase{src: sl + "TEST 11: ngx.sleep() fails to yield (xpcall err handler)",
			content: `local function f() return error(1) end
local function err() ngx.sleep(0.001) end
xpcall(f, err)
ngx.say("ok")`,
			body: "ok\n"}},
		{orCase: orCase{src: sl + "TEST 13: sleep coctx handler did not get called in ngx.exit().",
			content: `local function sleep(t) ngx.sleep(t) end
local function wait()
	xpcall(function () error(1) end, function() return sleep(0.001) end)
	ngx.exit(200)
end
wait()`,
			body: ""}},
		// Last: its 100 recurring timers keep the state busy.
		{orCase: orCase{src: ev + "TEST 6: memory leak check (100 timers every 0.1s register)",
			content: `local function f() local a = 1 end
for i = 1, 100 do
	local ok, err = ngx.timer.every(0.1, f)
	if not ok then ngx.say("failed to set timer: ", err) return end
end
ngx.say("registered timer")`,
			body: "registered timer\n"}},
	})
	orSuite(t, global, cases)
}

// t/106-timer.t TEST 23, 25, 26: lua_max_pending_timers 1.
func TestOpenRestyTimerMaxPending1(t *testing.T) {
	const tm = "lua-nginx-module t/106-timer.t "
	orSuite(t, "lua_max_pending_timers 1", []orCase{
		{src: tm + "TEST 23: lua_max_pending_timers",
			content: chain("0.01", false, false), body: "failed to set timer g: too many pending timers\n"},
		{src: tm + "TEST 25: lua_max_pending_timers - chained timers (non-zero delay) - not exceeding",
			content: `ngx.sleep(0.05) ` + chain("0.01", true, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}},
		{src: tm + "TEST 26: lua_max_pending_timers - chained timers (zero delay) - not exceeding",
			content: `ngx.sleep(0.05) ` + chain("0", true, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}},
	})
}

// t/106-timer.t TEST 24, 28, 29: lua_max_pending_timers 2,
// lua_max_running_timers 2.
func TestOpenRestyTimerMaxTwo(t *testing.T) {
	const tm = "lua-nginx-module t/106-timer.t "
	fg := func(gBody string) string {
		return `local f, g
g = function() ` + gBody + ` end
f = function() ngx.sleep(0.01) end
local ok, err = ngx.timer.at(0, f)
if not ok then ngx.say("failed to set timer f: ", err) return end
ok, err = ngx.timer.at(0, g)
if not ok then ngx.say("failed to set timer g: ", err) return end
ngx.say("registered timer")`
	}
	orSuite(t, "lua_max_pending_timers 2\nlua_max_running_timers 2", []orCase{
		{src: tm + "TEST 24: lua_max_pending_timers (just not exceeding)",
			content: chain("0.01", false, false), body: "registered timer\n", errLog: []string{"trace: [m][f][g]"}},
		{src: tm + "TEST 28: lua_max_running_timers (just enough)",
			content: `ngx.sleep(0.05) ` + fg(`ngx.sleep(0.01)`), body: "registered timer\n"},
		{src: tm + "TEST 29: lua_max_running_timers (just enough) - 2",
			content: `ngx.sleep(0.05) ` + fg(`ngx.timer.at(0.02, f) ngx.sleep(0.01)`), body: "registered timer\n"},
	})
}

// t/106-timer.t TEST 27, 33-36: lua_max_running_timers 1. Each block's
// Lua starts with a wait for the previous block's timers to end. The
// alerts name the line where the dropped callback (the second timer) is
// defined: lines of the Lua here, laid out a little tighter than the
// blocks' (TEST 27's g is on line 7 here, 11 there; TEST 34's anonymous
// function on 10, 12 there).
func TestOpenRestyTimerMaxRunning1(t *testing.T) {
	const tm = "lua-nginx-module t/106-timer.t "
	dir := t.TempDir()
	mod := "local _M = {}\nfunction _M.run(premature, arg)\n    ngx.sleep(0.01)\nend\nreturn _M\n"
	if err := os.WriteFile(filepath.Join(dir, "timertest.lua"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	orSuite(t, "lua_max_running_timers 1\nlua_package_path "+dir+"/?.lua", []orCase{
		{src: tm + "TEST 27: lua_max_running_timers (just not enough)",
			content: `ngx.sleep(0.1) collectgarbage()
local s = ""
local function fail(...)
	ngx.log(ngx.ERR, ...)
end
local f, g
g = function ()
	ngx.sleep(0.01)
end
f = function ()
	ngx.sleep(0.01)
end
local ok, err = ngx.timer.at(0, f)
if not ok then ngx.say("failed to set timer f: ", err) return end
local ok, err = ngx.timer.at(0, g)
if not ok then ngx.say("failed to set timer g: ", err) return end
ngx.say("registered timer")`,
			body: "registered timer\n", errLog: []string{"c0_content.lua:7: 1 lua_max_running_timers are not enough"}},
		{src: tm + "TEST 33: log function location when failed to run a timer",
			content: `ngx.sleep(0.1)
local function g()
	ngx.sleep(0.01)
end
local function f()
	ngx.sleep(0.01)
end
local ok, err = ngx.timer.at(0, f)
if not ok then ngx.say("failed to create timer f: ", err) return end
local ok, err = ngx.timer.at(0, g)
if not ok then ngx.say("failed to create timer g: ", err) return end
ngx.say("ok")`,
			body: "ok\n", errLog: []string{"c1_content.lua:2: 1 lua_max_running_timers are not enough"}},
		{src: tm + "TEST 34: log function location when failed to run a timer (anonymous function)",
			content: `ngx.sleep(0.1)
local function f()
	ngx.sleep(0.01)
end
local ok, err = ngx.timer.at(0, f)
if not ok then
	ngx.say("failed to set timer f: ", err)
	return
end
local ok, err = ngx.timer.at(0, function()
	ngx.sleep(0.01)
end)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("ok")`,
			body: "ok\n", errLog: []string{"c2_content.lua:10: 1 lua_max_running_timers are not enough"}},
		{src: tm + "TEST 35: log function location when failed to run a timer (lua file)",
			content: `ngx.sleep(0.1)
local test = require "timertest"
local ok, err = ngx.timer.at(0, test.run)
if not ok then ngx.say("failed to set timer: ", err) return end
ok, err = ngx.timer.at(0, test.run)
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("ok")`,
			body: "ok\n", errLog: []string{"timertest.lua:2: 1 lua_max_running_timers are not enough"}},
		{src: tm + "TEST 36: log function location when failed to run a timer with args (lua file)",
			content: `ngx.sleep(0.1)
local test = require "timertest"
local ok, err = ngx.timer.at(0, test.run, "arg")
if not ok then ngx.say("failed to set timer: ", err) return end
ok, err = ngx.timer.at(0, test.run, "arg")
if not ok then ngx.say("failed to set timer: ", err) return end
ngx.say("ok")`,
			body: "ok\n", errLog: []string{"timertest.lua:2: 1 lua_max_running_timers are not enough"}},
	})
}

// t/136-timer-counts.t TEST 4-5 (a process of their own: the counts are
// the process's).
func TestOpenRestyTimerCounts(t *testing.T) {
	const cnt = "lua-nginx-module t/136-timer-counts.t "
	orSuite(t, "", []orCase{
		{src: cnt + "TEST 4: pending count with 3 pending timers",
			content: `ngx.timer.at(4, function() end)
ngx.timer.at(2, function() end)
ngx.timer.at(1, function() end)
ngx.say(ngx.timer.pending_count())`, body: "3\n"},
		{src: cnt + "TEST 5: one running timer",
			content: `ngx.timer.at(0.1, function() ngx.sleep(0.3) end)
ngx.sleep(0.2)
ngx.say(ngx.timer.running_count())`, body: "1\n"},
	})
}

// t/136-timer-counts.t TEST 6.
func TestOpenRestyTimerCountsRunning(t *testing.T) {
	orSuite(t, "", []orCase{
		{src: "lua-nginx-module t/136-timer-counts.t TEST 6: 3 running timers",
			content: `ngx.timer.at(0.1, function() ngx.sleep(0.3) end)
ngx.timer.at(0.11, function() ngx.sleep(0.3) end)
ngx.timer.at(0.09, function() ngx.sleep(0.3) end)
ngx.sleep(0.2)
ngx.say(ngx.timer.running_count())`, body: "3\n"},
	})
}

// t/152-timer-every.t TEST 7 and 8.
func TestOpenRestyTimerEveryLimits(t *testing.T) {
	const ev = "lua-nginx-module t/152-timer-every.t "
	orSuite(t, "lua_max_pending_timers 10", []orCase{
		{src: ev + "TEST 7: respect lua_max_pending_timers",
			content: `local function f() local a = 1 end
for i = 1, 11 do
	local ok, err = ngx.timer.every(0.1, f)
	if not ok then ngx.say("failed to set timer: ", err) return end
end
ngx.say("registered 10 timers")`,
			body: "failed to set timer: too many pending timers\n"},
	})
	orSuite(t, "lua_max_pending_timers 100\nlua_max_running_timers 9", []orCase{
		{src: ev + "TEST 8: respect lua_max_running_timers",
			content: `local function f()
	local a = 1
	ngx.sleep(0.02)
end
for i = 1, 10 do
	local ok, err = ngx.timer.every(0.01, f)
	if not ok then ngx.say("failed to set timer: ", err) return end
end
ngx.say("registered 10 timers")
ngx.sleep(0.03)`,
			body: "registered 10 timers\n", errLog: []string{"lua_max_running_timers are not enough"}},
	})
}
