package luaplugin

import (
	"container/heap"
	"fmt"
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
//
// One dispatcher goroutine per pool starts the callbacks that are due in
// order (due time, then creation), and the callbacks of one state enter
// it in that order, so that timers created one after the other run one
// after the other, as on nginx's single-threaded event loop.
type timerState struct {
	p         *Pool
	pending   atomic.Int64
	running   atomic.Int64
	premature atomic.Int64

	mu     sync.Mutex
	timers map[*timer]struct{}
	queue  timerHeap
	seq    uint64
	gates  map[*VM]chan struct{} // per state: closed once the last callback started entered it
	wake   chan struct{}
	active bool // the dispatcher runs
	closed bool
}

type timer struct {
	vm    *VM
	fn    *lua.LFunction
	args  []lua.LValue
	every time.Duration
	due   time.Time
	seq   uint64
	idx   int // index in the queue, -1 when not queued
}

// timerHeap orders timers by due time, then creation.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	tm := x.(*timer)
	tm.idx = len(*h)
	*h = append(*h, tm)
}
func (h *timerHeap) Pop() any {
	old := *h
	tm := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	tm.idx = -1
	return tm
}

func (ts *timerState) init(p *Pool) {
	ts.p = p
	ts.timers = make(map[*timer]struct{})
	ts.gates = make(map[*VM]chan struct{})
	ts.wake = make(chan struct{}, 1)
}

// schedule queues tm for due; the caller holds ts.mu.
func (ts *timerState) schedule(tm *timer, due time.Time) {
	tm.due = due
	ts.seq++
	tm.seq = ts.seq
	heap.Push(&ts.queue, tm)
	if !ts.active {
		ts.active = true
		go ts.dispatch()
	}
	select {
	case ts.wake <- struct{}{}:
	default:
	}
}

// dispatch starts the due timers in order until no timer is left.
func (ts *timerState) dispatch() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		ts.mu.Lock()
		if len(ts.queue) == 0 {
			ts.active = false
			ts.mu.Unlock()
			return
		}
		now := time.Now()
		var due []*timer
		for len(ts.queue) > 0 && !ts.queue[0].due.After(now) {
			tm := heap.Pop(&ts.queue).(*timer)
			due = append(due, tm)
		}
		var wait time.Duration
		if len(due) == 0 {
			wait = ts.queue[0].due.Sub(now)
		}
		ts.mu.Unlock()
		for _, tm := range due {
			ts.fire(tm)
		}
		if wait > 0 {
			t.Reset(wait)
			select {
			case <-t.C:
			case <-ts.wake:
				if !t.Stop() {
					<-t.C
				}
			}
		}
	}
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
	tm := &timer{vm: vm, fn: fn, args: args, idx: -1}
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
	ts.schedule(tm, time.Now().Add(d))
	ts.mu.Unlock()
	// lua-nginx-module returns the integer 1.
	L.Push(lua.LNumber(1))
	return 1
}

// fire starts a timer that is due (the dispatcher calls it in order). A
// recurring timer is queued again as its run starts, as lua-nginx-module
// does, so runs overlap when a callback takes longer than the interval;
// each run holds a reference on the state of its own.
func (ts *timerState) fire(tm *timer) {
	p := ts.p
	ts.mu.Lock()
	if _, ok := ts.timers[tm]; !ok {
		ts.mu.Unlock()
		return
	}
	premature := false
	switch {
	case tm.every == 0:
		delete(ts.timers, tm)
		ts.pending.Add(-1)
	case ts.closed || tm.vm.retired.Load():
		// Retired while the dispatcher held it: its last run, early.
		delete(ts.timers, tm)
		ts.pending.Add(-1)
		ts.premature.Add(1)
		premature = true
	default:
		if !p.bind(tm.vm) {
			ts.mu.Unlock()
			return
		}
		ts.schedule(tm, time.Now().Add(tm.every))
	}
	if ts.running.Add(1) > int64(p.cfg.MaxRunningTimers) {
		ts.running.Add(-1)
		ts.mu.Unlock()
		// lua-nginx-module's alert, naming where the callback is defined.
		p.Logger().Error(fmt.Sprintf("lua failed to run timer with function defined at %s: %d lua_max_running_timers are not enough",
			funcLocation(tm.fn), p.cfg.MaxRunningTimers),
			zap.Int("max_running_timers", p.cfg.MaxRunningTimers))
		// The reference of a one-off timer, or of this run of a recurring one.
		ts.release(tm.vm)
		return
	}
	prev := ts.gates[tm.vm]
	gate := make(chan struct{})
	ts.gates[tm.vm] = gate
	ts.mu.Unlock()
	go func() {
		if prev != nil {
			<-prev
		}
		ts.run(tm, premature, gate)
		ts.running.Add(-1)
		ts.release(tm.vm)
	}()
}

// funcLocation is where a Lua function is defined (chunk:line), as
// lua-nginx-module's messages about timers give it.
func funcLocation(fn *lua.LFunction) string {
	if fn.IsG || fn.Proto == nil {
		return "=[C]:-1"
	}
	return fmt.Sprintf("%s:%d", fn.Proto.SourceName, fn.Proto.LineDefined)
}

// run calls the timer's callback on a thread of its state; it closes
// entered (when not nil) once it holds the state, or gave up on it.
func (ts *timerState) run(tm *timer, premature bool, entered chan struct{}) {
	p, vm := ts.p, tm.vm
	err := vm.enter()
	if entered != nil {
		close(entered)
	}
	if err != nil {
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

func (ts *timerState) release(vm *VM) { ts.p.unbind(vm) }

// retireState runs the pending timers of a retired state early, with
// premature = true.
func (ts *timerState) retireState(vm *VM) {
	ts.runEarly(false, func(tm *timer) bool { return tm.vm == vm })
	ts.mu.Lock()
	delete(ts.gates, vm)
	ts.mu.Unlock()
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
		// A timer the dispatcher took out of the queue is left to it.
		if !match(tm) || tm.idx < 0 {
			continue
		}
		delete(ts.timers, tm)
		ts.pending.Add(-1)
		if tm.idx >= 0 {
			heap.Remove(&ts.queue, tm.idx)
			due = append(due, tm)
		}
	}
	ts.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ts.premature.Add(int64(len(due)))
	if ts.p.cfg.Console == nil {
		// A console (caddy resty) ends this way every time, as resty's
		// nginx does: no news there.
		ts.p.Logger().Warn("running pending Lua timers early (premature = true): their Lua state is being retired",
			zap.Int("timers", len(due)))
	}
	// They count as running until they end (WaitTimers waits for them).
	ts.running.Add(int64(len(due)))
	for _, tm := range due {
		go func(tm *timer) {
			ts.run(tm, true, nil)
			ts.running.Add(-1)
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
