package luaplugin

import (
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// Config configures a pool of Lua states.
type Config struct {
	// PackagePath lists the templates `require` searches, as in
	// OpenResty's lua_package_path ("/etc/caddy/lua/?.lua").
	PackagePath []string
	// Timeout is the budget of one Lua run; a run over it is stopped, its
	// request gets a 500 and its state is discarded.
	Timeout time.Duration
	// MaxStates caps the number of Lua states; a run that finds them all
	// busy waits for one.
	MaxStates int
	// MaxPendingTimers caps ngx.timer.at timers waiting to fire.
	MaxPendingTimers int
	// MaxRunningTimers caps timers running at once.
	MaxRunningTimers int
	// MaxStringSize caps the strings Go-side functions build (string.rep,
	// table.concat, gsub results, cjson, request bodies read into Lua).
	MaxStringSize int
	// MaxMemory is the Go heap size (bytes) past which runs that are
	// allocating are stopped; 0 means DefaultMaxMemory.
	MaxMemory int64
	// StateWaitTimeout bounds how long a request waits for its Lua state
	// while other runs hold it.
	StateWaitTimeout time.Duration
	// MaxBodySize caps a request body read with ngx.req.read_body (nginx's
	// client_max_body_size); a larger one gets 413.
	MaxBodySize int64
	// BodyBufferSize is the largest body kept in memory; larger ones (up to
	// MaxBodySize) go to a temp file (nginx's client_body_buffer_size).
	BodyBufferSize int64
	// BodyTimeout bounds each read of a request body (nginx's
	// client_body_timeout).
	BodyTimeout time.Duration
	// Env lists the environment variables os.getenv may read ("NAME", or
	// "NAME=value" to set one), as nginx's env directive.
	Env []string
	// LogQueue and LogWorkers bound the log phase: how many finished
	// requests may wait for their log scripts, and how many run at once.
	LogQueue   int
	LogWorkers int
	// Logger receives Lua logs and errors outside requests.
	Logger *zap.Logger
}

// Defaults.
const (
	DefaultTimeout          = time.Second
	DefaultMaxStates        = 512
	DefaultMaxPendingTimers = 1024
	DefaultMaxRunningTimers = 256
	DefaultMaxStringSize    = 64 << 20
	DefaultMaxMemory        = 1 << 30
	DefaultStateWaitTimeout = 10 * time.Second
	DefaultMaxBodySize      = 1 << 20
	DefaultBodyTimeout      = 60 * time.Second
	DefaultLogQueue         = 10000
)

// Pool is a set of Lua states shared by every resty handler of a config,
// like the Lua VMs of OpenResty's workers: each state keeps the modules it
// loaded with `require` (and their module-level state) for its lifetime.
// A request borrows a state only while Lua runs and gives it back before
// waiting on anything else, so the number of states tracks CPU work, not
// open requests.
type Pool struct {
	cfg    Config
	logger atomic.Pointer[zap.Logger]

	mu     sync.Mutex
	cond   *sync.Cond
	idle   []*VM
	all    map[*VM]struct{}
	count  int
	closed bool

	files *fileCache
	regex *RegexCache

	dicts   atomic.Pointer[map[string]*shdict.Dict]
	dictGen atomic.Uint64

	timers timerState

	resMu     sync.Mutex
	resources map[string]any

	bgOnce   sync.Once
	bgMu     sync.RWMutex
	bgClosed bool
	bg       chan func()

	watchdogDone chan struct{}
	// clock is the time (unix ns) as of the watchdog's last tick: the
	// budget's clock, read on every run without a time.Now call.
	clock atomic.Int64

	// Counters for metrics and the status endpoint.
	created   atomic.Int64
	discarded atomic.Int64
}

// NewPool creates a pool. States are created on demand.
func NewPool(cfg Config) *Pool {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxStates <= 0 {
		cfg.MaxStates = DefaultMaxStates
	}
	if cfg.MaxPendingTimers <= 0 {
		cfg.MaxPendingTimers = DefaultMaxPendingTimers
	}
	if cfg.MaxRunningTimers <= 0 {
		cfg.MaxRunningTimers = DefaultMaxRunningTimers
	}
	if cfg.MaxStringSize <= 0 {
		cfg.MaxStringSize = DefaultMaxStringSize
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = DefaultMaxMemory
	}
	if cfg.StateWaitTimeout <= 0 {
		cfg.StateWaitTimeout = DefaultStateWaitTimeout
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	if cfg.BodyBufferSize <= 0 || cfg.BodyBufferSize > cfg.MaxBodySize {
		cfg.BodyBufferSize = cfg.MaxBodySize
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.LogQueue <= 0 {
		cfg.LogQueue = DefaultLogQueue
	}
	if cfg.LogWorkers <= 0 {
		cfg.LogWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	p := &Pool{
		cfg:          cfg,
		all:          make(map[*VM]struct{}),
		files:        newFileCache(),
		regex:        NewRegexCache(1024),
		watchdogDone: make(chan struct{}),
	}
	p.logger.Store(cfg.Logger)
	p.clock.Store(time.Now().UnixNano())
	p.cond = sync.NewCond(&p.mu)
	p.timers.init(p)
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

// Reset discards every state (idle ones now, busy ones when they are
// released) and the compiled-module cache, so that new runs load modules
// afresh. Used when module files changed on disk across a config reload.
func (p *Pool) Reset() {
	p.files.reset()
	p.mu.Lock()
	for vm := range p.all {
		vm.stale = true
	}
	idle := p.takeIdle()
	p.mu.Unlock()
	for _, vm := range idle {
		p.destroy(vm)
	}
}

// takeIdle removes every idle state from the pool; p.mu must be held.
func (p *Pool) takeIdle() []*VM {
	idle := p.idle
	p.idle = nil
	for _, vm := range idle {
		vm.idleIdx = -1
		delete(p.all, vm)
		p.count--
	}
	p.cond.Broadcast()
	return idle
}

// Acquire borrows a state, preferring prefer when it is idle. It blocks
// while MaxStates states are busy.
func (p *Pool) Acquire(prefer *VM) (*VM, error) {
	p.mu.Lock()
	for {
		if prefer != nil && prefer.idleIdx >= 0 && !prefer.stale {
			p.removeIdle(prefer)
			p.mu.Unlock()
			prefer.prepare()
			return prefer, nil
		}
		if n := len(p.idle); n > 0 {
			vm := p.idle[n-1]
			p.removeIdle(vm)
			p.mu.Unlock()
			vm.prepare()
			return vm, nil
		}
		if p.count < p.cfg.MaxStates {
			p.count++
			p.mu.Unlock()
			vm, err := newVM(p)
			p.mu.Lock()
			if err != nil {
				p.count--
				p.cond.Signal()
				p.mu.Unlock()
				return nil, err
			}
			p.all[vm] = struct{}{}
			p.mu.Unlock()
			p.created.Add(1)
			vm.prepare()
			return vm, nil
		}
		p.cond.Wait()
	}
}

// acquireExact borrows exactly vm (for timers, whose callbacks belong to
// the state that created them), waiting while it is busy. It returns false
// if vm was discarded.
func (p *Pool) acquireExact(vm *VM) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.closed || vm.dead {
			return false
		}
		if _, ok := p.all[vm]; !ok {
			return false
		}
		if vm.idleIdx >= 0 {
			p.removeIdle(vm)
			vm.prepare()
			return true
		}
		p.cond.Wait()
	}
}

func (p *Pool) removeIdle(vm *VM) {
	i := vm.idleIdx
	last := len(p.idle) - 1
	if i != last {
		p.idle[i] = p.idle[last]
		p.idle[i].idleIdx = i
	}
	p.idle[last] = nil
	p.idle = p.idle[:last]
	vm.idleIdx = -1
}

// Release gives a state back. A state that timed out or was marked stale is
// closed instead.
func (p *Pool) Release(vm *VM) {
	vm.finish()
	p.mu.Lock()
	if vm.dead || vm.stale || p.closed {
		delete(p.all, vm)
		p.count--
		p.cond.Broadcast()
		p.mu.Unlock()
		p.destroy(vm)
		return
	}
	vm.idleIdx = len(p.idle)
	p.idle = append(p.idle, vm)
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *Pool) destroy(vm *VM) {
	p.discarded.Add(1)
	p.timers.dropState(vm)
	vm.L.Close()
}

// Close retires the pool: idle states are closed now, and busy ones when
// they are released. Requests of an old config that are still in flight may
// go on borrowing states (a config's Cleanup runs before its last requests
// finish); their states are closed on release. Timers that have not fired
// are dropped. The watchdog stops once no state is left.
func (p *Pool) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.takeIdle()
	p.mu.Unlock()
	p.timers.close()
	p.bgOnce.Do(func() {})
	p.bgMu.Lock()
	p.bgClosed = true
	if p.bg != nil {
		// Workers finish the queued jobs, then exit. A job queued after
		// this runs on its own goroutine (see Background).
		close(p.bg)
	}
	p.bgMu.Unlock()
	for _, vm := range idle {
		p.destroy(vm)
	}
}

// Destruct implements caddy.Destructor, for keeping a pool in a UsagePool.
func (p *Pool) Destruct() error {
	p.Close()
	return nil
}

// watchdog stops runs that are over their time budget.
func (p *Pool) watchdog() {
	defer close(p.watchdogDone)
	tick := p.cfg.Timeout / 10
	if tick < 5*time.Millisecond {
		tick = 5 * time.Millisecond
	}
	if tick > 100*time.Millisecond {
		tick = 100 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	var busy []*VM
	for {
		<-t.C
		now := time.Now().UnixNano()
		p.clock.Store(now)
		limit := int64(p.cfg.Timeout)
		busy = busy[:0]
		p.mu.Lock()
		if p.closed && p.count == 0 {
			p.mu.Unlock()
			p.closeResources()
			return
		}
		for vm := range p.all {
			if vm.idleIdx < 0 {
				busy = append(busy, vm)
			}
		}
		p.mu.Unlock()
		for _, vm := range busy {
			started := vm.runStart.Load()
			if started > 0 && now-started > limit {
				vm.timedOut.Store(true)
				vm.budget.fire()
			}
		}
		clear(busy)
	}
}

// now reads the budget clock: precise to one watchdog tick (at most a
// tenth of the budget), which is all a budget needs.
func (p *Pool) now() int64 { return p.clock.Load() }

// Stats is a snapshot of the pool for metrics and the status endpoint.
type Stats struct {
	States    int   `json:"states"`
	Idle      int   `json:"idle"`
	Created   int64 `json:"created"`
	Discarded int64 `json:"discarded"`
	Timers    int64 `json:"pending_timers"`
}

// Stats returns a snapshot of the pool.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{States: p.count, Idle: len(p.idle)}
	p.mu.Unlock()
	s.Created = p.created.Load()
	s.Discarded = p.discarded.Load()
	s.Timers = p.timers.pending.Load()
	return s
}

// Background runs job off the caller's goroutine, on one of a few
// long-lived workers (the log phase uses it: a fresh goroutine per request
// would pay for stack growth on every Lua run). When the queue is full the
// job gets a goroutine of its own, so callers never block.
func (p *Pool) Background(job func()) {
	p.bgOnce.Do(p.startBackground)
	p.bgMu.RLock()
	defer p.bgMu.RUnlock()
	if p.bgClosed {
		go job()
		return
	}
	select {
	case p.bg <- job:
	default:
		go job()
	}
}

func (p *Pool) startBackground() {
	p.bg = make(chan func(), 4096)
	n := runtime.GOMAXPROCS(0)
	if n < 2 {
		n = 2
	}
	for i := 0; i < n; i++ {
		go func() {
			for job := range p.bg {
				job()
			}
		}()
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
