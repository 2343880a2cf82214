package luastring

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// string.format (formatstring, ...)
//
// The items and their errors are LuaJIT 2.1's: %a %A %c %d %e %E %f %F %g
// %G %i %o %p %q %s %u %x %X and %%, any number of the flags "-+ #0", a
// width and a precision of up to two digits each. %s and %q take any value
// and convert it as tostring does (calling __tostring); %s keeps embedded
// zeros and has no length limit of its own.
func (lb *lib) format(L *lua.LState) int {
	f := checkString(L, 1, "format")
	top := L.GetTop()
	arg := 1
	var stack [256]byte
	sb := strBuf{L: L, b: stack[:0], max: lb.max}
	items := 0
	for i := 0; i < len(f); {
		if f[i] != '%' {
			j := strings.IndexByte(f[i:], '%')
			if j < 0 {
				j = len(f) - i
			}
			sb.writeString(f[i : i+j])
			i += j
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			sb.writeByte('%')
			i += 2
			continue
		}
		sp, next, ok := parseSpec(f, i)
		if !ok {
			L.RaiseError("invalid option '%s' to 'format'", f[i:next])
		}
		i = next
		arg++
		if arg > top {
			argError(L, arg, "format", "value expected")
		}
		if items++; items%checkEvery == 0 {
			lb.checkBudget(L)
		}
		var buf [128]byte
		switch sp.conv {
		case 'd', 'i':
			n := checkNumber(L, arg, "format")
			sb.write(appendInt(buf[:0], sp, uint64(floatToInt64(n)), true))
		case 'u', 'o', 'x', 'X':
			n := checkNumber(L, arg, "format")
			sb.write(appendInt(buf[:0], sp, floatToUint64(n), false))
		case 'c':
			c := byte(floatToInt64(checkNumber(L, arg, "format")))
			sp.flags &^= flagZero
			sb.write(appendPadded(buf[:0], sp, nil, []byte{c}))
		case 'a', 'A', 'e', 'E', 'f', 'F', 'g', 'G':
			sb.write(appendFloat(buf[:0], sp, checkNumber(L, arg, "format")))
		case 's':
			s := toString(L, L.Get(arg))
			if sp.prec >= 0 && len(s) > sp.prec {
				s = s[:sp.prec]
			}
			if fill := sp.width - len(s); fill > 0 {
				sp.flags &^= flagZero
				sb.write(appendPadded(buf[:0], sp, nil, []byte(s)))
			} else {
				sb.writeString(s)
			}
		case 'q':
			appendQuoted(&sb, toString(L, L.Get(arg)))
		case 'p':
			sb.writeString(pointer(L.Get(arg)))
		}
	}
	L.Push(lua.LString(sb.b))
	return 1
}

// parseSpec parses the format item at f[i] ('%'). If it is not a valid item
// it returns ok == false and next is the end of the text to quote in the
// error, as LuaJIT reports it.
func parseSpec(f string, i int) (sp fmtSpec, next int, ok bool) {
	p := i + 1
	sp.prec = -1
flags:
	for ; p < len(f); p++ {
		switch f[p] {
		case '-':
			sp.flags |= flagLeft
		case '+':
			sp.flags |= flagPlus
		case ' ':
			sp.flags |= flagSpace
		case '#':
			sp.flags |= flagAlt
		case '0':
			sp.flags |= flagZero
		default:
			break flags
		}
	}
	sp.width, p = twoDigits(f, p)
	if p < len(f) && f[p] == '.' {
		sp.prec, p = twoDigits(f, p+1)
	}
	if p < len(f) && strings.IndexByte("aAcdeEfFgGiopqsuxX", f[p]) >= 0 {
		sp.conv = f[p]
		return sp, p + 1, true
	}
	if p < len(f) && f[p] >= ' ' {
		p++
	}
	return sp, p, false
}

// twoDigits reads up to two decimal digits at f[p].
func twoDigits(f string, p int) (n, next int) {
	for k := 0; k < 2 && p < len(f) && f[p] >= '0' && f[p] <= '9'; k++ {
		n = n*10 + int(f[p]-'0')
		p++
	}
	return n, p
}

// toString converts v as tostring does: strings and numbers as text,
// otherwise through __tostring if v has one, else "nil", "true", "false"
// or the type and address.
func toString(L *lua.LState, v lua.LValue) string {
	if s, ok := valueText(v); ok {
		return s
	}
	if mm := L.GetMetaField(v, "__tostring"); mm != lua.LNil {
		L.Push(mm)
		L.Push(v)
		L.Call(1, 1)
		v = L.Get(-1)
		L.Pop(1)
		if s, ok := valueText(v); ok {
			return s
		}
	}
	return v.String()
}

// pointer formats v for %p: the address of a reference value, "NULL" for
// the others (a gopher-lua string has no object address).
func pointer(v lua.LValue) string {
	switch v.(type) {
	case *lua.LTable, *lua.LFunction, *lua.LUserData, *lua.LState, lua.LChannel:
		return fmt.Sprintf("%p", v)
	}
	return "NULL"
}

// appendQuoted writes s as %q does in LuaJIT: in double quotes, with '"',
// '\\' and newline escaped by a backslash and other control characters as
// decimal escapes (three digits when a digit follows).
func appendQuoted(sb *strBuf, s string) {
	sb.writeByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '\n':
			sb.writeByte('\\')
			sb.writeByte(c)
		case c < ' ' || c == 0x7f:
			var esc [4]byte
			e := append(esc[:0], '\\')
			if c >= 100 || i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				e = append(e, '0'+c/100, '0'+c/10%10, '0'+c%10)
			} else if c >= 10 {
				e = append(e, '0'+c/10, '0'+c%10)
			} else {
				e = append(e, '0'+c)
			}
			sb.write(e)
		default:
			// Copy a run of plain bytes at once.
			j := i + 1
			for j < len(s) && s[j] >= ' ' && s[j] != 0x7f && s[j] != '"' && s[j] != '\\' {
				j++
			}
			sb.writeString(s[i:j])
			i = j - 1
		}
	}
	sb.writeByte('"')
}
