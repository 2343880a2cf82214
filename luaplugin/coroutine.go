package luaplugin

import (
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// The coroutine library as lua-nginx-module gives it to request code, on
// top of gopher-lua's coroutines:
//
//   - create, wrap, resume, yield and status are those of lua-nginx-module
//     in rewrite, access, content and timers, and plain Lua's in
//     header_filter and body_filter; in set_by_lua and log_by_lua they
//     raise "API disabled in the context of …", as in OpenResty.
//   - resume refuses a coroutine that is not suspended with OpenResty's
//     "cannot resume <status> coroutine" (gopher-lua would re-enter a
//     coroutine that is resuming another one, recursing until the Go stack
//     overflows and the process dies), and nests at most maxCoroutineDepth
//     resumes (each nesting is Go stack: gopher-lua's resume is a Go call).
//   - a coroutine belongs to the request (or timer) that created it: another
//     request resuming it gets "no co ctx found", as in OpenResty (here it
//     could be running in that request's goroutine, waiting in Go).
//   - yield in a request's entry thread returns at once with no values
//     (OpenResty yields to nginx, which resumes it right away); yield where
//     gopher-lua would have to unwind Go frames (inside pcall, a metamethod,
//     an iterator called by for-in, a Go callback such as table.sort's
//     comparator) raises LuaJIT's "attempt to yield across C-call boundary"
//     rather than corrupt the state, which gopher-lua does.
//   - wrap propagates a coroutine's error to its caller unchanged, as
//     OpenResty does (in the filters, with the caller's position in front,
//     as LuaJIT's own wrap does).

// maxCoroutineDepth bounds nested coroutine.resume calls.
const maxCoroutineDepth = 1000

// coroutineContexts are the phases where lua-nginx-module's coroutine API
// works (NGX_HTTP_LUA_CONTEXT_YIELDABLE); header_filter and body_filter use
// plain Lua coroutines, set and log refuse them.
const coroutineContexts = PhaseRewrite | PhaseAccess | PhaseContent | PhaseTimer | PhaseInit

// installCoroutines replaces the coroutine table's functions.
func (vm *VM) installCoroutines() {
	L := vm.L
	co, ok := L.GetGlobal("coroutine").(*lua.LTable)
	if !ok {
		return
	}
	create, _ := co.RawGetString("create").(*lua.LFunction)
	resume, _ := co.RawGetString("resume").(*lua.LFunction)
	if create == nil || resume == nil {
		return
	}
	c := &coLib{vm: vm, create: create, resume: resume}
	co.RawSetString("create", L.NewFunction(c.coCreate))
	co.RawSetString("wrap", L.NewFunction(c.coWrap))
	co.RawSetString("resume", L.NewFunction(c.coResume))
	co.RawSetString("yield", L.NewFunction(c.coYield))
	co.RawSetString("status", L.NewFunction(c.coStatus))
	if loaded, ok := L.GetField(L.GetGlobal("package"), "loaded").(*lua.LTable); ok {
		loaded.RawSetString("coroutine", co)
	}
}

// coLib holds gopher-lua's own create and resume, which the library's
// functions call once they checked what OpenResty checks.
type coLib struct {
	vm             *VM
	create, resume *lua.LFunction
}

// checkContext raises OpenResty's error when coroutines are used in set
// or log. Outside a request (state setup) everything is allowed.
func (c *coLib) checkContext(L *lua.LState) {
	if req := c.vm.req; req != nil && req.Phase&(coroutineContexts|PhaseHeaderFilter|PhaseBodyFilter) == 0 {
		raiseError(L, "API disabled in the context of %s", req.Phase.Context())
	}
}

// newCoroutine creates a coroutine running fn and records it as the
// running request's.
func (c *coLib) newCoroutine(L *lua.LState, fn lua.LValue) *lua.LState {
	L.Push(c.create)
	L.Push(fn)
	L.Call(1, 1)
	co := L.Get(-1).(*lua.LState)
	L.Pop(1)
	if th := c.vm.cur; th != nil {
		if th.cos == nil {
			th.cos = make(map[*lua.LState]struct{})
		}
		th.cos[co] = struct{}{}
	}
	return co
}

func (c *coLib) coCreate(L *lua.LState) int {
	fn, ok := L.Get(1).(*lua.LFunction)
	if !ok {
		argError(L, 1, "Lua function expected")
	}
	c.checkContext(L)
	L.Push(c.newCoroutine(L, fn))
	return 1
}

func (c *coLib) coWrap(L *lua.LState) int {
	fn, ok := L.Get(1).(*lua.LFunction)
	if !ok {
		argError(L, 1, "Lua function expected")
	}
	c.checkContext(L)
	co := c.newCoroutine(L, fn)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		c.checkContext(L)
		n := L.GetTop()
		if msg := c.refuse(L, co); msg != "" {
			raiseError(L, "%s", msg)
		}
		L.Insert(co, 1)
		c.run(L, n)
		if L.Get(1) == lua.LTrue {
			L.Remove(1)
			return L.GetTop()
		}
		// The coroutine failed: its error goes on in the caller.
		err := L.Get(2)
		if s, ok := err.(lua.LString); ok && c.vm.req != nil &&
			c.vm.req.Phase&(PhaseHeaderFilter|PhaseBodyFilter) != 0 {
			raiseError(L, "%s", string(s))
		}
		L.Error(err, 0)
		return 0
	}))
	return 1
}

func (c *coLib) coResume(L *lua.LState) int {
	co, ok := L.Get(1).(*lua.LState)
	if !ok {
		argError(L, 1, "coroutine expected")
	}
	c.checkContext(L)
	if msg := c.refuse(L, co); msg != "" {
		L.Push(lua.LFalse)
		L.Push(lua.LString(msg))
		return 2
	}
	n := L.GetTop() - 1
	return c.run(L, n)
}

// refuse returns why co cannot be resumed now, or "". It raises "no co
// ctx found" for a coroutine of another request.
func (c *coLib) refuse(L *lua.LState, co *lua.LState) string {
	if co.Dead {
		return "cannot resume dead coroutine"
	}
	th := c.vm.cur
	if th != nil && co != th.L {
		if _, mine := th.cos[co]; !mine {
			raiseError(L, "no co ctx found")
		}
	}
	if st := coStatus(L, co); st != "suspended" {
		return "cannot resume " + st + " coroutine"
	}
	if th != nil && th.coDepth >= maxCoroutineDepth {
		return "C stack overflow"
	}
	return ""
}

// run resumes the coroutine at stack index 1 with the n values after it
// (gopher-lua's resume), leaving resume's results on the stack; it
// re-raises ngx.exit or a budget overrun that happened inside.
func (c *coLib) run(L *lua.LState, n int) int {
	co := L.Get(1).(*lua.LState)
	th := c.vm.cur
	if th != nil {
		th.coDepth++
	}
	L.Insert(c.resume, 1)
	L.Call(n+1, lua.MultRet)
	if th != nil {
		th.coDepth--
		if co.Dead {
			delete(th.cos, co)
		}
	}
	c.vm.reraise(L)
	return L.GetTop()
}

func (c *coLib) coYield(L *lua.LState) int {
	c.checkContext(L)
	if L.Parent == nil {
		// An entry thread (a request's or a timer's): OpenResty yields
		// to nginx, which resumes it at once.
		return 0
	}
	if !yieldable(L) {
		raiseError(L, "attempt to yield across C-call boundary")
	}
	return -1
}

func (c *coLib) coStatus(L *lua.LState) int {
	co, ok := L.Get(1).(*lua.LState)
	if !ok {
		argError(L, 1, "coroutine expected")
	}
	c.checkContext(L)
	if th := c.vm.cur; th != nil && co != th.L {
		if _, mine := th.cos[co]; !mine && !co.Dead {
			// lua-nginx-module knows only the request's coroutines.
			L.Push(lua.LString("dead"))
			return 1
		}
	}
	L.Push(lua.LString(coStatus(L, co)))
	return 1
}

// coStatus is co's status seen from the running coroutine L: running,
// normal (it resumed, directly or not, the one running), dead or
// suspended.
func coStatus(L *lua.LState, co *lua.LState) string {
	switch {
	case co.Dead:
		return "dead"
	case co == L || co == L.G.CurrentThread:
		return "running"
	}
	for p := L.Parent; p != nil; p = p.Parent {
		if p == co {
			return "normal"
		}
	}
	return "suspended"
}

// glCallFrame mirrors gopher-lua's callFrame (unexported), to read a
// Debug's frame: the running function, its caller and the caller's
// program counter. TestYieldAcrossBoundary fails if a gopher-lua upgrade
// changes it.
type glCallFrame struct {
	Idx        int
	Fn         *lua.LFunction
	Parent     *glCallFrame
	Pc         int
	Base       int
	LocalBase  int
	ReturnBase int
	NArgs      int
	NRet       int
	TailCall   int
}

// yieldable reports whether a yield from the running coroutine L would
// only leave Lua frames its own interpreter loop runs. gopher-lua yields
// by returning from the loop that resume started; a Lua function called by
// a Go function (pcall, table.sort's comparator, a gsub callback), by a
// metamethod or by a for-in loop (its iterator) runs in a nested loop,
// and returning from that one would go on running its Go caller with the
// parent's state. So every frame from the yield down to the coroutine's
// first one must have been called by a Lua function's CALL or TAILCALL
// instruction.
func yieldable(L *lua.LState) bool {
	dbg, ok := L.GetStack(0)
	if !ok {
		return false
	}
	f := *(**glCallFrame)(unsafe.Pointer(dbg))
	for f != nil && f.Parent != nil {
		p := f.Parent
		if p.Fn == nil || p.Fn.IsG || p.Fn.Proto == nil || p.Pc < 1 || p.Pc > len(p.Fn.Proto.Code) {
			return false
		}
		switch int(p.Fn.Proto.Code[p.Pc-1] >> 26) {
		case lua.OP_CALL, lua.OP_TAILCALL:
		default:
			return false
		}
		f = p
	}
	return f != nil
}

// installTailCalls makes a tail call of a Go function an ordinary call
// followed by the RETURN the compiler emits after every TAILCALL, as Lua
// 5.1 runs a tail-called C function. gopher-lua removes the caller's frame
// instead, and when the Go function is coroutine.yield of a coroutine
// whose only Lua frame that was (`return coroutine.yield(v)` in a function
// the coroutine's body tail-called), resuming it dereferences a nil frame.
// Lua tail calls are untouched (they still reuse the frame: unbounded tail
// recursion keeps working).
var installTailCalls = sync.OnceFunc(func() {
	call := vmJumpTable[lua.OP_CALL]
	tail := vmJumpTable[lua.OP_TAILCALL]
	vmJumpTable[lua.OP_TAILCALL] = func(L *lua.LState, inst uint32, baseframe unsafe.Pointer) int {
		a := int(inst>>18) & 0xff
		if fn, ok := L.Get(a + 1).(*lua.LFunction); ok && fn.IsG {
			// Same A and B; C = 0: all results, which RETURN A 0 returns.
			return call(L, inst&^(0x3f<<26|0x1ff<<9)|uint32(lua.OP_CALL)<<26, baseframe)
		}
		return tail(L, inst, baseframe)
	}
})
