package luaplugin

import (
	"math"
	"strconv"
	"strings"
	"unsafe"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/luastring"

	lua "github.com/yuin/gopher-lua"
)

// setup opens the standard libraries a gateway script may use, removes the
// dangerous ones (contract section 7: no io, no os.execute/exit/remove, no
// debug but debug.traceback, no bytecode) and installs ngx and the
// built-in modules.
func (vm *VM) setup() error {
	L := vm.L
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		if err := L.PCall(1, 0, nil); err != nil {
			return err
		}
	}

	// gopher-lua's math.huge is the largest float; Lua's is infinity.
	if m, ok := L.GetGlobal("math").(*lua.LTable); ok {
		m.RawSetString("huge", lua.LNumber(math.Inf(1)))
	}
	if os, ok := L.GetGlobal("os").(*lua.LTable); ok {
		for _, name := range []string{"execute", "exit", "remove", "rename", "tmpname", "setenv", "setlocale"} {
			os.RawSetString(name, lua.LNil)
		}
		os.RawSetString("getenv", L.NewFunction(vm.getenv))
	}
	// Scripts load code with require, from lua_package_path; reading or
	// running arbitrary files is not theirs to do.
	L.SetGlobal("dofile", lua.LNil)
	L.SetGlobal("loadfile", lua.LNil)
	L.SetGlobal("tonumber", L.NewFunction(luaToNumber))
	L.SetGlobal("collectgarbage", L.NewFunction(collectGarbage))
	// gopher-lua cannot load bytecode; dofile/loadfile read source only.
	// string.dump would hand out bytecode, which nothing here can load.
	if s, ok := L.GetGlobal("string").(*lua.LTable); ok {
		s.RawSetString("dump", lua.LNil)
	}
	// Bounded, linear-time string functions (find, match, gmatch, gsub,
	// rep, format) and table.concat: they check the run's budget as they
	// go and refuse results over lua_max_string_size.
	luastring.Open(L, &luastring.Limits{MaxString: vm.pool.cfg.MaxStringSize, Check: vm.CheckBudget})
	if s, ok := L.GetGlobal("string").(*lua.LTable); ok {
		s.RawSetString("gfind", lua.LNil) // not in LuaJIT
	}

	L.SetGlobal("tostring", L.NewFunction(luaToString))
	L.SetGlobal("error", L.NewFunction(luaError))
	// debug has traceback only: the rest (hooks, locals, upvalues,
	// registry) reaches past the sandbox and into other requests.
	dbg := L.NewTable()
	dbg.RawSetString("traceback", L.NewFunction(vm.debugTraceback))
	L.SetGlobal("debug", dbg)
	L.SetGlobal("loadstring", L.NewFunction(luaLoadString))
	L.SetGlobal("load", L.NewFunction(luaLoad))
	L.SetGlobal("pcall", L.NewFunction(vm.pcall))
	L.SetGlobal("xpcall", L.NewFunction(vm.xpcall))
	L.SetGlobal("print", L.NewFunction(vm.print))
	vm.installCoroutines()

	vm.installNgx()
	vm.installModules()
	vm.initPlugins()
	if con := vm.pool.cfg.Console; con != nil {
		if err := vm.installConsole(con); err != nil {
			return err
		}
	}
	vm.protectStringMetatable()
	vm.guardGlobals()
	return nil
}

// getenv is os.getenv limited to the variables listed in lua_env (as
// nginx's env directive): the gateway's environment holds secrets that
// scripts have no business reading.
func (vm *VM) getenv(L *lua.LState) int {
	name := L.CheckString(1)
	if v, ok := vm.pool.env[name]; ok {
		L.Push(lua.LString(v))
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

// protectStringMetatable makes getmetatable("") return a read-only view:
// scripts can read getmetatable("").__index (the string table) but not
// replace the metatable's fields for every later request of the state.
func (vm *VM) protectStringMetatable() {
	L := vm.L
	mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable)
	if !ok {
		return
	}
	view := L.NewTable()
	viewMT := L.NewTable()
	viewMT.RawSetString("__index", mt)
	viewMT.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("attempt to modify the string metatable")
		return 0
	}))
	viewMT.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(view, viewMT)
	mt.RawSetString("__metatable", view)
}

// guardGlobals logs lua-nginx-module's warning when request code creates a
// global variable: globals are shared by every request of a state (as by
// every request of an nginx worker), so they are almost always a bug.
func (vm *VM) guardGlobals() {
	L := vm.L
	mt := L.NewTable()
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		k, v := L.Get(2), L.Get(3)
		if vm.req != nil {
			where := strings.TrimSuffix(strings.TrimSpace(L.Where(1)), ":")
			vm.requestLogger().Warn("writing a global Lua variable ('"+ToString(k)+
				"') which may lead to race conditions between concurrent requests, so prefer the use of 'local' variables",
				zap.String("source", where), zap.String("phase", vm.req.Phase.String()))
		}
		t.RawSet(k, v)
		return 0
	}))
	L.SetMetatable(L.G.Global, mt)
}

// requestLogger is the logger of the running request, or the pool's.
func (vm *VM) requestLogger() *zap.Logger {
	if vm.req != nil && vm.req.Logger != nil {
		return vm.req.Logger
	}
	return vm.pool.Logger()
}

// luaToString is tostring with LuaJIT's number format.
func luaToString(L *lua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(FormatNumber(float64(n))))
		return 1
	}
	if fn := L.GetMetaField(v, "__tostring"); fn != lua.LNil {
		L.Push(fn)
		L.Push(v)
		L.Call(1, 1)
		return 1
	}
	L.Push(lua.LString(ToString(v)))
	return 1
}

// debugTraceback is debug.traceback([thread,] [message [, level]]) with
// LuaJIT's format: the message, then the frames from level (1: the
// function calling traceback) down to the run's function, the first 12
// and the last 10 of a deeper stack. A message that is neither a string
// nor nil comes back as it is.
func (vm *VM) debugTraceback(L *lua.LState) int {
	co, arg := L, 1
	if th, ok := L.Get(1).(*lua.LState); ok {
		co, arg = th, 2
	}
	msg := L.Get(arg)
	switch msg.(type) {
	case lua.LString, lua.LNumber, *lua.LNilType:
	default:
		L.Push(msg)
		return 1
	}
	level := 1
	if co != L {
		level = 0
	}
	level = L.OptInt(arg+1, level)
	var lines []string
	vm.frames(co, level, func(line string) { lines = append(lines, line) })
	const first, last = 12, 10
	if len(lines) > first+last {
		lines = append(append(lines[:first:first], "..."), lines[len(lines)-last:]...)
	}
	var b strings.Builder
	if msg != lua.LNil {
		b.WriteString(ToString(msg) + "\n")
	}
	b.WriteString("stack traceback:")
	for _, l := range lines {
		b.WriteString("\n\t" + l)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// frames calls line with the traceback line of each frame of L from
// level down to the run's function ("(tail call): ?" for the frames a
// tail call replaced).
func (vm *VM) frames(L *lua.LState, level int, line func(string)) {
	for i := level; ; i++ {
		dbg, ok := L.GetStack(i)
		if !ok {
			return
		}
		fv, err := L.GetInfo("f", dbg, lua.LNil)
		if err != nil || fv == vm.entry {
			return
		}
		line(frameLine(L, dbg))
		if fn, _ := fv.(*lua.LFunction); fn != nil && !fn.IsG {
			if tc := tailCalls(dbg); tc > 0 {
				for ; tc > 0; tc-- {
					line("(tail call): ?")
					i++
				}
			}
		}
	}
}

// tailCalls is how many tail calls the frame of dbg replaced.
func tailCalls(dbg *lua.Debug) int {
	if f := *(**glCallFrame)(unsafe.Pointer(dbg)); f != nil {
		return f.TailCall
	}
	return 0
}

// frameLine is a traceback line for a frame: "src:line: in function 'f'",
// "src:line: in main chunk", "[C]: in function 'pcall'", "[C]: ?".
func frameLine(L *lua.LState, dbg *lua.Debug) string {
	fv, err := L.GetInfo("Slnf", dbg, lua.LNil)
	fn, _ := fv.(*lua.LFunction)
	if err != nil || fn == nil {
		return "?"
	}
	var b strings.Builder
	if fn.IsG {
		b.WriteString("[C]:")
	} else {
		b.WriteString(dbg.Source + ":")
		if dbg.CurrentLine > 0 {
			b.WriteString(strconv.Itoa(dbg.CurrentLine) + ":")
		}
	}
	named := dbg.Name != "" && dbg.Name != "?" && dbg.Name != "main chunk" && dbg.Name != "corountine" &&
		!strings.HasPrefix(dbg.Name, "(") && !strings.HasPrefix(dbg.Name, "<")
	switch {
	case named:
		b.WriteString(" in function '" + dbg.Name + "'")
	case !fn.IsG && fn.Proto.LineDefined == 0:
		b.WriteString(" in main chunk")
	case fn.IsG:
		b.WriteString(" ?")
	default:
		b.WriteString(" in function <" + dbg.Source + ":" + strconv.Itoa(dbg.LineDefined) + ">")
	}
	return b.String()
}

// luaLoadString is loadstring(s [, chunkname]) compiling as the engine
// does (compile.go), so that loaded code has the same fixes.
func luaLoadString(L *lua.LState) int {
	return loadChunk(L, L.CheckString(1), L.OptString(2, "<string>"))
}

// luaLoad is load(func [, chunkname]): the pieces func returns until nil
// or "", compiled as loadstring does.
func luaLoad(L *lua.LState) int {
	fn := L.CheckFunction(1)
	name := L.OptString(2, "=(load)")
	var b strings.Builder
	for {
		L.Push(fn)
		L.Call(0, 1)
		v := L.Get(-1)
		L.Pop(1)
		if v == lua.LNil {
			break
		}
		s, ok := v.(lua.LString)
		if !ok {
			if n, isNum := v.(lua.LNumber); isNum {
				s = lua.LString(FormatNumber(float64(n)))
			} else {
				L.Push(lua.LNil)
				L.Push(lua.LString("reader function must return a string"))
				return 2
			}
		}
		if s == "" {
			break
		}
		b.WriteString(string(s))
	}
	return loadChunk(L, b.String(), name)
}

// loadChunk compiles src as a function of the running thread's
// environment, or returns nil and the syntax error.
func loadChunk(L *lua.LState, src, name string) int {
	proto, err := compileProto(name, src)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// luaError is Lua 5.1's error: a string (or number) message gets the
// position of the function at level (1, the default: the one calling
// error; 2: its caller; 0: none). gopher-lua's own error names the caller
// at every level, so error(msg, 2), the idiom that blames a function's
// caller, blamed the function itself.
func luaError(L *lua.LState) int {
	obj := L.Get(1)
	level := L.OptInt(2, 1)
	if level > 0 {
		switch v := obj.(type) {
		case lua.LString:
			obj = lua.LString(luaWhere(L, level) + string(v))
		case lua.LNumber:
			obj = lua.LString(luaWhere(L, level) + FormatNumber(float64(v)))
		}
	}
	L.Error(obj, 0)
	return 0
}

// luaWhere is luaL_where: "chunk:line: " of the function level calls up
// from the running Go function, or "" when that is not a Lua function (or
// there is none).
func luaWhere(L *lua.LState, level int) string {
	dbg, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil || dbg.CurrentLine <= 0 {
		return ""
	}
	return dbg.Source + ":" + strconv.Itoa(dbg.CurrentLine) + ": "
}

// pcall is Lua's pcall, except that ngx.exit and a budget overrun go
// through it: OpenResty's ngx.exit ends the handler even inside pcall.
func (vm *VM) pcall(L *lua.LState) int {
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	nargs := L.GetTop() - 1
	if err := L.PCall(nargs, lua.MultRet, nil); err != nil {
		vm.reraise(L)
		L.Push(lua.LFalse)
		L.Push(errorObject(err))
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

func (vm *VM) xpcall(L *lua.LState) int {
	fn := L.CheckFunction(1)
	handler := L.CheckFunction(2)
	top := L.GetTop()
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, handler); err != nil {
		vm.reraise(L)
		L.Push(lua.LFalse)
		L.Push(errorObject(err))
		return 2
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}

// reraise propagates ngx.exit or a budget overrun caught by pcall.
func (vm *VM) reraise(L *lua.LState) {
	th := vm.cur
	if th == nil {
		return
	}
	if th.ctx.fired() {
		L.RaiseError("%s", th.ctx.Err())
	}
	if th.abort {
		vm.throwExit(L)
	}
}

func errorObject(err error) lua.LValue {
	if aerr, ok := err.(*lua.ApiError); ok {
		return aerr.Object
	}
	return lua.LString(err.Error())
}

// print is Lua's print sent to the log at NOTICE level, as in OpenResty
// (its arguments joined with no separator, as ngx.log joins them).
func (vm *VM) print(L *lua.LState) int {
	// As in lua-nginx-module, print(...) is ngx.log(ngx.NOTICE, ...): the
	// values are concatenated without a separator, nil, booleans and
	// ngx.null spelled out.
	L.Insert(lua.LNumber(levelNotice), 1)
	return vm.ngxLog(L)
}
