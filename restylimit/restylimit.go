// Package restylimit provides the Lua modules resty.limit.req,
// resty.limit.count, resty.limit.conn and resty.limit.traffic: the API of
// lua-resty-limit-traffic, implemented in Go and registered with the
// engine at init (luaplugin.RegisterModule).
//
// The limiting state lives in the shared dict given to new(), in the same
// form the Lua library keeps it (a 16-byte record per key for limit.req, a
// plain number per key for limit.count and limit.conn), so other code
// reading the dict sees what it would see under OpenResty.
//
// Unlike the Lua library, whose read-modify-write cycles are a get and a
// set that other workers can interleave with, every incoming() here is one
// atomic dict operation (shdict.Update or IncrInit), so the accounting is
// exact under any concurrency.
package restylimit

import (
	"encoding/binary"
	"math"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

func init() {
	luaplugin.RegisterModule("resty.limit.req", openReq)
	luaplugin.RegisterModule("resty.limit.count", openCount)
	luaplugin.RegisterModule("resty.limit.conn", openConn)
	luaplugin.RegisterModule("resty.limit.traffic", openTraffic)
}

// limitVersion is the _VERSION of the limiter modules (the library's
// release whose API they follow).
const limitVersion = "0.09"

// limitResourceKey is the Resource key of the limiters' shared state.
const limitResourceKey = "resty.limit"

// limitShared is what the limiter modules of all the states of a pool share:
// the clock limit.req measures time with.
type limitShared struct {
	now atomic.Pointer[func() time.Time]
}

// nowMs returns the time in milliseconds: ngx.now() * 1000 of the calling
// state (nginx's cached time), or the test clock.
func (s *limitShared) nowMs(vm *luaplugin.VM) int64 {
	if f := s.now.Load(); f != nil {
		return (*f)().UnixMilli()
	}
	if vm != nil {
		return vm.NowMs()
	}
	return time.Now().UnixMilli()
}

// Resources is where the limiters keep their pool-wide state: a
// *luaplugin.Pool, or the *luaplugin.VM of one of its states.
type Resources interface {
	Resource(key string, create func() any) any
}

// Interface guards.
var (
	_ Resources = (*luaplugin.Pool)(nil)
	_ Resources = (*luaplugin.VM)(nil)
)

func limitSharedOf(r Resources) *limitShared {
	return r.Resource(limitResourceKey, func() any { return &limitShared{} }).(*limitShared)
}

// SetClock makes the resty.limit.* modules of the pool of r read the time
// from now instead of time.Now (nil restores time.Now). It is meant for
// tests, together with shdict.WithClock on the dicts the limiters use.
func SetClock(r Resources, now func() time.Time) {
	s := limitSharedOf(r)
	if now == nil {
		s.now.Store(nil)
		return
	}
	s.now.Store(&now)
}

// ---- helpers shared by the modules ----

// limitModule creates a module table that is also the __index of its
// objects' metatable, as the Lua library's `mt = { __index = _M }`.
func limitModule(L *lua.LState, fns map[string]lua.LGFunction) (mod, mt *lua.LTable) {
	mod = L.CreateTable(0, len(fns)+1)
	mod.RawSetString("_VERSION", lua.LString(limitVersion))
	for name, fn := range fns {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	mt = L.CreateTable(0, 1)
	mt.RawSetString("__index", mod)
	return mod, mt
}

// limitRejectedValue is the "rejected" error string, boxed once.
var limitRejectedValue lua.LValue = lua.LString(limitRejected)

// limitFail returns nil, msg to Lua.
func limitFail(L *lua.LState, msg string) int {
	L.Push(lua.LNil)
	if msg == limitRejected {
		L.Push(limitRejectedValue)
	} else {
		L.Push(lua.LString(msg))
	}
	return 2
}

// limitDictRef is a limiter's dict. It is looked up by name again when the
// pool's set of dicts changes (a config reload), so that a limiter kept in
// a module-level variable follows a dict that was resized. When the name
// is gone, the limiter keeps the dict it had.
type limitDictRef struct {
	vm   *luaplugin.VM
	name string
	gen  uint64
	d    *shdict.Dict
}

func (r *limitDictRef) get() *shdict.Dict {
	if r.vm != nil {
		if g := r.vm.DictGeneration(); g != r.gen {
			if d := r.vm.Dict(r.name); d != nil {
				r.d = d
			}
			r.gen = g
		}
	}
	return r.d
}

// limitDict resolves the dict name given to new(), as ngx.shared[name];
// ok is false when there is no such dict.
func limitDict(vm *luaplugin.VM, L *lua.LState) (ref limitDictRef, ok bool) {
	name, isStr := L.Get(1).(lua.LString)
	if !isStr {
		return ref, false
	}
	gen := vm.DictGeneration()
	d := vm.Dict(string(name))
	if d == nil {
		return ref, false
	}
	return limitDictRef{vm: vm, name: string(name), gen: gen, d: d}, true
}

// limitPositive evaluates `v > 0` (strict) or `v >= 0` inside the library's
// assert(): a non-number raises LuaJIT's comparison error.
func limitPositive(L *lua.LState, v lua.LValue, strict bool) bool {
	n, ok := v.(lua.LNumber)
	if !ok {
		L.RaiseError("attempt to compare number with %s", v.Type().String())
	}
	if strict {
		return n > 0
	}
	return n >= 0
}

// limitAssert raises the error of a failed assert().
func limitAssert(L *lua.LState, ok bool) {
	if !ok {
		L.RaiseError("assertion failed!")
	}
}

// limitArith converts v for an arithmetic operation as Lua does (numbers
// and numeric strings), raising LuaJIT's error for anything else. name is
// the variable named in the error, "" for none.
func limitArith(L *lua.LState, v lua.LValue, name string) float64 {
	if f, ok := luaplugin.ToNumber(v); ok {
		return f
	}
	if name == "" {
		L.RaiseError("attempt to perform arithmetic on a %s value", v.Type().String())
	} else {
		L.RaiseError("attempt to perform arithmetic on local '%s' (a %s value)", name, v.Type().String())
	}
	return 0
}

// limitGetNumber reads key for a dry run: `dict:get(key) or def`, then used
// in arithmetic. A failed get counts as nil, as in the library.
func limitGetNumber(L *lua.LState, d *shdict.Dict, key string, def float64) float64 {
	v, _, err := d.Get(key)
	if err != nil || v.IsNil() || (v.Kind() == shdict.KindBool && !v.Bool()) {
		return def
	}
	return limitArith(L, luaplugin.DictValue(v), "")
}

// limitAssertKey is the library's assert(key) in uncommit and leaving.
func limitAssertKey(L *lua.LState) {
	limitAssert(L, lua.LVAsBool(L.Get(2)))
}

// limitNum pushes a number, sparing the allocation for 0.
func limitNum(n float64) lua.LValue {
	if n == 0 {
		return lua.LNumber(0)
	}
	return lua.LNumber(n)
}

// ---- resty.limit.req ----

// limitReqRecSize is the size of the library's record
// struct lua_resty_limit_req_rec { unsigned long excess; uint64_t last; }
// on 64-bit little-endian systems: excess in 1/1000 requests, last in
// milliseconds.
const limitReqRecSize = 16

const (
	limitRejected = "rejected"
	limitAbused   = "shdict abused by other users"
	limitNotFound = "not found"
)

// limitReq is a resty.limit.req object: a leaky bucket of rate requests per
// second with burst excess requests allowed to be delayed. rate and burst
// are kept multiplied by 1000, as in the library.
type limitReq struct {
	dict  limitDictRef
	clock *limitShared
	rate  float64
	burst float64
}

func limitReqDecode(v shdict.Value) (excess, last uint64, ok bool) {
	if v.Kind() != shdict.KindString {
		return 0, 0, false
	}
	s := v.Str()
	if len(s) != limitReqRecSize {
		return 0, 0, false
	}
	return limitLE64(s[:8]), limitLE64(s[8:]), true
}

func limitLE64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func limitReqEncode(excess float64, last uint64) shdict.Value {
	var b [limitReqRecSize]byte
	// The C struct member is an unsigned long: the double is truncated.
	var ex uint64
	if excess >= math.MaxUint64 {
		ex = math.MaxUint64
	} else if excess > 0 {
		ex = uint64(excess)
	}
	binary.LittleEndian.PutUint64(b[:8], ex)
	binary.LittleEndian.PutUint64(b[8:], last)
	return shdict.StringValue(string(b[:]))
}

// incoming records (when commit is set) or tests a request on key. It
// returns the delay in seconds and the excess in requests, or a message:
// "rejected", "shdict abused by other users" or a dict error.
func (l *limitReq) incoming(vm *luaplugin.VM, key string, commit bool) (delay, excess float64, msg string) {
	now := l.clock.nowMs(vm)
	rate, burst := l.rate, l.burst
	var ex float64
	_, err := l.dict.get().Update(key, func(cur shdict.Value, exists bool) (shdict.Value, time.Duration, shdict.UpdateOp) {
		if exists {
			recEx, last, ok := limitReqDecode(cur)
			if !ok {
				msg = limitAbused
				return shdict.Value{}, 0, shdict.UpdateKeep
			}
			elapsed := float64(now) - float64(last)
			ex = math.Max(float64(recEx)-rate*math.Abs(elapsed)/1000+1000, 0)
			if ex > burst {
				msg = limitRejected
				return shdict.Value{}, 0, shdict.UpdateKeep
			}
		}
		if !commit {
			return shdict.Value{}, 0, shdict.UpdateKeep
		}
		return limitReqEncode(ex, uint64(now)), 0, shdict.UpdateSet
	})
	switch err {
	case nil, shdict.ErrNoMemory:
		// The library ignores the result of its dict:set().
	case shdict.ErrIsList:
		return 0, 0, limitAbused
	default:
		return 0, 0, err.Error()
	}
	if msg != "" {
		return 0, 0, msg
	}
	return ex / rate, ex / 1000, ""
}

// uncommit takes back one request of key.
func (l *limitReq) uncommit(key string) string {
	var msg string
	_, err := l.dict.get().Update(key, func(cur shdict.Value, exists bool) (shdict.Value, time.Duration, shdict.UpdateOp) {
		if !exists {
			msg = limitNotFound
			return shdict.Value{}, 0, shdict.UpdateKeep
		}
		recEx, last, ok := limitReqDecode(cur)
		if !ok {
			msg = limitAbused
			return shdict.Value{}, 0, shdict.UpdateKeep
		}
		return limitReqEncode(math.Max(float64(recEx)-1000, 0), last), 0, shdict.UpdateSet
	})
	switch err {
	case nil, shdict.ErrNoMemory:
	case shdict.ErrIsList:
		return limitAbused
	default:
		// An invalid key: the library's dict:get() yields nil.
		return limitNotFound
	}
	return msg
}

func openReq(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	const class = "resty.limit.req"
	shared := limitSharedOf(vm)
	var mod, mt *lua.LTable
	mod, mt = limitModule(L, map[string]lua.LGFunction{
		// new(dict_name, rate, burst) -> obj, or nil, err
		"new": func(L *lua.LState) int {
			d, ok := limitDict(vm, L)
			if !ok {
				return limitFail(L, "shared dict not found")
			}
			rate, burst := L.Get(2), L.Get(3)
			limitAssert(L, limitPositive(L, rate, true) && limitPositive(L, burst, false))
			return luaplugin.PushObject(L, &limitReq{
				dict:  d,
				clock: shared,
				rate:  float64(rate.(lua.LNumber)) * 1000,
				burst: float64(burst.(lua.LNumber)) * 1000,
			}, mt)
		},
		// obj:incoming(key, commit) -> delay, excess, or nil, err
		"incoming": func(L *lua.LState) int {
			l := luaplugin.CheckObject[limitReq](L, class, "incoming")
			key, msg := luaplugin.DictKey(L, 2)
			if msg != "" {
				return limitFail(L, msg)
			}
			delay, excess, msg := l.incoming(vm, key, lua.LVAsBool(L.Get(3)))
			if msg != "" {
				return limitFail(L, msg)
			}
			L.Push(limitNum(delay))
			L.Push(limitNum(excess))
			return 2
		},
		// obj:uncommit(key) -> true, or nil, err
		"uncommit": func(L *lua.LState) int {
			l := luaplugin.CheckObject[limitReq](L, class, "uncommit")
			limitAssertKey(L)
			key, msg := luaplugin.DictKey(L, 2)
			if msg != "" {
				return limitFail(L, limitNotFound)
			}
			if msg := l.uncommit(key); msg != "" {
				return limitFail(L, msg)
			}
			L.Push(lua.LTrue)
			return 1
		},
		"set_rate": func(L *lua.LState) int {
			l := luaplugin.CheckObject[limitReq](L, class, "set_rate")
			l.rate = limitArith(L, L.Get(2), "rate") * 1000
			return 0
		},
		"set_burst": func(L *lua.LState) int {
			l := luaplugin.CheckObject[limitReq](L, class, "set_burst")
			l.burst = limitArith(L, L.Get(2), "burst") * 1000
			return 0
		},
	})
	return mod
}

// ---- resty.limit.count ----

// limitCount is a resty.limit.count object: at most limit requests per key
// in a fixed window of window seconds, starting with the key's first
// request. The dict holds the number of requests left, expiring with the
// window.
type limitCount struct {
	dict   limitDictRef
	limit  float64
	window float64
}

// incoming returns the requests left in the window, or a message.
func (c *limitCount) incoming(L *lua.LState, key string, commit bool) (remaining float64, msg string) {
	if commit {
		n, _, err := c.dict.get().IncrInit(key, -1, c.limit, luaplugin.DictTTL(c.window))
		if err != nil {
			return 0, err.Error()
		}
		remaining = n
	} else {
		remaining = limitGetNumber(L, c.dict.get(), key, c.limit) - 1
	}
	if remaining < 0 {
		return 0, limitRejected
	}
	return remaining, ""
}

func openCount(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	const class = "resty.limit.count"
	var mod, mt *lua.LTable
	mod, mt = limitModule(L, map[string]lua.LGFunction{
		// new(dict_name, limit, window) -> obj, or nil, err
		"new": func(L *lua.LState) int {
			d, ok := limitDict(vm, L)
			if !ok {
				return limitFail(L, "shared dict not found")
			}
			limit, window := L.Get(2), L.Get(3)
			limitAssert(L, limitPositive(L, limit, true) && limitPositive(L, window, true))
			return luaplugin.PushObject(L, &limitCount{
				dict:   d,
				limit:  float64(limit.(lua.LNumber)),
				window: float64(window.(lua.LNumber)),
			}, mt)
		},
		// obj:incoming(key, commit) -> 0, remaining, or nil, err
		// (nil, "rejected", 0 when over the limit)
		"incoming": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitCount](L, class, "incoming")
			key, msg := luaplugin.DictKey(L, 2)
			if msg != "" {
				return limitFail(L, msg)
			}
			remaining, msg := c.incoming(L, key, lua.LVAsBool(L.Get(3)))
			if msg == limitRejected {
				L.Push(lua.LNil)
				L.Push(limitRejectedValue)
				L.Push(lua.LNumber(0))
				return 3
			}
			if msg != "" {
				return limitFail(L, msg)
			}
			L.Push(lua.LNumber(0))
			L.Push(limitNum(remaining))
			return 2
		},
		// obj:uncommit(key) -> remaining, or nil, err
		"uncommit": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitCount](L, class, "uncommit")
			limitAssertKey(L)
			key, msg := luaplugin.DictKey(L, 2)
			if msg != "" {
				return limitFail(L, msg)
			}
			n, err := c.dict.get().Incr(key, 1)
			if err == shdict.ErrNotFound {
				n = c.limit
			} else if err != nil {
				return limitFail(L, err.Error())
			}
			L.Push(limitNum(n))
			return 1
		},
	})
	return mod
}

// ---- resty.limit.conn ----

// limitConn is a resty.limit.conn object: at most max concurrent requests
// per key, with burst more delayed by unitDelay seconds per max excess
// requests. The dict holds the number of requests in flight.
type limitConn struct {
	dict      limitDictRef
	max       float64
	burst     float64
	unitDelay float64
	// committed is what is_committed() returns: nil before the first
	// incoming(), then whether the last incoming() recorded the request.
	committed lua.LValue
}

// incoming returns the delay in seconds and the concurrency level including
// this request, or a message.
func (c *limitConn) incoming(L *lua.LState, key string, commit bool) (delay, conn float64, msg string) {
	c.committed = lua.LFalse
	limit := c.max + c.burst
	if commit {
		_, err := c.dict.get().Update(key, func(cur shdict.Value, exists bool) (shdict.Value, time.Duration, shdict.UpdateOp) {
			if exists {
				if cur.Kind() != shdict.KindNumber {
					msg = shdict.ErrNotNumber.Error()
					return shdict.Value{}, 0, shdict.UpdateKeep
				}
				conn = cur.Num()
			}
			conn++
			if conn > limit {
				msg = limitRejected
				if !exists {
					// The library's incr(key, 1, 0) then incr(key, -1)
					// leaves a 0 behind.
					return shdict.NumberValue(0), 0, shdict.UpdateSet
				}
				return shdict.Value{}, 0, shdict.UpdateKeep
			}
			return shdict.NumberValue(conn), 0, shdict.UpdateSetKeepTTL
		})
		switch err {
		case nil:
		case shdict.ErrIsList:
			return 0, 0, shdict.ErrNotNumber.Error()
		default:
			return 0, 0, err.Error()
		}
		if msg != "" {
			return 0, 0, msg
		}
		c.committed = lua.LTrue
	} else {
		conn = limitGetNumber(L, c.dict.get(), key, 0) + 1
		if conn > limit {
			return 0, 0, limitRejected
		}
	}
	if conn > c.max {
		return c.unitDelay * math.Floor((conn-1)/c.max), conn, ""
	}
	return 0, conn, ""
}

func openConn(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	const class = "resty.limit.conn"
	var mod, mt *lua.LTable
	setMax := func(L *lua.LState) int {
		c := luaplugin.CheckObject[limitConn](L, class, "set_max")
		c.max = limitArith(L, L.Get(2), "conn")
		return 0
	}
	mod, mt = limitModule(L, map[string]lua.LGFunction{
		// new(dict_name, max, burst, default_conn_delay) -> obj, or nil, err
		"new": func(L *lua.LState) int {
			d, ok := limitDict(vm, L)
			if !ok {
				return limitFail(L, "shared dict not found")
			}
			max, burst, delay := L.Get(2), L.Get(3), L.Get(4)
			limitAssert(L, limitPositive(L, max, true) && limitPositive(L, burst, false) && limitPositive(L, delay, true))
			return luaplugin.PushObject(L, &limitConn{
				dict:      d,
				max:       float64(max.(lua.LNumber)),
				burst:     float64(burst.(lua.LNumber)),
				unitDelay: float64(delay.(lua.LNumber)),
				committed: lua.LNil,
			}, mt)
		},
		// obj:incoming(key, commit) -> delay, conn, or nil, err
		"incoming": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitConn](L, class, "incoming")
			c.committed = lua.LFalse
			key, msg := luaplugin.DictKey(L, 2)
			if msg != "" {
				return limitFail(L, msg)
			}
			delay, conn, msg := c.incoming(L, key, lua.LVAsBool(L.Get(3)))
			if msg != "" {
				return limitFail(L, msg)
			}
			L.Push(limitNum(delay))
			L.Push(limitNum(conn))
			return 2
		},
		"is_committed": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitConn](L, class, "is_committed")
			L.Push(c.committed)
			return 1
		},
		// obj:leaving(key, req_latency?) -> conn, or nil, err
		"leaving": func(L *lua.LState) int { return limitConnRelease(L, class, "leaving", true) },
		// obj:uncommit(key) -> conn, or nil, err
		"uncommit": func(L *lua.LState) int { return limitConnRelease(L, class, "uncommit", false) },
		"set_max":  setMax,
		"set_conn": setMax,
		"set_burst": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitConn](L, class, "set_burst")
			c.burst = limitArith(L, L.Get(2), "burst")
			return 0
		},
		"set_conn_delay": func(L *lua.LState) int {
			c := luaplugin.CheckObject[limitConn](L, class, "set_conn_delay")
			c.unitDelay = limitArith(L, L.Get(2), "conn_delay")
			return 0
		},
	})
	return mod
}

// ---- resty.limit.traffic ----

func openTraffic(_ *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 2)
	mod.RawSetString("_VERSION", lua.LString(limitVersion))
	mod.RawSetString("combine", L.NewFunction(limitCombine))
	return mod
}

// limitCall calls lim:method(key[, commit]) through Lua, so that any object
// with the limiter methods works (and wrapped methods are honoured), and
// returns its first two results.
func limitCall(L *lua.LState, lim lua.LValue, method string, key lua.LValue, commit lua.LValue) (lua.LValue, lua.LValue) {
	fn := L.GetField(lim, method)
	p := lua.P{Fn: fn, NRet: 2, Protect: false}
	if commit == nil {
		L.CallByParam(p, lim, key)
	} else {
		L.CallByParam(p, lim, key, commit)
	}
	r1, r2 := L.Get(-2), L.Get(-1)
	L.Pop(2)
	return r1, r2
}

// combine(limiters, keys, states?) -> max delay, or nil, err. As in the
// library: every limiter but the last is first tried without committing,
// and the last is committed; then the others are committed in order, and
// when one of them rejects, those committed before it and the last one are
// uncommitted.
func limitCombine(L *lua.LState) int {
	limiters := L.CheckTable(1)
	keys := L.CheckTable(2)
	states := L.Get(3)
	hasStates := lua.LVAsBool(states)
	n := limiters.Len()
	maxDelay := 0.0
	for i := 1; i <= n; i++ {
		idx := lua.LNumber(i)
		lim := L.GetTable(limiters, idx)
		delay, state := limitCall(L, lim, "incoming", L.GetTable(keys, idx), lua.LBool(i == n))
		if !lua.LVAsBool(delay) {
			L.Push(lua.LNil)
			L.Push(state)
			return 2
		}
		if i == n {
			if hasStates {
				L.SetTable(states, idx, state)
			}
			maxDelay = limitArith(L, delay, "delay")
		}
	}
	for i := 1; i < n; i++ {
		idx := lua.LNumber(i)
		lim := L.GetTable(limiters, idx)
		delay, state := limitCall(L, lim, "incoming", L.GetTable(keys, idx), lua.LTrue)
		if !lua.LVAsBool(delay) {
			// Errors are ignored here, as in the library; the last
			// limiter, committed in the first pass, is uncommitted too.
			for j := 1; j < i; j++ {
				jdx := lua.LNumber(j)
				limitCall(L, L.GetTable(limiters, jdx), "uncommit", L.GetTable(keys, jdx), nil)
			}
			last := lua.LNumber(n)
			limitCall(L, L.GetTable(limiters, last), "uncommit", L.GetTable(keys, last), nil)
			L.Push(lua.LNil)
			L.Push(state)
			return 2
		}
		if hasStates {
			L.SetTable(states, idx, state)
		}
		// math.max compares numbers.
		if d := limitArith(L, delay, "delay"); d > maxDelay {
			maxDelay = d
		}
	}
	L.Push(limitNum(maxDelay))
	return 1
}

// limitConnRelease is conn:leaving(key, req_latency?) (latency true) and
// conn:uncommit(key): one connection of key goes away; leaving also folds
// the request's latency into the unit delay.
func limitConnRelease(L *lua.LState, class, method string, latency bool) int {
	c := luaplugin.CheckObject[limitConn](L, class, method)
	limitAssertKey(L)
	key, msg := luaplugin.DictKey(L, 2)
	if msg != "" {
		return limitFail(L, msg)
	}
	n, err := c.dict.get().Incr(key, -1)
	if err != nil {
		return limitFail(L, err.Error())
	}
	if lat := L.Get(3); latency && lua.LVAsBool(lat) {
		c.unitDelay = (limitArith(L, lat, "req_latency") + c.unitDelay) / 2
	}
	L.Push(limitNum(n))
	return 1
}
