package integration

import (
	"fmt"
	"strings"
	"testing"
)

// lua-nginx-module t/073-backtrace.t, rebuilt: the tracebacks logged with
// a request's Lua error.
func TestOpenRestyBacktrace(t *testing.T) {
	const src = "lua-nginx-module t/073-backtrace.t "
	// chain builds n functions, each calling the one before, the first
	// raising "blah", and calls the last; as in the blocks, func k calls
	// on line 4k-1 and the main chunk on line 4n+2.
	chain := func(n int) string {
		var b strings.Builder
		b.WriteString("\n\n")
		for i := 1; i <= n; i++ {
			if i == 1 {
				fmt.Fprintf(&b, "local function func%d()\n    return error([[blah]])\nend\n", i)
			} else {
				fmt.Fprintf(&b, "local function func%d()\n    local v = func%d()\n    return v\nend\n", i, i-1)
			}
		}
		fmt.Fprintf(&b, "func%d()\n", n)
		return b.String()
	}
	// frames are the traceback lines the blocks look for: func 1 to
	// last, but skip, and the main chunk, or (deep) "..." after the 22nd
	// frame.
	frames := func(n, last int, skip map[int]bool, deep bool) []engLog {
		logs := []engLog{elog("error", ": blah"), elog("error", ": in function 'func1'")}
		for i := 2; i <= last; i++ {
			if !skip[i] {
				logs = append(logs, elog("error", fmt.Sprintf(":%d: in function 'func%d'", 4*i-1, i)))
			}
		}
		if deep {
			return append(logs, elogRe("error", `'func21'\n\t\.\.\.$`))
		}
		return append(logs, elog("error", fmt.Sprintf(":%d: in main chunk", 4*n+2)))
	}
	engSuite(t, "", nil, []engCase{
		{src: src + "TEST 1: sanity",
			content: `
local function bar()
    return lua_concat(3)
end
local function foo()
    bar()
end
foo()`,
			engReq: engReq{status: 500, skipBody: true},
			logs: []engLog{elog("error", "attempt to call global 'lua_concat'"), elog("error", ": in function 'bar'"),
				elog("error", ":6: in function 'foo'"), elog("error", ":8: in main chunk")}},

		{src: src + "TEST 2: error(nil)",
			content: `
local function bar()
    error(nil)
end
local function foo()
    bar()
end
foo()`,
			engReq: engReq{status: 500, skipBody: true},
			logs: []engLog{elogMsg("error", "lua error"), elog("error", "unknown reason"), elog("error", "stack traceback:"),
				elog("error", " in function 'error'"), elog("error", ": in function 'bar'"),
				elog("error", ":6: in function 'foo'"), elog("error", ":8: in main chunk")}},

		{src: src + "TEST 3: deep backtrace in a single coroutine (more than 15)",
			content: chain(18),
			engReq:  engReq{status: 500, skipBody: true},
			logs:    frames(18, 18, nil, false)},

		{src: src + "TEST 4: deep backtrace in a single coroutine (more than 22)",
			content: chain(23),
			engReq:  engReq{status: 500, skipBody: true},
			logs:    frames(23, 21, map[int]bool{13: true, 14: true}, true)},
	})
}
