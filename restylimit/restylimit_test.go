package restylimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
	"github.com/caddy-resty/caddy-resty/shdict"
)

// limitTestClock is a manual clock shared by the limiters and the dicts of
// a test pool.
type limitTestClock struct{ ms atomic.Int64 }

func (c *limitTestClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *limitTestClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// newLimitPool returns a pool with a 1 MiB dict for each name, the
// limiters and dicts on a manual clock, and a global advance(seconds) in
// each state to move that clock from Lua.
func newLimitPool(tb testing.TB, cfg luaplugin.Config, names ...string) (*luaplugin.Pool, *limitTestClock) {
	tb.Helper()
	clk := &limitTestClock{}
	clk.ms.Store(1_700_000_000_000)
	p := luaplugin.NewPool(cfg)
	dicts := map[string]*shdict.Dict{}
	for _, name := range names {
		d, err := shdict.New(name, 1<<20, shdict.WithClock(clk.now))
		if err != nil {
			tb.Fatal(err)
		}
		dicts[name] = d
	}
	p.SetDicts(dicts)
	SetClock(p, clk.now)
	tb.Cleanup(p.Close)
	return p, clk
}

// limitRun runs code in the content phase and returns the result and what
// it printed.
func limitRun(tb testing.TB, p *luaplugin.Pool, clk *limitTestClock, code string) (luaplugin.Result, string) {
	tb.Helper()
	c := luatest.Compile(tb, code)
	vm, err := p.Acquire(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Release(vm)
	vm.L.SetGlobal("advance", vm.L.NewFunction(func(L *lua.LState) int {
		clk.advance(time.Duration(math.Round(float64(L.CheckNumber(1))*1000)) * time.Millisecond)
		return 0
	}))
	req, w := luatest.NewRequest()
	res := vm.Run(c, req, luaplugin.PhaseContent)
	return res, w.Body.String()
}

// limitOut runs code and fails the test on a Lua error.
func limitOut(tb testing.TB, p *luaplugin.Pool, clk *limitTestClock, code string) string {
	tb.Helper()
	res, out := limitRun(tb, p, clk, code)
	if res.Err != nil || res.Exited {
		tb.Fatalf("run: %+v (output %q)", res, out)
	}
	return out
}

// limitErr runs code that must fail and returns the error message.
func limitErr(t *testing.T, p *luaplugin.Pool, clk *limitTestClock, code string) string {
	t.Helper()
	res, out := limitRun(t, p, clk, code)
	if res.Err == nil {
		t.Fatalf("no error (output %q)", out)
	}
	return res.Err.Error()
}

func TestRestyLimitReqBurst(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	out := limitOut(t, p, clk, `
		local limit_req = require "resty.limit.req"
		local lim = assert(limit_req.new("store", 10, 5))
		local pass, rej = 0, 0
		for i = 1, 20 do
			local delay, err = lim:incoming("k", true)
			if delay then
				pass = pass + 1
				ngx.say(delay, " ", err)
			else
				rej = rej + 1
				assert(err == "rejected", err)
			end
		end
		ngx.say("pass ", pass, " rejected ", rej)
		advance(0.1) -- one request leaks out
		ngx.say(lim:incoming("k", true))
		ngx.say(lim:incoming("k", true))
		advance(0.25) -- 2.5 leak out
		ngx.say(lim:incoming("k", true))
		advance(10)
		ngx.say(lim:incoming("k", true))
	`)
	luatest.ExpectLines(t, out,
		"0 0", "0.1 1", "0.2 2", "0.3 3", "0.4 4", "0.5 5",
		"pass 6 rejected 14",
		"0.55", "nilrejected",
		"0.353.5",
		"00",
	)
}

func TestRestyLimitReqClassicSnippet(t *testing.T) {
	t.Parallel()
	p, clk := newLimitPool(t, luaplugin.Config{}, "my_limit_req_store")
	code := `
local limit_req = require "resty.limit.req"
local lim, err = limit_req.new("my_limit_req_store", 10, 5)
if not lim then ngx.log(ngx.ERR, "failed to instantiate a resty.limit.req object: ", err) return ngx.exit(500) end
local key = ngx.var.binary_remote_addr
local delay, err = lim:incoming(key, true)
if not delay then
    if err == "rejected" then return ngx.exit(503) end
    ngx.log(ngx.ERR, "failed to limit req: ", err)
    return ngx.exit(500)
end
if delay >= 0.001 then ngx.sleep(delay) end
`
	// The limiter clock stands still, so the six requests that pass sleep
	// 0, 0.1, ..., 0.5 s of real time and the seventh is rejected.
	start := time.Now()
	for i := 0; i < 6; i++ {
		res, _ := limitRun(t, p, clk, code)
		if res.Err != nil || res.Exited {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Fatalf("the delays were not slept: %v", el)
	}
	res, _ := limitRun(t, p, clk, code)
	if !res.Exited || res.Code != 503 {
		t.Fatalf("want exit 503, got %+v", res)
	}
	p2, clk2 := newLimitPool(t, luaplugin.Config{})
	res, _ = limitRun(t, p2, clk2, code)
	if !res.Exited || res.Code != 500 {
		t.Fatalf("missing dict: want exit 500, got %+v", res)
	}
}

// The cases of lua-resty-limit-traffic's t/req.t.
func TestRestyLimitReqLibraryCases(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	out := limitOut(t, p, clk, `
		local limit_req = require "resty.limit.req"
		local lim = limit_req.new("store", 2, 10)
		local delay1, excess1 = lim:incoming("foo", true)
		local delay2, excess2 = lim:incoming("foo", true)
		local delay3 = lim:incoming("bar", true)
		local delay4 = lim:incoming("bar", true)
		ngx.say(delay1, " ", excess1, " ", delay2, " ", excess2, " ", delay3, " ", delay4)

		-- burst changes
		lim = limit_req.new("store", 2, 0)
		for burst = 0, 2 do
			ngx.shared.store:flush_all()
			if burst > 0 then lim:set_burst(burst) end
			for i = 1, 10 do
				local delay, err = lim:incoming("foo", true)
				if not delay then ngx.say(i, ": error: ", err) break end
			end
		end

		-- no commit from the third call on
		ngx.shared.store:flush_all()
		lim = limit_req.new("store", 2, 10)
		for i = 1, 4 do
			ngx.say("delay: ", (lim:incoming("bar", i < 3)))
		end

		-- commit and uncommit
		ngx.shared.store:flush_all()
		lim = limit_req.new("store", 40, 40)
		for i = 1, 5 do
			local delay, err = lim:incoming("u", true)
			ngx.say(i, ": delay: ", delay)
			assert(lim:uncommit("u"))
		end
		ngx.say(lim:uncommit("missing"))

		-- values that are not ours
		ngx.shared.store:set("n", 32)
		ngx.shared.store:set("s", "a")
		ngx.shared.store:lpush("l", "a")
		ngx.say(lim:incoming("n", true))
		ngx.say(lim:incoming("s", false))
		ngx.say(lim:incoming("l", true))
		ngx.say(lim:uncommit("n"))
		ngx.say(ngx.shared.store:get("n"))
	`)
	luatest.ExpectLines(t, out,
		"0 0 0.5 1 0 0.5",
		"2: error: rejected",
		"3: error: rejected",
		"4: error: rejected",
		"delay: 0", "delay: 0.5", "delay: 1", "delay: 1",
		"1: delay: 0", "2: delay: 0.025", "3: delay: 0.025", "4: delay: 0.025", "5: delay: 0.025",
		"nilnot found",
		"nilshdict abused by other users",
		"nilshdict abused by other users",
		"nilshdict abused by other users",
		"nilshdict abused by other users",
		"32",
	)
}

// The record in the dict has the library's layout: excess in 1/1000
// requests and the time in milliseconds, 8 bytes each, little endian.
func TestRestyLimitReqStateLayout(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	limitOut(t, p, clk, `
		local lim = require("resty.limit.req").new("store", 4, 10)
		lim:incoming("k", true)
		lim:incoming("k", true)
		lim:incoming("k", true)
	`)
	v, _, err := p.Dict("store").Get("k")
	if err != nil || v.Kind() != shdict.KindString || len(v.Str()) != 16 {
		t.Fatalf("record %v %v", v, err)
	}
	ex, last, ok := limitReqDecode(v)
	if !ok || ex != 2000 || int64(last) != clk.ms.Load() {
		t.Fatalf("excess %d last %d (now %d)", ex, last, clk.ms.Load())
	}
	// A fractional excess is truncated in the record, as the C struct's
	// unsigned long does: 2000 - 4000*0.333 + 1000 = 1668.
	clk.advance(333 * time.Millisecond)
	out := limitOut(t, p, clk, `ngx.say(require("resty.limit.req").new("store", 4, 10):incoming("k", true))`)
	if out != "0.4170.668\n" && out != "0.4171.668\n" {
		t.Fatalf("got %q", out)
	}
	v, _, _ = p.Dict("store").Get("k")
	if ex, _, _ = limitReqDecode(v); ex != 1668 {
		t.Fatalf("excess %d", ex)
	}
	// The record written by the Lua library (same layout) is read back.
	var b [16]byte
	b[0], b[1] = 0xe8, 0x03 // 1000
	ms := uint64(clk.ms.Load())
	for i := 0; i < 8; i++ {
		b[8+i] = byte(ms >> (8 * i))
	}
	if _, err := p.Dict("store").Set("lib", shdict.StringValue(string(b[:])), 0, 0); err != nil {
		t.Fatal(err)
	}
	out = limitOut(t, p, clk, `ngx.say(require("resty.limit.req").new("store", 4, 10):incoming("lib", false))`)
	if out != "0.52\n" {
		t.Fatalf("got %q", out)
	}
}

// A limiter kept across requests follows its dict through a config reload
// that replaces it, and keeps the old one when the name disappears.
func TestRestyLimitFollowsReload(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	old := p.Dict("store")
	code := `
		if not LIM then LIM = require("resty.limit.count").new("store", 10, 60) end
		ngx.say(select(2, LIM:incoming("k", true)))`
	run := func() string {
		vm, err := p.Acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Release(vm) // the pool has one state: the next run gets it again
		return limitOut(t, p, clk, code)
	}
	if got := run() + run(); got != "9\n8\n" {
		t.Fatalf("got %q", got)
	}
	bigger, _ := shdict.New("store", 2<<20, shdict.WithClock(clk.now))
	p.SetDicts(map[string]*shdict.Dict{"store": bigger})
	if got := run(); got != "9\n" {
		t.Fatalf("after the reload: got %q", got)
	}
	p.SetDicts(map[string]*shdict.Dict{})
	if got := run(); got != "8\n" {
		t.Fatalf("after the dict went away: got %q", got)
	}
	if v, _, _ := old.Get("k"); v.Num() != 8 {
		t.Fatalf("old dict: %v", v.Num())
	}
}

func TestRestyLimitArgumentErrors(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	out := limitOut(t, p, clk, `
		local req = require "resty.limit.req"
		local count = require "resty.limit.count"
		local conn = require "resty.limit.conn"
		ngx.say(req.new("nope", 1, 1))
		ngx.say(count.new("nope", 1, 1))
		ngx.say(conn.new("nope", 1, 1, 1))
		ngx.say(req.new(nil, 1, 1))
		local lim = req.new("store", 1, 1)
		ngx.say(lim:incoming(nil, true))
		ngx.say(lim:incoming("", true))
		ngx.say(lim:incoming(string.rep("x", 65536), true))
		ngx.say(lim:incoming(42, true))
		ngx.say(ngx.shared.store:get("42") ~= nil)
		ngx.say(count.new("store", 1, 1):incoming(nil, true))
		ngx.say(conn.new("store", 1, 1, 1):incoming(nil, true))
		ngx.say(req._VERSION ~= nil, type(lim.incoming), lim.new == req.new)
		lim:set_rate("20")
		ngx.say(lim:incoming("rate", true))
		ngx.say(lim:incoming("rate", true))
	`)
	luatest.ExpectLines(t, out,
		"nilshared dict not found",
		"nilshared dict not found",
		"nilshared dict not found",
		"nilshared dict not found",
		"nilnil key",
		"nilempty key",
		"nilkey too long",
		"00",
		"true",
		"nilnil key",
		"nilnil key",
		"truefunctiontrue",
		"00",
		"0.051",
	)

	for _, c := range []struct{ code, want string }{
		{`require("resty.limit.req").new("store", 0, 1)`, "assertion failed!"},
		{`require("resty.limit.req").new("store", 1, -1)`, "assertion failed!"},
		{`require("resty.limit.req").new("store", nil, 1)`, "attempt to compare number with nil"},
		{`require("resty.limit.req").new("store", "10", 1)`, "attempt to compare number with string"},
		{`require("resty.limit.req").new("store", 1)`, "attempt to compare number with nil"},
		{`require("resty.limit.count").new("store", 1, 0)`, "assertion failed!"},
		{`require("resty.limit.conn").new("store", 1, 0, 0)`, "assertion failed!"},
		{`require("resty.limit.conn").new("store", 1, 0)`, "attempt to compare number with nil"},
		{`require("resty.limit.req").new("store", 1, 1):set_rate(nil)`, "attempt to perform arithmetic on local 'rate' (a nil value)"},
		{`require("resty.limit.req").new("store", 1, 1):set_burst("x")`, "attempt to perform arithmetic on local 'burst' (a string value)"},
		{`require("resty.limit.req").new("store", 1, 1).incoming("k", true)`, "bad argument #1 to 'incoming' (resty.limit.req object expected, got string)"},
		{`require("resty.limit.req").new("store", 1, 1):uncommit()`, "assertion failed!"},
		{`require("resty.limit.count").new("store", 1, 1):uncommit(nil)`, "assertion failed!"},
		{`require("resty.limit.conn").new("store", 1, 1, 1):leaving(false)`, "assertion failed!"},
		{`local c = require("resty.limit.conn").new("store", 1, 1, 1) c:incoming("lat", true) c:leaving("lat", {})`, "attempt to perform arithmetic on local 'req_latency' (a table value)"},
		{`ngx.shared.store:set("b", true) require("resty.limit.count").new("store", 1, 1):incoming("b")`, "attempt to perform arithmetic on a boolean value"},
	} {
		if msg := limitErr(t, p, clk, c.code); !strings.Contains(msg, c.want) {
			t.Errorf("%s: got %q, want %q", c.code, msg, c.want)
		}
	}
}

// The cases of lua-resty-limit-traffic's t/count.t, and the window.
func TestRestyLimitCount(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	out := limitOut(t, p, clk, `
		local limit_count = require "resty.limit.count"
		local lim = limit_count.new("store", 10, 100)
		for i = 1, 12 do
			local delay, err, rest = lim:incoming("/t", true)
			if not delay then ngx.say(err, " ", rest) else ngx.say("remaining: ", err, " delay: ", delay) end
		end
		ngx.say("ttl ", ngx.shared.store:ttl("/t"), " value ", ngx.shared.store:get("/t"))

		lim = limit_count.new("store", 1, 10)
		ngx.say(lim:incoming("foo", true)) ngx.say(lim:incoming("foo", true))
		ngx.say(lim:incoming("bar", true)) ngx.say(lim:incoming("bar", true))

		-- the window starts with the first request and resets when it ends
		lim = limit_count.new("store", 2, 1)
		ngx.say(lim:incoming("w", true)) advance(0.5)
		ngx.say(lim:incoming("w", true)) ngx.say(lim:incoming("w", true))
		advance(0.499) ngx.say(lim:incoming("w", true))
		advance(0.001) ngx.say(lim:incoming("w", true))

		-- dry runs from the 3rd call on
		lim = limit_count.new("store", 5, 10)
		for i = 1, 4 do ngx.say(select(2, lim:incoming("d", i < 3))) end
		ngx.say(select(2, lim:incoming("fresh")))

		-- commit & uncommit
		lim = limit_count.new("store", 2, 10)
		for i = 1, 3 do
			ngx.say("remaining: ", select(2, lim:incoming("u", true)), " uncommit: ", lim:uncommit("u"))
		end
		ngx.say(lim:uncommit("never"))
		ngx.shared.store:set("str", "abc")
		ngx.say(lim:incoming("str", true))
		ngx.say(lim:uncommit("str"))
	`)
	luatest.ExpectLines(t, out,
		"remaining: 9 delay: 0", "remaining: 8 delay: 0", "remaining: 7 delay: 0", "remaining: 6 delay: 0",
		"remaining: 5 delay: 0", "remaining: 4 delay: 0", "remaining: 3 delay: 0", "remaining: 2 delay: 0",
		"remaining: 1 delay: 0", "remaining: 0 delay: 0", "rejected 0", "rejected 0",
		"ttl 100 value -2",
		"00", "nilrejected0", "00", "nilrejected0",
		"01", "00", "nilrejected0", "nilrejected0", "01",
		"4", "3", "2", "2", "4",
		"remaining: 1 uncommit: 2", "remaining: 1 uncommit: 2", "remaining: 1 uncommit: 2",
		"2",
		"nilnot a number",
		"nilnot a number",
	)
}

func TestRestyLimitConn(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	out := limitOut(t, p, clk, `
		local limit_conn = require "resty.limit.conn"
		local lim = limit_conn.new("store", 2, 2, 0.5)
		ngx.say("committed before: ", tostring(lim:is_committed()))
		for i = 1, 5 do
			local delay, conn = lim:incoming("k", true)
			ngx.say(delay, " ", conn, " ", tostring(lim:is_committed()))
		end
		ngx.say("stored ", ngx.shared.store:get("k"))
		-- a request leaves after 0.3 s: the unit delay becomes (0.3 + 0.5) / 2
		ngx.say("leaving ", lim:leaving("k", 0.3))
		ngx.say(lim:incoming("k", true))
		ngx.say("leaving ", lim:leaving("k"))
		ngx.say("uncommit ", lim:uncommit("k"))
		-- dry run
		ngx.say(lim:incoming("k", false))
		ngx.say(tostring(lim:is_committed()), " stored ", ngx.shared.store:get("k"))
		lim:set_max(4) lim:set_burst(0) lim:set_conn_delay(1)
		ngx.say(lim:incoming("k", true))
		ngx.say(lim:incoming("k", true))
		ngx.say(lim:incoming("k", true))
		ngx.say(lim:incoming("k", true))
		ngx.say(lim:leaving("nope"))
		ngx.say(lim:uncommit("nope"))
		-- rejected on a new key (max < 1): the library leaves a 0 behind
		local tiny = limit_conn.new("store", 0.5, 0, 1)
		ngx.say(tiny:incoming("z", true))
		ngx.say(ngx.shared.store:get("z"))
		ngx.shared.store:set("s", "x")
		ngx.say(lim:incoming("s", true))
	`)
	luatest.ExpectLines(t, out,
		"committed before: nil",
		"0 1 true", "0 2 true", "0.5 3 true", "0.5 4 true", "nil rejected false",
		"stored 4",
		"leaving 3",
		"0.44",
		"leaving 3",
		"uncommit 2",
		"0.43",
		"false stored 2",
		"03", "04", "nilrejected", "nilrejected",
		"nilnot found", "nilnot found",
		"nilrejected", "0",
		"nilnot a number",
	)
}

// lua-resty-limit-traffic's t/traffic.t, with the clock moved instead of
// sleeping.
func TestRestyLimitTrafficCombine(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "req", "conn", "count")
	code := func(count int, states bool) string {
		return fmt.Sprintf(`
		local limit_conn = require "resty.limit.conn"
		local limit_req = require "resty.limit.req"
		local limit_count = require "resty.limit.count"
		local limit_traffic = require "resty.limit.traffic"
		local lim1 = limit_req.new("req", 3, 2)
		local lim2 = limit_req.new("req", 2, 3)
		local lim3 = limit_conn.new("conn", 4, 1, 2)
		local lim4 = limit_count.new("count", %d, 100)
		local limiters = {lim1, lim2, lim3, lim4}
		ngx.shared.req:flush_all() ngx.shared.conn:flush_all() ngx.shared.count:flush_all()
		local keys = {"foo", "bar", "foo", "bar"}
		local states = %s
		for i = 1, 6 do
			local delay, err = limit_traffic.combine(limiters, keys, states)
			if not delay then
				ngx.say("failed to limit traffic: ", err)
				if states then ngx.say("states: ", table.concat(states, ", ")) end
			else
				ngx.say(i, ": ", delay, ", conn committed: ", tostring(lim3:is_committed()),
					states and (", states: " .. table.concat(states, ", ")) or "")
			end
			if i == 4 then advance(1) end
		end
		`, count, map[bool]string{true: "{}", false: "nil"}[states])
	}
	luatest.ExpectLines(t, limitOut(t, p, clk, code(10, true)),
		"1: 0, conn committed: true, states: 0, 0, 1, 9",
		"2: 0.5, conn committed: true, states: 1, 1, 2, 8",
		"3: 1, conn committed: true, states: 2, 2, 3, 7",
		"failed to limit traffic: rejected",
		"states: 2, 2, 3, 7",
		"5: 0.5, conn committed: true, states: 0, 1, 4, 6",
		"6: 2, conn committed: true, states: 1, 2, 5, 5",
	)
	luatest.ExpectLines(t, limitOut(t, p, clk, code(10, false)),
		"1: 0, conn committed: true",
		"2: 0.5, conn committed: true",
		"3: 1, conn committed: true",
		"failed to limit traffic: rejected",
		"5: 0.5, conn committed: true",
		"6: 2, conn committed: true",
	)
	luatest.ExpectLines(t, limitOut(t, p, clk, code(2, true)),
		"1: 0, conn committed: true, states: 0, 0, 1, 1",
		"2: 0.5, conn committed: true, states: 1, 1, 2, 0",
		"failed to limit traffic: rejected", "states: 1, 1, 2, 0",
		"failed to limit traffic: rejected", "states: 1, 1, 2, 0",
		"failed to limit traffic: rejected", "states: 1, 1, 2, 0",
		"failed to limit traffic: rejected", "states: 1, 1, 2, 0",
	)

	// A rejection in the commit pass uncommits the limiters committed
	// before it and the last one, committed in the first pass
	// (lua-resty-limit-traffic t/traffic.t TEST 5).
	out := limitOut(t, p, clk, `
		local limit_req = require "resty.limit.req"
		local limit_count = require "resty.limit.count"
		local limit_traffic = require "resty.limit.traffic"
		ngx.shared.req:flush_all() ngx.shared.count:flush_all()
		local a = limit_count.new("count", 5, 100)
		local b = limit_count.new("count", 1, 100)
		local c = limit_count.new("count", 5, 100)
		-- b's dry run passes in pass 1, but another request takes its last
		-- slot before pass 2 commits it
		local real = b.incoming
		local wrapped = setmetatable({}, {__index = function(_, k)
			if k == "incoming" then
				return function(self, key, commit)
					if commit then b:incoming(key, true) end
					return b:incoming(key, commit)
				end
			end
			return b[k]
		end})
		ngx.say(limit_traffic.combine({a, wrapped, c}, {"a", "b", "c"}))
		ngx.say(ngx.shared.count:get("a"), " ", ngx.shared.count:get("b"), " ", ngx.shared.count:get("c"))
		ngx.say(limit_traffic.combine({}, {}))
	`)
	luatest.ExpectLines(t, out,
		"nilrejected",
		"5 -1 5",
		"0",
	)
}

// 32 goroutines, each on its own Lua state, hammer one key: the accounting
// stays exact.
func TestRestyLimitConcurrent(t *testing.T) {
	p, clk := newLimitPool(t, luaplugin.Config{}, "store")
	const workers, calls = 32, 50
	run := func(code string) (pass int64) {
		var wg sync.WaitGroup
		var total atomic.Int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, out := limitRun(t, p, clk, code)
				if res.Err != nil {
					t.Error(res.Err)
					return
				}
				n, err := strconv.Atoi(strings.TrimSpace(out))
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(n))
			}()
		}
		wg.Wait()
		return total.Load()
	}
	loop := func(setup, call string) string {
		return fmt.Sprintf(`%s
			local pass = 0
			for i = 1, %d do
				if %s then pass = pass + 1 end
			end
			ngx.say(pass)`, setup, calls, call)
	}
	// The clock stands still: exactly 1 + burst requests pass.
	if n := run(loop(`local lim = require("resty.limit.req").new("store", 10, 40)`, `lim:incoming("r", true)`)); n != 41 {
		t.Fatalf("limit.req: %d passed, want 41", n)
	}
	if n := run(loop(`local lim = require("resty.limit.count").new("store", 700, 60)`, `lim:incoming("c", true)`)); n != 700 {
		t.Fatalf("limit.count: %d passed, want 700", n)
	}
	if v, _, _ := p.Dict("store").Get("c"); v.Num() != 700-workers*calls {
		t.Fatalf("count left %v", v.Num())
	}
	// Connections come and go: all pass (max 32 + burst 0 and at most 32
	// in flight), and the count is back to 0.
	if n := run(loop(`local lim = require("resty.limit.conn").new("store", 32, 0, 1)`,
		`lim:incoming("n", true) and lim:leaving("n")`)); n != workers*calls {
		t.Fatalf("limit.conn: %d passed, want %d", n, workers*calls)
	}
	if v, _, _ := p.Dict("store").Get("n"); v.Kind() != shdict.KindNumber || v.Num() != 0 {
		t.Fatalf("conn left %v", v.Num())
	}

	// The Go core, one object shared by every goroutine.
	l := &limitReq{dict: limitDictRef{d: p.Dict("store")}, clock: limitSharedOf(p), rate: 10 * 1000, burst: 100 * 1000}
	var wg sync.WaitGroup
	var passed atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				if _, _, msg := l.incoming(nil, "go", true); msg == "" {
					passed.Add(1)
				} else if msg != limitRejected {
					t.Error(msg)
				}
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 101 {
		t.Fatalf("go core: %d passed, want 101", passed.Load())
	}
}

// BenchmarkRestyLimitReqGo is the Go core of lim:incoming(key, true) on
// one key, every call passing.
func BenchmarkRestyLimitReqGo(b *testing.B) {
	d, _ := shdict.New("store", 1<<20)
	l := &limitReq{dict: limitDictRef{d: d}, clock: &limitShared{}, rate: 1e12, burst: 1e12}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, msg := l.incoming(nil, "bench-key", true); msg != "" {
			b.Fatal(msg)
		}
	}
}

// BenchmarkRestyLimitReqGoRejected is the Go core when the call is
// rejected (no store).
func BenchmarkRestyLimitReqGoRejected(b *testing.B) {
	d, _ := shdict.New("store", 1<<20)
	l := &limitReq{dict: limitDictRef{d: d}, clock: &limitShared{}, rate: 1, burst: 0}
	l.incoming(nil, "bench-key", true)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, msg := l.incoming(nil, "bench-key", true); msg != limitRejected {
			b.Fatal(msg)
		}
	}
}

// benchLimitLua measures one call made from Lua: a Lua loop of b.N calls
// in one run (the loop itself costs a few ns per iteration).
func benchLimitLua(b *testing.B, setup, call string) {
	p, clk := newLimitPool(b, luaplugin.Config{Timeout: time.Hour}, "store")
	clk.ms.Store(time.Now().UnixMilli())
	code := setup + `
		for i = 1, N do ` + call + ` end`
	c := luatest.Compile(b, code)
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	req, _ := luatest.NewRequest()
	// Warm up (module loading), then measure.
	vm.L.SetGlobal("N", lua.LNumber(10))
	if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
		b.Fatal(res.Err)
	}
	vm.L.SetGlobal("N", lua.LNumber(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
		b.Fatal(res.Err)
	}
}

func BenchmarkRestyLimitReqLua(b *testing.B) {
	benchLimitLua(b, `local lim = require("resty.limit.req").new("store", 1e9, 1e9)`,
		`local delay, err = lim:incoming("bench-key", true) if not delay then error(err) end`)
}

func BenchmarkRestyLimitReqLuaRejected(b *testing.B) {
	benchLimitLua(b, `local lim = require("resty.limit.req").new("store", 1, 0) lim:incoming("bench-key", true)`,
		`local delay, err = lim:incoming("bench-key", true) if delay then error("passed") end`)
}

func BenchmarkRestyLimitCountLua(b *testing.B) {
	benchLimitLua(b, `local lim = require("resty.limit.count").new("store", 1e15, 60)`,
		`local delay, err = lim:incoming("bench-key", true) if not delay then error(err) end`)
}

func BenchmarkRestyLimitConnLua(b *testing.B) {
	benchLimitLua(b, `local lim = require("resty.limit.conn").new("store", 10, 0, 1)`,
		`local delay, err = lim:incoming("bench-key", true) if not delay then error(err) end lim:leaving("bench-key")`)
}
