package luastring

import (
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/internal/luapat"
)

// hook makes m run the budget check on L at every Step.
func (lb *lib) hook(m *luapat.Matcher, L *lua.LState) {
	if check := lb.check; check != nil {
		m.Step = func() error {
			check(L)
			return nil
		}
	}
}

// raise turns a matcher error into a Lua error.
func raise(L *lua.LState, err error) {
	L.RaiseError("%s", err.Error())
}

// startIndex converts string.find's init argument to a 0-based offset in a
// subject of n bytes, as Lua 5.1 does: negative counts from the end, and
// the result is clamped to [0, n].
func startIndex(init int64, n int) int {
	if init < 0 {
		init += int64(n)
	} else {
		init--
	}
	return int(min(max(init, 0), int64(n)))
}

// string.find (s, pattern [, init [, plain]])
func (lb *lib) find(L *lua.LState) int {
	return lb.findAux(L, true, "find")
}

// string.match (s, pattern [, init])
func (lb *lib) match(L *lua.LState) int {
	return lb.findAux(L, false, "match")
}

func (lb *lib) findAux(L *lua.LState, find bool, fname string) int {
	s := checkString(L, 1, fname)
	p := checkString(L, 2, fname)
	init := startIndex(optInt(L, 3, fname, 1), len(s))
	if find && (lua.LVAsBool(L.Get(4)) || !luapat.HasSpecials(p)) {
		i := strings.Index(s[init:], p)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(p)))
		return 2
	}
	var m luapat.Matcher
	lb.hook(&m, L)
	start, end, err := m.Find(s, p, init)
	if err != nil {
		raise(L, err)
	}
	if start < 0 {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(start + 1))
		L.Push(lua.LNumber(end))
		return 2 + pushCaptures(L, &m, s, start, end, false)
	}
	return pushCaptures(L, &m, s, start, end, true)
}

// pushCaptures pushes the captures of a match of src[start:end]; a pattern
// without captures yields the whole match if whole is set.
func pushCaptures(L *lua.LState, m *luapat.Matcher, src string, start, end int, whole bool) int {
	n := m.NumCaptures()
	if n == 0 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(src[start:end]))
		return 1
	}
	for i := range n {
		L.Push(captureValue(L, m, src, i, start, end))
	}
	return n
}

// captureValue returns capture i of a match of src[start:end] as a Lua
// value: Lua's push_onecapture, where capture 0 of a pattern without
// captures is the whole match.
func captureValue(L *lua.LState, m *luapat.Matcher, src string, i, start, end int) lua.LValue {
	text, pos, isPos := captureText(L, m, src, i, start, end)
	if isPos {
		return lua.LNumber(pos)
	}
	return lua.LString(text)
}

// captureText returns capture i as text, or as a 1-based position.
func captureText(L *lua.LState, m *luapat.Matcher, src string, i, start, end int) (text string, pos int, isPos bool) {
	if i == 0 && m.NumCaptures() == 0 {
		return src[start:end], 0, false
	}
	c, err := m.Capture(i)
	if err != nil {
		raise(L, err)
	}
	if c.Position {
		return "", c.Start + 1, true
	}
	return src[c.Start:c.End], 0, false
}

// string.gmatch (s, pattern)
//
// As in Lua 5.1, '^' has no special meaning in a gmatch pattern.
func (lb *lib) gmatch(L *lua.LState) int {
	s := checkString(L, 1, "gmatch")
	p := checkString(L, 2, "gmatch")
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if pos > len(s) {
			return 0
		}
		var m luapat.Matcher
		lb.hook(&m, L)
		start, end, err := m.Search(s, p, pos)
		if err != nil {
			raise(L, err)
		}
		if start < 0 {
			return 0
		}
		pos = end
		if end == start {
			pos++ // an empty match: go on at the next position
		}
		return pushCaptures(L, &m, s, start, end, true)
	}))
	return 1
}

// string.gsub (s, pattern, repl [, n])
func (lb *lib) gsub(L *lua.LState) int {
	src := checkString(L, 1, "gsub")
	p := checkString(L, 2, "gsub")
	maxN := optInt(L, 4, "gsub", int64(len(src))+1)
	repl := L.Get(3)
	var replText string
	switch repl.Type() {
	case lua.LTString, lua.LTNumber:
		replText, _ = valueText(repl)
	case lua.LTFunction, lua.LTTable:
	default:
		argError(L, 3, "gsub", "string/function/table expected")
	}
	anchor := len(p) > 0 && p[0] == '^'
	if anchor {
		p = p[1:]
	}

	var m luapat.Matcher
	lb.hook(&m, L)
	sb := strBuf{L: L, max: lb.max}
	n := int64(0)
	pos, done := 0, 0 // src[done:pos] is unmatched text not yet copied
	for n < maxN {
		// Lua tries every position in turn; Search skips to the next one
		// that matches, with the same result.
		start, e := pos, -1
		var err error
		if anchor {
			e, err = m.Match(src, p, pos)
		} else {
			start, e, err = m.Search(src, p, pos)
		}
		if err != nil {
			raise(L, err)
		}
		if e < 0 {
			break
		}
		n++
		if sb.b == nil {
			sb.reserve(min(len(src), lb.max))
		}
		sb.writeString(src[done:start])
		lb.addValue(L, &sb, &m, src, start, e, repl, replText)
		done = e
		switch {
		case e > start: // a non-empty match: go on after it
			pos = e
		case start < len(src):
			pos = start + 1 // keep src[start] and try the next position
		default:
			pos = len(src) + 1
		}
		if anchor || pos > len(src) {
			break
		}
	}
	if n == 0 {
		L.Push(lua.LString(src))
	} else {
		sb.writeString(src[done:])
		L.Push(lua.LString(sb.b))
	}
	L.Push(lua.LNumber(n))
	return 2
}

// addValue appends the replacement of the match src[s:e] (Lua's add_value).
func (lb *lib) addValue(L *lua.LState, sb *strBuf, m *luapat.Matcher, src string, s, e int, repl lua.LValue, replText string) {
	var v lua.LValue
	switch r := repl.(type) {
	case *lua.LFunction:
		L.Push(r)
		n := pushCaptures(L, m, src, s, e, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	case *lua.LTable:
		v = L.GetTable(r, captureValue(L, m, src, 0, s, e))
	default:
		addString(L, sb, m, src, s, e, replText)
		return
	}
	if !lua.LVAsBool(v) {
		sb.writeString(src[s:e]) // nil or false keeps the match
		return
	}
	text, ok := valueText(v)
	if !ok {
		L.RaiseError("invalid replacement value (a %s)", v.Type().String())
	}
	sb.writeString(text)
}

// addString appends the replacement string r for the match src[s:e],
// expanding %0-%9 and %x (Lua's add_s).
func addString(L *lua.LState, sb *strBuf, m *luapat.Matcher, src string, s, e int, r string) {
	for len(r) > 0 {
		i := strings.IndexByte(r, '%')
		if i < 0 {
			sb.writeString(r)
			return
		}
		sb.writeString(r[:i])
		if i+1 == len(r) {
			// Lua reads the string's terminating NUL after a final '%'.
			sb.writeByte(0)
			return
		}
		switch c := r[i+1]; {
		case c == '0':
			sb.writeString(src[s:e])
		case c >= '1' && c <= '9':
			text, pos, isPos := captureText(L, m, src, int(c-'1'), s, e)
			if isPos {
				var num [20]byte
				sb.write(strconv.AppendInt(num[:0], int64(pos), 10))
			} else {
				sb.writeString(text)
			}
		default:
			sb.writeByte(c)
		}
		r = r[i+2:]
	}
}
