package luastring

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// string.rep (s, n [, sep])
//
// The separator is LuaJIT's extension. The length of the result is known
// beforehand: it is checked against MaxString, then the result is built by
// doubling, checking the budget between copies of at most repChunk bytes.
func (lb *lib) rep(L *lua.LState) int {
	s := checkString(L, 1, "rep")
	n := checkInt(L, 2, "rep")
	sep, _ := optString(L, 3, "rep")
	if n <= 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if n == 1 {
		sep = ""
	}
	// n ≤ 2^53 and lengths are far below 2^53, so this is exact enough to
	// compare and never overflows.
	if total := float64(len(s))*float64(n) + float64(len(sep))*float64(n-1); total > float64(lb.max) {
		overflow(L)
	}
	total := len(s)*int(n) + len(sep)*int(n-1)
	if total == len(s) {
		L.Push(lua.LString(s))
		return 1
	}

	var b strings.Builder
	b.Grow(total)
	b.WriteString(s)
	// After the first s, the result repeats sep..s; first marks where the
	// repetition starts.
	first := b.Len()
	if sep == "" {
		first = 0
	} else {
		b.WriteString(sep)
		b.WriteString(s)
	}
	// Doubling: the text after first holds whole repetitions, so copying it
	// to its end continues the repetition.
	for b.Len() < total {
		done := b.String()[first:]
		if len(done) >= repChunk {
			break
		}
		b.WriteString(done[:min(len(done), total-b.Len())])
	}
	if b.Len() < total {
		// Copy blocks of whole repetitions, checking the budget between
		// them.
		block := b.String()[first:]
		for b.Len() < total {
			lb.checkBudget(L)
			b.WriteString(block[:min(len(block), total-b.Len())])
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// checkBudget calls Limits.Check, if set.
func (lb *lib) checkBudget(L *lua.LState) {
	if lb.check != nil {
		lb.check(L)
	}
}

// table.concat (t [, sep [, i [, j]]])
//
// A first pass checks the elements and adds up the length of the result,
// which is refused before anything is allocated if it is over MaxString; a
// second pass builds it.
func (lb *lib) concat(L *lua.LState) int {
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		typeError(L, 1, "concat", "table")
	}
	sep, _ := optString(L, 2, "concat")
	i := optInt(L, 3, "concat", 1)
	var j int64
	if L.Get(4) == lua.LNil {
		j = int64(t.Len())
	} else {
		j = checkInt(L, 4, "concat")
	}
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}

	var num [32]byte
	total := 0
	for k := i; ; k++ {
		switch v := t.RawGetInt(int(k)).(type) {
		case lua.LString:
			total += len(v)
		case lua.LNumber:
			total += len(AppendNumber(num[:0], float64(v)))
		default:
			L.RaiseError("invalid value (%s) at index %d in table for 'concat'", v.Type().String(), k)
		}
		if k == j {
			break
		}
		total += len(sep)
		if total > lb.max {
			overflow(L)
		}
		if (k-i)%checkEvery == checkEvery-1 {
			lb.checkBudget(L)
		}
	}
	if total > lb.max {
		overflow(L)
	}

	var b strings.Builder
	b.Grow(total)
	for k := i; ; k++ {
		switch v := t.RawGetInt(int(k)).(type) {
		case lua.LString:
			b.WriteString(string(v))
		case lua.LNumber:
			b.Write(AppendNumber(num[:0], float64(v)))
		}
		if k == j {
			break
		}
		b.WriteString(sep)
		if (k-i)%checkEvery == checkEvery-1 {
			lb.checkBudget(L)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}
