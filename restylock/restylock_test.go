package restylock

import (
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
	"github.com/caddy-resty/caddy-resty/shdict"
)

// newPool returns a pool of one state (so that waits must free it) with
// the 1 MiB dict "d".
func newPool(tb testing.TB) *luaplugin.Pool {
	tb.Helper()
	return luatest.NewPool(tb, luaplugin.Config{MaxStates: 1, Timeout: 10 * time.Second})
}

// runAll runs each code in the content phase at once, on goroutines of
// their own, and returns what each printed (a Lua error is printed as
// "ERROR: …").
func runAll(t *testing.T, p *luaplugin.Pool, codes ...string) []string {
	t.Helper()
	out := make([]string, len(codes))
	var wg sync.WaitGroup
	for i, code := range codes {
		c := luatest.Compile(t, code)
		wg.Add(1)
		go func() {
			defer wg.Done()
			vm, err := p.Acquire(nil)
			if err != nil {
				out[i] = "ACQUIRE: " + err.Error()
				return
			}
			req, w := luatest.NewRequest()
			res := vm.Run(c, req, luaplugin.PhaseContent)
			p.Release(vm)
			out[i] = w.Body.String()
			if res.Err != nil {
				out[i] += "ERROR: " + res.Err.Error()
			}
		}()
	}
	wg.Wait()
	return out
}

func TestLockUnlock(t *testing.T) {
	p := newPool(t)
	got := luatest.RunOK(t, p, `
		local resty_lock = require "resty.lock"
		ngx.say(resty_lock:new("nope"))
		ngx.say(resty_lock:new(12))
		local lock = resty_lock:new("d")
		ngx.say(lock:unlock())
		ngx.say(lock:expire())
		ngx.say(lock:lock(nil))
		ngx.say(lock:lock(false))
		ngx.say(lock:lock(""))
		ngx.say(lock:lock("k"))
		ngx.say(ngx.shared.d:get("k"))
		ngx.say(lock:lock("k"))
		ngx.say(lock:lock("other"))
		ngx.say(lock:expire(60), " ", ngx.shared.d:ttl("k"))
		ngx.say(lock:expire(), " ", ngx.shared.d:ttl("k"))
		ngx.say(lock:unlock())
		ngx.say(ngx.shared.d:get("k"))
		ngx.say(lock:unlock())
		local lock2 = resty_lock.new(nil, "d", { timeout = 0 })
		ngx.say(lock2:lock(42), " ", ngx.shared.d:get("42"))
		ngx.say(lock:lock(42))
		ngx.say(lock2:unlock(), " ", lock:lock(42))
		ngx.say(type(resty_lock._VERSION))
	`)
	luatest.ExpectLines(t, got,
		"nildictionary not found",
		"nildictionary not found",
		"nilunlocked",
		"nilunlocked",
		"nilnil key",
		"nilnil key",
		"nilempty key",
		"0",
		"true",
		"nillocked",
		"nillocked",
		"true 60",
		"true 30",
		"1",
		"nil",
		"nilunlocked",
		"0 true",
		"niltimeout",
		"1 0",
		"string")
}

func TestErrors(t *testing.T) {
	p := newPool(t)
	for code, want := range map[string]string{
		`resty_lock:new("d", { exptime = -1 }):lock("k")`:             `bad "exptime" argument`,
		`local l = resty_lock:new("d") l:lock("e1") l:expire(-1)`:     `bad "exptime" argument`,
		`local l = resty_lock:new("d") l:lock("e2") l:expire("soon")`: `attempt to compare string with number`,
		`resty_lock:new("d", 5)`:                                      `attempt to index local 'opts' (a number value)`,
		`resty_lock:new("d", { step = {} })`:                          `bad "step" option (number expected, got table)`,
		`resty_lock.lock("k")`:                                        `bad argument #1 to 'lock' (resty.lock object expected, got string)`,
		`resty_lock.unlock()`:                                         `bad argument #1 to 'unlock' (resty.lock object expected, got nil)`,
	} {
		res, w := luatest.Run(t, p, luaplugin.PhaseContent, `local resty_lock = require "resty.lock" `+code)
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: %v (output %q), want %q", code, res.Err, w.Body.String(), want)
		}
	}
	// An expired lock cannot be extended.
	got := luatest.RunOK(t, p, `
		local lock = require("resty.lock"):new("d", { exptime = 0.01 })
		ngx.say(lock:lock("short"))
		ngx.sleep(0.03)
		ngx.say(lock:expire(10))
		ngx.say(lock:unlock())
	`)
	luatest.ExpectLines(t, got, "0", "nilnot found", "1")
}

// A waiter polls with back-off while the holder sleeps: the state is
// free meanwhile (one state here), inside pcall too, and elapsed is the
// sum of the steps.
func TestWait(t *testing.T) {
	p := newPool(t)
	out := runAll(t, p, `
		local lock = require("resty.lock"):new("d")
		ngx.say("holder: ", lock:lock("w"))
		ngx.shared.d:set("holding", true)
		ngx.sleep(0.1)
		ngx.say("holder: ", lock:unlock())
	`, `
		while not ngx.shared.d:get("holding") do ngx.sleep(0.001) end
		local lock = require("resty.lock"):new("d")
		local ok, elapsed, err = pcall(lock.lock, lock, "w")
		ngx.say("waiter: ", ok, " ", elapsed, " ", err)
		ngx.say("waiter: ", lock:unlock())
	`)
	if out[0] != "holder: 0\nholder: 1\n" {
		t.Errorf("holder: %q", out[0])
	}
	// Steps 0.001, 0.002, … 0.064 add up to 0.127, the first sum past
	// the 0.1 s hold (a loaded machine may need one more step).
	if !regexp.MustCompile(`^waiter: true 0\.(127|255) nil\nwaiter: 1\n$`).MatchString(out[1]) {
		t.Errorf("waiter: %q", out[1])
	}
}

func TestTimeout(t *testing.T) {
	p := newPool(t)
	got := luatest.RunOK(t, p, `
		local resty_lock = require "resty.lock"
		local a = resty_lock:new("d")
		local b = resty_lock:new("d", { timeout = 0.02, step = 0.5 }) -- step is capped at timeout
		ngx.say(a:lock("t"))
		local t0 = ngx.now()
		ngx.say(b:lock("t"))
		ngx.say(ngx.now() - t0 < 1)
		ngx.say(a:unlock())
		ngx.say(b:lock("t"))
	`)
	luatest.ExpectLines(t, got, "0", "niltimeout", "true", "1", "0")
}

// A holder that fails (its run raises an error) or never unlocks blocks
// the others only until exptime.
func TestHolderFails(t *testing.T) {
	p := newPool(t)
	out := runAll(t, p, `
		local lock = require("resty.lock"):new("d", { exptime = 0.2 })
		_G.keep_failed_lock = lock -- reachable: only exptime frees it
		lock:lock("f")
		ngx.shared.d:set("failing", true)
		error("backend down")
	`, `
		while not ngx.shared.d:get("failing") do ngx.sleep(0.001) end
		local lock = require("resty.lock"):new("d", { timeout = 2 })
		local t0 = ngx.now()
		local elapsed, err = lock:lock("f")
		ngx.say(elapsed ~= nil, " ", err, " ", elapsed and elapsed >= 0.1, " ", ngx.now() - t0 < 1.5)
		lock:unlock()
	`)
	if !strings.Contains(out[0], "backend down") {
		t.Errorf("holder: %q", out[0])
	}
	if out[1] != "true nil true true\n" {
		t.Errorf("waiter: %q", out[1])
	}
}

// Sleeping is allowed only where ngx.sleep is: an uncontended lock works
// in any phase, a contended one raises there.
func TestPhases(t *testing.T) {
	p := newPool(t)
	res, w := luatest.Run(t, p, luaplugin.PhaseLog, `
		local resty_lock = require "resty.lock"
		local a, b = resty_lock:new("d"), resty_lock:new("d")
		print(a:lock("p"))
		b:lock("p")
	`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "API disabled in the context of log") {
		t.Fatalf("log phase: %v (output %q)", res.Err, w.Body.String())
	}
}

// A lock whose object is collected while it holds the key is released
// (eventually: when the Go runtime runs the cleanup).
func TestCollected(t *testing.T) {
	p := newPool(t)
	luatest.RunOK(t, p, `
		for i = 1, 20 do
			local lock = require("resty.lock"):new("d")
			lock:lock("gc" .. i)
		end
	`)
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := vm.Dict("d")
	p.Release(vm)
	held := func() (n int) {
		for i := 1; i <= 20; i++ {
			v, _, _ := d.Get("gc" + itoa(i))
			if !v.IsNil() {
				n++
			}
		}
		return n
	}
	if held() == 0 {
		t.Fatal("no lock held before collection")
	}
	deadline := time.Now().Add(10 * time.Second)
	for held() > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	// The last object may still be in a register of the state.
	if n := held(); n > 1 {
		t.Errorf("%d of 20 collected locks still held", n)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// The stampede pattern of the library's README: of many requests missing
// the same key at once, one computes it (under the lock), the others wait
// and find it in the cache.
func TestStampede(t *testing.T) {
	p := luatest.NewPool(t, luaplugin.Config{MaxStates: 2, Timeout: 10 * time.Second})
	code := `
		local cache = ngx.shared.d
		local val = cache:get("v")
		if val then ngx.say(val) return end
		local lock = require("resty.lock"):new("d")
		local elapsed, err = lock:lock("lock:v")
		if not elapsed then ngx.say("lock: ", err) return end
		val = cache:get("v")
		if val then lock:unlock() ngx.say(val) return end
		cache:incr("computed", 1, 0)
		ngx.sleep(0.05) -- the backend
		cache:set("v", "value", 10)
		lock:unlock()
		ngx.say("value")
	`
	codes := make([]string, 30)
	for i := range codes {
		codes[i] = code
	}
	for i, o := range runAll(t, p, codes...) {
		if o != "value\n" {
			t.Errorf("request %d: %q", i, o)
		}
	}
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := vm.Dict("d").Get("computed")
	p.Release(vm)
	if v.Kind() != shdict.KindNumber || v.Num() != 1 {
		t.Errorf("computed %v times, want 1", v)
	}
}
