package luaplugin

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// sharedDictTypeName is the registry key of the metatable given to the
// tables that stand for shared dicts in Lua.
const sharedDictTypeName = "caddy-resty.shdict"

// NewSharedTable returns the table to install as ngx.shared in L. Indexing
// it with a name (ngx.shared.dogs) asks resolve for the dict of that name;
// a known dict is wrapped, as lua-nginx-module does, in a table holding
// the dict (a userdata) at index 1, whose metatable gives the methods of
// ngx.shared.DICT, and cached in the table with rawset so later lookups are plain table
// hits. An unknown name (resolve returns nil) yields nil and is
// not cached. The methods table is created once per Lua state.
//
// Unlike OpenResty, where ngx.shared is filled at startup, the table only
// holds the dicts looked up so far, so pairs(ngx.shared) does not list the
// others.
func NewSharedTable(L *lua.LState, resolve func(name string) *shdict.Dict) *lua.LTable {
	dictMT := sharedDictMetatable(L)
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		tbl := L.CheckTable(1)
		name, ok := L.Get(2).(lua.LString)
		var d *shdict.Dict
		if ok && resolve != nil {
			d = resolve(string(name))
		}
		if d == nil {
			L.Push(lua.LNil)
			return 1
		}
		ud := L.NewUserData()
		ud.Value = d
		zone := L.CreateTable(1, 0)
		zone.RawSetInt(1, ud)
		zone.Metatable = dictMT
		tbl.RawSetString(string(name), zone)
		L.Push(zone)
		return 1
	}))
	t.Metatable = mt
	return t
}

// ResetSharedTable removes the dicts cached in t, a table made by
// NewSharedTable, so the next lookups resolve the names again. Call it when
// the set of dicts changes (a config reload). Lua code that kept a dict in
// a variable keeps using the old one.
func ResetSharedTable(t *lua.LTable) {
	if t == nil {
		return
	}
	var names []lua.LValue
	t.ForEach(func(k, v lua.LValue) {
		if zone, ok := v.(*lua.LTable); ok {
			if ud, ok := zone.RawGetInt(1).(*lua.LUserData); ok {
				if _, ok := ud.Value.(*shdict.Dict); ok {
					names = append(names, k)
				}
			}
		}
	})
	for _, k := range names {
		t.RawSet(k, lua.LNil)
	}
}

// sharedDictMetatable returns the metatable of dict tables in L, creating
// it and its methods table on first use.
func sharedDictMetatable(L *lua.LState) *lua.LTable {
	mt := L.NewTypeMetatable(sharedDictTypeName)
	if _, ok := mt.RawGetString("__index").(*lua.LTable); ok {
		return mt
	}
	methods := L.CreateTable(0, len(sharedDictMethods))
	for name, fn := range sharedDictMethods {
		methods.RawSetString(name, L.NewFunction(fn))
	}
	// As lua-nginx-module's, the methods table indexes itself (so
	// dict.__index is the methods table).
	methods.RawSetString("__index", methods)
	mt.RawSetString("__index", methods)
	return mt
}

var sharedDictMethods = map[string]lua.LGFunction{
	"get":           sharedGet,
	"get_stale":     sharedGetStale,
	"set":           sharedStore((*shdict.Dict).Set),
	"safe_set":      sharedStore((*shdict.Dict).SafeSet),
	"add":           sharedStore((*shdict.Dict).Add),
	"safe_add":      sharedStore((*shdict.Dict).SafeAdd),
	"replace":       sharedStore((*shdict.Dict).Replace),
	"delete":        sharedDelete,
	"incr":          sharedIncr,
	"ttl":           sharedTTL,
	"expire":        sharedExpire,
	"flush_all":     sharedFlushAll,
	"flush_expired": sharedFlushExpired,
	"get_keys":      sharedGetKeys,
	"capacity":      sharedCapacity,
	"free_space":    sharedFreeSpace,
	"lpush":         sharedPush("lpush", (*shdict.Dict).LPush),
	"rpush":         sharedPush("rpush", (*shdict.Dict).RPush),
	"lpop":          sharedPop("lpop", (*shdict.Dict).LPop),
	"rpop":          sharedPop("rpop", (*shdict.Dict).RPop),
	"llen":          sharedLLen,
}

// sharedCheckDict returns the dict a method is called on, raising OpenResty's
// error when the method was called with a dot instead of a colon.
func sharedCheckDict(L *lua.LState) *shdict.Dict {
	if zone, ok := L.Get(1).(*lua.LTable); ok {
		if ud, ok := zone.RawGetInt(1).(*lua.LUserData); ok {
			if d, ok := ud.Value.(*shdict.Dict); ok && d != nil {
				return d
			}
		}
	}
	shdRaise(L, `bad "zone" argument`)
	return nil
}

// sharedCheckKeyLen applies the key rules shared by all methods.
func sharedCheckKeyLen(key string) string {
	if len(key) == 0 {
		return "empty key"
	}
	if len(key) > shdict.MaxKeyLen {
		return "key too long"
	}
	return ""
}

// sharedKey reads the key argument at idx as lua-resty-core does: nil is an
// error, other non-strings go through tostring. It returns the key or an
// error message for the caller to hand back as nil, msg.
func sharedKey(L *lua.LState, idx int) (string, string) {
	var key string
	switch v := L.Get(idx).(type) {
	case lua.LString:
		key = string(v)
	case lua.LNumber:
		key = FormatNumber(float64(v))
	case *lua.LNilType:
		return "", "nil key"
	default:
		key = ToString(L.ToStringMeta(v))
	}
	return key, sharedCheckKeyLen(key)
}

// sharedListKey reads the key argument of the list methods, which (being C
// functions in lua-nginx-module) accept only strings and numbers.
func sharedListKey(L *lua.LState, idx int, fname string) (string, string) {
	var key string
	switch v := L.Get(idx).(type) {
	case lua.LString:
		key = string(v)
	case lua.LNumber:
		key = FormatNumber(float64(v))
	case *lua.LNilType:
		return "", "nil key"
	default:
		shdRaise(L, "bad argument #%d to '%s' (string expected, got %s)", idx-1, fname, v.Type().String())
	}
	return key, sharedCheckKeyLen(key)
}

// sharedValue converts a dict value to Lua.
func sharedValue(v shdict.Value) lua.LValue {
	switch v.Kind() {
	case shdict.KindString:
		return lua.LString(v.Str())
	case shdict.KindNumber:
		return lua.LNumber(v.Num())
	case shdict.KindBool:
		return lua.LBool(v.Bool())
	}
	return lua.LNil
}

// sharedToNumber converts v as Lua's tonumber does (numbers and numeric
// strings).
func sharedToNumber(v lua.LValue) (float64, bool) {
	switch lv := v.(type) {
	case lua.LNumber:
		return float64(lv), true
	case lua.LString:
		return sharedParseNumber(string(lv))
	}
	return 0, false
}

func sharedParseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	body := s
	neg := false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" {
		return 0, false
	}
	if len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		u, err := strconv.ParseUint(body[2:], 16, 64)
		if err != nil {
			return 0, false
		}
		if neg {
			return -float64(u), true
		}
		return float64(u), true
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// sharedSeconds converts an exptime in seconds to a time to live the way
// OpenResty does: exptime*1000 is truncated to whole milliseconds, and a
// result that is not positive means "never expires".
func sharedSeconds(sec float64) time.Duration {
	ms := sec * 1000
	if !(ms >= 1) {
		return 0
	}
	if ms >= float64(math.MaxInt64/int64(time.Millisecond)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(int64(ms)) * time.Millisecond
}

// dict:get(key) -> value, flags?
func sharedGet(L *lua.LState) int {
	d := sharedCheckDict(L)
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	v, flags, err := d.Get(key)
	if err != nil {
		return PushFail(L, err.Error())
	}
	if v.IsNil() {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(sharedValue(v))
	if flags != 0 {
		L.Push(lua.LNumber(flags))
		return 2
	}
	return 1
}

// dict:get_stale(key) -> value, flags, stale
func sharedGetStale(L *lua.LState) int {
	d := sharedCheckDict(L)
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	v, flags, stale, err := d.GetStale(key)
	if err != nil {
		return PushFail(L, err.Error())
	}
	if v.IsNil() {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(sharedValue(v))
	if flags != 0 {
		L.Push(lua.LNumber(flags))
	} else {
		L.Push(lua.LNil)
	}
	L.Push(lua.LBool(stale))
	return 3
}

type sharedStoreFunc func(d *shdict.Dict, key string, v shdict.Value, ttl time.Duration, flags uint32) (bool, error)

// sharedStore implements set, safe_set, add, safe_add and replace:
// dict:op(key, value, exptime?, flags?) -> ok, err, forcible
func sharedStore(op sharedStoreFunc) lua.LGFunction {
	return func(L *lua.LState) int {
		d := sharedCheckDict(L)
		var ttl time.Duration
		switch ev := L.Get(4).(type) {
		case *lua.LNilType:
		case lua.LBool:
			if ev {
				shdRaise(L, "attempt to compare boolean with number")
			}
		case lua.LNumber:
			if ev < 0 {
				shdRaise(L, `bad "exptime" argument`)
			}
			ttl = sharedSeconds(float64(ev))
		default:
			shdRaise(L, "attempt to compare %s with number", ev.Type().String())
		}
		var flags uint32
		switch fv := L.Get(5).(type) {
		case *lua.LNilType:
		case lua.LBool:
			if fv {
				shdRaise(L, "cannot convert 'boolean' to 'int'")
			}
		case lua.LNumber:
			if f := float64(fv); !math.IsNaN(f) && !math.IsInf(f, 0) {
				flags = uint32(int64(f))
			}
		default:
			shdRaise(L, "cannot convert '%s' to 'int'", fv.Type().String())
		}
		key, msg := sharedKey(L, 2)
		if msg != "" {
			return PushFail(L, msg)
		}
		var v shdict.Value
		switch lv := L.Get(3).(type) {
		case lua.LString:
			v = shdict.StringValue(string(lv))
		case lua.LNumber:
			v = shdict.NumberValue(float64(lv))
		case lua.LBool:
			v = shdict.BoolValue(bool(lv))
		case *lua.LNilType:
		default:
			return PushFail(L, "bad value type")
		}
		forcible, err := op(d, key, v, ttl, flags)
		if err != nil {
			L.Push(lua.LFalse)
			L.Push(lua.LString(err.Error()))
		} else {
			L.Push(lua.LTrue)
			L.Push(lua.LNil)
		}
		L.Push(lua.LBool(forcible))
		return 3
	}
}

// dict:delete(key) -> true, nil, false
func sharedDelete(L *lua.LState) int {
	d := sharedCheckDict(L)
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	if err := d.Delete(key); err != nil { // unreachable: the key was checked
		return PushFail(L, err.Error())
	}
	L.Push(lua.LTrue)
	L.Push(lua.LNil)
	L.Push(lua.LFalse)
	return 3
}

// dict:incr(key, value, init?, init_ttl?) -> newval (without init) or
// newval, nil, forcible (with init); nil, err on failure.
func sharedIncr(L *lua.LState) int {
	d := sharedCheckDict(L)
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	delta, ok := sharedToNumber(L.Get(3))
	if !ok {
		// lua-resty-core stores tonumber(value), nil here, in a double.
		shdRaise(L, "cannot convert 'nil' to 'double'")
	}
	var init float64
	hasInit := lua.LVAsBool(L.Get(4))
	if hasInit {
		iv := L.Get(4)
		if init, ok = sharedToNumber(iv); !ok {
			shdRaise(L, "bad init arg: number expected, got %s", iv.Type().String())
		}
	}
	var initTTL time.Duration
	if tv := L.Get(5); tv != lua.LNil {
		sec, ok := sharedToNumber(tv)
		if !ok {
			shdRaise(L, "bad init_ttl arg: number expected, got %s", tv.Type().String())
		}
		if sec < 0 {
			shdRaise(L, `bad "init_ttl" argument`)
		}
		if !hasInit {
			shdRaise(L, `must provide "init" when providing "init_ttl"`)
		}
		initTTL = sharedSeconds(sec)
	}
	if !hasInit {
		n, err := d.Incr(key, delta)
		if err != nil {
			return PushFail(L, err.Error())
		}
		L.Push(lua.LNumber(n))
		return 1
	}
	n, forcible, err := d.IncrInit(key, delta, init, initTTL)
	if err != nil {
		return PushFail(L, err.Error())
	}
	L.Push(lua.LNumber(n))
	L.Push(lua.LNil)
	L.Push(lua.LBool(forcible))
	return 3
}

// dict:ttl(key) -> seconds left (0: never expires), or nil, "not found".
func sharedTTL(L *lua.LState) int {
	d := sharedCheckDict(L)
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	ttl, err := d.TTL(key)
	if err != nil {
		return PushFail(L, err.Error())
	}
	// OpenResty counts in milliseconds; round up so a live item never
	// reports 0 ("never expires").
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	L.Push(lua.LNumber(float64(ms) / 1000))
	return 1
}

// dict:expire(key, exptime) -> true, or nil, "not found".
func sharedExpire(L *lua.LState) int {
	d := sharedCheckDict(L)
	ev := L.Get(3)
	if !lua.LVAsBool(ev) {
		shdRaise(L, `bad "exptime" argument`)
	}
	key, msg := sharedKey(L, 2)
	if msg != "" {
		return PushFail(L, msg)
	}
	sec, ok := sharedToNumber(ev)
	if !ok {
		shdRaise(L, "attempt to perform arithmetic on local 'exptime' (a %s value)", ev.Type().String())
	}
	if err := d.Expire(key, sharedSeconds(sec)); err != nil {
		return PushFail(L, err.Error())
	}
	L.Push(lua.LTrue)
	return 1
}

// dict:flush_all()
func sharedFlushAll(L *lua.LState) int {
	sharedCheckDict(L).FlushAll()
	return 0
}

// sharedOptInt reads the optional max_count argument of flush_expired and
// get_keys (luaL_checkint semantics when present).
func sharedOptInt(L *lua.LState, fname string, def int) int {
	n := L.GetTop()
	if n > 2 {
		shdRaise(L, "expecting 1 or 2 argument(s), but saw %d", n)
	}
	if n < 2 {
		return def
	}
	v := L.Get(2)
	f, ok := sharedToNumber(v)
	if !ok {
		shdRaise(L, "bad argument #1 to '%s' (number expected, got %s)", fname, v.Type().String())
	}
	if math.IsNaN(f) || f >= math.MaxInt32 || f <= math.MinInt32 {
		return 0
	}
	return int(f)
}

// dict:flush_expired(max_count?) -> number of items freed
func sharedFlushExpired(L *lua.LState) int {
	d := sharedCheckDict(L)
	max := sharedOptInt(L, "flush_expired", 0)
	L.Push(lua.LNumber(d.FlushExpired(max)))
	return 1
}

// dict:get_keys(max_count?) -> array of keys (at most 1024 by default, all
// with 0)
func sharedGetKeys(L *lua.LState) int {
	d := sharedCheckDict(L)
	max := sharedOptInt(L, "get_keys", 1024)
	keys := d.Keys(max)
	t := L.CreateTable(len(keys), 0)
	for _, k := range keys {
		t.Append(lua.LString(k))
	}
	L.Push(t)
	return 1
}

// dict:capacity() -> bytes
func sharedCapacity(L *lua.LState) int {
	L.Push(lua.LNumber(sharedCheckDict(L).Capacity()))
	return 1
}

// dict:free_space() -> bytes
func sharedFreeSpace(L *lua.LState) int {
	L.Push(lua.LNumber(sharedCheckDict(L).FreeSpace()))
	return 1
}

// sharedPush implements dict:lpush(key, value) and dict:rpush: the new
// length; nil, err; or false, "no memory" (as lua-nginx-module returns).
func sharedPush(fname string, push func(*shdict.Dict, string, shdict.Value) (int, error)) lua.LGFunction {
	return func(L *lua.LState) int {
		d := sharedCheckDict(L)
		if n := L.GetTop(); n != 3 {
			shdRaise(L, "expecting 3 arguments, but only seen %d", n)
		}
		key, msg := sharedListKey(L, 2, fname)
		if msg != "" {
			return PushFail(L, msg)
		}
		var v shdict.Value
		switch lv := L.Get(3).(type) {
		case lua.LString:
			v = shdict.StringValue(string(lv))
		case lua.LNumber:
			v = shdict.NumberValue(float64(lv))
		default:
			return PushFail(L, "bad value type")
		}
		n, err := push(d, key, v)
		if err == shdict.ErrNoListMemory {
			L.Push(lua.LFalse)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		if err != nil {
			return PushFail(L, err.Error())
		}
		L.Push(lua.LNumber(n))
		return 1
	}
}

// sharedPop implements dict:lpop(key) and dict:rpop: the value, nil for a
// missing key, or nil, err.
func sharedPop(fname string, pop func(*shdict.Dict, string) (shdict.Value, error)) lua.LGFunction {
	return func(L *lua.LState) int {
		d := sharedCheckDict(L)
		if n := L.GetTop(); n != 2 {
			shdRaise(L, "expecting 2 arguments, but only seen %d", n)
		}
		key, msg := sharedListKey(L, 2, fname)
		if msg != "" {
			return PushFail(L, msg)
		}
		v, err := pop(d, key)
		if err != nil {
			return PushFail(L, err.Error())
		}
		L.Push(sharedValue(v))
		return 1
	}
}

// dict:llen(key) -> length (0 for a missing key), or nil, err.
func sharedLLen(L *lua.LState) int {
	d := sharedCheckDict(L)
	if n := L.GetTop(); n != 2 {
		shdRaise(L, "expecting 2 arguments, but only seen %d", n)
	}
	key, msg := sharedListKey(L, 2, "llen")
	if msg != "" {
		return PushFail(L, msg)
	}
	n, err := d.LLen(key)
	if err != nil {
		return PushFail(L, err.Error())
	}
	L.Push(lua.LNumber(n))
	return 1
}

// shdRaise raises an error as lua-resty-core's shdict methods do, with
// error(msg, 2): prefixed with the position of the calling Lua code, and
// with none when the method was called by a Go function (pcall(dict.set,
// ...)).
func shdRaise(L *lua.LState, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.CurrentLine > 0 {
			msg = fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, msg)
		}
	}
	L.Error(lua.LString(msg), 0)
}
