package luaplugin

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Console makes a pool's states those of a console: the `caddy resty`
// command, which runs Lua as OpenResty's `resty` does. Code runs outside
// any request, in the ngx.timer context (as resty runs it), so the
// request APIs raise OpenResty's texts for it ("API disabled in the
// context of ngx.timer", or "API disabled in the current context" for
// those that need a real request); what resty changes on top of that is
// changed the same way:
//
//   - ngx.say, ngx.print and print write to Out (values as resty's output
//     function spells them: nil, booleans, ngx.null as null, array tables
//     flattened, anything else through tostring); ngx.flush flushes Out,
//     ngx.eof does nothing and returns true; ngx.orig_say, ngx.orig_print
//     and ngx.orig_exit keep the originals;
//   - ngx.exit and os.exit end the script with an exit code (os.exit(true)
//     is 0, os.exit(false) 1), from any depth of pcall;
//   - io, dofile and loadfile are there (it is the user's own shell), and
//     ngx.config.is_console is true.
type Console struct {
	// Out receives what ngx.say, ngx.print and print write.
	Out io.Writer
	// Exit, when set, is called by ngx.exit and os.exit with the exit
	// code (the command flushes its output and ends the process there).
	// When it returns, the run ends as ngx.exit ends one.
	Exit func(code int)
}

// installConsole replaces what a console changes (see Console).
func (vm *VM) installConsole(con *Console) error {
	L := vm.L
	L.Push(L.NewFunction(lua.OpenIo))
	L.Push(lua.LString(lua.IoLibName))
	if err := L.PCall(1, 0, nil); err != nil {
		return fmt.Errorf("opening io: %w", err)
	}
	L.SetGlobal("loadfile", L.NewFunction(consoleLoadFile))
	L.SetGlobal("dofile", L.NewFunction(consoleDoFile))

	out := func(L *lua.LState, newline bool) int {
		// resty's output spells the values up to table.maxn of them:
		// trailing nils print nothing.
		n := L.GetTop()
		for n > 0 && L.Get(n) == lua.LNil {
			n--
		}
		var b []byte
		for i := 1; i <= n; i++ {
			b = vm.appendConsole(L, b, L.Get(i))
		}
		if newline {
			b = append(b, '\n')
		}
		if _, err := con.Out.Write(b); err != nil {
			return PushFail(L, err.Error())
		}
		L.Push(lua.LTrue)
		return 1
	}
	say := L.NewFunction(func(L *lua.LState) int { return out(L, true) })
	exit := L.NewFunction(func(L *lua.LState) int {
		code := 0
		switch v := L.Get(1).(type) {
		case lua.LBool:
			if !v {
				code = 1
			}
		case *lua.LNilType:
		default:
			code = int(L.CheckNumber(1))
		}
		if con.Exit != nil {
			con.Exit(code)
		}
		if vm.req == nil || vm.cur == nil {
			L.RaiseError("exit outside a run")
		}
		vm.raiseExit(L, code)
		return 0
	})
	if ngx, ok := L.GetGlobal("ngx").(*lua.LTable); ok {
		for _, name := range []string{"say", "print", "exit"} {
			ngx.RawSetString("orig_"+name, ngx.RawGetString(name))
		}
		ngx.RawSetString("say", say)
		ngx.RawSetString("print", L.NewFunction(func(L *lua.LState) int { return out(L, false) }))
		ngx.RawSetString("flush", L.NewFunction(func(L *lua.LState) int {
			if f, ok := con.Out.(interface{ Flush() error }); ok {
				if err := f.Flush(); err != nil {
					return PushFail(L, err.Error())
				}
			}
			L.Push(lua.LTrue)
			return 1
		}))
		ngx.RawSetString("eof", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LTrue)
			return 1
		}))
		ngx.RawSetString("exit", exit)
		if cfg, ok := ngx.RawGetString("config").(*lua.LTable); ok {
			cfg.RawSetString("is_console", lua.LTrue)
		}
	}
	L.SetGlobal("print", say)
	if os, ok := L.GetGlobal("os").(*lua.LTable); ok {
		os.RawSetString("exit", exit)
	}
	return nil
}

// appendConsole appends v as resty's output function spells it.
func (vm *VM) appendConsole(L *lua.LState, b []byte, v lua.LValue) []byte {
	switch lv := v.(type) {
	case lua.LString:
		return append(b, lv...)
	case *lua.LNilType:
		return append(b, "nil"...)
	case lua.LBool:
		if lv {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case *lua.LTable:
		max := 0
		lv.ForEach(func(k, _ lua.LValue) {
			if n, ok := k.(lua.LNumber); ok && float64(n) > float64(max) && float64(n) == float64(int(n)) {
				max = int(n)
			}
		})
		for i := 1; i <= max; i++ {
			b = vm.appendConsole(L, b, lv.RawGetInt(i))
		}
		return b
	case *lua.LUserData:
		if lv == Null {
			return append(b, "null"...)
		}
	}
	L.Push(L.NewFunction(luaToString))
	L.Push(v)
	L.Call(1, 1)
	s := L.ToString(-1)
	L.Pop(1)
	return append(b, s...)
}

func consoleLoadFile(L *lua.LState) int {
	path := L.OptString(1, "")
	var src []byte
	var err error
	if path == "" {
		src, err = io.ReadAll(bufio.NewReader(os.Stdin))
		path = "stdin"
	} else {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString("cannot open " + path))
		return 2
	}
	return loadChunk(L, string(src), path)
}

func consoleDoFile(L *lua.LState) int {
	if n := consoleLoadFile(L); n != 1 {
		L.RaiseError("%s", L.Get(-1).String())
	}
	fn := L.Get(-1)
	top := L.GetTop()
	L.Push(fn)
	L.Call(0, lua.MultRet)
	return L.GetTop() - top
}

// RunConsole runs chunk c as the main chunk of a console (the pool's
// Config.Console must be set): on a state of its own, in the ngx.timer
// context, with the global arg holding args (arg[0] is the script's
// name, arg[1]… its arguments, as resty sets them). It waits for the
// chunk, not for the timers it created: Close runs those that are still
// pending (premature = true) and WaitTimers waits for them.
func (p *Pool) RunConsole(c *Chunk, args []string) Result {
	vm, err := p.pick(nil)
	if err != nil {
		return Result{Err: err}
	}
	defer p.unbind(vm)
	if err := vm.enter(); err != nil {
		return Result{Err: err}
	}
	defer vm.leave()
	L := vm.L
	argt := L.NewTable()
	for i, a := range args {
		argt.RawSetInt(i, lua.LString(a))
	}
	L.G.Global.RawSetString("arg", argt)
	th := vm.newThread()
	req := &Request{Logger: p.Logger(), Start: time.Now(), th: th}
	res := vm.call(vm.function(c), c.Name, req, PhaseTimer)
	if th.reset() {
		vm.putThread(th)
	}
	return res
}

// WaitTimers waits until no ngx.timer callback is pending or running, or
// until timeout (when positive) has passed; it reports whether they all
// ended.
func (p *Pool) WaitTimers(timeout time.Duration) bool {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for p.timers.pending.Load() > 0 || p.timers.running.Load() > 0 {
		if !deadline.IsZero() && time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
