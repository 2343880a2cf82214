package luaplugin

import (
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// timerState tracks the ngx.timer timers of a pool. A timer's callback is a
// closure of the Lua state that created it, so it runs on that state (on a
// thread of its own), off any request. A timer keeps its state in service:
// when the state is retired (Lua files reloaded, the runtime replaced), its
// pending timers run at once with premature = true, as nginx runs them when
// a worker shuts down, and are counted and logged, never silently lost.
type timerState struct {
	p         *Pool
	pending   atomic.Int64
	running   atomic.Int64
	premature atomic.Int64

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
	if ts.closed || vm.retired.Load() {
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
	if !vm.pool.bind(vm) {
		ts.mu.Unlock()
		return PushFail(L, "process exiting")
	}
	ts.timers[tm] = struct{}{}
	ts.pending.Add(1)
	tm.t = time.AfterFunc(d, func() { ts.fire(tm) })
	ts.mu.Unlock()
	L.Push(lua.LTrue)
	return 1
}

// fire runs a timer that is due.
func (ts *timerState) fire(tm *timer) {
	ts.mu.Lock()
	if _, ok := ts.timers[tm]; !ok {
		// Taken out by runEarly after it was due.
		ts.mu.Unlock()
		ts.release(tm.vm)
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
		ts.done(tm)
		return
	}
	ts.run(tm, false)
	ts.running.Add(-1)
	ts.done(tm)
}

// run calls the timer's callback on a thread of its state.
func (ts *timerState) run(tm *timer, premature bool) {
	p, vm := ts.p, tm.vm
	if err := vm.enter(); err != nil {
		p.Logger().Error("lua timer skipped", zap.Error(err))
		return
	}
	th := vm.newThread()
	req := &Request{Logger: p.Logger(), Start: time.Now(), th: th}
	args := append([]lua.LValue{lua.LBool(premature)}, tm.args...)
	res := vm.call(tm.fn, "timer", req, PhaseTimer, args...)
	vm.leave()
	if th.reset() {
		vm.putThread(th)
	}
	if res.Err != nil {
		logLuaError(p.Logger(), PhaseTimer, res.Err)
	}
}

// done re-arms a recurring timer, or lets go of the timer's state.
func (ts *timerState) done(tm *timer) {
	ts.mu.Lock()
	if _, ok := ts.timers[tm]; ok && tm.every > 0 {
		tm.t.Reset(tm.every)
		ts.mu.Unlock()
		return
	}
	ts.mu.Unlock()
	ts.release(tm.vm)
}

func (ts *timerState) release(vm *VM) { ts.p.unbind(vm) }

// retireState runs the pending timers of a retired state early, with
// premature = true.
func (ts *timerState) retireState(vm *VM) {
	ts.runEarly(false, func(tm *timer) bool { return tm.vm == vm })
}

// close runs every pending timer early: the runtime is going away.
func (ts *timerState) close() {
	ts.runEarly(true, func(*timer) bool { return true })
}

// runEarly takes the matching timers out and runs those that had not
// fired yet with premature = true. A timer whose callback is already under
// way finishes that round (fire finds it gone and lets go of its state).
func (ts *timerState) runEarly(closing bool, match func(*timer) bool) {
	var due []*timer
	ts.mu.Lock()
	if closing {
		ts.closed = true
	}
	for tm := range ts.timers {
		if !match(tm) {
			continue
		}
		delete(ts.timers, tm)
		ts.pending.Add(-1)
		if tm.t.Stop() {
			due = append(due, tm)
		}
	}
	ts.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ts.premature.Add(int64(len(due)))
	ts.p.Logger().Warn("running pending Lua timers early (premature = true): their Lua state is being retired",
		zap.Int("timers", len(due)))
	for _, tm := range due {
		go func(tm *timer) {
			ts.run(tm, true)
			ts.release(tm.vm)
		}(tm)
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
