package luaplugin

import (
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
