package luastring

import (
	"runtime"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

const testMaxString = 64 << 20

// budget is a Limits.Check that raises "budget exceeded" on its limit-th
// call.
type budget struct {
	calls, limit int
}

func (b *budget) check(L *lua.LState) {
	if b.calls++; b.limit > 0 && b.calls >= b.limit {
		L.RaiseError("budget exceeded")
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestOverflow checks that results over MaxString raise a catchable error
// before anything of their size is allocated.
func TestOverflow(t *testing.T) {
	L := newState(t, &Limits{MaxString: testMaxString})
	if err := L.DoString(`
		big = string.rep("x", 2^20)
		huge = {}
		for i = 1, 3000 do huge[i] = big end -- 3 GiB once concatenated
		full = big:rep(64) -- MaxString
	`); err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{
		`string.rep("x", 1e10)`,
		`string.rep("x", 2^53)`,
		`string.rep("x", 1/0)`,
		`string.rep("x", 4e7, "y")`,
		`("x"):rep(testMaxString + 1)`,
		`big:rep(5000)`,
		`big:rep(2, full)`,
		`table.concat(huge)`,
		`table.concat(huge, "", 1, 65)`,
		`table.concat({"x", "y"}, full)`,
		`big:gsub("x", "yy"):gsub("y", ("z"):rep(64))`,
		`big:gsub("", ("z"):rep(64))`,
		`big:gsub("x", {x = ("z"):rep(100)})`,
		`string.format(("%s"):rep(65), unpack(huge, 1, 65))`,
		`string.format("%s%s", full, "x")`,
		`string.format("%q", ("\0"):rep(2^25))`,
	} {
		var got string
		n := allocated(func() {
			got = eval(L, "pcall(function() return "+strings.ReplaceAll(expr, "testMaxString", "67108864")+" end)")
		})
		if !strings.Contains(got, "string length overflow") {
			t.Errorf("%s = %.200s, want the overflow error", expr, got)
		}
		// rep and concat refuse results before building them: they
		// allocate nothing near MaxString. gsub and
		// format find out while building, with a buffer that never grows
		// past MaxString (plus what the expression's arguments take).
		limit := uint64(16 << 20)
		if strings.Contains(expr, "gsub") || strings.Contains(expr, "format") {
			limit = 3 * testMaxString
		}
		if n > limit {
			t.Errorf("%s allocated %d MB", expr, n>>20)
		}
	}
	// Right at the limit is fine.
	if got := eval(L, `#("x"):rep(67108864)`); got != "67108864" {
		t.Errorf("rep to MaxString = %s", got)
	}
}

// TestFormatWidth checks that a width cannot ask for a huge string.
func TestFormatWidth(t *testing.T) {
	L := newState(t, &Limits{MaxString: testMaxString})
	got := eval(L, `pcall(string.format, "%99999999d", 1)`)
	if want := `false "invalid option '%999' to 'format'"`; !strings.HasSuffix(got, want[len(`false "`):]) {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestBacktrackingStopped checks that a pattern with exponential
// backtracking is stopped by Check, and that long subjects do not exhaust
// the stack.
func TestBacktrackingStopped(t *testing.T) {
	for _, expr := range []string{
		`("a"):rep(150):find(".-.-.-.-b")`,
		`("a"):rep(150):match(".-.-.-.-b")`,
		`("a"):rep(150):gsub(".-.-.-.-b", "")`,
		`("a"):rep(1e6):match(".-b")`,
		`string.find(string.rep("a", 1e6), "(.-)%1b")`,
		`string.find(string.rep("a", 1e6), "a*b")`,
		`string.find(string.rep("(", 1e6), "%b()")`,
		`(function() for w in ("a"):rep(1e6):gmatch(".-b") do end end)()`,
		`coroutine.wrap(function() return ("a"):rep(150):find(".-.-.-.-b") end)()`,
	} {
		b := &budget{limit: 50}
		L := newState(t, &Limits{Check: b.check})
		got := eval(L, expr)
		if got != `error "budget exceeded"` || b.calls != b.limit {
			t.Errorf("%s = %s after %d checks, want the budget error after %d", expr, got, b.calls, b.limit)
		}
	}
}

// TestCheckCalled checks that long operations outside the matcher call
// Check too.
func TestCheckCalled(t *testing.T) {
	for _, expr := range []string{
		`("x"):rep(8 * 2^20)`,
		`("xy"):rep(4 * 2^20, ",")`,
		`("x"):rep(1e5):gsub("x", "y")`,
		`(function() local t = {} for i = 1, 1e5 do t[i] = "x" end return table.concat(t, ",") end)()`,
		`string.format(("%d"):rep(1e4), unpack((function() local t = {} for i = 1, 1e4 do t[i] = i end return t end)()))`,
	} {
		b := &budget{}
		L := newState(t, &Limits{Check: b.check})
		if got := eval(L, "#"+expr); strings.HasPrefix(got, "error") {
			t.Errorf("%s: %.200s", expr, got)
		}
		if b.calls == 0 {
			t.Errorf("%s did not call Check", expr)
		}
	}
}

// TestGsubMegabyte runs s:gsub("a", "b") on 1 MB of "a" (gopher-lua's own
// gsub is quadratic there); BenchmarkGsubMegabyte times it.
func TestGsubMegabyte(t *testing.T) {
	L := newState(t, &Limits{})
	got := eval(L, `(function() local s, n = ("a"):rep(2^20):gsub("a", "b") return s == ("b"):rep(2^20), n end)()`)
	if got != "true 1048576" {
		t.Errorf("got %s", got)
	}
}

// TestOpen checks what Open replaces.
func TestOpen(t *testing.T) {
	L := newState(t, nil)
	stock := map[string]lua.LValue{}
	for _, name := range []string{"find", "match", "gmatch", "gsub", "rep", "format", "gfind", "len"} {
		stock[name] = L.GetField(L.GetGlobal("string"), name)
	}
	stockConcat := L.GetField(L.GetGlobal("table"), "concat")
	Open(L, nil)
	for name, fn := range stock {
		now := L.GetField(L.GetGlobal("string"), name)
		if (now == fn) != (name == "len") {
			t.Errorf("string.%s replaced: %v", name, now != fn)
		}
	}
	if L.GetField(L.GetGlobal("string"), "gfind") != L.GetField(L.GetGlobal("string"), "gmatch") {
		t.Error("string.gfind is not string.gmatch")
	}
	if L.GetField(L.GetGlobal("table"), "concat") == stockConcat {
		t.Error("table.concat not replaced")
	}
	// Methods on strings go through the same table; gopher-lua's rep has
	// no separator.
	if got := eval(L, `("ab"):rep(3, ",")`); got != `"ab,ab,ab"` {
		t.Errorf("method call: %s", got)
	}
	// A nil Limits means DefaultMaxString.
	if got := eval(L, `pcall(string.rep, "x", 2^26 + 1)`); !strings.Contains(got, "string length overflow") {
		t.Errorf("default MaxString: %s", got)
	}
}
