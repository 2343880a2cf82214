package restylrucache

import (
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// newPool returns a pool with one state, so that module-level caches are
// shared by every run of a test.
func newPool(tb testing.TB) *luaplugin.Pool {
	tb.Helper()
	return luatest.NewPool(tb, luaplugin.Config{MaxStates: 1, Timeout: time.Minute})
}

// both runs code once with `lrucache` bound to each class.
func both(t *testing.T, code string, want ...string) {
	t.Helper()
	for _, mod := range []string{"resty.lrucache", "resty.lrucache.pureffi"} {
		t.Run(mod, func(t *testing.T) {
			p := newPool(t)
			got := luatest.RunOK(t, p, `local lrucache = require "`+mod+`"
`+code)
			luatest.ExpectLines(t, got, want...)
		})
	}
}

func TestBasics(t *testing.T) {
	both(t, `
		local c, err = lrucache.new(2)
		ngx.say(type(c), " ", err, " ", c:capacity(), " ", c:count())
		c:set("dog", 32)
		c:set("cat", 56)
		ngx.say(c:get("dog"))
		ngx.say(c:get("cat"))
		c:set("bird", 76) -- evicts dog (cat was used last)
		ngx.say(c:get("dog"), " ", c:get("bird"), " ", c:count())
		ngx.say(c:delete("cat"), " ", c:delete("cat"), " ", c:count())
		ngx.say(lrucache.new(0))
		ngx.say(lrucache.new(0.5))
		ngx.say(type(lrucache._VERSION))
	`,
		"userdata nil 2 0",
		"32nil0",
		"56nil0",
		"nil 76 2",
		"true false 1",
		"nilsize too small",
		"nilsize too small",
		"string")
}

func TestTTLAndFlags(t *testing.T) {
	both(t, `
		local c = lrucache.new(4)
		c:set("a", 1, -1, 7)        -- already stale
		c:set("b", 2, 60, 2^32 + 5) -- flags are a uint32
		c:set("c", 3, nil, -1)      -- negative flags are 0
		c:set("d", false, false, "x")
		ngx.say(c:get("a"))
		ngx.say(c:get("b"))
		ngx.say(c:get("c"))
		ngx.say(c:get("d"))
		c:set("a", 9, "0.001")
		ngx.sleep(0.01)
		ngx.say(c:get("a"))
		c:set("a", 10)
		ngx.say(c:get("a"))
	`,
		"nil17",
		"2nil5",
		"3nil0",
		"falsenil0",
		"nil90",
		"10nil0")
}

func TestKeys(t *testing.T) {
	p := newPool(t)
	got := luatest.RunOK(t, p, `
		local lrucache = require "resty.lrucache"
		local c = lrucache.new(10)
		local t1, t2 = {}, {}
		c:set(t1, "t1")
		c:set(t2, "t2")
		c:set(1, "one")
		c:set("1", "string one")
		c:set(true, "yes")
		c:set(-0, "zero")
		ngx.say(c:get(t1), c:get(t2), c:get(1.0), c:get("1"), c:get(true), (c:get(0)))
		ngx.say(c:get({}), " ", c:get(false), " ", c:get(nil), " ", c:get(0/0))
		ngx.say(c:count())
		ngx.say(pcall(c.set, c, nil, 1)) -- line 14
		ngx.say(pcall(c.set, c, 0/0, 1))
		ngx.say(pcall(c.delete, c, nil))
		ngx.say(pcall(c.set, c, "k", 1, {}))
		ngx.say(pcall(c.get, "x", "k"))
	`)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := []string{"t1t2onestring oneyeszero", "nil nil nil nil", "6",
		"falsetest:14: table index is nil", "falsetest:15: table index is NaN", "falsetest:16: table index is nil",
		"falsetest:17: attempt to perform arithmetic on local 'ttl' (a table value)",
		"falsetest:18: bad argument #1 to 'get' (resty.lrucache object expected, got string)"}
	if len(lines) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) {
			t.Errorf("line %d: %q, want …%q", i, lines[i], w)
		}
	}

	// pureffi: keys are tostring(key).
	got = luatest.RunOK(t, p, `
		local lrucache = require "resty.lrucache.pureffi"
		local c = lrucache.new(10)
		local t1 = setmetatable({}, {__tostring = function() return "T" end})
		c:set(1, "one")
		c:set(t1, "t1")
		c:set(nil, "nil")
		ngx.say(c:get("1"), c:get("T"), c:get("nil"), c:get(1.5))
		ngx.say(table.concat(c:get_keys(), ","))
		ngx.say(lrucache.new(1, 0.25).bucket_sz, lrucache.new(3, 0.05).bucket_sz,
			lrucache.new(3, 2.1).bucket_sz, " ", lrucache.new(100).bucket_sz)
	`)
	luatest.ExpectLines(t, got, "onet1nilnil", "nil,T,1", "4324 256")
}

func TestGetKeys(t *testing.T) {
	both(t, `
		local c = lrucache.new(5)
		for i = 1, 7 do c:set("k" .. i, i) end
		c:get("k4")
		ngx.say(table.concat(c:get_keys(), " "))
		ngx.say(table.concat(c:get_keys(2), " "))
		ngx.say(table.concat(c:get_keys(2.5), " "))
		ngx.say(#c:get_keys(-1), " ", #c:get_keys(100))
		local res = {1, 2, 3, 4, 5, 6, 7}
		local r = c:get_keys(3, res)
		local n = 0
		for _ in ipairs(r) do n = n + 1 end
		ngx.say(r == res, " ", n, " ", res[5])
		ngx.say(pcall(c.get_keys, c, "2"))
		ngx.say(pcall(c.get_keys, c, 0, 5))
		c:flush_all()
		ngx.say(c:count(), " ", #c:get_keys(), " ", c:get("k4"))
		for i = 1, 6 do c:set("n" .. i, i) end
		ngx.say(c:count(), " ", table.concat(c:get_keys(), " "))
	`,
		"k4 k7 k6 k5 k3",
		"k4 k7",
		"k4 k7 k6",
		"0 5",
		"true 3 5",
		"falsetest:15: attempt to compare number with string",
		"falsetest:16: attempt to index local 'res' (a number value)",
		"0 0 nil",
		"5 n6 n5 n4 n3 n2")
}

// A cache made at module level is shared by the runs on its state.
func TestModuleLevel(t *testing.T) {
	p := newPool(t)
	code := `
		local cache = package.loaded.my_cache
		if not cache then
			cache = require("resty.lrucache").new(100)
			package.loaded.my_cache = cache
		end
		local n = (cache:get("n") or 0) + 1
		cache:set("n", n)
		ngx.say(n)
	`
	for i := 1; i <= 3; i++ {
		luatest.ExpectLines(t, luatest.RunOK(t, p, code), []string{"1", "2", "3"}[i-1])
	}
}

// Churn: the cache never holds more than its size, and the recency list
// and the map agree.
func TestChurn(t *testing.T) {
	both(t, `
		local lim = 7
		local c = lrucache.new(lim)
		math.randomseed(3)
		local ref = {}
		for i = 1, 2000 do
			local k = "k" .. math.random(1, 20)
			local op = math.random(1, 3)
			if op == 1 then c:set(k, i) elseif op == 2 then c:delete(k) else c:get(k) end
			assert(c:count() <= lim)
			local keys = c:get_keys()
			assert(#keys == c:count(), "keys " .. #keys .. " count " .. c:count())
			for _, key in ipairs(keys) do assert(c:get(key) ~= nil) end
		end
		ngx.say("ok")
	`, "ok")
}

// The benchmarks time one call from Lua: a Lua loop of b.N calls in one
// run (the loop costs a few ns per iteration). Get hits a cache of 1,000
// items; Set replaces and evicts, cycling over 2,000 keys. The *Lua
// variants run luaLRU, the same design written in Lua, for comparison.

const (
	benchGetSetup = `
		local c = LRU.new(1000)
		local keys = {}
		for i = 1, 1000 do keys[i] = "key" .. i; c:set(keys[i], i) end`
	benchGetLoop  = `for i = 1, N do c:get(keys[i % 1000 + 1]) end`
	benchSetSetup = `
		local c = LRU.new(1000)
		local keys = {}
		for i = 1, 2000 do keys[i] = "key" .. i end`
	benchSetLoop = `for i = 1, N do c:set(keys[i % 2000 + 1], i, 60) end`
)

func BenchmarkGet(b *testing.B) {
	benchLua(b, `local LRU = require "resty.lrucache"`+benchGetSetup, benchGetLoop)
}

func BenchmarkSet(b *testing.B) {
	benchLua(b, `local LRU = require "resty.lrucache"`+benchSetSetup, benchSetLoop)
}

func BenchmarkGetPureffi(b *testing.B) {
	benchLua(b, `local LRU = require "resty.lrucache.pureffi"`+benchGetSetup, benchGetLoop)
}

func BenchmarkSetPureffi(b *testing.B) {
	benchLua(b, `local LRU = require "resty.lrucache.pureffi"`+benchSetSetup, benchSetLoop)
}

func BenchmarkGetLua(b *testing.B) {
	benchLua(b, `local LRU = loadstring(LRU_SRC)()`+benchGetSetup, benchGetLoop)
}

func BenchmarkSetLua(b *testing.B) {
	benchLua(b, `local LRU = loadstring(LRU_SRC)()`+benchSetSetup, benchSetLoop)
}

// luaLRU is an LRU cache written in Lua with the library's design (a
// value table, and a doubly-linked list of nodes, here tables), to compare
// with the Go-backed one on the same VM.
const luaLRU = `
local M = {}
local mt = {__index = M}
function M.new(size)
	local head = {}
	head.prev, head.next = head, head
	return setmetatable({vals = {}, nodes = {}, head = head, n = 0, max = size}, mt)
end
local function unlink(x) x.prev.next = x.next; x.next.prev = x.prev end
local function front(h, x) x.next = h.next; x.prev = h; h.next.prev = x; h.next = x end
function M:get(k)
	local v = self.vals[k]
	if v == nil then return nil end
	local x = self.nodes[k]
	unlink(x); front(self.head, x)
	if x.expire >= 0 and x.expire < ngx.now() then return nil, v, x.flags end
	return v, nil, x.flags
end
function M:set(k, v, ttl, flags)
	self.vals[k] = v
	local x = self.nodes[k]
	if not x then
		if self.n >= self.max then
			x = self.head.prev
			self.vals[x.key] = nil; self.nodes[x.key] = nil
		else
			x = {}; self.n = self.n + 1
			front(self.head, x)
		end
		x.key = k; self.nodes[k] = x
	end
	unlink(x); front(self.head, x)
	x.expire = ttl and ngx.now() + ttl or -1
	x.flags = type(flags) == "number" and flags >= 0 and flags or 0
end
return M
`

// benchLua runs setup, then loop with N = b.N, in one content-phase run
// (after a warm-up run with N = 10).
func benchLua(b *testing.B, setup, loop string) {
	p := luatest.NewPool(b, luaplugin.Config{MaxStates: 1, Timeout: time.Hour})
	c := luatest.Compile(b, setup+"\n"+loop)
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	req, _ := luatest.NewRequest()
	vm.L.SetGlobal("LRU_SRC", lua.LString(luaLRU))
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

// BenchmarkLoopBaseline is the benchmarks' loop without the call.
func BenchmarkLoopBaseline(b *testing.B) {
	benchLua(b, `local LRU = require "resty.lrucache"`+benchGetSetup, `for i = 1, N do local x = keys[i % 1000 + 1] end`)
}

// BenchmarkCacheGo times the cache itself, without Lua: a hit on a cache
// of 1,000 string keys, and a set that replaces or evicts (2,000 keys).
func BenchmarkCacheGo(b *testing.B) {
	keys := make([]lua.LValue, 2000)
	for i := range keys {
		keys[i] = lua.LString("key" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + itoa(i))
	}
	b.Run("get", func(b *testing.B) {
		c := newCache(1000, false)
		for _, k := range keys[:1000] {
			c.put(k, lua.LTrue, -1, 0)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if x := c.find(keys[i%1000]); x != nil {
				c.touch(x)
			}
			i++
		}
	})
	b.Run("set", func(b *testing.B) {
		c := newCache(1000, false)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.put(keys[i%2000], lua.LTrue, 1e12, 0)
			i++
		}
	})
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
