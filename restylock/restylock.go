// Package restylock provides the Lua module resty.lock: the API of
// lua-resty-lock, implemented in Go on the shared dicts and registered with
// the engine at init (luaplugin.RegisterModule).
//
// A lock is a key added to a shared dict (value true, with the exptime of
// the lock object) and deleted by unlock, so locks are shared by every Lua
// state and request, and other code sees them in the dict as it would
// under OpenResty. A lock() that finds the key taken polls it with the
// library's back-off (step, ratio, max_step, up to timeout), sleeping as
// ngx.sleep does: the Lua state is free for other requests meanwhile,
// inside pcall too. The elapsed time returned is the sum of the steps
// slept, as in the library, not the wall-clock time.
//
// As in the library, a lock whose object is garbage-collected while it
// still holds its key is released (here by a cleanup registered with the
// Go runtime, which runs some time after the object became unreachable;
// collectgarbage() does not force it), and exptime releases it in any
// case.
package restylock

import (
	"runtime"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

func init() {
	luaplugin.RegisterModule("resty.lock", openLock)
}

// lockVersion is the _VERSION of the library release whose API this is.
const lockVersion = "0.09"

// className names the lock object in argument errors.
const className = "resty.lock"

// held is the key a lock object holds. It is apart from the object so
// that the cleanup that releases it when the object is collected does not
// keep the object reachable.
type held struct {
	mu     sync.Mutex
	dict   *shdict.Dict
	key    string
	locked bool
}

// release deletes the key a collected lock object still held.
func (h *held) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.locked {
		h.locked = false
		_ = h.dict.Delete(h.key)
	}
}

// lock is one resty.lock object.
type lock struct {
	vm   *luaplugin.VM
	name string
	gen  uint64
	dict *shdict.Dict

	timeout, exptime, step, ratio, maxStep float64

	h *held
}

// currentDict returns the lock's dict, looked up by name again when the
// pool's dicts were replaced (a config reload) so that an object kept
// across a reload follows a resized dict.
func (l *lock) currentDict() *shdict.Dict {
	if g := l.vm.DictGeneration(); g != l.gen {
		if d := l.vm.Dict(l.name); d != nil {
			l.dict = d
		}
		l.gen = g
	}
	return l.dict
}

func openLock(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 5)
	mod.RawSetString("_VERSION", lua.LString(lockVersion))
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", mod)
	mod.RawSetString("new", L.NewFunction(func(L *lua.LState) int { return lockNew(vm, L, mt) }))
	mod.RawSetString("lock", L.NewFunction(func(L *lua.LState) int { return lockLock(vm, L) }))
	mod.RawSetString("unlock", L.NewFunction(lockUnlock))
	mod.RawSetString("expire", L.NewFunction(lockExpire))
	return mod
}

// option reads opts[name]: given is false when it is nil or false.
func option(L *lua.LState, opts *lua.LTable, name string) (v float64, given bool) {
	lv := L.GetField(opts, name)
	if !lua.LVAsBool(lv) {
		return 0, false
	}
	n, ok := luaplugin.ToNumber(lv)
	if !ok {
		L.RaiseError(`bad "%s" option (number expected, got %s)`, name, lv.Type().String())
	}
	return n, true
}

// lock:new(dict_name, opts?) -> lock, or nil, "dictionary not found".
// Options: exptime (default 30), timeout (5, at most exptime), step
// (0.001, at most timeout when timeout is given), ratio (2), max_step
// (0.5).
func lockNew(vm *luaplugin.VM, L *lua.LState, mt *lua.LTable) int {
	name, ok := L.Get(2).(lua.LString)
	gen := vm.DictGeneration()
	var d *shdict.Dict
	if ok {
		d = vm.Dict(string(name))
	}
	if d == nil {
		return luaplugin.PushFail(L, "dictionary not found")
	}
	l := &lock{vm: vm, name: string(name), gen: gen, dict: d,
		timeout: 5, exptime: 30, step: 0.001, ratio: 2, maxStep: 0.5, h: &held{}}
	var timeout, step float64
	var hasTimeout, hasStep bool
	switch opts := L.Get(3).(type) {
	case *lua.LTable:
		timeout, hasTimeout = option(L, opts, "timeout")
		if v, ok := option(L, opts, "exptime"); ok {
			l.exptime = v
		}
		step, hasStep = option(L, opts, "step")
		if v, ok := option(L, opts, "ratio"); ok {
			l.ratio = v
		}
		if v, ok := option(L, opts, "max_step"); ok {
			l.maxStep = v
		}
	case *lua.LNilType:
	case lua.LBool:
		if opts {
			L.RaiseError("attempt to index local 'opts' (a boolean value)")
		}
	default:
		L.RaiseError("attempt to index local 'opts' (a %s value)", opts.Type().String())
	}
	if hasTimeout {
		l.timeout = min(timeout, l.exptime)
		if hasStep {
			step = min(step, l.timeout)
		}
	}
	if hasStep {
		l.step = step
	}
	runtime.AddCleanup(l, (*held).release, l.h)
	return luaplugin.PushObject(L, l, mt)
}

// checkExptime applies the shared dict's rule to an exptime: a negative
// one raises the error dict:add and dict:replace raise.
func checkExptime(L *lua.LState, sec float64) time.Duration {
	if sec < 0 {
		L.RaiseError(`bad "exptime" argument`)
	}
	return luaplugin.DictTTL(sec)
}

// lock:lock(key) -> elapsed, or nil and "nil key", "locked" (this object
// holds a lock already), "timeout", or a dict error.
func lockLock(vm *luaplugin.VM, L *lua.LState) int {
	l := luaplugin.CheckObject[lock](L, className, "lock")
	if !lua.LVAsBool(L.Get(2)) {
		return luaplugin.PushFail(L, "nil key")
	}
	l.h.mu.Lock()
	locked := l.h.locked
	l.h.mu.Unlock()
	if locked {
		return luaplugin.PushFail(L, "locked")
	}
	key, msg := luaplugin.DictKey(L, 2)
	if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	ttl := checkExptime(L, l.exptime)
	d := l.currentDict()
	add := func() (bool, string) {
		_, err := d.Add(key, shdict.BoolValue(true), ttl, 0)
		switch err {
		case nil:
			l.h.mu.Lock()
			l.h.dict, l.h.key, l.h.locked = d, key, true
			l.h.mu.Unlock()
			return true, ""
		case shdict.ErrExists:
			return false, ""
		}
		return false, err.Error()
	}
	if ok, msg := add(); ok {
		L.Push(lua.LNumber(0))
		return 1
	} else if msg != "" {
		return luaplugin.PushFail(L, msg)
	}
	// Held by someone else: poll with back-off.
	step, timeout, elapsed := l.step, l.timeout, 0.0
	for timeout > 0 {
		sleep(vm, L, step)
		elapsed += step
		timeout -= step
		if ok, msg := add(); ok {
			L.Push(lua.LNumber(elapsed))
			return 1
		} else if msg != "" {
			return luaplugin.PushFail(L, msg)
		}
		if timeout <= 0 {
			break
		}
		step = min(max(0.001, step*l.ratio), timeout, l.maxStep)
	}
	return luaplugin.PushFail(L, "timeout")
}

// sleep waits as ngx.sleep(secs) does: only where ngx.sleep is allowed,
// with the state free for other requests meanwhile, cut short when the
// client goes away.
func sleep(vm *luaplugin.VM, L *lua.LState, secs float64) {
	req := vm.CheckPhase(L, luaplugin.PhasesCosocket)
	if secs < 0 {
		L.RaiseError("bad argument #1 to 'sleep' (invalid sleep duration)")
	}
	var done <-chan struct{}
	if req != nil && req.R != nil {
		done = req.R.Context().Done()
	}
	resume := vm.Suspend()
	defer resume()
	d := time.Duration(secs * float64(time.Second))
	if d <= 0 {
		runtime.Gosched()
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// lock:unlock() -> 1, or nil, "unlocked" when the object holds no lock.
func lockUnlock(L *lua.LState) int {
	l := luaplugin.CheckObject[lock](L, className, "unlock")
	h := l.h
	h.mu.Lock()
	if !h.locked {
		h.mu.Unlock()
		return luaplugin.PushFail(L, "unlocked")
	}
	err := h.dict.Delete(h.key)
	if err == nil {
		h.locked = false
	}
	h.mu.Unlock()
	if err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	L.Push(lua.LNumber(1))
	return 1
}

// lock:expire(timeout?) -> true: the held lock expires timeout seconds
// from now (the object's exptime when nil); nil, "unlocked" when the
// object holds no lock, nil, "not found" when it expired already.
func lockExpire(L *lua.LState) int {
	l := luaplugin.CheckObject[lock](L, className, "expire")
	h := l.h
	h.mu.Lock()
	locked, d, key := h.locked, h.dict, h.key
	h.mu.Unlock()
	if !locked {
		return luaplugin.PushFail(L, "unlocked")
	}
	sec := l.exptime
	if t := L.Get(2); lua.LVAsBool(t) {
		n, ok := t.(lua.LNumber)
		if !ok {
			L.RaiseError("attempt to compare %s with number", t.Type().String())
		}
		sec = float64(n)
	}
	ttl := checkExptime(L, sec)
	if _, err := d.Replace(key, shdict.BoolValue(true), ttl, 0); err != nil {
		return luaplugin.PushFail(L, err.Error())
	}
	L.Push(lua.LTrue)
	return 1
}
