package luaplugin

import (
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// timerState tracks the ngx.timer timers of a pool. A timer's callback is a
// closure of the Lua state that created it, so it runs on that state, off
// any request, when the state is free.
type timerState struct {
	p       *Pool
	pending atomic.Int64
	running atomic.Int64

	mu     sync.Mutex
	timers map[*timer]struct{}
	closed bool
}

type timer struct {
	vm    *VM
	fn    *lua.LFunction
	args  []lua.LValue
	every time.Duration
	t     *time.Timer
}

func (ts *timerState) init(p *Pool) {
	ts.p = p
	ts.timers = make(map[*timer]struct{})
}

func (vm *VM) newTimerTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("at", L.NewFunction(func(L *lua.LState) int { return vm.timerAdd(L, false) }))
	t.RawSetString("every", L.NewFunction(func(L *lua.LState) int { return vm.timerAdd(L, true) }))
	t.RawSetString("running_count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(vm.pool.timers.running.Load()))
		return 1
	}))
	t.RawSetString("pending_count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(vm.pool.timers.pending.Load()))
		return 1
	}))
	return t
}

func (vm *VM) timerAdd(L *lua.LState, every bool) int {
	delay := float64(L.CheckNumber(1))
	fn := L.CheckFunction(2)
	if delay < 0 || (every && delay <= 0) {
		L.ArgError(1, "bad delay")
	}
	var args []lua.LValue
	for i := 3; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	ts := &vm.pool.timers
	ts.mu.Lock()
	if ts.closed {
		ts.mu.Unlock()
		return PushFail(L, "process exiting")
	}
	if ts.pending.Load() >= int64(vm.pool.cfg.MaxPendingTimers) {
		ts.mu.Unlock()
		return PushFail(L, "too many pending timers")
	}
	tm := &timer{vm: vm, fn: fn, args: args}
	d := time.Duration(delay * float64(time.Second))
	if every {
		tm.every = d
	}
	ts.timers[tm] = struct{}{}
	ts.pending.Add(1)
	tm.t = time.AfterFunc(d, func() { ts.fire(tm) })
	ts.mu.Unlock()
	L.Push(lua.LTrue)
	return 1
}

func (ts *timerState) fire(tm *timer) {
	ts.mu.Lock()
	if _, ok := ts.timers[tm]; !ok || ts.closed {
		ts.mu.Unlock()
		return
	}
	if tm.every == 0 {
		delete(ts.timers, tm)
		ts.pending.Add(-1)
	}
	ts.mu.Unlock()
	p := ts.p
	if ts.running.Add(1) > int64(p.cfg.MaxRunningTimers) {
		ts.running.Add(-1)
		p.Logger().Error("lua timer dropped: too many running timers",
			zap.Int("max_running_timers", p.cfg.MaxRunningTimers))
		ts.rearm(tm)
		return
	}
	defer ts.running.Add(-1)
	if !p.acquireExact(tm.vm) {
		return
	}
	req := &Request{Logger: p.Logger(), Start: time.Now()}
	args := append([]lua.LValue{lua.LFalse}, tm.args...)
	res := tm.vm.call(tm.fn, "timer", req, PhaseTimer, args...)
	p.Release(tm.vm)
	if res.Err != nil {
		logLuaError(p.Logger(), PhaseTimer, res.Err)
	}
	ts.rearm(tm)
}

func (ts *timerState) rearm(tm *timer) {
	if tm.every == 0 {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if _, ok := ts.timers[tm]; ok && !ts.closed {
		tm.t.Reset(tm.every)
	}
}

// dropState cancels the timers of a discarded state.
func (ts *timerState) dropState(vm *VM) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for tm := range ts.timers {
		if tm.vm == vm {
			tm.t.Stop()
			delete(ts.timers, tm)
			ts.pending.Add(-1)
		}
	}
}

func (ts *timerState) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	for tm := range ts.timers {
		tm.t.Stop()
		delete(ts.timers, tm)
		ts.pending.Add(-1)
	}
}

// logLuaError logs a Lua runtime error with its traceback.
func logLuaError(logger *zap.Logger, phase Phase, err error) {
	fields := []zap.Field{zap.String("phase", phase.String()), zap.String("error", err.Error())}
	if le, ok := err.(*Error); ok && le.Traceback != "" {
		fields = append(fields, zap.String("traceback", le.Traceback))
	}
	logger.Error("lua error", fields...)
}

// LogError logs a Lua runtime error of a request phase with its traceback.
func LogError(logger *zap.Logger, phase Phase, err error) { logLuaError(logger, phase, err) }
