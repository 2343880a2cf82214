package luaplugin

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runOK runs code in the content phase and returns its output, failing
// the test on a Lua error.
func runOK(t *testing.T, p *Pool, code string) string {
	t.Helper()
	res, w := run(t, p, PhaseContent, code)
	if res.Err != nil || res.Exited {
		t.Fatalf("run: %+v (output %q)", res, w.body.String())
	}
	return w.body.String()
}

func expectOutput(t *testing.T, got string, want ...string) {
	t.Helper()
	if w := strings.Join(want, "\n") + "\n"; got != w {
		t.Fatalf("got:\n%s\nwant:\n%s", got, w)
	}
}

// Resuming a coroutine that is not suspended fails with OpenResty's
// message: resuming one's resumer used to re-enter it until the Go stack
// overflowed and the process died.
func TestCoroutineStatusChecks(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local c1, c2
c1 = coroutine.create(function() ngx.say(coroutine.resume(c2)) end)
c2 = coroutine.create(function()
	ngx.say(coroutine.status(c1))
	ngx.say(coroutine.resume(c1))
	ngx.say(coroutine.resume(coroutine.running()))
end)
ngx.say(coroutine.resume(c1))
ngx.say(coroutine.resume(c1))
ngx.say(coroutine.status(c1))
local w = coroutine.wrap(function() end)
w()
ngx.say(pcall(w))
ngx.say(pcall(coroutine.create, 1))
ngx.say(pcall(coroutine.resume, {}))
ngx.say("[", {coroutine.yield(1, 2)}, "]")`)
	expectOutput(t, out,
		"normal",
		"falsecannot resume normal coroutine",
		"falsecannot resume running coroutine",
		"true",
		"true",
		"falsecannot resume dead coroutine",
		"dead",
		"falsecannot resume dead coroutine",
		"falsebad argument #1 to '?' (Lua function expected)",
		"falsebad argument #1 to '?' (coroutine expected)",
		"[]")
}

// Nesting resumes is bounded: each is Go stack in gopher-lua.
func TestCoroutineNestingBounded(t *testing.T) {
	p := newTestPool(t, Config{Timeout: 10 * time.Second})
	out := runOK(t, p, `
local depth = 0
local function dive()
	depth = depth + 1
	local ok, err = coroutine.resume(coroutine.create(dive))
	if not ok then ngx.say(depth, " ", err) end
end
dive()`)
	expectOutput(t, out, "1001 C stack overflow")
}

// A yield that gopher-lua would have to take across Go frames is refused
// cleanly (it used to corrupt the state); ordinary yields, tail-called
// ones included, work. This also guards glCallFrame, the mirror of
// gopher-lua's call frame that yieldable reads.
func TestYieldAcrossBoundary(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local function try(body)
	local co = coroutine.create(body)
	local ok, err = coroutine.resume(co)
	ngx.say(tostring(ok), " ", tostring(err))
end
try(function() pcall(coroutine.yield, 1) coroutine.yield("after") end)
try(function() local ok, err = pcall(function() coroutine.yield(1) end) coroutine.yield(err) end)
try(function() local t = setmetatable({}, {__index = function() coroutine.yield(1) end}) return t.x end)
try(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield(a) return a < b end) end)
try(function() for _ in function() coroutine.yield("it") end do end end)
local function deep(n) if n == 0 then return coroutine.yield("deep") end return deep(n - 1) end
try(function() deep(10) end)
local function tail() return coroutine.yield("tail") end
local w = coroutine.wrap(function() return tail() end)
ngx.say(w())
ngx.say(w("back"))`)
	expectOutput(t, out,
		"true after",
		"true test:8: attempt to yield across C-call boundary",
		"false test:9: attempt to yield across C-call boundary",
		"false test:10: attempt to yield across C-call boundary",
		"false test:11: attempt to yield across C-call boundary",
		"true deep",
		"tail",
		"back")
}

// A coroutine belongs to the request that created it: another one gets
// lua-nginx-module's "no co ctx found", also while the coroutine waits in
// its own request's goroutine (resuming it then would run one Lua thread
// on two goroutines).
func TestCoroutineBelongsToItsRequest(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1})
	reqA, wA := newReq()
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res := runReq(t, p, reqA, PhaseContent, `
shared_co = coroutine.create(function()
	shared_ready = true
	ngx.sleep(0.3)
	coroutine.yield("a")
end)
ngx.say(coroutine.resume(shared_co))`)
		if res.Err != nil {
			t.Error(res.Err)
		}
	}()
	go func() {
		for {
			time.Sleep(10 * time.Millisecond)
			req, w := newReq()
			runReq(t, p, req, PhaseContent, `ngx.print(tostring(shared_ready))`)
			p.Finish(req)
			if w.body.String() == "true" {
				close(started)
				return
			}
		}
	}()
	<-started
	reqB, wB := newReq()
	res := runReq(t, p, reqB, PhaseContent, `
ngx.say(coroutine.status(shared_co))
ngx.say(pcall(coroutine.resume, shared_co))`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	expectOutput(t, wB.body.String(), "dead", "falseno co ctx found")
	wg.Wait()
	expectOutput(t, wA.body.String(), "truea")
	p.Finish(reqA)
	p.Finish(reqB)
}

// set_by_lua and log_by_lua refuse lua-nginx-module's coroutine API; the
// filters get plain Lua coroutines.
func TestCoroutineContexts(t *testing.T) {
	p := newTestPool(t, Config{})
	for phase, want := range map[Phase]string{
		PhaseLog: "API disabled in the context of log_by_lua*",
		PhaseSet: "API disabled in the context of set_by_lua*",
	} {
		res, _ := run(t, p, phase, `coroutine.wrap(function() end)()`)
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%v: got %v, want %q", phase, res.Err, want)
		}
	}
	res, _ := run(t, p, PhaseHeaderFilter, `
local co = coroutine.wrap(function() coroutine.yield(1) error("boom") end)
assert(co() == 1)
co()`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "test:4: test:2: boom") {
		t.Errorf("header_filter: got %v", res.Err)
	}
}

// gopher-lua compiles a multiple assignment wrongly (values are stored as
// they are computed: gopher-lua issue #440); chunks, modules and
// loadstring get the rewritten form.
func TestMultipleAssignment(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local a, b = 1, 2
a, b = b, a
ngx.say(a, b)
local x, y = 0, 0
x, y = x + 1, x + y
ngx.say(x, y)
local f1, f2 = 1, 1
for _ = 1, 5 do f1, f2 = f2, f1 + f2 end
ngx.say(f1, " ", f2)
local t = {1, 2}
t[1], t[2] = t[2], t[1]
ngx.say(t[1], t[2])
local i, arr = 1, {}
arr[i], i = "first", 2
ngx.say(arr[1], i)
g1, g2 = "p", "q"
g1, g2 = g2, g1
ngx.say(g1, g2)
local u1, u2 = "u", "v"
local function swap() u1, u2 = u2, u1 end
swap()
ngx.say(u1, u2)
local m, n = 1, 2
m, n = (function() return 7, 8, 9 end)()
ngx.say(m, n)
local p1, p2, p3 = 1, 2, 3
p1, p2, p3 = p3, p1
ngx.say(p1, p2, tostring(p3))
ngx.say(loadstring("local a, b = ... a, b = b, a return a, b")(1, 2))`)
	expectOutput(t, out, "21", "10", "8 13", "21", "first2", "qp", "vu", "78", "31nil", "21")
}

// error(msg, level) names the function level calls up (gopher-lua named
// the caller of error at every level); error values that are not strings
// are logged as lua-nginx-module does.
func TestErrorLevels(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local function blame() error("caller's fault", 2) end
local function caller()
	blame()
end
ngx.say(select(2, pcall(caller)))
ngx.say(select(2, pcall(error, "msg")))
ngx.say(select(2, pcall(function() error("here") end)))
ngx.say(select(2, pcall(function() error("none", 0) end)))
ngx.say(type(select(2, pcall(function() error(42) end))))
ngx.say(select(2, pcall(error)))`)
	expectOutput(t, out, "test:4: caller's fault", "msg", "test:8: here", "none", "string", "nil")
	for _, code := range []string{`error(nil)`, `error({})`, `error(true)`} {
		res, _ := run(t, p, PhaseContent, code)
		if res.Err == nil || res.Err.Error() != "unknown reason" {
			t.Errorf("%s: got %v", code, res.Err)
		}
	}
}

// Runtime errors name the variable at fault as LuaJIT does.
func TestErrorNames(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local function try(f) ngx.say((select(2, pcall(f)))) end
try(function() undefined_fn(3) end)
try(function() undefined_tbl.x = 1 end)
try(function() local v; return v.y end)
try(function() local t = {}; t.a.b = 1 end)
try(function() local t = {}; t:nomethod() end)
try(function() local t = {}; return t.n + 1 end)
try(function() local n; return 1 + n end)
try(function() local v; return "a" .. v .. "b" end)
try(function() local z; return -z end)
try(function() local up; return (function() return up.x end)() end)
try(function() return #nil end)
try(function() local f = 5; f() end)
try(function() return ({}).x.y end)
ngx.say(("abc"):upper(), #"abc", 2 ^ 3, "5" + 1, 10 .. "")`)
	expectOutput(t, out,
		"test:3: attempt to call global 'undefined_fn' (a nil value)",
		"test:4: attempt to index global 'undefined_tbl' (a nil value)",
		"test:5: attempt to index local 'v' (a nil value)",
		"test:6: attempt to index field 'a' (a nil value)",
		"test:7: attempt to call method 'nomethod' (a nil value)",
		"test:8: attempt to perform arithmetic on field 'n' (a nil value)",
		"test:9: attempt to perform arithmetic on local 'n' (a nil value)",
		"test:10: attempt to concatenate local 'v' (a nil value)",
		"test:11: attempt to perform arithmetic on local 'z' (a nil value)",
		"test:12: attempt to index upvalue 'up' (a nil value)",
		"test:13: attempt to get length of a nil value",
		"test:14: attempt to call local 'f' (a number value)",
		"test:15: attempt to index field 'x' (a nil value)",
		"ABC38610")
}

// A run's error carries lua-nginx-module's traceback: all frames up to
// 22, then "...".
func TestTraceback(t *testing.T) {
	p := newTestPool(t, Config{})
	var b strings.Builder
	b.WriteString("local function f1() error('deep') end\n")
	for i := 2; i <= 30; i++ {
		b.WriteString("local function f" + itoa(i) + "() f" + itoa(i-1) + "() end\n")
	}
	b.WriteString("f30()\n")
	res, _ := run(t, p, PhaseContent, b.String())
	le, ok := res.Err.(*Error)
	if !ok {
		t.Fatalf("got %+v", res)
	}
	lines := strings.Split(le.Traceback, "\n")
	if len(lines) != 2+22+1 || lines[0] != "stack traceback:" || lines[1] != "coroutine 0:" ||
		lines[2] != "\t[C]: in function 'error'" || lines[3] != "\ttest:1: in function 'f1'" ||
		lines[len(lines)-1] != "\t..." {
		t.Fatalf("traceback:\n%s", le.Traceback)
	}
	res, _ = run(t, p, PhaseContent, "local t = {}\nlocal function g() t.x.y = 1 end\ng()")
	if le := res.Err.(*Error); le.Traceback != "stack traceback:\ncoroutine 0:\n\ttest:2: in function 'g'\n\ttest:3: in main chunk" {
		t.Fatalf("traceback:\n%s", le.Traceback)
	}
}

func itoa(i int) string { return FormatNumber(float64(i)) }

// require has Lua 5.1's messages, and require "ngx" gives ngx.
func TestRequireMessages(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"loopy.lua": `require "loopy"`,
		"plain.lua": `plain_loaded = (plain_loaded or 0) + 1`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := newTestPool(t, Config{PackagePath: []string{filepath.Join(dir, "?.lua")}})
	out := runOK(t, p, `
ngx.say(select(2, pcall(require, "nope")))
ngx.say(select(2, pcall(require, "loopy")))
ngx.say(require("plain"), " ", require("plain"), " ", plain_loaded)
ngx.say(require("ngx") == ngx, " ", type(require("resty.core")), " ", package.loaded["resty.core"] == require("resty.core"))`)
	expectOutput(t, out,
		"module 'nope' not found:\n\tno field package.preload['nope']\n\tno file '"+filepath.Join(dir, "nope.lua")+"'\n\tno embedded module 'nope'",
		filepath.Join(dir, "loopy.lua")+":1: loop or previous error loading module 'loopy'",
		"true true 1",
		"true table true")
}

// debug.traceback (the one debug function scripts get) has LuaJIT's
// format, and xpcall(f, debug.traceback) works.
func TestDebugTraceback(t *testing.T) {
	p := newTestPool(t, Config{})
	out := runOK(t, p, `
local function inner() return debug.traceback("msg") end
local function outer() return inner() end
ngx.say(outer())
ngx.say(select(2, xpcall(function() local x = nil; return x.y end, debug.traceback)))
ngx.say(type(debug.traceback({})))`)
	expectOutput(t, out,
		"msg\nstack traceback:\n\ttest:2: in function <test:2>\n\t(tail call): ?\n\ttest:4: in main chunk",
		"test:5: attempt to index local 'x' (a nil value)\nstack traceback:\n\ttest:5: in function <test:5>\n\t[C]: in function 'xpcall'\n\ttest:5: in main chunk",
		"table")
}
