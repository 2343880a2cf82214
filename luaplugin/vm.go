package luaplugin

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"
)

// VM is one Lua state with the ngx API installed. It runs one request's
// Lua at a time; Pool hands VMs out.
type VM struct {
	L    *lua.LState
	pool *Pool

	// req is the request whose Lua runs now.
	req *Request

	budget   *budgetCtx
	runStart atomic.Int64 // unix ns of the current run's start; 0 when idle or paused
	timedOut atomic.Bool

	// abort is set by ngx.exit (or a budget overrun) so that pcall and
	// coroutine.resume re-raise instead of catching.
	abort bool
	// exitErr is the value ngx.exit raises.
	exitErr *lua.LUserData

	funcs   map[*lua.FunctionProto]*lua.LFunction
	idleIdx int
	dead    bool // timed out: must not run again
	stale   bool // replaced by Pool.Reset

	ngx       *lua.LTable
	headersMT *lua.LTable
	// argTable is ngx.arg. In body_filter its [1] and [2] are plain
	// entries for the run (no metamethod call per access); other phases
	// read nil through its metatable.
	argTable *lua.LTable
	shared   *lua.LTable
	dictGen  uint64

	// runEnd holds what must happen when the outermost run ends (closing
	// the sockets a script left open, as OpenResty does at handler end).
	runEnd []func()

	// depth counts nested runs (a filter that runs while Lua output is
	// being sent from another phase).
	depth int
}

// Result is how a Lua run ended.
type Result struct {
	// Exited is true when the code called ngx.exit (or ngx.redirect);
	// Code is the status given.
	Exited bool
	Code   int
	// Err is a runtime error (*Error), or nil.
	Err error
}

// Error is a Lua runtime error with its traceback.
type Error struct {
	Chunk     string
	Message   string
	Traceback string
	Timeout   bool
}

func (e *Error) Error() string { return e.Message }

const maxFuncCache = 4096

func newVM(p *Pool) (*VM, error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    200,
		RegistrySize:     1024,
		RegistryMaxSize:  1024 * 256,
		RegistryGrowStep: 1024,
	})
	vm := &VM{
		L:       L,
		pool:    p,
		budget:  newBudgetCtx(),
		exitErr: &lua.LUserData{Value: "ngx.exit"},
		funcs:   make(map[*lua.FunctionProto]*lua.LFunction),
		idleIdx: -1,
	}
	if err := vm.setup(); err != nil {
		L.Close()
		return nil, fmt.Errorf("creating Lua state: %w", err)
	}
	L.SetContext(vm.budget)
	return vm, nil
}

// prepare readies a borrowed state for a request.
func (vm *VM) prepare() {
	if g := vm.pool.dictGen.Load(); g != vm.dictGen {
		ResetSharedTable(vm.shared)
		vm.dictGen = g
	}
}

// finish is called when the state goes back to the pool.
func (vm *VM) finish() {
	vm.req = nil
	vm.abort = false
	vm.runStart.Store(0)
	vm.budget.forgetCoroutines()
	if vm.timedOut.Load() {
		vm.dead = true
	}
	vm.L.SetTop(0)
}

// function returns the state's instance of chunk c.
func (vm *VM) function(c *Chunk) *lua.LFunction {
	if fn, ok := vm.funcs[c.proto]; ok {
		return fn
	}
	if len(vm.funcs) >= maxFuncCache {
		clear(vm.funcs)
	}
	fn := vm.L.NewFunctionFromProto(c.proto)
	vm.funcs[c.proto] = fn
	return fn
}

// Run runs chunk c for req in phase. It may be called again from inside a
// run (a filter phase triggered by output); the inner run keeps the outer
// run's budget.
func (vm *VM) Run(c *Chunk, req *Request, phase Phase) Result {
	return vm.call(vm.function(c), c.Name, req, phase)
}

// call runs fn with args for req in phase.
func (vm *VM) call(fn *lua.LFunction, name string, req *Request, phase Phase, args ...lua.LValue) Result {
	prevReq, prevPhase, prevAbort := vm.req, req.Phase, vm.abort
	vm.req = req
	req.Phase = phase
	req.vm = vm
	vm.abort = false
	// The budget clock runs from the outermost run; a run nested in a
	// paused wait (a filter run by output sent from Lua) starts its own.
	clock := vm.runStart.Load() == 0
	if clock {
		vm.runStart.Store(vm.pool.now())
	}
	vm.depth++
	L := vm.L
	bodyFilter := phase == PhaseBodyFilter
	if bodyFilter {
		vm.setArgs(req)
	}
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	err := L.PCall(len(args), 0, nil)
	if bodyFilter {
		if msg := vm.takeArgs(req); msg != "" && err == nil {
			err = &lua.ApiError{Type: lua.ApiErrorRun, Object: lua.LString(name + ": " + msg)}
		}
	}
	vm.depth--
	if clock {
		vm.runStart.Store(0)
	}
	if vm.depth == 0 && len(vm.runEnd) > 0 {
		fns := vm.runEnd
		vm.runEnd = nil
		for _, f := range fns {
			f()
		}
	}
	var res Result
	if vm.abort && !vm.timedOut.Load() {
		res = Result{Exited: true, Code: req.ExitCode}
	} else if err != nil {
		res.Err = vm.wrapError(name, err)
	}
	vm.req = prevReq
	req.Phase = prevPhase
	vm.abort = prevAbort
	return res
}

func (vm *VM) wrapError(name string, err error) *Error {
	e := &Error{Chunk: name}
	if vm.timedOut.Load() {
		e.Timeout = true
		e.Message = fmt.Sprintf("%s: %s (budget %s)", name, errBudget, vm.pool.cfg.Timeout)
		return e
	}
	var aerr *lua.ApiError
	if errors.As(err, &aerr) {
		e.Message = ToString(aerr.Object)
		if aerr.Object.Type() != lua.LTString {
			e.Message = name + ": " + e.Message
		}
		e.Traceback = strings.TrimSpace(aerr.StackTrace)
		return e
	}
	e.Message = name + ": " + err.Error()
	return e
}

// setArgs exposes the body_filter chunk and eof flag as ngx.arg[1] and
// ngx.arg[2].
func (vm *VM) setArgs(req *Request) {
	a1 := req.Arg1
	if a1 == nil {
		a1 = lua.LString("")
	}
	vm.argTable.RawSetInt(1, a1)
	vm.argTable.RawSetInt(2, lua.LBool(req.Arg2))
}

// takeArgs reads back what the script left in ngx.arg: a string, nil (drop
// the chunk), a number or an array table (flattened), and the eof flag.
func (vm *VM) takeArgs(req *Request) string {
	v := vm.argTable.RawGetInt(1)
	req.Arg2 = lua.LVAsBool(vm.argTable.RawGetInt(2))
	vm.argTable.RawSetInt(1, lua.LNil)
	vm.argTable.RawSetInt(2, lua.LNil)
	switch lv := v.(type) {
	case lua.LString:
		req.Arg1 = lv
	case *lua.LNilType:
		req.Arg1 = lua.LString("")
	case lua.LNumber:
		req.Arg1 = lua.LString(FormatNumber(float64(lv)))
	case *lua.LTable:
		b, msg := AppendValue(nil, lv)
		if msg != "" {
			return "bad chunk data type: " + msg
		}
		req.Arg1 = lua.LString(b)
	default:
		return "bad chunk data type: " + v.Type().String()
	}
	return ""
}

// AtRunEnd registers f to run when the current outermost Lua run ends
// (the handler of a phase, or a timer callback). Libraries use it to close
// connections a script neither closed nor kept alive, as OpenResty closes
// cosockets when their handler finishes.
func (vm *VM) AtRunEnd(f func()) {
	vm.runEnd = append(vm.runEnd, f)
}

// pauseBudget stops the budget clock while Go code waits (ngx.sleep, socket
// I/O); the returned func restarts it, crediting the time spent waiting.
func (vm *VM) pauseBudget() func() {
	start := vm.runStart.Load()
	if start == 0 {
		return func() {}
	}
	pausedAt := vm.pool.now()
	vm.runStart.Store(0)
	return func() {
		vm.runStart.Store(start + (vm.pool.now() - pausedAt))
	}
}

// raiseExit ends the running code with ngx.exit semantics: the error cannot
// be caught by pcall.
func (vm *VM) raiseExit(L *lua.LState, code int) {
	vm.req.ExitCode = code
	vm.abort = true
	L.Error(vm.exitErr, 0)
}

// checkPhase raises OpenResty's error for an API used outside its phases.
func (vm *VM) checkPhase(L *lua.LState, allowed Phase) *Request {
	req := vm.req
	if req == nil {
		if allowed&PhaseInit != 0 {
			return nil
		}
		L.RaiseError("no request found")
	}
	if req.Phase&allowed == 0 {
		L.RaiseError("API disabled in the context of %s", req.Phase)
	}
	return req
}
