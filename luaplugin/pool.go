package luaplugin

import (
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// Pool is the set of Lua states shared by every resty handler of a config,
// like the Lua VMs of OpenResty's workers: a few states (by default two per
// GOMAXPROCS), each serving many requests at once, each keeping the modules
// it loaded with `require` (and their module-level state) for its
// lifetime. A request keeps one state for its life (so ngx.ctx, module
// state and coroutines behave as in OpenResty) and runs on a thread of its
// own there; only one thread of a state runs at a time, and every wait
// frees the state for the others.
type Pool struct {
	cfg    Config
	logger atomic.Pointer[zap.Logger]

	mu     sync.Mutex
	live   atomic.Pointer[[]*VM] // states new requests go to
	all    map[*VM]struct{}      // live and retired states not yet closed
	closed bool
	rr     atomic.Uint32

	files   *fileCache
	scripts scriptFiles
	regex   *RegexCache
	// env is what os.getenv may read (lua_env).
	env map[string]string
	// searchPath is lua_package_path split into its templates.
	searchPath []string

	dicts   atomic.Pointer[map[string]*shdict.Dict]
	dictGen atomic.Uint64

	timers timerState
	logs   logQueue

	resMu     sync.Mutex
	resources map[string]any

	watchdogDone chan struct{}
	// clock is the time (unix ns) as of the watchdog's last tick: the
	// budget's clock, read on every run without a time.Now call.
	clock atomic.Int64
	mem   memGuard

	// Counters for metrics and the status endpoint.
	created   atomic.Int64
	discarded atomic.Int64
	timeouts  atomic.Int64
	// observer, if set, is told the time of every Lua run.
	observer atomic.Pointer[RunObserver]
}

// RunObserver is told the wall time of each outermost Lua run (a phase of
// a request, a timer callback), waits included, and whether it failed (a
// Lua error or a budget overrun; ngx.exit is not a failure): the metrics'
// Lua time, and the errors of runs no handler sees (timers).
type RunObserver func(phase Phase, d time.Duration, failed bool)

// SetRunObserver sets (nil: removes) the function told the time of each
// Lua run. It costs two clock reads per run.
func (p *Pool) SetRunObserver(f RunObserver) {
	if f == nil {
		p.observer.Store(nil)
		return
	}
	p.observer.Store(&f)
}

// NewPool creates a pool. States are created on demand, up to MaxStates.
func NewPool(cfg Config) *Pool {
	cfg = cfg.withDefaults()
	p := &Pool{
		cfg:          cfg,
		all:          make(map[*VM]struct{}),
		files:        newFileCache(),
		regex:        NewRegexCache(1024),
		watchdogDone: make(chan struct{}),
	}
	p.env = envFrom(cfg.Env)
	for _, e := range cfg.PackagePath {
		for _, t := range strings.Split(e, ";") {
			if t = strings.TrimSpace(t); t != "" && t != ";;" {
				p.searchPath = append(p.searchPath, t)
			}
		}
	}
	p.logger.Store(cfg.Logger)
	p.clock.Store(time.Now().UnixNano())
	p.live.Store(new([]*VM))
	p.timers.init(p)
	p.logs.init(p)
	empty := map[string]*shdict.Dict{}
	p.dicts.Store(&empty)
	go p.watchdog()
	return p
}

// SetLogger sets the logger for Lua output outside requests (the logger of
// the newest config, since the pool outlives configs).
func (p *Pool) SetLogger(l *zap.Logger) {
	if l != nil {
		p.logger.Store(l)
	}
}

// Logger returns the pool's logger.
func (p *Pool) Logger() *zap.Logger { return p.logger.Load() }

// Config returns the pool's configuration, defaults applied.
func (p *Pool) Config() Config { return p.cfg }

// SetDicts sets the shared dicts ngx.shared resolves; states drop their
// cached dict handles on their next use.
func (p *Pool) SetDicts(dicts map[string]*shdict.Dict) {
	p.dicts.Store(&dicts)
	p.dictGen.Add(1)
}

// Dict returns the shared dict with that name, or nil.
func (p *Pool) Dict(name string) *shdict.Dict {
	return (*p.dicts.Load())[name]
}

// FilesChanged reports whether a Lua file loaded with `require` changed on
// disk since it was compiled.
func (p *Pool) FilesChanged() bool { return p.files.changed() }

// Reset retires every state and drops the compiled-module cache, so that
// new requests run on fresh states that load modules afresh. Requests in
// flight finish on their states; a retired state's pending timers run
// early with premature = true, as in an nginx worker that is shutting
// down. Used when module files changed on disk.
func (p *Pool) Reset() {
	p.files.reset()
	p.mu.Lock()
	old := *p.live.Load()
	p.live.Store(new([]*VM))
	p.mu.Unlock()
	for _, vm := range old {
		p.retire(vm)
	}
}

// retire takes vm out of service: no new request goes to it once the pool
// replaced it, its pending timers run early, and it closes once nothing
// uses it.
func (p *Pool) retire(vm *VM) {
	if vm.retired.Swap(true) {
		return
	}
	p.timers.retireState(vm)
	p.maybeClose(vm)
}

// maybeClose closes a retired state that nothing uses any more.
func (p *Pool) maybeClose(vm *VM) {
	p.mu.Lock()
	if vm.closed || vm.users.Load() != 0 || !vm.retired.Load() {
		p.mu.Unlock()
		return
	}
	vm.closed = true
	delete(p.all, vm)
	p.mu.Unlock()
	vm.lock.lock(time.Hour) // wait for a run still in progress
	p.discarded.Add(1)
	vm.L.Close()
}

// bind reserves vm for a request or a timer: it stays open until the
// matching unbind. It fails only for a retired state that already closed.
func (p *Pool) bind(vm *VM) bool {
	vm.users.Add(1)
	if !vm.retired.Load() {
		return true
	}
	p.mu.Lock()
	closed := vm.closed
	p.mu.Unlock()
	if closed {
		vm.users.Add(-1)
		return false
	}
	return true
}

// unbind ends a reservation made with bind.
func (p *Pool) unbind(vm *VM) {
	if vm.users.Add(-1) == 0 && vm.retired.Load() {
		p.maybeClose(vm)
	}
}

// pick chooses the state for a new request and binds it: the least loaded
// one (runs in progress and waiting), creating states up to MaxStates
// while every existing one is busy.
func (p *Pool) pick(prefer *VM) (*VM, error) {
	// The state of the request's cached thread, when it is free: its
	// thread needs no setting up.
	if prefer != nil && prefer.lock.load() == 0 && !prefer.retired.Load() && p.bind(prefer) {
		return prefer, nil
	}
	for {
		states := *p.live.Load()
		var best *VM
		bestLoad := int32(1 << 30)
		open := 0
		if n := len(states); n > 0 {
			start := int(p.rr.Add(1)) % n
			for i := 0; i < n; i++ {
				vm := states[(start+i)%n]
				if vm.retired.Load() && vm.users.Load() == 0 {
					continue // closing, or closed
				}
				open++
				load := vm.lock.load()
				if load < bestLoad {
					best, bestLoad = vm, load
				}
			}
		}
		if best != nil && (bestLoad == 0 || open >= p.cfg.MaxStates) {
			if p.bind(best) {
				return best, nil
			}
			continue
		}
		vm, err := p.grow(states)
		if err != nil {
			return nil, err
		}
		if vm != nil && p.bind(vm) {
			return vm, nil
		}
	}
}

// grow adds a state if the live list is still states; it returns nil, nil
// when another goroutine changed it first. Once the pool is closed, states
// are still made for the requests of the old config that are in flight
// (a config's Cleanup runs before its last requests finish), retired from
// birth so that they close when those requests are done.
func (p *Pool) grow(states []*VM) (*VM, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := *p.live.Load()
	if len(cur) != len(states) || (len(cur) > 0 && &cur[0] != &states[0]) {
		return nil, nil
	}
	next := make([]*VM, 0, len(cur)+1)
	for _, vm := range cur {
		if !vm.closed {
			next = append(next, vm)
		}
	}
	if len(next) >= p.cfg.MaxStates && !p.closed {
		p.live.Store(&next)
		return nil, nil
	}
	vm, err := newVM(p)
	if err != nil {
		return nil, err
	}
	if p.closed {
		vm.retired.Store(true)
	}
	p.all[vm] = struct{}{}
	next = append(next, vm)
	p.live.Store(&next)
	p.created.Add(1)
	return vm, nil
}

// Acquire takes the lock of req's state, binding req to a state first if
// it has none (its state for the rest of its life). It waits at most
// StateWaitTimeout while other runs hold the state. A nil req gets any
// state (tests, one-off runs).
func (p *Pool) Acquire(req *Request) (*VM, error) {
	vm := (*VM)(nil)
	if req != nil {
		vm = req.vm
	}
	if vm == nil {
		var prefer *VM
		if req != nil && req.th != nil {
			prefer = req.th.vm
		}
		var err error
		if vm, err = p.pick(prefer); err != nil {
			return nil, err
		}
		if req != nil {
			req.vm = vm
		} else {
			defer p.unbind(vm)
		}
	}
	if err := vm.enter(); err != nil {
		return nil, err
	}
	return vm, nil
}

// Release gives the state's lock back after Acquire.
func (p *Pool) Release(vm *VM) { vm.leave() }

// Finish ends req's use of its state (the request is over, its log phase
// included). Its thread stays cached on req (a pooled Request) for the
// next request that reuses it, which then prefers the same state.
func (p *Pool) Finish(req *Request) {
	vm := req.vm
	if th := req.th; th != nil && (!th.reset() || th.vm.retired.Load()) {
		req.th = nil
	}
	req.vm = nil
	if vm != nil {
		p.unbind(vm)
	}
}

// Close retires the pool: every state is retired (and closed once its
// requests and timers are done), pending timers run early with premature
// = true, and the log queue drains. Requests of the old config that are
// still in flight go on (see grow). The watchdog stops once no state is
// left.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	old := *p.live.Load()
	p.mu.Unlock()
	p.timers.close()
	for _, vm := range old {
		p.retire(vm)
	}
	p.logs.close()
}

// Destruct implements caddy.Destructor, for keeping a pool in a UsagePool.
func (p *Pool) Destruct() error {
	p.Close()
	return nil
}

// watchdog stops runs that are over their time budget, and the running
// ones when the heap is over MaxMemory. Its tick is also the budget clock.
func (p *Pool) watchdog() {
	defer close(p.watchdogDone)
	tick := p.cfg.Timeout / 20
	tick = min(max(tick, 2*time.Millisecond), 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var states []*VM
	for {
		<-t.C
		now := time.Now().UnixNano()
		p.clock.Store(now)
		states = states[:0]
		p.mu.Lock()
		if p.closed && len(p.all) == 0 {
			p.mu.Unlock()
			p.closeResources()
			return
		}
		for vm := range p.all {
			states = append(states, vm)
		}
		p.mu.Unlock()
		overMem := p.mem.over(p)
		for _, vm := range states {
			th := vm.running.Load()
			if th == nil || th.since.Load() == 0 {
				continue // not running: idle, or waiting in Suspend
			}
			switch {
			case overMem:
				th.ctx.fire(reasonMemory)
			case th.over(now):
				if th.ctx.fire(reasonTime) {
					p.timeouts.Add(1)
				}
			}
		}
		clear(states)
	}
}

// now reads the budget clock: precise to one watchdog tick (at most 10ms),
// which is all a budget needs.
func (p *Pool) now() int64 { return p.clock.Load() }

// Stats is a snapshot of the pool for metrics and the status endpoint.
type Stats struct {
	States      int   `json:"states"`
	Created     int64 `json:"created"`
	Discarded   int64 `json:"discarded"`
	Timeouts    int64 `json:"timeouts"`
	Timers      int64 `json:"pending_timers"`
	Running     int64 `json:"running_timers"`
	TimersLost  int64 `json:"timers_premature"`
	LogsDropped int64 `json:"log_dropped"`
	MemoryStops int64 `json:"memory_stops"`
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	return Stats{
		States:      len(*p.live.Load()),
		Created:     p.created.Load(),
		Discarded:   p.discarded.Load(),
		Timeouts:    p.timeouts.Load(),
		Timers:      p.timers.pending.Load(),
		Running:     p.timers.running.Load(),
		TimersLost:  p.timers.premature.Load(),
		LogsDropped: p.logs.dropped.Load(),
		MemoryStops: p.mem.stops.Load(),
	}
}

// Resource returns the pool-wide resource stored under key, creating it
// with create on first use. Lua libraries keep what their states share
// here (an HTTP transport, Redis connection pools); a resource that
// implements io.Closer is closed with the pool.
func (p *Pool) Resource(key string, create func() any) any {
	p.resMu.Lock()
	defer p.resMu.Unlock()
	if r, ok := p.resources[key]; ok {
		return r
	}
	if p.resources == nil {
		p.resources = make(map[string]any)
	}
	r := create()
	p.resources[key] = r
	return r
}

func (p *Pool) closeResources() {
	p.resMu.Lock()
	res := p.resources
	p.resources = nil
	p.resMu.Unlock()
	for _, r := range res {
		if c, ok := r.(io.Closer); ok {
			_ = c.Close()
		}
	}
}
