package luaplugin

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// runReq runs code for req in phase on req's state (binding it first), as
// the resty handler does.
func runReq(t testing.TB, p *Pool, req *Request, phase Phase, code string) Result {
	t.Helper()
	c, err := Compile("test", code)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := p.Acquire(req)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(vm)
	return vm.Run(c, req, phase)
}

func newReq() (*Request, *fakeResponse) {
	w := newFakeResponse()
	return &Request{R: httptest.NewRequest("GET", "/", nil), W: w, Start: time.Now()}, w
}

// Waits free the state: many requests sleeping at once on ONE state finish
// together, also when the sleep is inside pcall (which gopher-lua cannot
// yield across: the waiting Go function lets go of the state instead).
func TestWaitsFreeTheState(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1})
	const n = 200
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, w := newReq()
			code := `ngx.ctx.id = ` + fmt.Sprint(i) + `
ngx.sleep(0.2)`
			if i%2 == 0 {
				code = `ngx.ctx.id = ` + fmt.Sprint(i) + `
local ok, err = pcall(ngx.sleep, 0.2)
assert(ok, err)
local ok2 = pcall(function() pcall(ngx.sleep, 0.01) end)
assert(ok2)`
			}
			if res := runReq(t, p, req, PhaseAccess, code); res.Err != nil {
				t.Error(res.Err)
				failed.Add(1)
			}
			// The request's ngx.ctx survived the waits of the others.
			if res := runReq(t, p, req, PhaseContent, `ngx.print(ngx.ctx.id)`); res.Err != nil || w.body.String() != fmt.Sprint(i) {
				t.Errorf("request %d: ngx.ctx after the wait: %v %q", i, res.Err, w.body.String())
			}
			p.Finish(req)
		}()
	}
	wg.Wait()
	// Serially this would take n × 0.2 s = 40 s.
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("%d sleeping requests on one state took %s: the waits held the state", n, d)
	}
	if st := p.Stats(); st.States != 1 {
		t.Fatalf("states: %+v", st)
	}
}

// A coroutine that sleeps, resumed by a request while others run on the
// state, still works: the thread that was running is restored.
func TestCoroutineAcrossWaits(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, w := newReq()
			res := runReq(t, p, req, PhaseContent, `
local co = coroutine.create(function(a)
	ngx.sleep(0.05)
	local b = coroutine.yield(a + 1)
	assert(coroutine.running() ~= nil)
	pcall(ngx.sleep, 0.05)
	return b * 2
end)
local ok1, v1 = coroutine.resume(co, 1)
local ok2, v2 = coroutine.resume(co, 21)
ngx.print(tostring(ok1), v1, tostring(ok2), v2, coroutine.status(co))`)
			if res.Err != nil || w.body.String() != "true2true42dead" {
				t.Errorf("got %v %q", res.Err, w.body.String())
			}
			p.Finish(req)
		}()
	}
	wg.Wait()
}

// A run over its budget is stopped with its own thread; the state keeps
// its timers and module state.
func TestTimeoutKeepsTimers(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1, Timeout: 200 * time.Millisecond})
	req, _ := newReq()
	if res := runReq(t, p, req, PhaseContent, `
assert(ngx.timer.every(0.02, function() ngx.shared.d:incr("ticks", 1, 0) end))
mod_state = "kept"`); res.Err != nil {
		t.Fatal(res.Err)
	}
	p.Finish(req)
	req2, _ := newReq()
	res := runReq(t, p, req2, PhaseAccess, `while true do end`)
	if res.Err == nil || !res.Err.(*Error).Timeout {
		t.Fatalf("want a timeout, got %+v", res)
	}
	p.Finish(req2)
	before, _, _ := p.Dict("d").Get("ticks")
	time.Sleep(200 * time.Millisecond)
	after, _, _ := p.Dict("d").Get("ticks")
	if after.Num() <= before.Num() {
		t.Fatalf("timer stopped after a timeout: ticks %v then %v", before.Num(), after.Num())
	}
	req3, w := newReq()
	if res := runReq(t, p, req3, PhaseContent, `ngx.print(mod_state, " ", ngx.timer.pending_count())`); res.Err != nil || w.body.String() != "kept 1" {
		t.Fatalf("after the timeout: %v %q", res.Err, w.body.String())
	}
	if st := p.Stats(); st.Discarded != 0 || st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A retired state runs its pending timers at once with premature = true,
// counted, as an nginx worker that shuts down does.
func TestRetiredStateRunsTimersPremature(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1})
	req, _ := newReq()
	if res := runReq(t, p, req, PhaseContent, `
assert(ngx.timer.at(60, function(premature, who)
	ngx.shared.d:set("early", tostring(premature) .. " " .. who)
end, "bob"))`); res.Err != nil {
		t.Fatal(res.Err)
	}
	p.Finish(req)
	p.Reset()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, _, _ := p.Dict("d").Get("early")
		if v.Str() == "true bob" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending timer not run early: %+v", v)
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := p.Stats()
	if st.TimersLost != 1 || st.Timers != 0 {
		t.Fatalf("stats %+v", st)
	}
	// New requests get a fresh state.
	req2, w := newReq()
	if res := runReq(t, p, req2, PhaseContent, `ngx.print(ngx.timer.pending_count())`); res.Err != nil || w.body.String() != "0" {
		t.Fatalf("%v %q", res.Err, w.body.String())
	}
	p.Finish(req2)
}

// Waiting for a state that another run holds has a bound and a clear
// error.
func TestStateWaitTimeout(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 1, StateWaitTimeout: 50 * time.Millisecond, Timeout: 2 * time.Second})
	busy := make(chan struct{})
	go func() {
		req, _ := newReq()
		close(busy)
		runReq(t, p, req, PhaseContent, `local t = os.clock() while os.clock() - t < 0.5 do end`)
		p.Finish(req)
	}()
	<-busy
	time.Sleep(100 * time.Millisecond)
	req, _ := newReq()
	_, err := p.Acquire(req)
	if !errors.Is(err, errStateWait) {
		t.Fatalf("want errStateWait, got %v", err)
	}
	p.Finish(req)
}

// `..` past lua_max_string_size raises a catchable "string length
// overflow" before the join, in coroutines too.
func TestConcatGuard(t *testing.T) {
	p := newTestPool(t, Config{MaxStringSize: 1 << 20})
	res, w := run(t, p, PhaseContent, `
local s = "x"
local ok, err = pcall(function() for i = 1, 40 do s = s .. s end end)
ngx.say(tostring(ok), " ", err, " ", #s)
local co = coroutine.wrap(function()
	local t = string.rep("y", 1000)
	local ok, err = pcall(function() while true do t = t .. t .. 1 end end)
	return err
end)
ngx.say(co())
local a, b = "ab", 12
ngx.say(a .. b .. "c")`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "false test:3: string length overflow 1048576\ntest:7: string length overflow\nab12c\n"
	if got := w.body.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSandboxLimits(t *testing.T) {
	t.Setenv("RESTY_TEST_SECRET", "hunter2")
	t.Setenv("RESTY_TEST_PASSED", "visible")
	core, logs := observer.New(zapcore.WarnLevel)
	p := newTestPool(t, Config{MaxStates: 1, Env: []string{"RESTY_TEST_PASSED", "RESTY_TEST_SET=fixed"}, PackagePath: []string{"/srv/lua/?.lua"}})
	cases := []struct{ code, want string }{
		{`ngx.print(tostring(os.getenv("RESTY_TEST_SECRET")), " ", os.getenv("RESTY_TEST_PASSED"), " ", os.getenv("RESTY_TEST_SET"))`, "nil visible fixed"},
		{`ngx.print(type(dofile), " ", type(loadfile), " ", type(load), " ", type(loadstring))`, "nil nil function function"},
		{`ngx.print(package.path, "|", package.cpath, "|", select(2, pcall(function() package.path = "/tmp/?.lua" end)))`,
			"/srv/lua/?.lua||test:1: package.path is read-only in caddy-resty: set lua_package_path in the Caddy config"},
		{`ngx.print(package.path, " ", type(package.loaded))`, "/srv/lua/?.lua table"},
		{`local ok, err = pcall(function() getmetatable("").__index = {} end) ngx.print(tostring(ok), " ", err, " ", ("ab"):upper(), " ", type(getmetatable("").__index))`,
			"false test:1: attempt to modify the string metatable AB table"},
		{`setfenv(0, {string = {}})`, ""},
		{`ngx.print(type(ngx), " ", ("x"):rep(2))`, "table xx"},
		{`ngx.print(tonumber("1e4"), " ", tonumber("0x10"), " ", tostring(tonumber("1e")), " ", tonumber("z", 36), " ", tonumber(" 5.5 "), " ", tostring(tonumber("5x")), " ", tonumber("-0x1F"), " ", tonumber(".5"), " ", tonumber("10", 2), " ", tostring(tonumber("")), " ", tostring(tonumber("1e500")))`,
			"10000 16 nil 35 5.5 nil -31 0.5 2 nil inf"},
		{`local t = os.clock() for i = 1, 1000 do collectgarbage() end local kb = collectgarbage("count") ngx.print(type(kb), " ", kb > 0)`, "number true"},
		{`newglobal = 1`, ""},
		{`ngx.print(newglobal)`, "1"},
	}
	for _, c := range cases {
		req, w := newReq()
		req.Logger = zap.New(core)
		res := runReq(t, p, req, PhaseContent, c.code)
		p.Finish(req)
		if res.Err != nil || w.body.String() != c.want {
			t.Errorf("%s\n got %v %q\nwant %q", c.code, res.Err, w.body.String(), c.want)
		}
	}
	warned := logs.FilterMessageSnippet("writing a global Lua variable ('newglobal')").Len()
	if warned != 1 {
		t.Errorf("global write warnings: %d, want 1: %v", warned, logs.All())
	}
}

// The log queue is bounded: when full, log phases are dropped and counted.
func TestLogQueueBounded(t *testing.T) {
	p := newTestPool(t, Config{LogQueue: 2, LogWorkers: 1})
	block := make(chan struct{})
	var ran atomic.Int32
	queued, dropped := 0, 0
	for i := 0; i < 10; i++ {
		if p.Background(func() { <-block; ran.Add(1) }) {
			queued++
		} else {
			dropped++
		}
	}
	close(block)
	if queued < 2 || queued > 3 || dropped != 10-queued {
		t.Fatalf("queued %d dropped %d", queued, dropped)
	}
	if st := p.Stats(); st.LogsDropped != int64(dropped) {
		t.Fatalf("stats %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for int(ran.Load()) != queued && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if int(ran.Load()) != queued {
		t.Fatalf("ran %d of %d", ran.Load(), queued)
	}
}

// A run that allocates past lua_max_memory is stopped with a clear error.
func TestMemoryGuard(t *testing.T) {
	p := newTestPool(t, Config{MaxMemory: 256 << 20, Timeout: 20 * time.Second})
	res, _ := run(t, p, PhaseContent, `
local t = {}
for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "memory limit") {
		t.Fatalf("want a memory stop, got %+v", res)
	}
	if st := p.Stats(); st.MemoryStops == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkRunOverhead is the engine's cost around one run of a trivial
// chunk for a request: binding a state, the lock, the thread, the budget
// clock, the run, releasing.
func BenchmarkRunOverhead(b *testing.B) {
	p := NewPool(Config{})
	defer p.Close()
	c, err := Compile("x", `local a = 1`)
	if err != nil {
		b.Fatal(err)
	}
	req, _ := newReq()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		vm, err := p.Acquire(req)
		if err != nil {
			b.Fatal(err)
		}
		vm.Run(c, req, PhaseAccess)
		p.Release(vm)
		p.Finish(req)
	}
}
