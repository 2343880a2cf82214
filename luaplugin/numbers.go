package luaplugin

import (
	"runtime/metrics"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// luaToNumber is tonumber with Lua 5.1/LuaJIT's rules: decimal numbers with
// exponents and fractions ("1e4", ".5", "5."), hexadecimal integers
// ("0x1F", "-0x10"), surrounding whitespace allowed, anything else nil;
// with a base (2 to 36), an integer in that base.
func luaToNumber(L *lua.LState) int {
	v := L.CheckAny(1)
	if L.Get(2) == lua.LNil {
		switch lv := v.(type) {
		case lua.LNumber:
			L.Push(lv)
		case lua.LString:
			if n, ok := parseNumber(string(lv)); ok {
				L.Push(lua.LNumber(n))
			} else {
				L.Push(lua.LNil)
			}
		default:
			L.Push(lua.LNil)
		}
		return 1
	}
	base := L.CheckInt(2)
	if base < 2 || base > 36 {
		L.ArgError(2, "base out of range")
	}
	s := strings.TrimSpace(L.CheckString(1))
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil || s == "" || strings.ContainsAny(s, "_+") {
		L.Push(lua.LNil)
		return 1
	}
	n := float64(u)
	if neg {
		n = -n
	}
	L.Push(lua.LNumber(n))
	return 1
}

// parseNumber converts a string the way the Lua lexer reads a number.
func parseNumber(s string) (float64, bool) {
	body := strings.Trim(s, " \t\n\v\f\r")
	sign := 1.0
	if body != "" && (body[0] == '-' || body[0] == '+') {
		if body[0] == '-' {
			sign = -1
		}
		body = body[1:]
	}
	if len(body) > 2 && body[0] == '0' && body[1]|0x20 == 'x' {
		hex := body[2:]
		if strings.ContainsAny(hex, ".pP") {
			if strings.ContainsAny(hex, "_") {
				return 0, false
			}
			f, err := strconv.ParseFloat("0x"+hex, 64)
			return sign * f, err == nil
		}
		var n float64
		for _, c := range hex {
			d, ok := hexDigit(c)
			if !ok {
				return 0, false
			}
			n = n*16 + float64(d)
		}
		return sign * n, true
	}
	if !isDecimal(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(body, 64)
	if e, ok := err.(*strconv.NumError); err != nil && (!ok || e.Err != strconv.ErrRange) {
		return 0, false
	}
	return sign * f, true
}

// isDecimal tells whether s is digits [. digits] [e [sign] digits] with at
// least one mantissa digit.
func isDecimal(s string) bool {
	i, digits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && s[i]|0x20 == 'e' {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == exp {
			return false
		}
	}
	return i == len(s)
}

func hexDigit(c rune) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// collectGarbage answers collectgarbage's queries without forcing a
// collection of the whole process (which is shared with every other
// request and site): "count" gives the Go heap in KB, "collect" and "step"
// are accepted and do nothing; the Go runtime collects on its own.
func collectGarbage(L *lua.LState) int {
	opt := L.OptString(1, "collect")
	switch opt {
	case "count":
		s := []metrics.Sample{{Name: metricHeapObjects}}
		metrics.Read(s)
		var kb float64
		if s[0].Value.Kind() == metrics.KindUint64 {
			kb = float64(s[0].Value.Uint64()) / 1024
		}
		L.Push(lua.LNumber(kb))
		return 1
	case "collect", "stop", "restart":
		L.Push(lua.LNumber(0))
		return 1
	case "step":
		L.Push(lua.LFalse)
		return 1
	case "setpause":
		L.Push(lua.LNumber(200))
		return 1
	case "setstepmul":
		L.Push(lua.LNumber(200))
		return 1
	}
	L.ArgError(1, "invalid option '"+opt+"'")
	return 0
}
