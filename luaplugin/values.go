package luaplugin

import (
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luastring"
)

// Null is ngx.null (and cjson.null): the sentinel OpenResty uses for a JSON
// null or a nil reply. It is a light userdata with no metatable and never
// changes, so one value serves every Lua state.
var Null = &lua.LUserData{Metatable: lua.LNil}

// FormatNumber formats n as LuaJIT does ("%.14g"), which is how OpenResty
// prints numbers everywhere: tostring, ngx.say, string concatenation.
func FormatNumber(n float64) string {
	if n == math.Trunc(n) && math.Abs(n) < 1e14 && (n != 0 || !math.Signbit(n)) {
		// Fast path: integral values below 10^14 print as plain integers.
		return strconv.FormatInt(int64(n), 10)
	}
	return string(luastring.AppendNumber(nil, n))
}

// AppendValue appends the text of v to b following the rules of ngx.print:
// strings and numbers as text, nil as "nil", booleans as "true"/"false",
// ngx.null as "null", and array tables flattened recursively. It returns an
// error message (in OpenResty's words) for values ngx.print refuses.
func AppendValue(b []byte, v lua.LValue) ([]byte, string) {
	switch lv := v.(type) {
	case lua.LString:
		return append(b, lv...), ""
	case lua.LNumber:
		return append(b, FormatNumber(float64(lv))...), ""
	case *lua.LNilType:
		return append(b, "nil"...), ""
	case lua.LBool:
		if lv {
			return append(b, "true"...), ""
		}
		return append(b, "false"...), ""
	case *lua.LTable:
		n := lv.Len()
		for i := 1; i <= n; i++ {
			var msg string
			b, msg = AppendValue(b, lv.RawGetInt(i))
			if msg != "" {
				return b, msg
			}
		}
		return b, ""
	case *lua.LUserData:
		if lv == Null {
			return append(b, "null"...), ""
		}
	}
	return b, "bad argument type: " + v.Type().String()
}

// PushFail returns nil, msg to Lua: the failure convention of the ngx API
// and the lua-resty libraries.
func PushFail(L *lua.LState, msg string) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(msg))
	return 2
}

// PushObject returns a Go object to Lua as a userdata with metatable mt.
func PushObject(L *lua.LState, v any, mt *lua.LTable) int {
	ud := L.NewUserData()
	ud.Value = v
	ud.Metatable = mt
	L.Push(ud)
	return 1
}

// ToString converts v to a string the way LuaJIT's tostring does for
// strings, numbers, booleans and nil; other values use gopher-lua's text.
func ToString(v lua.LValue) string {
	switch lv := v.(type) {
	case lua.LString:
		return string(lv)
	case lua.LNumber:
		return FormatNumber(float64(lv))
	case *lua.LUserData:
		if lv == Null {
			return "userdata: NULL"
		}
	}
	return v.String()
}

// lookupHeader returns the values of header name (given from Lua:
// any case, '_' for '-') in h, without allocating for the usual short
// names (ngx.var.http_x_api_key on every request).
func lookupHeader(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h[headerKey(name)]
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-':
			c = '-'
		case 'a' <= c && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
		case 'A' <= c && c <= 'Z':
			if !upper {
				c += 'a' - 'A'
			}
		case '0' <= c && c <= '9':
		default:
			// Not a plain token: let textproto decide.
			return h[headerKey(name)]
		}
		buf[i] = c
		upper = c == '-'
	}
	return h[string(buf[:len(name)])]
}

// headerKey normalises a header name given from Lua: underscores become
// dashes and the result is in canonical MIME form.
func headerKey(name string) string {
	if strings.IndexByte(name, '_') >= 0 {
		name = strings.ReplaceAll(name, "_", "-")
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}

// appendOutput appends the text of v to b as ngx.say and ngx.print do:
// strings and numbers as text, nil as "nil", booleans, ngx.null as "null",
// array tables flattened (a hole prints "nil", up to the largest integer
// key). It returns lua-nginx-module's message for a value it refuses.
func appendOutput(b []byte, v lua.LValue, top bool) ([]byte, string) {
	switch lv := v.(type) {
	case lua.LString:
		return append(b, lv...), ""
	case lua.LNumber:
		return append(b, FormatNumber(float64(lv))...), ""
	case *lua.LNilType:
		return append(b, "nil"...), ""
	case lua.LBool:
		if lv {
			return append(b, "true"...), ""
		}
		return append(b, "false"...), ""
	case *lua.LTable:
		max, ok := arrayLen(lv)
		if !ok {
			return b, "non-array table found"
		}
		for i := 1; i <= max; i++ {
			var msg string
			if b, msg = appendOutput(b, lv.RawGetInt(i), false); msg != "" {
				return b, msg
			}
		}
		return b, ""
	case *lua.LUserData:
		if lv == Null {
			return append(b, "null"...), ""
		}
	}
	if top {
		return b, "string, number, boolean, nil, ngx.null, or array table expected, but got " + v.Type().String()
	}
	return b, "bad data type " + v.Type().String() + " found"
}

// arrayLen returns the largest positive integer key of t, and false when
// t has a key that is not one (lua-nginx-module's array test).
func arrayLen(t *lua.LTable) (int, bool) {
	max := 0
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		f := float64(n)
		if !isNum || f < 1 || f != math.Trunc(f) {
			ok = false
			return
		}
		if int(f) > max {
			max = int(f)
		}
	})
	return max, ok
}

// raiseError raises an error as luaL_error does: the message is prefixed
// with the position of the Lua code that called the running Go function,
// and with nothing when that caller is itself a Go function (as in
// pcall(ngx.req.set_uri, "")).
func raiseError(L *lua.LState, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	L.Error(lua.LString(callerWhere(L)+msg), 0)
}

// argError raises luaL_argerror's "bad argument #n to 'name' (msg)", the
// name being the one the running function was called by ('?' when it is
// not known, as with pcall(f, …)).
func argError(L *lua.LState, n int, msg string) {
	name := "?"
	if dbg, ok := L.GetStack(0); ok {
		if _, err := L.GetInfo("n", dbg, lua.LNil); err == nil && dbg.Name != "" &&
			dbg.Name != "(anonymous)" && !strings.HasPrefix(dbg.Name, "<") {
			name = dbg.Name
		}
	}
	raiseError(L, "bad argument #%d to '%s' (%s)", n, name, msg)
}

// callerWhere is luaL_where(L, 1): "chunk:line: " of the calling Lua
// code, or "" when the caller is a Go function.
func callerWhere(L *lua.LState) string {
	dbg, ok := L.GetStack(1)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.CurrentLine <= 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d: ", dbg.Source, dbg.CurrentLine)
}

// unsafeURIByte returns the first byte of s that may not appear in a URI
// nginx sends on (a control character but tab, or DEL).
func unsafeURIByte(s string) (byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return c, true
		}
	}
	return 0, false
}

// escapeLog escapes s for an error message as lua-nginx-module does:
// control characters, '"', '\', DEL and bytes over 0x7f as \xHH.
func escapeLog(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b.WriteString(`\x`)
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// escapeHeader escapes a header name or value given from Lua as
// lua-nginx-module does, %XX: in a value the control characters but tab,
// and DEL; in a name also the separators, space and bytes over 0x7f.
func escapeHeader(s string, name bool) string {
	esc := func(c byte) bool {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
		if !name {
			return false
		}
		if c == '\t' || c >= 0x80 {
			return true
		}
		return strings.IndexByte(" \"(),/:;<=>?@[\\]{}", c) >= 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if esc(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexd = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if esc(c) {
			b = append(b, '%', hexd[c>>4], hexd[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}
