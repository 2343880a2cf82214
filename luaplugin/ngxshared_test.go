package luaplugin

import (
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// shdTestClock is a manually advanced clock for the dicts under test.
type shdTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *shdTestClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *shdTestClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type shdTestEnv struct {
	L        *lua.LState
	clock    *shdTestClock
	dicts    map[string]*shdict.Dict
	resolved map[string]int
	shared   *lua.LTable
}

// shdShow is a Lua helper that prints all its arguments, nils included.
const shdShow = `
function show(...)
	local t = {}
	for i = 1, select('#', ...) do
		local v = select(i, ...)
		if type(v) == "string" then v = '"' .. v .. '"' end
		t[i] = tostring(v)
	end
	return table.concat(t, " ")
end
dogs = ngx.shared.dogs
`

func newShdTestEnv(t *testing.T) *shdTestEnv {
	t.Helper()
	env := &shdTestEnv{
		L:        lua.NewState(),
		clock:    &shdTestClock{t: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		dicts:    map[string]*shdict.Dict{},
		resolved: map[string]int{},
	}
	t.Cleanup(env.L.Close)
	for name, size := range map[string]int64{"dogs": 1 << 20, "small": 64 * 1024, "cats": 1 << 20} {
		d, err := shdict.New(name, size, shdict.WithClock(env.clock.now))
		if err != nil {
			t.Fatal(err)
		}
		env.dicts[name] = d
	}
	env.shared = NewSharedTable(env.L, func(name string) *shdict.Dict {
		env.resolved[name]++
		return env.dicts[name]
	})
	ngx := env.L.NewTable()
	ngx.RawSetString("shared", env.shared)
	env.L.SetGlobal("ngx", ngx)
	if err := env.L.DoString(shdShow); err != nil {
		t.Fatal(err)
	}
	return env
}

// run runs a chunk and returns its single (string) result.
func (env *shdTestEnv) run(t *testing.T, code string) string {
	t.Helper()
	top := env.L.GetTop()
	if err := env.L.DoString(code); err != nil {
		t.Fatalf("lua error: %v\ncode: %s", err, code)
	}
	defer env.L.SetTop(top)
	if env.L.GetTop() == top {
		return ""
	}
	return ToString(env.L.Get(top + 1))
}

// expect runs `return show(<expr>)` and compares the output.
func (env *shdTestEnv) expect(t *testing.T, expr, want string) {
	t.Helper()
	if got := env.run(t, "return show("+expr+")"); got != want {
		t.Errorf("%s\n got: %s\nwant: %s", expr, got, want)
	}
}

// expectError runs code and checks that it raises an error containing want.
func (env *shdTestEnv) expectError(t *testing.T, code, want string) {
	t.Helper()
	top := env.L.GetTop()
	defer env.L.SetTop(top)
	err := env.L.DoString(code)
	if err == nil {
		t.Errorf("%s: no error, want %q", code, want)
		return
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q, want %q", code, err.Error(), want)
	}
}

func TestSharedTableLookup(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `type(ngx.shared.dogs)`, `"table"`)
	env.expect(t, `ngx.shared.dogs == ngx.shared.dogs, ngx.shared.dogs ~= ngx.shared.cats`, `true true`)
	env.expect(t, `rawget(ngx.shared, "dogs") == ngx.shared.dogs`, `true`)
	env.expect(t, `ngx.shared.nope, rawget(ngx.shared, "nope"), ngx.shared.nope`, `nil nil nil`)
	env.expect(t, `ngx.shared[1], ngx.shared[true]`, `nil nil`)
	if env.resolved["dogs"] != 1 || env.resolved["cats"] != 1 || env.resolved["nope"] != 2 {
		t.Errorf("resolve calls %v", env.resolved)
	}
	// The methods table is shared by all dicts of the state.
	env.expect(t, `getmetatable(ngx.shared.dogs) == getmetatable(ngx.shared.cats)`, `true`)
	env.expect(t, `type(getmetatable(ngx.shared.dogs).__index.get)`, `"function"`)
	// A second shared table in the same state reuses the metatable.
	other := NewSharedTable(env.L, func(name string) *shdict.Dict { return env.dicts[name] })
	env.L.SetGlobal("other", other)
	env.expect(t, `getmetatable(other.dogs) == getmetatable(ngx.shared.dogs), other.dogs ~= ngx.shared.dogs`, `true true`)
	// Both wrappers reach the same dict.
	env.expect(t, `ngx.shared.dogs:set("k", 1)`, `true nil false`)
	env.expect(t, `other.dogs:get("k")`, `1`)

	// ResetSharedTable drops the cache; lookups resolve again.
	ResetSharedTable(env.shared)
	ResetSharedTable(nil)
	env.expect(t, `rawget(ngx.shared, "dogs"), rawget(ngx.shared, "cats")`, `nil nil`)
	delete(env.dicts, "cats")
	d, _ := shdict.New("dogs", 1<<20)
	env.dicts["dogs"] = d
	env.expect(t, `ngx.shared.dogs:get("k"), ngx.shared.cats`, `nil nil`)
	if env.resolved["dogs"] != 2 {
		t.Errorf("dogs resolved %d times", env.resolved["dogs"])
	}
	// The old wrapper held in a variable still works on the old dict.
	env.expect(t, `dogs:get("k")`, `1`)
}

func TestSharedDotCall(t *testing.T) {
	env := newShdTestEnv(t)
	for _, call := range []string{
		`get("k")`, `get_stale("k")`, `set("k", 1)`, `safe_set("k", 1)`, `add("k", 1)`,
		`safe_add("k", 1)`, `replace("k", 1)`, `delete("k")`, `incr("k", 1)`, `ttl("k")`,
		`expire("k", 1)`, `flush_all()`, `flush_expired()`, `get_keys()`, `capacity()`,
		`free_space()`, `lpush("k", 1)`, `rpush("k", 1)`, `lpop("k")`, `rpop("k")`, `llen("k")`,
	} {
		env.expectError(t, `return ngx.shared.dogs.`+call, `bad "zone" argument`)
	}
	env.expectError(t, `local get = ngx.shared.dogs.get; return get({}, "k")`, `bad "zone" argument`)
	env.expectError(t, `local get = ngx.shared.dogs.get; return get(ngx.shared, "k")`, `bad "zone" argument`)
	// The error points at the Lua caller.
	env.expectError(t, "\n\nreturn ngx.shared.dogs.get('k')", `:3: bad "zone" argument`)
}

func TestSharedSetGet(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:set("foo", "bar", 0, 72)`, `true nil false`)
	env.expect(t, `dogs:get("foo")`, `"bar" 72`)
	env.expect(t, `type(dogs:get("foo"))`, `"string"`)
	env.expect(t, `dogs:set("t", true, 0, 5678)`, `true nil false`)
	env.expect(t, `dogs:get("t")`, `true 5678`)
	env.expect(t, `dogs:set("f", false, 0, 777)`, `true nil false`)
	env.expect(t, `dogs:get("f")`, `false 777`)
	env.expect(t, `dogs:set("n", 51203)`, `true nil false`)
	// No flags: a single return value.
	env.expect(t, `select('#', dogs:get("n")), dogs:get("n")`, `1 51203`)
	env.expect(t, `type(dogs:get("n"))`, `"number"`)
	env.expect(t, `dogs:set("d", 3.1415926, 0, 78)`, `true nil false`)
	env.expect(t, `dogs:get("d")`, `3.1415926 78`)
	env.expect(t, `dogs:set("big", string.rep("bbbb", 1024) .. "a", 0, 912)`, `true nil false`)
	env.expect(t, `#dogs:get("big"), select(2, dogs:get("big"))`, `4097 912`)
	env.expect(t, `select('#', dogs:get("missing")), dogs:get("missing")`, `1 nil`)
	// nil value deletes; exptime and flags may be false.
	env.expect(t, `dogs:set("n", nil)`, `true nil false`)
	env.expect(t, `dogs:get("n")`, `nil`)
	env.expect(t, `dogs:set("x", "y", false, false)`, `true nil false`)
	env.expect(t, `dogs:get("x")`, `"y"`)
	env.expect(t, `dogs:safe_set("x", "z")`, `true nil false`)
	env.expect(t, `dogs:get("x")`, `"z"`)
	// Flags are stored as a 32-bit unsigned integer.
	env.expect(t, `dogs:set("fl", 1, 0, 4294967295)`, `true nil false`)
	env.expect(t, `dogs:get("fl")`, `1 4294967295`)
	env.expect(t, `dogs:set("fl", 1, 0, 12.9)`, `true nil false`)
	env.expect(t, `dogs:get("fl")`, `1 12`)
}

func TestSharedKeys(t *testing.T) {
	env := newShdTestEnv(t)
	for _, m := range []string{"get", "get_stale", "delete", "ttl"} {
		env.expect(t, `dogs:`+m+`(nil)`, `nil "nil key"`)
		env.expect(t, `dogs:`+m+`("")`, `nil "empty key"`)
		env.expect(t, `dogs:`+m+`(string.rep("a", 65536))`, `nil "key too long"`)
	}
	for _, m := range []string{"set", "safe_set", "add", "safe_add", "replace", "incr"} {
		env.expect(t, `dogs:`+m+`(nil, 1)`, `nil "nil key"`)
		env.expect(t, `dogs:`+m+`("", 1)`, `nil "empty key"`)
		env.expect(t, `dogs:`+m+`(string.rep("a", 65536), 1)`, `nil "key too long"`)
	}
	env.expect(t, `dogs:expire(nil, 1)`, `nil "nil key"`)
	env.expect(t, `dogs:expire("", 1)`, `nil "empty key"`)
	for _, call := range []string{`lpush(%s, 1)`, `rpush(%s, 1)`, `lpop(%s)`, `rpop(%s)`, `llen(%s)`} {
		env.expect(t, `dogs:`+strings.Replace(call, "%s", "nil", 1), `nil "nil key"`)
		env.expect(t, `dogs:`+strings.Replace(call, "%s", `""`, 1), `nil "empty key"`)
		env.expect(t, `dogs:`+strings.Replace(call, "%s", `string.rep("a", 65536)`, 1), `nil "key too long"`)
	}
	env.expect(t, `dogs:set(string.rep("a", 65535), 1)`, `true nil false`)
	env.expect(t, `dogs:get(string.rep("a", 65535))`, `1`)
	// Non-string keys go through tostring.
	env.expect(t, `dogs:set(1, "one")`, `true nil false`)
	env.expect(t, `dogs:get("1"), dogs:get(1)`, `"one" "one"`)
	env.expect(t, `dogs:set(true, "t")`, `true nil false`)
	env.expect(t, `dogs:get("true")`, `"t"`)
	env.expect(t, `dogs:set(2.5, "x")`, `true nil false`)
	env.expect(t, `dogs:get("2.5")`, `"x"`)
	// The list methods accept only strings and numbers.
	env.expect(t, `dogs:lpush(3, "x")`, `1`)
	env.expect(t, `dogs:llen("3")`, `1`)
	env.expectError(t, `return dogs:lpush({}, 1)`, `bad argument #1 to 'lpush' (string expected, got table)`)
	env.expectError(t, `return dogs:llen(true)`, `bad argument #1 to 'llen' (string expected, got boolean)`)
}

func TestSharedBadArgs(t *testing.T) {
	env := newShdTestEnv(t)
	for _, m := range []string{"set", "safe_set", "add", "safe_add", "replace"} {
		env.expect(t, `dogs:`+m+`("k", {})`, `nil "bad value type"`)
		env.expect(t, `dogs:`+m+`("k", print)`, `nil "bad value type"`)
		env.expect(t, `dogs:`+m+`("k", ngx.shared.cats)`, `nil "bad value type"`)
		env.expectError(t, `return dogs:`+m+`("k", 1, -1)`, `bad "exptime" argument`)
		env.expectError(t, `return dogs:`+m+`("k", 1, "5")`, `attempt to compare string with number`)
		env.expectError(t, `return dogs:`+m+`("k", 1, 0, "x")`, `cannot convert 'string' to 'int'`)
	}
	env.expect(t, `dogs:add("k", nil)`, `false "attempt to add or replace nil values" false`)
	env.expect(t, `dogs:replace("k", nil)`, `false "attempt to add or replace nil values" false`)
	env.expect(t, `dogs:lpush("l", {})`, `nil "bad value type"`)
	env.expect(t, `dogs:rpush("l", true)`, `nil "bad value type"`)
	env.expect(t, `dogs:rpush("l", nil)`, `nil "bad value type"`)
	env.expectError(t, `return dogs:lpush("l")`, `expecting 3 arguments, but only seen 2`)
	env.expectError(t, `return dogs:lpop("l", 1)`, `expecting 2 arguments, but only seen 3`)
	env.expectError(t, `return dogs:llen()`, `expecting 2 arguments, but only seen 1`)
	env.expectError(t, `return dogs:get_keys(1, 2)`, `expecting 1 or 2 argument(s), but saw 3`)
	env.expectError(t, `return dogs:flush_expired("x")`, `bad argument #1 to 'flush_expired' (number expected, got string)`)
	env.expectError(t, `return dogs:get_keys(nil)`, `bad argument #1 to 'get_keys' (number expected, got nil)`)
}

func TestSharedAddReplaceDelete(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:add("a", 1)`, `true nil false`)
	env.expect(t, `dogs:add("a", 2)`, `false "exists" false`)
	env.expect(t, `dogs:safe_add("a", 2)`, `false "exists" false`)
	env.expect(t, `dogs:safe_add("b", 2)`, `true nil false`)
	env.expect(t, `dogs:replace("c", 3)`, `false "not found" false`)
	env.expect(t, `dogs:replace("a", "x", 0, 5)`, `true nil false`)
	env.expect(t, `dogs:get("a")`, `"x" 5`)
	env.expect(t, `dogs:delete("a")`, `true nil false`)
	env.expect(t, `dogs:delete("a")`, `true nil false`)
	env.expect(t, `dogs:get("a")`, `nil`)
	// An expired key may be added again but not replaced.
	env.expect(t, `dogs:set("e", 1, 1)`, `true nil false`)
	env.clock.advance(time.Second)
	env.expect(t, `dogs:replace("e", 2)`, `false "not found" false`)
	env.expect(t, `dogs:add("e", 2)`, `true nil false`)
	env.expect(t, `dogs:get("e")`, `2`)
}

func TestSharedIncr(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:incr("n", 1)`, `nil "not found"`)
	env.expect(t, `dogs:set("n", 56)`, `true nil false`)
	env.expect(t, `select('#', dogs:incr("n", 2)), dogs:incr("n", 2)`, `1 60`)
	env.expect(t, `dogs:incr("n", 2.1)`, `62.1`)
	env.expect(t, `dogs:incr("n", "-0.1")`, `62`)
	env.expect(t, `dogs:incr("n", 1, 0)`, `63 nil false`)
	env.expect(t, `dogs:set("s", "str")`, `true nil false`)
	env.expect(t, `dogs:incr("s", 1)`, `nil "not a number"`)
	env.expect(t, `dogs:incr("s", 1, 0)`, `nil "not a number"`)
	// init creates the key; init_ttl only applies then.
	env.expect(t, `dogs:incr("c", 1, 10, 2)`, `11 nil false`)
	env.expect(t, `dogs:ttl("c")`, `2`)
	env.expect(t, `dogs:incr("c", 1, 10, 100)`, `12 nil false`)
	env.expect(t, `dogs:ttl("c")`, `2`)
	env.expect(t, `dogs:incr("c2", 1, "5")`, `6 nil false`)
	env.expect(t, `dogs:incr("c3", 1, false)`, `nil "not found"`)
	env.clock.advance(2 * time.Second)
	env.expect(t, `dogs:incr("c", 1)`, `nil "not found"`)
	env.expect(t, `dogs:incr("c", 1, 0)`, `1 nil false`)
	env.expect(t, `dogs:ttl("c")`, `0`)
	// Argument errors.
	env.expectError(t, `return dogs:incr("n")`, `cannot convert 'nil' to 'double'`)
	env.expectError(t, `return dogs:incr("n", {})`, `cannot convert 'nil' to 'double'`)
	env.expectError(t, `return dogs:incr("n", 1, {})`, `bad init arg: number expected, got table`)
	env.expectError(t, `return dogs:incr("n", 1, true)`, `bad init arg: number expected, got boolean`)
	env.expectError(t, `return dogs:incr("n", 1, 0, "x")`, `bad init_ttl arg: number expected, got string`)
	env.expectError(t, `return dogs:incr("n", 1, 0, -1)`, `bad "init_ttl" argument`)
	env.expectError(t, `return dogs:incr("n", 1, nil, 1)`, `must provide "init" when providing "init_ttl"`)
	// Forcible eviction when creating a key in a full dict.
	env.run(t, `
		local small = ngx.shared.small
		local v = string.rep("v", 900)
		for i = 1, 52 do assert(small:set("k" .. i, v)) end
		for i = 1, 31 do assert(small:set("n" .. i, i)) end`)
	// The page of 128-byte chunks is full too: a page is freed once the
	// four least recently used 1 KiB items are gone.
	env.expect(t, `ngx.shared.small:free_space(), ngx.shared.small:incr("new", 1, 0)`, `0 1 nil true`)
	env.expect(t, `ngx.shared.small:get("k4"), ngx.shared.small:get("k5")`, `nil "`+strings.Repeat("v", 900)+`"`)
}

func TestSharedTTLExpire(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:set("k", "v", 0.5)`, `true nil false`)
	env.expect(t, `dogs:ttl("k")`, `0.5`)
	env.clock.advance(200 * time.Millisecond)
	env.expect(t, `dogs:ttl("k")`, `0.3`)
	env.clock.advance(200*time.Millisecond + 300*time.Microsecond)
	env.expect(t, `dogs:ttl("k")`, `0.1`) // 99.7ms left, rounded up
	env.expect(t, `dogs:set("forever", "v")`, `true nil false`)
	env.expect(t, `dogs:ttl("forever")`, `0`)
	env.expect(t, `dogs:ttl("missing")`, `nil "not found"`)
	env.expect(t, `dogs:expire("forever", 1.5)`, `true`)
	env.expect(t, `dogs:ttl("forever")`, `1.5`)
	env.expect(t, `dogs:expire("forever", 0)`, `true`)
	env.expect(t, `dogs:ttl("forever")`, `0`)
	env.expect(t, `dogs:expire("missing", 1)`, `nil "not found"`)
	env.expect(t, `dogs:expire("k", "2")`, `true`)
	env.expect(t, `dogs:ttl("k")`, `2`)
	env.clock.advance(2 * time.Second)
	env.expect(t, `dogs:get("k"), dogs:ttl("k")`, `nil nil "not found"`)
	env.expect(t, `dogs:expire("k", 1)`, `nil "not found"`)
	env.expectError(t, `return dogs:expire("forever")`, `bad "exptime" argument`)
	env.expectError(t, `return dogs:expire("forever", {})`, `attempt to perform arithmetic on local 'exptime' (a table value)`)
	// Exptime is counted in whole milliseconds: below 1ms means never.
	env.expect(t, `dogs:set("tiny", 1, 0.0009)`, `true nil false`)
	env.clock.advance(time.Hour)
	env.expect(t, `dogs:get("tiny"), dogs:ttl("tiny")`, `1 0`)
	env.expect(t, `dogs:set("ms", 1, 0.0019)`, `true nil false`)
	env.expect(t, `dogs:ttl("ms")`, `0.001`)
}

func TestSharedGetStaleFlush(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:set("live", "x")`, `true nil false`)
	env.expect(t, `dogs:set("foo", "bar", 0.001, 72)`, `true nil false`)
	env.expect(t, `dogs:get_stale("foo")`, `"bar" 72 false`)
	env.expect(t, `dogs:get_stale("live")`, `"x" nil false`)
	env.expect(t, `dogs:get_stale("missing")`, `nil`)
	env.clock.advance(2 * time.Millisecond)
	env.expect(t, `dogs:get_stale("foo")`, `"bar" 72 true`)
	env.expect(t, `dogs:get("foo")`, `nil`)
	env.expect(t, `dogs:get_stale("foo")`, `"bar" 72 true`)
	env.expect(t, `dogs:flush_expired()`, `1`)
	env.expect(t, `dogs:get_stale("foo")`, `nil`)

	env.run(t, `for i = 1, 10 do dogs:set("k" .. i, i) end`)
	env.expect(t, `#dogs:get_keys(), #dogs:get_keys(0), #dogs:get_keys(3)`, `11 11 3`)
	env.expect(t, `dogs:get_keys(2)[1], dogs:get_keys(2)[2]`, `"live" "k1"`)
	env.expect(t, `dogs:flush_all()`, ``)
	env.expect(t, `dogs:get("k1"), dogs:get_stale("k5")`, `nil 5 nil true`)
	env.expect(t, `#dogs:get_keys()`, `0`)
	// The get above removed the two coldest (expired) items, as nginx does.
	env.expect(t, `dogs:flush_expired(3)`, `3`)
	env.expect(t, `dogs:flush_expired(0)`, `6`)
	env.expect(t, `dogs:flush_expired()`, `0`)
	env.expect(t, `dogs:free_space() == 252 * 4096`, `true`)
}

func TestSharedMemory(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:capacity(), ngx.shared.small:capacity()`, `1048576 65536`)
	// 1 MiB is 254 pages, 64 KiB 15, less the two the dict's header and
	// log context take.
	env.expect(t, `dogs:free_space(), ngx.shared.small:free_space()`, `1032192 53248`)
	// A small item shares the header's 128-byte page; a 200-byte one
	// opens a page of 256-byte chunks.
	env.expect(t, `dogs:set("k", 1)`, `true nil false`)
	env.expect(t, `dogs:free_space()`, `1032192`)
	env.expect(t, `dogs:set("k2", string.rep("v", 100))`, `true nil false`)
	env.expect(t, `dogs:free_space()`, `1028096`)
	env.run(t, `
		local small = ngx.shared.small
		local v = string.rep("v", 900)
		for i = 1, 52 do assert(small:set("k" .. i, v)) end`)
	env.expect(t, `ngx.shared.small:safe_set("x", string.rep("v", 900))`, `false "no memory" false`)
	env.expect(t, `ngx.shared.small:safe_add("x", string.rep("v", 900))`, `false "no memory" false`)
	// The list head fits in the 128-byte page the dict header opened; its
	// element needs a page of 32-byte chunks: nil, as lua-nginx-module.
	env.expect(t, `ngx.shared.small:lpush("l", 1)`, `nil "no memory"`)
	env.expect(t, `ngx.shared.small:get("k1")`, `"`+strings.Repeat("v", 900)+`"`)
	env.expect(t, `ngx.shared.small:set("x", string.rep("v", 900))`, `true nil true`)
	env.expect(t, `ngx.shared.small:get("k2"), ngx.shared.small:get("k3") ~= nil`, `nil true`)
	// Too big for the dict: lua-nginx-module still evicts (up to 30 items)
	// before it gives up.
	env.expect(t, `ngx.shared.small:set("huge", string.rep("v", 70000))`, `false "no memory" true`)
}

func TestSharedLists(t *testing.T) {
	env := newShdTestEnv(t)
	env.expect(t, `dogs:lpush("l", "b"), dogs:lpush("l", "a"), dogs:rpush("l", 3)`, `1 2 3`)
	env.expect(t, `dogs:llen("l")`, `3`)
	env.expect(t, `dogs:get("l")`, `nil "value is a list"`)
	env.expect(t, `dogs:get_stale("l")`, `nil "value is a list"`)
	env.expect(t, `dogs:incr("l", 1)`, `nil "not a number"`)
	env.expect(t, `dogs:lpop("l"), dogs:rpop("l")`, `"a" 3`)
	env.expect(t, `type(dogs:rpush("l", 4.5))`, `"number"`)
	env.expect(t, `dogs:rpop("l"), dogs:rpop("l"), dogs:rpop("l")`, `4.5 "b" nil`)
	env.expect(t, `select('#', dogs:lpop("l")), dogs:llen("l")`, `1 0`)
	env.expect(t, `dogs:set("s", "str")`, `true nil false`)
	env.expect(t, `dogs:lpush("s", 1)`, `nil "value not a list"`)
	env.expect(t, `dogs:rpush("s", 1)`, `nil "value not a list"`)
	env.expect(t, `dogs:lpop("s")`, `nil "value not a list"`)
	env.expect(t, `dogs:rpop("s")`, `nil "value not a list"`)
	env.expect(t, `dogs:llen("s")`, `nil "value not a list"`)
	// set replaces a list; a list may expire.
	env.expect(t, `dogs:rpush("l2", 1), dogs:set("l2", "now a string")`, `1 true nil false`)
	env.expect(t, `dogs:get("l2")`, `"now a string"`)
	env.expect(t, `dogs:rpush("l3", 1), dogs:expire("l3", 1), dogs:ttl("l3")`, `1 true 1`)
	env.clock.advance(time.Second)
	env.expect(t, `dogs:llen("l3"), dogs:lpop("l3"), dogs:rpush("l3", 2), dogs:ttl("l3")`, `0 nil 1 0`)
}

func TestSharedSeconds(t *testing.T) {
	for _, tc := range []struct {
		sec  float64
		want time.Duration
	}{
		{0, 0}, {-1, 0}, {0.0009, 0}, {0.001, time.Millisecond}, {0.0019, time.Millisecond},
		{1.5, 1500 * time.Millisecond}, {1e300, time.Duration(1<<63 - 1)},
	} {
		if got := sharedSeconds(tc.sec); got != tc.want {
			t.Errorf("sharedSeconds(%v) = %v, want %v", tc.sec, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    string
		want float64
		ok   bool
	}{
		{"12", 12, true}, {" 1.5 ", 1.5, true}, {"-3", -3, true}, {"1e3", 1000, true},
		{"0x10", 16, true}, {"-0x10", -16, true}, {"", 0, false}, {"abc", 0, false},
		{"inf", 0, false}, {"nan", 0, false}, {"1x", 0, false}, {"-", 0, false},
	} {
		got, ok := sharedParseNumber(tc.s)
		if got != tc.want || ok != tc.ok {
			t.Errorf("sharedParseNumber(%q) = %v, %v", tc.s, got, ok)
		}
	}
}
