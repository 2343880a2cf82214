// Package cjson provides the Lua modules cjson and cjson.safe: lua-cjson
// 2.1 (OpenResty's fork) on gopher-lua, registered with the engine at init
// (luaplugin.RegisterModule).
//
// The encoder and decoder follow lua_cjson.c: the same array detection and
// sparse-array rules, number formatting ("%.14g" by default), string
// escaping (including "\/" and "\u007f"), configuration functions with the
// same defaults, argument checks and error messages ("Expected value but
// found invalid token at character 1", "Cannot serialise function: type not
// supported", ...).
//
// Differences: keys of an object are written in the table's insertion order
// (gopher-lua iterates tables that way; C cjson uses Lua's hash order), and
// encode_escape_forward_slash is a setting of each instance rather than a
// process-wide switch.
//
// Bounds: encode_max_depth and decode_max_depth accept 1 to 2^31-1 as in
// lua-cjson, but the depth in effect (and the value they return) is at
// most MaxDepth, so that no document nests deeper than that on the Go
// stack (a C build fails the same way, at lua_checkstack's limit). Encode
// output and decode input longer than the pool's MaxStringSize fail with
// "string length overflow" (raised by cjson, returned as nil, err by
// cjson.safe), and long encodes and decodes check the run's time budget as
// they go, so that a huge document cannot hold a Lua state past it.
package cjson

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("cjson", func(vm *luaplugin.VM, L *lua.LState) lua.LValue {
		return open(vm, L, false)
	})
	luaplugin.RegisterModule("cjson.safe", func(vm *luaplugin.VM, L *lua.LState) lua.LValue {
		return open(vm, L, true)
	})
}

// Version is the lua-cjson version reported as cjson._VERSION.
const Version = "2.1.0.11"

// MaxDepth is the deepest nesting encode and decode accept, whatever
// encode_max_depth and decode_max_depth say (it is also their default).
const MaxDepth = 1000

// budgetEvery is how many values encode and decode handle between two
// checks of the run's time budget.
const budgetEvery = 4096

// errTooLong is the error of an encode output or decode input over the
// pool's MaxStringSize.
const errTooLong = "string length overflow"

// emptyArray is cjson.empty_array: a sentinel userdata that encodes as
// an empty JSON array. Like luaplugin.Null it is shared by every Lua
// state, and never changes.
var emptyArray = &lua.LUserData{Metatable: lua.LNil}

const (
	arrayMTKey      = "caddy-resty.cjson.array_mt"
	emptyArrayMTKey = "caddy-resty.cjson.empty_array_mt"
)

// config is the per-instance configuration (json_config_t).
type config struct {
	sparseConvert          bool
	sparseRatio            int
	sparseSafe             int
	encodeMaxDepth         int
	decodeMaxDepth         int
	encodeInvalidNumbers   int // 0 off, 1 on, 2 "null"
	decodeInvalidNumbers   bool
	numberPrecision        int
	keepBuffer             bool
	emptyTableAsObject     bool
	decodeArrayWithArrayMT bool
	decodeJSONNull         bool
	escapeSlash            bool
	skipUnsupported        bool   // encode_skip_unsupported_value_types
	indent                 string // encode_indent; "" is none
	allowComment           bool   // decode_allow_comment

	buf []byte // kept between encodes when keepBuffer is set

	arrayMT      *lua.LTable
	emptyArrayMT *lua.LTable

	// vm is the state the instance belongs to: its pool's string size
	// limit and its run's time budget bound encode and decode.
	vm *luaplugin.VM
}

func newConfig(vm *luaplugin.VM, arrayMT, emptyArrayMT *lua.LTable) *config {
	return &config{
		vm:                   vm,
		sparseRatio:          2,
		sparseSafe:           10,
		encodeMaxDepth:       MaxDepth,
		decodeMaxDepth:       MaxDepth,
		decodeInvalidNumbers: true,
		numberPrecision:      14,
		keepBuffer:           true,
		emptyTableAsObject:   true,
		decodeJSONNull:       true,
		escapeSlash:          true,
		arrayMT:              arrayMT,
		emptyArrayMT:         emptyArrayMT,
	}
}

// metatables returns the array_mt and empty_array_mt tables of L,
// creating them in the registry on first use so that every cjson instance
// of a state (cjson, cjson.safe, cjson.new()) shares them.
func metatables(L *lua.LState) (*lua.LTable, *lua.LTable) {
	reg := L.G.Registry
	a, ok1 := reg.RawGetString(arrayMTKey).(*lua.LTable)
	e, ok2 := reg.RawGetString(emptyArrayMTKey).(*lua.LTable)
	if !ok1 || !ok2 {
		a, e = L.NewTable(), L.NewTable()
		reg.RawSetString(arrayMTKey, a)
		reg.RawSetString(emptyArrayMTKey, e)
	}
	return a, e
}

// open returns the table `require "cjson"` gives, or with safe set the
// one of `require "cjson.safe"`, whose encode and decode return nil and an
// error message instead of raising errors. Each call makes an independent
// instance (its own configuration), as cjson.new() does.
func open(vm *luaplugin.VM, L *lua.LState, safe bool) *lua.LTable {
	arrayMT, emptyArrayMT := metatables(L)
	cfg := newConfig(vm, arrayMT, emptyArrayMT)
	t := L.CreateTable(0, 24)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int { return encode(L, cfg, safe) }))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int { return decode(L, cfg, safe) }))
	boolOpt := func(name string, setting *bool) {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			argInit(L, 1, name)
			L.Push(boolOption(L, L.Get(1), 1, name, setting))
			return 1
		}))
	}
	intOpt := func(name string, setting *int, lo, hi int) {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			argInit(L, 1, name)
			L.Push(intOption(L, L.Get(1), 1, name, setting, lo, hi))
			return 1
		}))
	}
	boolOpt("encode_empty_table_as_object", &cfg.emptyTableAsObject)
	boolOpt("decode_array_with_array_mt", &cfg.decodeArrayWithArrayMT)
	boolOpt("decode_json_null", &cfg.decodeJSONNull)
	boolOpt("decode_invalid_numbers", &cfg.decodeInvalidNumbers)
	boolOpt("encode_escape_forward_slash", &cfg.escapeSlash)
	boolOpt("encode_skip_unsupported_value_types", &cfg.skipUnsupported)
	boolOpt("decode_allow_comment", &cfg.allowComment)
	t.RawSetString("encode_indent", L.NewFunction(func(L *lua.LState) int {
		argInit(L, 1, "encode_indent")
		switch v := L.Get(1).(type) {
		case *lua.LNilType:
		case lua.LString:
			cfg.indent = string(v)
		case lua.LNumber:
			cfg.indent = luaplugin.FormatNumber(float64(v))
		default:
			argTypeError(L, 1, "encode_indent", "string")
		}
		L.Push(lua.LString(cfg.indent))
		return 1
	}))
	// The depths take what lua-cjson takes, and keep at most MaxDepth.
	depthOpt := func(name string, setting *int) {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			argInit(L, 1, name)
			intOption(L, L.Get(1), 1, name, setting, 1, math.MaxInt32)
			*setting = min(*setting, MaxDepth)
			L.Push(lua.LNumber(*setting))
			return 1
		}))
	}
	depthOpt("encode_max_depth", &cfg.encodeMaxDepth)
	depthOpt("decode_max_depth", &cfg.decodeMaxDepth)
	intOpt("encode_number_precision", &cfg.numberPrecision, 1, 16)
	t.RawSetString("encode_sparse_array", L.NewFunction(func(L *lua.LState) int {
		const name = "encode_sparse_array"
		argInit(L, 3, name)
		a1, a2, a3 := L.Get(1), L.Get(2), L.Get(3)
		r1 := boolOption(L, a1, 1, name, &cfg.sparseConvert)
		r2 := intOption(L, a2, 2, name, &cfg.sparseRatio, 0, math.MaxInt32)
		r3 := intOption(L, a3, 3, name, &cfg.sparseSafe, 0, math.MaxInt32)
		L.Push(r1)
		L.Push(r2)
		L.Push(r3)
		return 3
	}))
	t.RawSetString("encode_keep_buffer", L.NewFunction(func(L *lua.LState) int {
		argInit(L, 1, "encode_keep_buffer")
		r := boolOption(L, L.Get(1), 1, "encode_keep_buffer", &cfg.keepBuffer)
		if !cfg.keepBuffer {
			cfg.buf = nil
		}
		L.Push(r)
		return 1
	}))
	t.RawSetString("encode_invalid_numbers", L.NewFunction(func(L *lua.LState) int {
		argInit(L, 1, "encode_invalid_numbers")
		L.Push(enumOption(L, L.Get(1), 1, "encode_invalid_numbers", &cfg.encodeInvalidNumbers, []string{"off", "on", "null"}))
		return 1
	}))
	t.RawSetString("new", L.NewFunction(func(L *lua.LState) int {
		L.Push(open(vm, L, safe))
		return 1
	}))
	t.RawSetString("null", luaplugin.Null)
	t.RawSetString("empty_array", emptyArray)
	t.RawSetString("array_mt", arrayMT)
	t.RawSetString("empty_array_mt", emptyArrayMT)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString(Version))
	return t
}

// ---------------------------------------------------------------------------
// Configuration helpers (json_arg_init, json_enum_option,
// json_integer_option).

func argInit(L *lua.LState, args int, fname string) {
	if L.GetTop() > args {
		argError(L, args+1, fname, "found too many arguments")
	}
}

// enumOption handles an on/off style option backed by an index into
// options (options[0] = "off", options[1] = "on"); booleans are accepted.
// v is argument n; the current value is returned.
func enumOption(L *lua.LState, v lua.LValue, n int, fname string, setting *int, options []string) lua.LValue {
	switch x := v.(type) {
	case *lua.LNilType:
	case lua.LBool:
		if x {
			*setting = 1
		} else {
			*setting = 0
		}
	case lua.LString, lua.LNumber:
		s := luaplugin.ToString(x)
		found := false
		for i, o := range options {
			if o == s {
				*setting, found = i, true
				break
			}
		}
		if !found {
			argError(L, n, fname, "invalid option '"+s+"'")
		}
	default:
		argError(L, n, fname, "string expected, got "+v.Type().String())
	}
	if *setting <= 1 {
		return lua.LBool(*setting == 1)
	}
	return lua.LString(options[*setting])
}

func boolOption(L *lua.LState, v lua.LValue, n int, fname string, setting *bool) lua.LValue {
	i := 0
	if *setting {
		i = 1
	}
	r := enumOption(L, v, n, fname, &i, []string{"off", "on"})
	*setting = i == 1
	return r
}

func intOption(L *lua.LState, v lua.LValue, n int, fname string, setting *int, lo, hi int) lua.LValue {
	if v != lua.LNil {
		var num float64
		switch x := v.(type) {
		case lua.LNumber:
			num = float64(x)
		case lua.LString:
			f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
			if err != nil {
				argError(L, n, fname, "number expected, got string")
			}
			num = f
		default:
			argError(L, n, fname, "number expected, got "+v.Type().String())
		}
		value := int(num)
		if num < float64(lo) || num > float64(hi) || value < lo || value > hi {
			// As lua-cjson, the range error always names argument #1.
			argError(L, 1, fname, "expected integer between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi))
		}
		*setting = value
	}
	return lua.LNumber(*setting)
}

// fail reports an encode/decode error: raised as a Lua error without
// position (as luaL_error from a C function), or returned as nil, msg by
// cjson.safe.
func fail(L *lua.LState, safe bool, msg string) int {
	if safe {
		return luaplugin.PushFail(L, msg)
	}
	L.Error(lua.LString(msg), 0)
	return 0
}

// ---------------------------------------------------------------------------
// Encoding

func encode(L *lua.LState, cfg *config, safe bool) int {
	if L.GetTop() != 1 {
		argError(L, 1, "encode", "expected 1 argument")
	}
	var buf []byte
	if cfg.keepBuffer {
		buf = cfg.buf[:0]
	}
	e := encoder{cfg: cfg, L: L, buf: buf, max: cfg.vm.MaxString()}
	e.value(L.Get(1), 0)
	if cfg.keepBuffer && cap(e.buf) <= 1<<20 {
		cfg.buf = e.buf[:0]
	}
	if e.err == "" && len(e.buf) > e.max {
		e.err = errTooLong
	}
	if e.err != "" {
		return fail(L, safe, e.err)
	}
	L.Push(lua.LString(string(e.buf)))
	return 1
}

type encoder struct {
	cfg *config
	L   *lua.LState
	buf []byte
	err string
	max int // the longest output allowed
	n   int // values encoded so far
}

func (e *encoder) fail(typ, reason string) {
	if e.err == "" {
		e.err = "Cannot serialise " + typ + ": " + reason
	}
}

// escapes[c] is the escape sequence of byte c, or "" when c is written
// as is. "/" is handled separately (encode_escape_forward_slash).
var escapes = func() [256]string {
	var t [256]string
	const hex = "0123456789abcdef"
	for c := 0; c < 0x20; c++ {
		t[c] = `\u00` + string(hex[c>>4]) + string(hex[c&15])
	}
	t['\b'], t['\t'], t['\n'], t['\f'], t['\r'] = `\b`, `\t`, `\n`, `\f`, `\r`
	t['"'], t['\\'] = `\"`, `\\`
	t[0x7f] = `\u007f`
	return t
}()

// tooLong sets the length error when the output is over its limit.
func (e *encoder) tooLong() bool {
	if len(e.buf) > e.max {
		if e.err == "" {
			e.err = errTooLong
		}
		return true
	}
	return false
}

func (e *encoder) appendString(s string) {
	if len(e.buf)+len(s)+2 > e.max {
		e.err = errTooLong
		return
	}
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		esc := escapes[c]
		if esc == "" {
			if c != '/' || !e.cfg.escapeSlash {
				continue
			}
			esc = `\/`
		}
		e.buf = append(e.buf, s[start:i]...)
		e.buf = append(e.buf, esc...)
		start = i + 1
		if e.tooLong() {
			return
		}
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}

// appendNumber formats n as "%.<precision>g" (fpconv_g_fmt).
func (e *encoder) appendNumber(n float64) {
	if math.IsInf(n, 0) || math.IsNaN(n) {
		switch e.cfg.encodeInvalidNumbers {
		case 0:
			e.fail("number", "must not be NaN or Infinity")
		case 1:
			switch {
			case math.IsNaN(n):
				e.buf = append(e.buf, "NaN"...)
			case n < 0:
				e.buf = append(e.buf, "-Infinity"...)
			default:
				e.buf = append(e.buf, "Infinity"...)
			}
		default:
			e.buf = append(e.buf, "null"...)
		}
		return
	}
	e.buf = formatG(e.buf, n, e.cfg.numberPrecision)
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17}

// formatG appends n formatted as C's "%.<prec>g".
func formatG(b []byte, n float64, prec int) []byte {
	if n == 0 {
		if math.Signbit(n) {
			return append(b, "-0"...)
		}
		return append(b, '0')
	}
	if n == math.Trunc(n) && math.Abs(n) < pow10[prec] {
		return strconv.AppendInt(b, int64(n), 10)
	}
	return strconv.AppendFloat(b, n, 'g', prec, 64)
}

// value appends v. It reports false, appending nothing, for a value of a
// type JSON cannot hold when encode_skip_unsupported_value_types is on
// (the caller then drops the element or member, as lua_cjson.c does).
func (e *encoder) value(v lua.LValue, depth int) bool {
	if e.err != "" || e.tooLong() {
		return true
	}
	if e.n++; e.n%budgetEvery == 0 {
		e.cfg.vm.CheckBudget(e.L)
	}
	switch lv := v.(type) {
	case lua.LString:
		e.appendString(string(lv))
	case lua.LNumber:
		e.appendNumber(float64(lv))
	case lua.LBool:
		if lv {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case *lua.LTable:
		e.table(lv, depth+1)
	case *lua.LUserData:
		switch lv {
		case luaplugin.Null:
			e.buf = append(e.buf, "null"...)
		case emptyArray:
			e.buf = append(e.buf, "[]"...)
		default:
			return e.unsupported("userdata")
		}
	default:
		return e.unsupported(v.Type().String())
	}
	return true
}

func (e *encoder) unsupported(typ string) bool {
	if e.cfg.skipUnsupported {
		return false
	}
	e.fail(typ, "type not supported")
	return true
}

// newline starts a line indented depth times when encode_indent is set.
func (e *encoder) newline(depth int) {
	if e.cfg.indent == "" {
		return
	}
	e.buf = append(e.buf, '\n')
	for i := 0; i < depth; i++ {
		e.buf = append(e.buf, e.cfg.indent...)
	}
}

func (e *encoder) table(t *lua.LTable, depth int) {
	if depth > e.cfg.encodeMaxDepth {
		e.err = "Cannot serialise, excessive nesting (" + strconv.Itoa(depth) + ")"
		return
	}
	mt, _ := t.Metatable.(*lua.LTable)
	if mt != nil && mt == e.cfg.arrayMT {
		e.array(t, t.Len(), depth, true)
		return
	}
	// A table with a __len metamethod is an array of that length, read
	// through its metamethods (a proxy of an array), as in lua_cjson.c.
	if mt != nil {
		if lenFn := mt.RawGetString("__len"); lenFn != lua.LNil {
			e.L.Push(lenFn)
			e.L.Push(t)
			e.L.Call(1, 1)
			n, _ := e.L.Get(-1).(lua.LNumber)
			e.L.Pop(1)
			e.array(t, int(n), depth, false)
			return
		}
	}
	n := e.arrayLength(t)
	if e.err != "" {
		return
	}
	if n > 0 || n == 0 && !e.cfg.emptyTableAsObject {
		e.array(t, n, depth, true)
		return
	}
	// As lua_cjson.c: a table with empty_array_mt is written as [] when it
	// is not an array with elements (even if it has other keys).
	if mt != nil && mt == e.cfg.emptyArrayMT {
		e.buf = append(e.buf, "[]"...)
		return
	}
	e.object(t, depth)
}

// arrayLength returns the length of t as a JSON array, or -1 when t must be
// encoded as an object (lua_array_length).
func (e *encoder) arrayLength(t *lua.LTable) int {
	maxK, items := 0.0, 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		num, ok := k.(lua.LNumber)
		if !ok || float64(num) < 1 || float64(num) != math.Floor(float64(num)) {
			return -1
		}
		if float64(num) > maxK {
			maxK = float64(num)
		}
		items++
	}
	cfg := e.cfg
	if cfg.sparseRatio > 0 && maxK > float64(items)*float64(cfg.sparseRatio) && maxK > float64(cfg.sparseSafe) {
		if !cfg.sparseConvert {
			e.fail("table", "excessively sparse array")
		}
		return -1
	}
	if maxK > math.MaxInt32 {
		e.fail("table", "excessively sparse array")
		return -1
	}
	return int(maxK)
}

// array appends t[1..n]; raw reads the elements with rawget, otherwise
// through t's metamethods.
func (e *encoder) array(t *lua.LTable, n int, depth int, raw bool) {
	e.buf = append(e.buf, '[')
	comma := 0
	for i := 1; i <= n; i++ {
		pos := len(e.buf)
		if comma > 0 {
			e.buf = append(e.buf, ',')
		}
		comma++
		e.newline(depth)
		var v lua.LValue
		switch {
		case !raw:
			v = e.L.GetTable(t, lua.LNumber(i))
		case i < lua.MaxArrayIndex:
			v = t.RawGetInt(i)
		default:
			v = t.RawGet(lua.LNumber(i))
		}
		if !e.value(v, depth) {
			e.buf = e.buf[:pos]
			if comma == 1 {
				comma = 0
			}
		}
		if e.err != "" {
			return
		}
	}
	if n > 0 {
		e.newline(depth - 1)
	}
	e.buf = append(e.buf, ']')
}

func (e *encoder) object(t *lua.LTable, depth int) {
	e.buf = append(e.buf, '{')
	comma, items := 0, false
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		items = true
		pos := len(e.buf)
		if comma > 0 {
			e.buf = append(e.buf, ',')
		}
		comma++
		e.newline(depth)
		switch key := k.(type) {
		case lua.LString:
			e.appendString(string(key))
			e.buf = append(e.buf, ':')
		case lua.LNumber:
			e.buf = append(e.buf, '"')
			e.appendNumber(float64(key))
			e.buf = append(e.buf, '"', ':')
		default:
			e.fail(k.Type().String(), "table key must be a number or string")
		}
		if e.cfg.indent != "" {
			e.buf = append(e.buf, ' ')
		}
		if !e.value(v, depth) {
			e.buf = e.buf[:pos]
			if comma == 1 {
				comma = 0
			}
		}
		if e.err != "" {
			return
		}
	}
	if items {
		e.newline(depth - 1)
	}
	e.buf = append(e.buf, '}')
}

// ---------------------------------------------------------------------------
// Decoding

const (
	jtObjBegin = iota
	jtObjEnd
	jtArrBegin
	jtArrEnd
	jtString
	jtNumber
	jtBoolean
	jtNull
	jtColon
	jtComma
	jtEnd
	jtWhitespace
	jtError
	jtUnknown
)

var jtNames = [...]string{"T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING",
	"T_NUMBER", "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_WHITESPACE", "T_ERROR", "T_UNKNOWN"}

var jtChar = func() [256]uint8 {
	var t [256]uint8
	for i := range t {
		t[i] = jtError
	}
	t['{'], t['}'], t['['], t[']'], t[','], t[':'] = jtObjBegin, jtObjEnd, jtArrBegin, jtArrEnd, jtComma, jtColon
	t[0] = jtEnd
	t[' '], t['\t'], t['\n'], t['\r'] = jtWhitespace, jtWhitespace, jtWhitespace, jtWhitespace
	for _, c := range "fiInNt\"+-0123456789" {
		t[c] = jtUnknown
	}
	return t
}()

type jtoken struct {
	typ   int
	index int // 0-based offset of the token
	str   lua.LString
	num   float64
	b     bool
	err   string // for jtError
	// integer marks a number strtoll reads whole (lua-cjson's T_INTEGER,
	// the name its errors give such a token).
	integer bool
}

type decoder struct {
	L     *lua.LState
	cfg   *config
	s     string
	i     int
	depth int
	n     int // values decoded so far
	tmp   []byte
	err   string
}

// at returns the byte at i, or 0 past the end (C strings end with NUL; a
// NUL inside the input also ends it, as in lua_cjson.c).
func (d *decoder) at(i int) byte {
	if i < len(d.s) {
		return d.s[i]
	}
	return 0
}

func decode(L *lua.LState, cfg *config, safe bool) int {
	if L.GetTop() != 1 {
		argError(L, 1, "decode", "expected 1 argument")
	}
	var s string
	switch v := L.Get(1).(type) {
	case lua.LString:
		s = string(v)
	case lua.LNumber:
		s = luaplugin.FormatNumber(float64(v))
	default:
		msg := "bad argument #1 to 'decode' (string expected, got " + v.Type().String() + ")"
		if safe {
			return fail(L, true, msg)
		}
		argTypeError(L, 1, "decode", "string")
	}
	if len(s) > cfg.vm.MaxString() {
		return fail(L, safe, errTooLong)
	}
	if len(s) >= 2 && (s[0] == 0 || s[1] == 0) {
		return fail(L, safe, "JSON parser does not support UTF-16 or UTF-32")
	}
	d := decoder{L: L, cfg: cfg, s: s}
	var tok jtoken
	d.next(&tok)
	v := d.value(&tok)
	if d.err == "" {
		d.next(&tok)
		if tok.typ != jtEnd {
			d.parseError("the end", &tok)
		}
	}
	if d.err != "" {
		return fail(L, safe, d.err)
	}
	L.Push(v)
	return 1
}

func (d *decoder) parseError(expected string, tok *jtoken) {
	if d.err != "" {
		return
	}
	found := jtNames[tok.typ]
	switch {
	case tok.typ == jtError:
		found = tok.err
	case tok.typ == jtNumber && tok.integer:
		found = "T_INTEGER"
	}
	d.err = "Expected " + expected + " but found " + found + " at character " + strconv.Itoa(tok.index+1)
}

func (d *decoder) tokenError(tok *jtoken, msg string) {
	tok.typ = jtError
	tok.index = d.i
	tok.err = msg
}

// isInvalidNumber reports numbers strtod accepts but strict JSON does not
// (json_is_invalid_number).
func (d *decoder) isInvalidNumber() bool {
	p := d.i
	c := d.at(p)
	if c == '+' {
		return true
	}
	if c == '-' {
		p++
		c = d.at(p)
	}
	if c == '0' {
		c2 := d.at(p + 1)
		return c2|0x20 == 'x' || c2 >= '0' && c2 <= '9'
	}
	if c <= '9' {
		return false
	}
	return hasPrefixFold(d.s[p:], "inf") || hasPrefixFold(d.s[p:], "nan")
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if s[i]|0x20 != prefix[i] {
			return false
		}
	}
	return true
}

func (d *decoder) next(tok *jtoken) {
	var c byte
	tok.integer = false
	for {
		for {
			c = d.at(d.i)
			tok.typ = int(jtChar[c])
			if tok.typ != jtWhitespace {
				break
			}
			d.i++
		}
		// decode_allow_comment: // and /* */ comments count as whitespace.
		if !d.cfg.allowComment || c != '/' || d.at(d.i+1) != '/' && d.at(d.i+1) != '*' {
			break
		}
		if d.at(d.i+1) == '/' {
			d.i += 2
			for d.at(d.i) != 0 && d.at(d.i) != '\n' {
				d.i++
			}
			continue
		}
		d.i += 2
		for {
			if d.at(d.i) == 0 {
				d.tokenError(tok, "unclosed multi-line comment")
				return
			}
			if d.at(d.i) == '*' && d.at(d.i+1) == '/' {
				d.i += 2
				break
			}
			d.i++
		}
	}
	tok.index = d.i
	switch tok.typ {
	case jtError:
		d.tokenError(tok, "invalid token")
		return
	case jtEnd:
		return
	case jtUnknown:
	default:
		d.i++
		return
	}
	rest := d.s[d.i:]
	switch {
	case c == '"':
		d.stringToken(tok)
	case c == '-' || c >= '0' && c <= '9':
		if !d.cfg.decodeInvalidNumbers && d.isInvalidNumber() {
			d.tokenError(tok, "invalid number")
			return
		}
		d.numberToken(tok)
	case len(rest) >= 4 && rest[:4] == "true":
		tok.typ, tok.b = jtBoolean, true
		d.i += 4
	case len(rest) >= 5 && rest[:5] == "false":
		tok.typ, tok.b = jtBoolean, false
		d.i += 5
	case len(rest) >= 4 && rest[:4] == "null":
		tok.typ = jtNull
		d.i += 4
	case d.cfg.decodeInvalidNumbers && d.isInvalidNumber():
		d.numberToken(tok)
	default:
		d.tokenError(tok, "invalid token")
	}
}

func (d *decoder) numberToken(tok *jtoken) {
	v, n := cStrtod(d.s[d.i:])
	if n == 0 {
		d.tokenError(tok, "invalid number")
		return
	}
	tok.typ = jtNumber
	tok.num = v
	tok.integer = isCInteger(d.s[d.i:])
	d.i += n
}

// isCInteger reports whether lua-cjson reads the number at the start of s
// as an integer: strtoll (base 10) takes some of it, the next byte is not
// one of ".eEx", and the value fits in 64 bits.
func isCInteger(s string) bool {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] >= '\t' && s[i] <= '\r') {
		i++
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return false
	}
	if i < len(s) {
		switch s[i] {
		case '.', 'e', 'E', 'x':
			return false
		}
	}
	_, err := strconv.ParseInt(strings.TrimLeft(s[:i], " \t\n\v\f\r"), 10, 64)
	return err == nil
}

func isHexDigit(c byte) bool { return hexVal(c) >= 0 }

// cStrtod parses the longest prefix of s that C's strtod accepts ("C"
// locale) and returns its value and length (0 when nothing is accepted).
func cStrtod(s string) (float64, int) {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	i := 0
	if c := at(0); c == '+' || c == '-' {
		i++
	}
	neg := at(0) == '-'
	// Fast path: plain integers.
	j := i
	var iv int64
	for j < len(s) && j-i < 16 && isDigit(s[j]) {
		iv = iv*10 + int64(s[j]-'0')
		j++
	}
	if j > i && (j >= len(s) || !isDigit(s[j]) && s[j] != '.' && s[j]|0x20 != 'e' && s[j]|0x20 != 'x') {
		if neg {
			if iv == 0 {
				return math.Copysign(0, -1), j
			}
			return -float64(iv), j
		}
		return float64(iv), j
	}
	rest := s[i:]
	switch {
	case hasPrefixFold(rest, "inf"):
		n := i + 3
		if hasPrefixFold(s[n:], "inity") {
			n += 5
		}
		if neg {
			return math.Inf(-1), n
		}
		return math.Inf(1), n
	case hasPrefixFold(rest, "nan"):
		n := i + 3
		if at(n) == '(' {
			k := n + 1
			for k < len(s) && isWordByte(s[k]) {
				k++
			}
			if at(k) == ')' {
				n = k + 1
			}
		}
		return math.NaN(), n
	case at(i) == '0' && at(i+1)|0x20 == 'x' && (isHexDigit(at(i+2)) || at(i+2) == '.' && isHexDigit(at(i+3))):
		k := i + 2
		for isHexDigit(at(k)) {
			k++
		}
		if at(k) == '.' {
			k++
			for isHexDigit(at(k)) {
				k++
			}
		}
		mant := s[i+2 : k]
		exp := "p0"
		if at(k)|0x20 == 'p' {
			e := k + 1
			if at(e) == '+' || at(e) == '-' {
				e++
			}
			if isDigit(at(e)) {
				for isDigit(at(e)) {
					e++
				}
				exp = s[k:e]
				k = e
			}
		}
		v, _ := strconv.ParseFloat("0x"+mant+exp, 64)
		if neg {
			v = -v
		}
		return v, k
	}
	k := i
	digits := 0
	for isDigit(at(k)) {
		k++
		digits++
	}
	if at(k) == '.' {
		k++
		for isDigit(at(k)) {
			k++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	if at(k)|0x20 == 'e' {
		e := k + 1
		if at(e) == '+' || at(e) == '-' {
			e++
		}
		if isDigit(at(e)) {
			for isDigit(at(e)) {
				e++
			}
			k = e
		}
	}
	v, _ := strconv.ParseFloat(s[:k], 64)
	return v, k
}

func (d *decoder) stringToken(tok *jtoken) {
	d.i++ // opening quote
	start := d.i
	// Fast path: no escapes.
	for {
		c := d.at(d.i)
		if c == '"' {
			tok.typ = jtString
			tok.str = lua.LString(d.s[start:d.i])
			d.i++
			return
		}
		if c == 0 {
			d.tokenError(tok, "unexpected end of string")
			return
		}
		if c == '\\' {
			break
		}
		d.i++
	}
	b := append(d.tmp[:0], d.s[start:d.i]...)
	for {
		c := d.at(d.i)
		if c == '"' {
			break
		}
		if c == 0 {
			d.tokenError(tok, "unexpected end of string")
			return
		}
		if c != '\\' {
			b = append(b, c)
			d.i++
			continue
		}
		switch d.at(d.i + 1) {
		case '"':
			b = append(b, '"')
		case '\\':
			b = append(b, '\\')
		case '/':
			b = append(b, '/')
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			var ok bool
			if b, ok = d.unicodeEscape(b); !ok {
				d.tokenError(tok, "invalid unicode escape code")
				return
			}
			continue
		default:
			d.tokenError(tok, "invalid escape code")
			return
		}
		d.i += 2
	}
	d.i++
	d.tmp = b
	tok.typ = jtString
	tok.str = lua.LString(string(b))
}

func (d *decoder) hex4(i int) int {
	v := 0
	for k := 0; k < 4; k++ {
		h := hexVal(d.at(i + k))
		if h < 0 {
			return -1
		}
		v = v<<4 | h
	}
	return v
}

// unicodeEscape decodes \uXXXX (and a following low surrogate) at d.i.
func (d *decoder) unicodeEscape(b []byte) ([]byte, bool) {
	cp := d.hex4(d.i + 2)
	if cp < 0 {
		return b, false
	}
	n := 6
	if cp&0xF800 == 0xD800 {
		if cp&0x400 != 0 {
			return b, false
		}
		if d.at(d.i+6) != '\\' || d.at(d.i+7) != 'u' {
			return b, false
		}
		low := d.hex4(d.i + 8)
		if low < 0 || low&0xFC00 != 0xDC00 {
			return b, false
		}
		cp = ((cp&0x3FF)<<10 | low&0x3FF) + 0x10000
		n = 12
	}
	b = utf8.AppendRune(b, rune(cp))
	d.i += n
	return b, true
}

func (d *decoder) descend() bool {
	d.depth++
	if d.depth > d.cfg.decodeMaxDepth {
		if d.err == "" {
			d.err = "Found too many nested data structures (" + strconv.Itoa(d.depth) + ") at character " + strconv.Itoa(d.i)
		}
		return false
	}
	return true
}

func (d *decoder) value(tok *jtoken) lua.LValue {
	if d.n++; d.n%budgetEvery == 0 {
		d.cfg.vm.CheckBudget(d.L)
	}
	switch tok.typ {
	case jtString:
		return tok.str
	case jtNumber:
		return lua.LNumber(tok.num)
	case jtBoolean:
		return lua.LBool(tok.b)
	case jtNull:
		if d.cfg.decodeJSONNull {
			return luaplugin.Null
		}
		return lua.LNil
	case jtObjBegin:
		return d.object()
	case jtArrBegin:
		return d.array()
	}
	d.parseError("value", tok)
	return lua.LNil
}

func (d *decoder) object() lua.LValue {
	if !d.descend() {
		return lua.LNil
	}
	t := d.L.CreateTable(0, 4)
	var tok jtoken
	d.next(&tok)
	if tok.typ == jtObjEnd {
		d.depth--
		return t
	}
	for d.err == "" {
		if tok.typ != jtString {
			d.parseError("object key string", &tok)
			break
		}
		key := tok.str
		d.next(&tok)
		if tok.typ != jtColon {
			d.parseError("colon", &tok)
			break
		}
		d.next(&tok)
		v := d.value(&tok)
		if d.err != "" {
			break
		}
		t.RawSetString(string(key), v)
		d.next(&tok)
		if tok.typ == jtObjEnd {
			d.depth--
			return t
		}
		if tok.typ != jtComma {
			d.parseError("comma or object end", &tok)
			break
		}
		d.next(&tok)
	}
	return lua.LNil
}

func (d *decoder) array() lua.LValue {
	if !d.descend() {
		return lua.LNil
	}
	t := d.L.CreateTable(4, 0)
	if d.cfg.decodeArrayWithArrayMT {
		t.Metatable = d.cfg.arrayMT
	}
	var tok jtoken
	d.next(&tok)
	if tok.typ == jtArrEnd {
		d.depth--
		return t
	}
	for i := 1; d.err == ""; i++ {
		v := d.value(&tok)
		if d.err != "" {
			break
		}
		t.RawSetInt(i, v)
		d.next(&tok)
		if tok.typ == jtArrEnd {
			d.depth--
			return t
		}
		if tok.typ != jtComma {
			d.parseError("comma or array end", &tok)
			break
		}
		d.next(&tok)
	}
	return lua.LNil
}

// ---------------------------------------------------------------------------
// Helpers

// argError raises luaL_argerror's message.
// argError raises luaL_argerror's message: no position (the error comes
// from a C function), the function named as the caller's code names it
// ('?' when it was called through pcall and friends), fname if unknown.
func argError(L *lua.LState, n int, fname, msg string) {
	if dbg, ok := L.GetStack(0); ok {
		if _, err := L.GetInfo("n", dbg, lua.LNil); err == nil {
			switch dbg.Name {
			case "":
			case "(anonymous)":
				fname = "?"
			default:
				fname = dbg.Name
			}
		}
	}
	L.Error(lua.LString(fmt.Sprintf("bad argument #%d to '%s' (%s)", n, fname, msg)), 0)
}

// argTypeError raises luaL_typerror's message for argument n.
func argTypeError(L *lua.LState, n int, fname, expected string) {
	got := "no value"
	if n <= L.GetTop() {
		got = L.Get(n).Type().String()
	}
	argError(L, n, fname, expected+" expected, got "+got)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_'
}

// hexVal is the value of hex digit c, or -1.
func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
