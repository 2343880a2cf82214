package luaplugin

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// VM is one Lua state with the ngx API installed: the counterpart of an
// OpenResty worker's Lua VM. It serves many requests at once, as a worker
// does: each request runs on a thread (coroutine) of its own, and only one
// thread runs at a time, under the state's lock. A Go function that waits
// (ngx.sleep, a body read, output to a slow client, a cosocket) releases
// the lock with Suspend and takes it back when the wait ends, so waits
// never hold the state — also inside pcall, which gopher-lua cannot yield
// across: nothing yields, the waiting goroutine simply lets go of the lock.
type VM struct {
	L    *lua.LState
	pool *Pool

	// lock is held while Lua runs on this state.
	lock stateLock

	// cur is the thread holding the lock; req is its request. Both are
	// valid only under the lock and are what the ngx API acts on.
	cur *thread
	req *Request
	// running is the thread whose run last started or resumed here, for
	// the watchdog (which looks at its clock: 0 when not running).
	running atomic.Pointer[thread]

	// entry runs a run's function (see runEntry); tracePanic raises a
	// run's errors with lua-nginx-module's traceback.
	entry      *lua.LFunction
	tracePanic func(*lua.LState)

	exitErr *lua.LUserData
	// exitPanic raises exitErr without a traceback (see raiseExit);
	// prevPanic is the LState.Panic it replaced for one raise.
	exitPanic func(*lua.LState)
	prevPanic func(*lua.LState)

	funcs map[*lua.FunctionProto]*lua.LFunction
	// clock is nginx's cached time (unix ms) for code that runs on no
	// thread (see thread.clock); reset when the lock is taken.
	clock int64
	// retired is set when the pool replaced this state (Reset, Close): it
	// finishes the requests it has, runs no new ones and closes after.
	retired atomic.Bool
	users   atomic.Int32 // requests and timers bound to this state
	closed  bool         // under Pool.mu

	freeMu sync.Mutex
	free   []*thread

	ngx       *lua.LTable
	headersMT *lua.LTable
	// argTable is ngx.arg. In body_filter its [1] and [2] are plain
	// entries for the run (no metamethod call per access); other phases
	// read nil through its metatable.
	argTable *lua.LTable
	shared   *lua.LTable
	dictGen  uint64
	re       *reLib
	// plug is the state's part of route plugins (plugin.go).
	plug pluginState
}

// thread is a request's (or a timer's) Lua thread on a state. It carries
// what belongs to one run: the budget, the ngx.exit flag, the resources to
// close at run end.
type thread struct {
	L   *lua.LState
	vm  *VM
	ctx *budgetCtx
	env *lua.LTable // the globals, which setfenv(0, …) may have replaced

	// abort is set by ngx.exit (or a budget overrun) so that pcall and
	// coroutine.resume re-raise instead of catching.
	abort bool
	// runEnd holds what must happen when the outermost run ends (closing
	// the sockets a script left open, as OpenResty does at handler end).
	runEnd []func()
	// depth counts nested runs (a filter that runs while Lua output is
	// being sent from another phase).
	depth int

	// used is the budget (ns) this run spent before its last resume;
	// since is the clock at that resume, 0 while suspended or idle.
	used  atomic.Int64
	since atomic.Int64
	// current is G.CurrentThread to restore when the thread resumes.
	current *lua.LState
	// cos are the coroutines this request (or timer) created that did
	// not finish; coDepth counts the resumes in progress (coroutine.go).
	cos     map[*lua.LState]struct{}
	coDepth int
	// clock is nginx's cached time (unix ms) as this run sees it:
	// ngx.now, ngx.time and the date functions read it. It is taken at
	// the first read of a run, kept while the run goes on (writing
	// output included, which does not block nginx's loop), and taken
	// again after a wait (ngx.sleep, a socket, a lock, the request body)
	// or ngx.update_time, as nginx updates it once per event-loop
	// iteration. 0: not taken yet.
	clock int64
}

// Result is how a Lua run ended.
type Result struct {
	// Exited is true when the code called ngx.exit (or ngx.redirect);
	// Code is the status given.
	Exited bool
	Code   int
	// Err is a runtime error (*Error), or nil.
	Err error
	// Value is what a set_by_lua run returned (nil otherwise).
	Value lua.LValue
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

// maxFreeThreads bounds the idle threads a state keeps for reuse.
const maxFreeThreads = 256

// errStateWait is what a run gets when its state stays busy for longer
// than Config.StateWaitTimeout.
var errStateWait = errors.New("timed out waiting for a Lua state (every state busy: see lua_state_wait_timeout and lua_max_states)")

func newVM(p *Pool) (*VM, error) {
	installConcatGuard()
	installTailCalls()
	installErrorNames()
	L := lua.NewState(lua.Options{
		SkipOpenLibs: true,
		// Every request has a thread of its own (thousands wait at once),
		// so stacks start small and grow.
		CallStackSize:       200,
		RegistrySize:        256,
		RegistryMaxSize:     1024 * 256,
		RegistryGrowStep:    256,
		MinimizeStackMemory: true,
	})
	vm := &VM{
		L:       L,
		pool:    p,
		exitErr: &lua.LUserData{Value: "ngx.exit"},
		funcs:   make(map[*lua.FunctionProto]*lua.LFunction),
	}
	// Setup runs Lua (opening the libraries) on the main thread, as
	// init_by_lua would.
	vm.entry = L.NewFunction(vm.runEntry)
	vm.tracePanic = func(L *lua.LState) {
		panic(&lua.ApiError{Type: lua.ApiErrorRun, Object: L.Get(-1), StackTrace: vm.traceback(L)})
	}
	vm.lock.lock(time.Hour)
	defer vm.lock.unlock()
	if err := vm.setup(); err != nil {
		L.Close()
		return nil, fmt.Errorf("creating Lua state: %w", err)
	}
	return vm, nil
}

// enter takes the state's lock, waiting at most the pool's
// StateWaitTimeout.
func (vm *VM) enter() error {
	if !vm.lock.lock(vm.pool.cfg.StateWaitTimeout) {
		return errStateWait
	}
	vm.prepare()
	return nil
}

// leave releases the state's lock.
func (vm *VM) leave() {
	vm.cur, vm.req = nil, nil
	vm.lock.unlock()
}

// prepare readies the state after its lock was taken.
func (vm *VM) prepare() {
	vm.clock = 0
	if g := vm.pool.dictGen.Load(); g != vm.dictGen {
		ResetSharedTable(vm.shared)
		vm.dictGen = g
	}
}

// function returns the state's instance of chunk c.
func (vm *VM) function(c *Chunk) *lua.LFunction {
	proto := c.proto.Load()
	if fn, ok := vm.funcs[proto]; ok {
		return fn
	}
	if len(vm.funcs) >= maxFuncCache {
		clear(vm.funcs)
	}
	fn := vm.L.NewFunctionFromProto(proto)
	vm.funcs[proto] = fn
	return fn
}

// threadFor returns req's thread on this state, binding one to it first if
// needed. The lock must be held.
func (vm *VM) threadFor(req *Request) *thread {
	th := req.th
	if th != nil && th.vm == vm && !th.ctx.fired() {
		return th
	}
	if th != nil && th.vm != vm && th.depth == 0 && !th.vm.retired.Load() && th.reset() {
		// The request's cached thread is of another state.
		th.vm.putThread(th)
	}
	th = vm.newThread()
	req.th = th
	return th
}

// newThread takes an idle thread or makes one. The lock must be held.
func (vm *VM) newThread() *thread {
	vm.freeMu.Lock()
	if n := len(vm.free); n > 0 {
		th := vm.free[n-1]
		vm.free[n-1] = nil
		vm.free = vm.free[:n-1]
		vm.freeMu.Unlock()
		return th
	}
	vm.freeMu.Unlock()
	L, _ := vm.L.NewThread()
	th := &thread{L: L, vm: vm, ctx: newBudgetCtx(vm.pool.cfg.MaxStringSize), env: L.Env}
	L.SetContext(th.ctx)
	return th
}

// reset readies a thread whose request ended for another request; it
// reports false for a thread that cannot be reused (its budget fired: its
// context stays cancelled).
func (th *thread) reset() bool {
	if th.ctx.fired() || th.depth != 0 {
		return false
	}
	th.abort = false
	th.clock = 0
	th.runEnd = nil
	th.current = nil
	th.cos = nil
	th.coDepth = 0
	th.ctx.forgetCoroutines()
	if th.L.Env != th.env {
		th.L.Env = th.env // setfenv(0, …) changed it
	}
	th.L.SetTop(0)
	return true
}

// putThread gives a thread that was reset back to its state for reuse.
func (vm *VM) putThread(th *thread) {
	vm.freeMu.Lock()
	if len(vm.free) < maxFreeThreads {
		vm.free = append(vm.free, th)
	}
	vm.freeMu.Unlock()
}

// Run runs chunk c for req in phase. The state's lock must be held (Pool
// Acquire). It may be called again from inside a run (a filter phase
// triggered by output); the inner run shares the outer run's budget.
func (vm *VM) Run(c *Chunk, req *Request, phase Phase) Result {
	return vm.call(vm.function(c), c.Name, req, phase)
}

// call runs fn with args for req in phase, on req's thread.
func (vm *VM) call(fn *lua.LFunction, name string, req *Request, phase Phase, args ...lua.LValue) Result {
	th := vm.threadFor(req)
	prevReq, prevCur, prevPhase, prevAbort := vm.req, vm.cur, req.Phase, th.abort
	vm.req, vm.cur = req, th
	req.Phase = phase
	th.abort = false
	outer := th.depth == 0
	if outer {
		th.clock = 0 // a run of its own: nginx's time may have moved on
	}
	var obs *RunObserver
	var t0 time.Time
	if outer {
		if obs = vm.pool.observer.Load(); obs != nil {
			t0 = time.Now()
		}
		// The budget counts this run's Lua time; body_filter runs of one
		// request share one budget, as the whole body is one piece of
		// work however it is chunked.
		var base int64
		if phase == PhaseBodyFilter {
			if a, ok := req.Arg1.(lua.LString); ok {
				req.filterBytes += int64(len(a))
			}
			base = req.filterUsed - vm.filterAllowance(req)
		}
		th.start(base)
	}
	th.depth++
	L := th.L
	prevThread := L.G.CurrentThread
	L.G.CurrentThread = L
	bodyFilter := phase == PhaseBodyFilter
	nret := 0
	switch phase {
	case PhaseBodyFilter:
		vm.setArgs(req)
	case PhaseSet:
		vm.setSetArgs(req)
		nret = 1
	}
	L.Push(vm.entry)
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	err := L.PCall(len(args)+1, nret, nil)
	var ret lua.LValue
	if nret == 1 && err == nil {
		ret = L.Get(-1)
		L.Pop(1)
	}
	if bodyFilter {
		if msg := vm.takeArgs(req); msg != "" && err == nil {
			err = &lua.ApiError{Type: lua.ApiErrorRun, Object: lua.LString(name + ": " + msg)}
		}
	}
	th.depth--
	if outer {
		if obs != nil {
			(*obs)(phase, time.Since(t0), th.ctx.fired() || (err != nil && !th.abort))
		}
		used := th.stop()
		if phase == PhaseBodyFilter {
			req.filterUsed = used + vm.filterAllowance(req)
		}
		if len(th.runEnd) > 0 {
			fns := th.runEnd
			th.runEnd = nil
			for _, f := range fns {
				f()
			}
		}
	}
	var res Result
	if th.ctx.fired() {
		res.Err = vm.budgetError(name, th)
	} else if th.abort {
		res = Result{Exited: true, Code: req.ExitCode}
	} else if err != nil {
		res.Err = vm.wrapError(name, err)
	} else {
		res.Value = ret
	}
	vm.req, vm.cur = prevReq, prevCur
	L.G.CurrentThread = prevThread
	req.Phase = prevPhase
	th.abort = prevAbort
	return res
}

// runEntry calls the function below its arguments (a run's chunk or
// callback) once the thread's uncaught errors carry the traceback
// lua-nginx-module logs: PCall would give gopher-lua's, which drops all
// but 7 frames at each end of a deep stack.
func (vm *VM) runEntry(L *lua.LState) int {
	L.Panic = vm.tracePanic
	L.Call(L.GetTop()-1, lua.MultRet)
	return L.GetTop()
}

// maxTraceback is how many frames a traceback shows (lua-nginx-module's
// NGX_HTTP_LUA_BT_DEPTH); deeper ones are "...".
const maxTraceback = 22

// traceback is lua-nginx-module's traceback of the thread L, from the
// function raising the error down to the run's function.
func (vm *VM) traceback(L *lua.LState) string {
	var b strings.Builder
	b.WriteString("stack traceback:\ncoroutine 0:")
	n := 0
	vm.frames(L, 0, func(line string) {
		switch {
		case n < maxTraceback:
			b.WriteString("\n\t" + line)
		case n == maxTraceback:
			b.WriteString("\n\t...")
		}
		n++
	})
	return b.String()
}

// filterBytesPerBudget is how much response body earns body_filter one
// more lua_timeout of budget.
const filterBytesPerBudget = 64 << 20

// filterAllowance is the budget a request's body_filter earned on top of
// lua_timeout by the body it has seen: a filter may spend lua_timeout per
// request plus lua_timeout per 64 MiB, so that large downloads stream
// while a filter doing superlinear work per chunk is still stopped.
func (vm *VM) filterAllowance(req *Request) int64 {
	return int64(float64(req.filterBytes) / filterBytesPerBudget * float64(vm.pool.cfg.Timeout))
}

// start begins a run's budget clock with base already used.
func (th *thread) start(base int64) {
	th.used.Store(base)
	th.since.Store(th.vm.pool.now())
	th.vm.setRunning(th)
}

// setRunning points the watchdog at th (a pointer store only when the
// thread changes: most runs are on the thread that ran last).
func (vm *VM) setRunning(th *thread) {
	if vm.running.Load() != th {
		vm.running.Store(th)
	}
}

// stop ends the run's clock and returns the budget it used.
func (th *thread) stop() int64 {
	used := th.used.Load()
	if s := th.since.Swap(0); s > 0 {
		used += th.vm.pool.now() - s
	}
	th.used.Store(used)
	return used
}

// over reports whether the thread's running run is over its budget at now.
func (th *thread) over(now int64) bool {
	s := th.since.Load()
	return s > 0 && th.used.Load()+now-s > int64(th.vm.pool.cfg.Timeout)
}

// budgetLeft is what is left of the running run's time budget, at most
// lua_timeout and at least a millisecond (a Go function that may run long
// in one call, such as a backtracking regex match, stops there).
func (vm *VM) budgetLeft() time.Duration {
	limit := vm.pool.cfg.Timeout
	th := vm.cur
	if th == nil {
		return limit
	}
	left := limit
	if s := th.since.Load(); s > 0 {
		left -= time.Duration(th.used.Load() + vm.pool.now() - s)
	}
	return min(max(left, time.Millisecond), limit)
}

func (vm *VM) budgetError(name string, th *thread) *Error {
	e := &Error{Chunk: name, Timeout: true}
	if th.ctx.reason() == reasonMemory {
		e.Message = fmt.Sprintf("%s: %s (lua_max_memory %d MiB)", name, errMemory, vm.pool.cfg.MaxMemory>>20)
	} else {
		e.Message = fmt.Sprintf("%s: %s (budget %s)", name, errBudget, vm.pool.cfg.Timeout)
	}
	return e
}

func (vm *VM) wrapError(name string, err error) *Error {
	e := &Error{Chunk: name}
	var aerr *lua.ApiError
	if errors.As(err, &aerr) {
		switch v := aerr.Object.(type) {
		case lua.LString:
			e.Message = string(v)
		case lua.LNumber:
			e.Message = FormatNumber(float64(v))
		default:
			// As lua-nginx-module logs an error value that is not a
			// string (error(nil), error({})).
			e.Message = "unknown reason"
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

// setSetArgs exposes set_by_lua's arguments as ngx.arg[1…n].
func (vm *VM) setSetArgs(req *Request) {
	t := vm.argTable
	for i := t.Len(); i > len(req.SetArgs); i-- {
		t.RawSetInt(i, lua.LNil)
	}
	for i, a := range req.SetArgs {
		t.RawSetInt(i+1, lua.LString(a))
	}
}

// RunSet runs a set_by_lua chunk with its arguments (ngx.arg) and returns
// the value to store: what the chunk returned, as lua_tolstring gives it
// (strings, numbers as %.14g; anything else is the empty string).
func (vm *VM) RunSet(c *Chunk, req *Request, args []string) (string, Result) {
	req.SetArgs = args
	res := vm.Run(c, req, PhaseSet)
	req.SetArgs = nil
	t := vm.argTable
	for i := len(args); i > 0; i-- {
		t.RawSetInt(i, lua.LNil)
	}
	switch v := res.Value.(type) {
	case lua.LString:
		return string(v), res
	case lua.LNumber:
		return FormatNumber(float64(v)), res
	}
	return "", res
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

// newReLib returns ngx.re bound to this state's budget and string bound.
func (vm *VM) newReLib() *reLib {
	r := newReLib(vm.pool.regex)
	r.maxLen = vm.pool.cfg.MaxStringSize
	r.limit = vm.budgetLeft
	n := 0
	r.check = func(L *lua.LState) {
		if n++; n&63 == 0 {
			vm.CheckBudget(L)
		}
	}
	return r
}

// AtRunEnd registers f to run when the current outermost Lua run ends
// (the handler of a phase, or a timer callback). Libraries use it to close
// connections a script neither closed nor kept alive, as OpenResty closes
// cosockets when their handler finishes.
func (vm *VM) AtRunEnd(f func()) {
	if vm.cur != nil {
		vm.cur.runEnd = append(vm.cur.runEnd, f)
	}
}

// suspend releases the state while the running thread waits in Go (see
// Suspend); the returned func takes the state back and restarts the
// budget clock. The caller must hold the state's lock.
func (vm *VM) suspend() func() { return vm.suspendClock(false) }

// suspendClock is suspend; keepClock keeps the run's cached time across
// the wait (a write of output, which does not make nginx's loop turn
// unless it blocks).
func (vm *VM) suspendClock(keepClock bool) func() {
	th := vm.cur
	if th == nil {
		// Held between runs (the handler finishing a response right
		// after a phase): just let go of the lock meanwhile.
		vm.leave()
		return func() {
			for vm.enter() != nil {
			}
		}
	}
	req := vm.req
	th.current = th.L.G.CurrentThread
	running := th.since.Load() > 0
	if running {
		th.used.Add(vm.pool.now() - th.since.Swap(0))
	}
	vm.leave()
	return func() {
		// A state is never left for good while one of its threads waits:
		// retry past StateWaitTimeout rather than run without the lock.
		for vm.enter() != nil {
		}
		vm.cur, vm.req = th, req
		th.L.G.CurrentThread = th.current
		if !keepClock {
			th.clock = 0
		}
		if running {
			th.since.Store(vm.pool.now())
			vm.setRunning(th)
		}
	}
}

// raiseExit ends the running code with ngx.exit semantics: the error cannot
// be caught by pcall.
func (vm *VM) raiseExit(L *lua.LState, code int) {
	vm.req.ExitCode = code
	vm.cur.abort = true
	vm.throwExit(L)
}

// throwExit raises the exit sentinel. An exit is not an error: the
// traceback gopher-lua builds for an error without one (walking every
// frame, formatting each) is skipped by raising the sentinel with a
// placeholder trace, through a Panic function that puts the previous one
// back before it unwinds (PCall restores its own on recovery as well).
func (vm *VM) throwExit(L *lua.LState) {
	if vm.exitPanic == nil {
		vm.exitPanic = func(L *lua.LState) {
			L.Panic, vm.prevPanic = vm.prevPanic, nil
			panic(&lua.ApiError{Type: lua.ApiErrorRun, Object: L.Get(-1), StackTrace: "ngx.exit"})
		}
	}
	vm.prevPanic = L.Panic
	L.Panic = vm.exitPanic
	L.Error(vm.exitErr, 0)
}

// errFakeRequest is OpenResty's error for an API that needs a real request
// (a connection) used in a timer.
const errFakeRequest = "API disabled in the current context"

// checkRequest is checkPhase for the APIs whose context check lets
// ngx.timer through but that need a real request: in a timer (whose request
// is a fake one, with no connection) they raise "API disabled in the
// current context", as lua-nginx-module's ngx_http_lua_check_fake_request
// and lua-resty-core's FFI paths do (ngx.var, ngx.header, ngx.status,
// ngx.req.get_method, get_headers, …); in the other phases, checkPhase.
func (vm *VM) checkRequest(L *lua.LState, allowed Phase) *Request {
	if req := vm.req; req != nil && req.Phase == PhaseTimer {
		L.RaiseError(errFakeRequest)
	}
	return vm.checkPhase(L, allowed)
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
		L.RaiseError("API disabled in the context of %s", req.Phase.Context())
	}
	return req
}

// NowMs is ngx.now() in milliseconds: nginx's cached time, which stays
// the same while a run goes on and moves on after a wait (ngx.sleep, I/O)
// or ngx.update_time(), as on nginx, where it is updated once per
// event-loop iteration (see thread.clock). The lock must be held.
func (vm *VM) NowMs() int64 {
	c := vm.clockRef()
	if *c == 0 {
		*c = time.Now().UnixMilli()
	}
	return *c
}

// updateTime is ngx.update_time().
func (vm *VM) updateTime() { *vm.clockRef() = time.Now().UnixMilli() }

// clockRef is the cached time of the running thread, or the state's
// outside threads.
func (vm *VM) clockRef() *int64 {
	if th := vm.cur; th != nil {
		return &th.clock
	}
	return &vm.clock
}
