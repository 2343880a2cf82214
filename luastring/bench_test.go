package luastring

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// benchCall calls lib.name(args...) b.N times, in a state with luastring
// ("ours") and in one with gopher-lua's own string and table libraries
// ("gopher").
func benchCall(b *testing.B, lib, name string, args ...lua.LValue) {
	for _, impl := range []struct {
		name string
		lim  *Limits
	}{
		{"ours", &Limits{Check: func(*lua.LState) {}}},
		{"gopher", nil},
	} {
		b.Run(impl.name, func(b *testing.B) {
			L := newState(b, impl.lim)
			fn := L.GetField(L.GetGlobal(lib), name)
			b.ReportAllocs()
			for b.Loop() {
				L.Push(fn)
				for _, a := range args {
					L.Push(a)
				}
				L.Call(len(args), lua.MultRet)
				L.SetTop(0)
			}
		})
	}
}

func s(v string) lua.LValue { return lua.LString(v) }

func BenchmarkFindPlain(b *testing.B) {
	benchCall(b, "string", "find", s("hello world"), s("wor"))
}

func BenchmarkFindPattern(b *testing.B) {
	benchCall(b, "string", "find", s("hello world"), s("w%a+"))
}

func BenchmarkMatchCaptures(b *testing.B) {
	benchCall(b, "string", "match", s("key=value"), s("(%w+)=(%w+)"))
}

func BenchmarkMatchTrim(b *testing.B) {
	benchCall(b, "string", "match", s("   some text   "), s("^%s*(.-)%s*$"))
}

func BenchmarkGsubShort(b *testing.B) {
	benchCall(b, "string", "gsub", s("hello world"), s("o"), s("0"))
}

func BenchmarkGsubCaptures(b *testing.B) {
	benchCall(b, "string", "gsub", s("x = 1, y = 2"), s("(%w+) = (%w+)"), s("%2 = %1"))
}

func BenchmarkRep(b *testing.B) {
	benchCall(b, "string", "rep", s("ab"), lua.LNumber(16))
}

func BenchmarkFormat(b *testing.B) {
	benchCall(b, "string", "format", s("%s=%d (%5.2f)"), s("key"), lua.LNumber(42), lua.LNumber(3.14159))
}

func BenchmarkConcat(b *testing.B) {
	L := lua.NewState()
	defer L.Close()
	t := L.NewTable()
	for _, v := range []string{"GET", "/index.html", "HTTP/1.1", "200"} {
		t.Append(lua.LString(v))
	}
	benchCall(b, "table", "concat", t, s(" "))
}

// BenchmarkGsubMegabyte is s:gsub("a", "b") on 1 MB of "a": a million
// substitutions. gopher-lua's gsub copies the whole result per match and
// takes minutes here, so only ours runs.
func BenchmarkGsubMegabyte(b *testing.B) {
	L := newState(b, &Limits{Check: func(*lua.LState) {}})
	fn := L.GetField(L.GetGlobal("string"), "gsub")
	src := lua.LString(strings.Repeat("a", 1<<20))
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		L.Push(fn)
		L.Push(src)
		L.Push(s("a"))
		L.Push(s("b"))
		L.Call(3, 2)
		L.SetTop(0)
	}
}
