package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// lua-resty-lock's t/sanity.t, rebuilt. Not rebuilt: TEST 1 (a lock is
// released when its object is collected: collectgarbage() does not force
// a collection here, and Go's runtime releases such a lock some time
// later, not before the next statement), TEST 9, TEST 10 and TEST 12 (the
// library's internal memo table, exposed by debug builds of nginx only).
//
// TEST 4 to TEST 8 run their "sub thread" (ngx.thread.spawn, which runs
// it until its first wait) as an ngx.timer.at callback, and the main
// thread waits until that one holds the lock; the lines the sub thread
// says are collected and said by the main thread, in their order.

// lockSubThread builds such a block: sub is the sub thread's resty.lock
// options, main the main thread's, unlock whether the sub thread unlocks.
func lockSubThread(sub, main string, unlock bool) string {
	release := ""
	if unlock {
		release = `say("sub thread: unlock: ", lock:unlock(key))`
	}
	return fmt.Sprintf(`
		local resty_lock = require "resty.lock"
		local key = "blah"
		local said, holding = {}, false
		local function say(...)
			local parts = {...}
			for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
			said[#said + 1] = table.concat(parts)
		end
		assert(ngx.timer.at(0, function()
			local lock = resty_lock:new("cache_locks"%s)
			local elapsed, err = lock:lock(key)
			say("sub thread: lock: ", elapsed, " ", err)
			holding = true
			ngx.sleep(0.1)
			%s
		end))
		while not holding do ngx.sleep(0.001) end
		local lock = resty_lock:new("cache_locks"%s)
		local elapsed, err = lock:lock(key)
		for _, line in ipairs(said) do ngx.say(line) end
		ngx.say("main thread: lock: ", elapsed, " ", err)
		ngx.say("main thread: unlock: ", lock:unlock())`, sub, release, main)
}

func TestOpenRestyLock(t *testing.T) {
	const src = "lua-resty-lock t/sanity.t "
	orSuite(t, "shared_dict cache_locks 100k", []orCase{
		{src: src + "TEST 2: serial lock and unlock", content: `
			local resty_lock = require "resty.lock"
			for round = 1, 2 do
				local lock = resty_lock:new("cache_locks")
				local elapsed, err = lock:lock("foo")
				ngx.say("lock: ", elapsed, ", ", err)
				local ok, err = lock:unlock()
				if not ok then ngx.say("failed to unlock: ", err) end
				ngx.say("unlock: ", ok)
			end`,
			body: "lock: 0, nil\nunlock: 1\nlock: 0, nil\nunlock: 1\n"},
		{src: src + "TEST 3: timed out locks", content: `
			local resty_lock = require "resty.lock"
			for round = 1, 2 do
				local one = resty_lock:new("cache_locks", { timeout = 0.01 })
				local two = resty_lock:new("cache_locks", { timeout = 0.01 })
				local elapsed, err = one:lock("foo")
				ngx.say("lock 1: lock: ", elapsed, ", ", err)
				elapsed, err = two:lock("foo")
				ngx.say("lock 2: lock: ", elapsed, ", ", err)
				local ok, err = one:unlock()
				ngx.say("lock 1: unlock: ", ok, ", ", err)
				ok, err = two:unlock()
				ngx.say("lock 2: unlock: ", ok, ", ", err)
			end`,
			body: "lock 1: lock: 0, nil\nlock 2: lock: nil, timeout\nlock 1: unlock: 1, nil\nlock 2: unlock: nil, unlocked\n" +
				"lock 1: lock: 0, nil\nlock 2: lock: nil, timeout\nlock 1: unlock: 1, nil\nlock 2: unlock: nil, unlocked\n"},
		{src: src + "TEST 11: lock on a nil key", content: `
			local lock = require("resty.lock"):new("cache_locks")
			local elapsed, err = lock:lock(nil)
			if elapsed then
				ngx.say("lock: ", elapsed, ", ", err)
				local ok, err = lock:unlock()
				if not ok then ngx.say("failed to unlock: ", err) end
			else
				ngx.say("failed to lock: ", err)
			end`,
			body: "failed to lock: nil key\n"},
		{src: src + "TEST 13: timed out locks (0 timeout)", content: `
			local resty_lock = require "resty.lock"
			for round = 1, 2 do
				local one = resty_lock:new("cache_locks", { timeout = 0 })
				local two = resty_lock:new("cache_locks", { timeout = 0 })
				local elapsed, err = one:lock("foo")
				ngx.say("lock 1: lock: ", elapsed, ", ", err)
				elapsed, err = two:lock("foo")
				ngx.say("lock 2: lock: ", elapsed, ", ", err)
				local ok, err = one:unlock()
				ngx.say("lock 1: unlock: ", ok, ", ", err)
				ok, err = two:unlock()
				ngx.say("lock 2: unlock: ", ok, ", ", err)
			end`,
			body: "lock 1: lock: 0, nil\nlock 2: lock: nil, timeout\nlock 1: unlock: 1, nil\nlock 2: unlock: nil, unlocked\n" +
				"lock 1: lock: 0, nil\nlock 2: lock: nil, timeout\nlock 1: unlock: 1, nil\nlock 2: unlock: nil, unlocked\n"},
		{src: src + "TEST 4: waited locks", content: lockSubThread("", "", true),
			bodyRe: `^sub thread: lock: 0 nil\nsub thread: unlock: 1\nmain thread: lock: 0\.12[6-9] nil\nmain thread: unlock: 1\n$`},
		{src: src + "TEST 5: waited locks (custom step)", content: lockSubThread("", ", { step = 0.01 }", true),
			bodyRe: `^sub thread: lock: 0 nil\nsub thread: unlock: 1\nmain thread: lock: 0\.1[4-5]\d* nil\nmain thread: unlock: 1\n$`},
		{src: src + "TEST 6: waited locks (custom ratio)", content: lockSubThread("", ", { ratio = 3 }", true),
			bodyRe: `^sub thread: lock: 0 nil\nsub thread: unlock: 1\nmain thread: lock: 0\.1[2]\d* nil\nmain thread: unlock: 1\n$`},
		{src: src + "TEST 7: waited locks (custom max step)", content: lockSubThread("", ", { max_step = 0.05 }", true),
			bodyRe: `^sub thread: lock: 0 nil\nsub thread: unlock: 1\nmain thread: lock: 0\.11[2-4]\d* nil\nmain thread: unlock: 1\n$`},
		{src: src + "TEST 8: lock expired by itself", content: lockSubThread(", { exptime = 0.1 }", ", { max_step = 0.05 }", false),
			bodyRe: `^sub thread: lock: 0 nil\nmain thread: lock: 0\.11[2-4]\d* nil\nmain thread: unlock: 1\n$`},
		{src: src + "TEST 13: expire()", content: `
			local resty_lock = require "resty.lock"
			for round = 1, 2 do
				local one = resty_lock:new("cache_locks", { timeout = 0, exptime = 0.1 })
				local two = resty_lock:new("cache_locks", { timeout = 0, exptime = 0.1 })
				local function say(who, what, a, b) ngx.say("lock ", who, ": ", what, ": ", a, ", ", b) end
				say(1, "expire", one:expire())
				say(1, "lock", one:lock("foo"))
				ngx.sleep(0.06)
				say(1, "expire", one:expire())
				ngx.sleep(0.06)
				say(2, "lock", two:lock("foo"))
				say(1, "expire", one:expire(0.2))
				ngx.sleep(0.15)
				say(2, "lock", two:lock("foo"))
				ngx.sleep(0.1)
				say(2, "lock", two:lock("foo"))
				say(2, "unlock", two:unlock())
				say(2, "expire", two:expire(0.2))
			end`,
			body: strings.Repeat("lock 1: expire: nil, unlocked\nlock 1: lock: 0, nil\nlock 1: expire: true, nil\n"+
				"lock 2: lock: nil, timeout\nlock 1: expire: true, nil\nlock 2: lock: nil, timeout\n"+
				"lock 2: lock: 0, nil\nlock 2: unlock: 1, nil\nlock 2: expire: nil, unlocked\n", 2)},
	})
}

// lockStampedeModule is the cache-lock pattern of lua-resty-lock's README
// ("For Cache Locks") with a per-state resty.lrucache in front of the
// shared dict: a miss everywhere takes the lock, looks again, and only
// then asks the (slow) backend, counting each call in ngx.shared.d.
const lockStampedeModule = `
local lrucache = require "resty.lrucache"
local resty_lock = require "resty.lock"

local _M = {}
local lru = assert(lrucache.new(100)) -- one per Lua state, as one per worker

local function backend(key)
	ngx.shared.d:incr("computed:" .. key, 1, 0)
	ngx.sleep(0.2)
	return "value of " .. key
end

function _M.get(key)
	local val = lru:get(key)
	if val then return val end
	local shm = ngx.shared.stampede_cache
	val = shm:get(key)
	if val then
		lru:set(key, val, 10)
		return val
	end
	local lock, err = resty_lock:new("stampede_locks", { timeout = 5 })
	if not lock then return nil, "failed to create lock: " .. err end
	local elapsed, err = lock:lock(key)
	if not elapsed then return nil, "failed to acquire the lock: " .. err end
	if elapsed > 0 then ngx.shared.d:incr("waited:" .. key, 1, 0) end
	val = shm:get(key)
	if val then
		assert(lock:unlock())
		lru:set(key, val, 10)
		return val
	end
	val = backend(key)
	local ok, err = shm:set(key, val, 10)
	if not ok then
		lock:unlock()
		return nil, "failed to update shm cache: " .. err
	end
	lru:set(key, val, 10)
	assert(lock:unlock())
	return val
end

return _M
`

// 50 requests at once for a key nobody has: one computes it, the others
// wait on the lock and then read it from the shared dict.
func TestOpenRestyLockStampede(t *testing.T) {
	p := startCaddy(t, hopts{
		global: "shared_dict stampede_cache 1m\nshared_dict stampede_locks 100k\nlua_package_path @DIR@/?.lua",
		files:  map[string]string{"stampede.lua": lockStampedeModule},
		content: map[string]string{"/get": `
			local val, err = require("stampede").get(ngx.var.arg_key)
			if not val then ngx.status = 500 ngx.say(err) return end
			ngx.say(val)`},
	})
	const n = 50
	replies := make([]plReply, n)
	var wg sync.WaitGroup
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = plDo("GET", p.base+"/get?key=k1", nil, "")
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if r.err != nil || r.status != 200 || r.body != "value of k1\n" {
			t.Errorf("request %d: %v %d %q", i, r.err, r.status, r.body)
		}
	}
	if got := p.dictInt(t, "computed:k1"); got != 1 {
		t.Errorf("the backend was asked %d times, want 1", got)
	}
	// The others did wait on the lock (the test is not vacuous).
	if got := p.dictInt(t, "waited:k1"); got < 1 || got > n-1 {
		t.Errorf("%d requests waited on the lock, want 1 to %d", got, n-1)
	}
	// Later requests hit the caches.
	for i := 0; i < 5; i++ {
		if r := plDo("GET", p.base+"/get?key=k1", nil, ""); r.body != "value of k1\n" {
			t.Errorf("later request: %d %q", r.status, r.body)
		}
	}
	if got := p.dictInt(t, "computed:k1"); got != 1 {
		t.Errorf("after more requests the backend was asked %d times, want 1", got)
	}
}

// A holder whose request fails (a Lua error, or a run stopped over its
// time budget) keeps its lock only until exptime: the others get it then,
// well before their timeout. (A waiter that shares the spinning run's Lua
// state starts only once that run is stopped, after exptime: it gets the
// lock at once.)
func TestOpenRestyLockHolderFails(t *testing.T) {
	p := startCaddy(t, hopts{
		global: "shared_dict fail_locks 100k",
		content: map[string]string{
			"/error": `
				local lock = require("resty.lock"):new("fail_locks", { exptime = 0.5 })
				_G.failed_lock = lock -- stays reachable: only exptime frees it
				assert(lock:lock(ngx.var.arg_key) == 0)
				ngx.shared.d:set("holding:" .. ngx.var.arg_key, true)
				error("backend exploded")`,
			"/spin": `
				local lock = require("resty.lock"):new("fail_locks", { exptime = 0.5 })
				_G.spun_lock = lock
				assert(lock:lock(ngx.var.arg_key) == 0)
				ngx.shared.d:set("holding:" .. ngx.var.arg_key, true)
				while true do end`,
			"/wait": `
				local key = ngx.var.arg_key
				while not ngx.shared.d:get("holding:" .. key) do ngx.sleep(0.005) end
				local lock = require("resty.lock"):new("fail_locks", { timeout = 5 })
				local elapsed, err = lock:lock(key)
				ngx.say(elapsed and "locked" or err)
				lock:unlock()`,
		},
	})
	for _, holder := range []string{"/error", "/spin"} {
		t.Run(holder, func(t *testing.T) {
			key := strings.TrimPrefix(holder, "/")
			var wg sync.WaitGroup
			var held, waited plReply
			wg.Add(2)
			go func() { defer wg.Done(); held = plDo("GET", p.base+holder+"?key="+key, nil, "") }()
			go func() { defer wg.Done(); waited = plDo("GET", p.base+"/wait?key="+key, nil, "") }()
			wg.Wait()
			if held.err != nil || held.status != 500 {
				t.Errorf("holder: %v %d %q", held.err, held.status, held.body)
			}
			if waited.err != nil || waited.status != 200 || waited.body != "locked\n" {
				t.Errorf("waiter: %v %d %q", waited.err, waited.status, waited.body)
			}
		})
	}
}
