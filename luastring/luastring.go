// Package luastring gives a gopher-lua state bounded versions of the string
// functions that can otherwise stall or kill the process: string.find,
// string.match, string.gmatch, string.gsub, string.rep, string.format and
// table.concat.
//
// gopher-lua runs these functions in Go, so the context that bounds a Lua
// run is not checked while they work, and they allocate whatever a script
// asks for. The replacements behave as Lua 5.1 does, and as LuaJIT 2.1 (the
// Lua of OpenResty) does where the two differ, but they build every result
// in time linear in its size, refuse to build a string longer than
// Limits.MaxString ("string length overflow", raised before allocating),
// and call Limits.Check every few thousand steps of a long operation so
// that a run over its time budget can be stopped.
package luastring

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// DefaultMaxString is the MaxString used when Limits does not set one.
const DefaultMaxString = 64 << 20

// Limits bounds the work of the functions Open installs.
type Limits struct {
	// MaxString is the length, in bytes, of the longest string the
	// functions may build. A longer result raises the Lua error "string
	// length overflow" before it is allocated (gsub and format, which
	// cannot know the length beforehand, stop when their buffer would pass
	// it). Results that are an argument or a part of one, such as captures
	// or the subject of a gsub without matches, are returned as they are.
	// Zero or less means DefaultMaxString.
	MaxString int

	// Check, if not nil, is called every few thousand steps of a long
	// operation: pattern matching, gsub substitutions, rep copies, concat
	// elements, format items. When the run's time budget is over it stops
	// the run by raising a Lua error (L.RaiseError).
	Check func(L *lua.LState)
}

// Steps of work between two calls of Limits.Check outside the matcher,
// which counts its own (luapat.StepInterval).
const (
	checkEvery = 4096    // concat elements, format items
	repChunk   = 1 << 20 // bytes string.rep copies between checks
)

const errOverflow = "string length overflow"

// lib holds the limits of one Open.
type lib struct {
	max   int
	check func(*lua.LState)
}

// Open replaces string.find, string.match, string.gmatch (and its alias
// string.gfind, if present), string.gsub, string.rep, string.format and
// table.concat in L's string and table libraries, which must be open
// already, with bounded implementations. The string table is also the
// __index of the string metatable, so method calls (s:gsub(...)) use them
// too. lim may be nil, which means a MaxString of DefaultMaxString and no
// Check.
func Open(L *lua.LState, lim *Limits) {
	lb := &lib{max: DefaultMaxString}
	if lim != nil {
		if lim.MaxString > 0 {
			lb.max = lim.MaxString
		}
		lb.check = lim.Check
	}

	gmatch := L.NewFunction(lb.gmatch)
	fns := map[string]*lua.LFunction{
		"find":   L.NewFunction(lb.find),
		"match":  L.NewFunction(lb.match),
		"gmatch": gmatch,
		"gsub":   L.NewFunction(lb.gsub),
		"rep":    L.NewFunction(lb.rep),
		"format": L.NewFunction(lb.format),
	}
	var tables []*lua.LTable
	if t, ok := L.GetGlobal(lua.StringLibName).(*lua.LTable); ok {
		tables = append(tables, t)
	}
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		if t, ok := mt.RawGetString("__index").(*lua.LTable); ok && (len(tables) == 0 || t != tables[0]) {
			tables = append(tables, t)
		}
	}
	for _, t := range tables {
		for name, fn := range fns {
			t.RawSetString(name, fn)
		}
		if t.RawGetString("gfind") != lua.LNil {
			t.RawSetString("gfind", gmatch)
		}
	}
	if t, ok := L.GetGlobal(lua.TabLibName).(*lua.LTable); ok {
		t.RawSetString("concat", L.NewFunction(lb.concat))
	}
}

// overflow raises the error for a result longer than MaxString.
func overflow(L *lua.LState) {
	L.RaiseError(errOverflow)
}

// strBuf builds a result no longer than max, growing geometrically.
type strBuf struct {
	L   *lua.LState
	b   []byte
	max int
}

// reserve makes room for n more bytes, or raises the overflow error.
func (sb *strBuf) reserve(n int) {
	if n > sb.max-len(sb.b) {
		overflow(sb.L)
	}
	need := len(sb.b) + n
	if need <= cap(sb.b) {
		return
	}
	c := min(max(2*cap(sb.b), need, 64), sb.max)
	nb := make([]byte, len(sb.b), c)
	copy(nb, sb.b)
	sb.b = nb
}

func (sb *strBuf) writeString(s string) {
	sb.reserve(len(s))
	sb.b = append(sb.b, s...)
}

func (sb *strBuf) write(b []byte) {
	sb.reserve(len(b))
	sb.b = append(sb.b, b...)
}

func (sb *strBuf) writeByte(c byte) {
	sb.reserve(1)
	sb.b = append(sb.b, c)
}

// Argument checks, with LuaJIT's messages.

func argError(L *lua.LState, n int, fname, msg string) {
	L.RaiseError("bad argument #%d to '%s' (%s)", n, fname, msg)
}

func typeError(L *lua.LState, n int, fname, expected string) {
	got := "no value"
	if n <= L.GetTop() {
		got = L.Get(n).Type().String()
	}
	argError(L, n, fname, expected+" expected, got "+got)
}

// checkString returns argument n as a string; numbers are converted as
// tostring does.
func checkString(L *lua.LState, n int, fname string) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return string(AppendNumber(nil, float64(v)))
	}
	typeError(L, n, fname, "string")
	return ""
}

// optString returns argument n as a string, or ok == false if it is nil or
// absent.
func optString(L *lua.LState, n int, fname string) (s string, ok bool) {
	if L.Get(n) == lua.LNil {
		return "", false
	}
	return checkString(L, n, fname), true
}

// checkNumber returns argument n as a number; numeric strings are converted.
func checkNumber(L *lua.LState, n int, fname string) float64 {
	switch v := L.Get(n).(type) {
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		if f, ok := parseNumber(string(v)); ok {
			return f
		}
	}
	typeError(L, n, fname, "number")
	return 0
}

// checkInt returns argument n truncated to an integer.
func checkInt(L *lua.LState, n int, fname string) int64 {
	return toInt(checkNumber(L, n, fname))
}

// optInt returns argument n truncated to an integer, or def if it is nil or
// absent.
func optInt(L *lua.LState, n int, fname string, def int64) int64 {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkInt(L, n, fname)
}

// Integers far beyond any string length; toInt clamps to them, so that
// arithmetic on lengths cannot overflow.
const maxArgInt = 1 << 53

// toInt truncates f toward zero, clamped to ±2^53 (NaN gives 0).
func toInt(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= maxArgInt:
		return maxArgInt
	case f <= -maxArgInt:
		return -maxArgInt
	}
	return int64(f)
}

// parseNumber converts a string to a number as Lua's tonumber does for
// base 10: optional surrounding whitespace, a decimal number or a
// hexadecimal integer.
func parseNumber(s string) (float64, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	body, neg := s, false
	if body != "" && (body[0] == '-' || body[0] == '+') {
		neg = body[0] == '-'
		body = body[1:]
	}
	if len(body) > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		u, err := strconv.ParseUint(body[2:], 16, 64)
		if err != nil && !isRangeErr(err) {
			return 0, false
		}
		f := float64(u)
		if isRangeErr(err) {
			f = math.Inf(1)
		}
		if neg {
			f = -f
		}
		return f, true
	}
	if body == "" || strings.IndexFunc(body, func(r rune) bool {
		return (r < '0' || r > '9') && r != '.' && r != 'e' && r != 'E' && r != '+' && r != '-'
	}) >= 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// valueText returns the text of a string or number value, as Lua's
// lua_tolstring converts it.
func valueText(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return string(AppendNumber(nil, float64(v))), true
	}
	return "", false
}
