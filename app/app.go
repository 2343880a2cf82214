// Package app is the `resty` Caddy app: the config shared by every resty
// handler of a Caddy config (shared dicts, the Lua runtime) and the state
// that outlives config reloads.
package app

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/internal/stats"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

func init() {
	caddy.RegisterModule(App{})
}

// State that must survive config reloads lives in these pools, keyed by
// what defines it: a dict by name and size, the Lua runtime by its config.
var (
	dictPool  = caddy.NewUsagePool()
	luaPool   = caddy.NewUsagePool()
	statsPool = caddy.NewUsagePool()
)

// statsKey is the key of the process's one stats.Store in statsPool.
const statsKey = "stats"

// App is the `resty` app (config at /config/apps/resty).
type App struct {
	// SharedDicts declares the shared dictionaries (ngx.shared.NAME), by
	// name. A dict keeps its contents across config reloads as long as
	// its name and size stay the same.
	SharedDicts map[string]*SharedDictConfig `json:"shared_dicts,omitempty"`

	// Lua configures the Lua runtime shared by every resty handler.
	Lua *LuaConfig `json:"lua,omitempty"`

	// Upstreams is the upstream registry: named clusters of servers that
	// reverse_proxy uses through `dynamic resty`. It is the base: the
	// /resty/upstreams admin routes change the live clusters in place
	// (without a config reload, kept in Caddy's storage and applied over
	// this definition at each load unless the definition of that cluster
	// changed since), and /config/apps/resty/upstreams changes it with a
	// config reload.
	Upstreams map[string]*dynupstream.ClusterConfig `json:"upstreams,omitempty"`

	// PersistToConfig, if set, also writes the changes made in place
	// through the admin routes back into this config (apps.resty.upstreams),
	// so that GET /config/ and Caddy's autosave show them. The writes are
	// coalesced, at most one per interval, and each is a config reload,
	// with its cost (idle client connections closed, connections queued on
	// the listeners reset). Off by default: the changes are kept in Caddy's
	// storage either way.
	PersistToConfig *PersistToConfig `json:"persist_to_config,omitempty"`

	// Routes is the route table: an ordered list of rules, each with a
	// match (hosts, paths, methods), an optional condition (a CEL `when`
	// or a Lua chunk), plugins and an action (proxy, respond, redirect),
	// evaluated by the resty handlers that have `routes` set. It is the
	// base: the /resty/routes admin routes change it in place (without a
	// config reload, kept in Caddy's storage), and
	// /config/apps/resty/routes changes it with a config reload.
	Routes []celrules.Route `json:"routes,omitempty"`

	// GlobalPlugins maps a plugin name to its configuration: plugins that
	// run for every request through a resty handler with `routes`, matched
	// or not. In each phase they run first (highest priority first), then
	// the matched route's plugins, then the handler's scripts. A plugin is
	// a Lua module `resty.plugins.NAME` found on lua.package_path; its
	// config is checked against the module's schema when the config loads.
	GlobalPlugins map[string]json.RawMessage `json:"global_plugins,omitempty"`

	// Metrics configures the request statistics the resty handlers keep:
	// the caddy_resty_* Prometheus metrics (on Caddy's metrics registry:
	// the admin listener's /metrics and the `metrics` handler) and the
	// rates and latencies of GET /resty/status. On by default.
	Metrics *MetricsConfig `json:"metrics,omitempty"`

	dicts    map[string]*shdict.Dict
	dictKeys []string
	pool     *luaplugin.Pool
	registry *dynupstream.Registry
	routes   *RouteTable
	poolKey  string
	// routeCacheHeld: this config holds the route compile cache.
	routeCacheHeld bool
	// stats is the process's request statistics (statsPool); nil when
	// metrics are disabled.
	stats     *stats.Store
	statsHeld bool
	logger    *zap.Logger
}

// MetricsConfig configures the request statistics.
type MetricsConfig struct {
	// Disabled turns off the per-request statistics: the caddy_resty_
	// request, latency and Lua error metrics and the rates of
	// /resty/status. The gauges read at scrape time (upstream health,
	// dicts, Lua pool, route table) stay.
	Disabled bool `json:"disabled,omitempty"`
}

// PersistToConfig configures the write-back of changes made in place
// into the config.
type PersistToConfig struct {
	// Interval is the least time between two write-backs (each a config
	// reload); the changes made meanwhile go in the next one. At least
	// 1s. Default: 10s.
	Interval caddy.Duration `json:"interval,omitempty"`
}

// DefaultPersistInterval is the default PersistToConfig.Interval.
const DefaultPersistInterval = 10 * time.Second

// interval returns the write-back interval; 0 when p is nil (off).
func (p *PersistToConfig) interval() (time.Duration, error) {
	if p == nil {
		return 0, nil
	}
	d := time.Duration(p.Interval)
	switch {
	case d == 0:
		return DefaultPersistInterval, nil
	case d < time.Second:
		return 0, fmt.Errorf("persist_to_config.interval: %s is below the minimum of 1s", d)
	}
	return d, nil
}

// SharedDictConfig configures one shared dict.
type SharedDictConfig struct {
	// Size is the memory the dict may use, in nginx syntax (`10m`, `512k`)
	// or with an IEC unit (`10MiB`); `k`/`m`/`g` are binary units as in
	// nginx. At least 8 KiB.
	Size string `json:"size"`
}

// LuaConfig configures the Lua runtime.
type LuaConfig struct {
	// PackagePath lists the templates `require` searches for Lua modules,
	// as in OpenResty's lua_package_path (`/etc/caddy/lua/?.lua`).
	PackagePath []string `json:"package_path,omitempty"`

	// Timeout is the time budget of one Lua run (one phase of one
	// request, or one timer callback), counted in Lua time: waits in
	// ngx.sleep, body reads, output to the client and cosockets do not
	// count, but when every CPU is busy the time a run waits for one
	// does, so keep it well above a script's normal run time. The
	// body_filter runs of one request share one budget. A run
	// over it is stopped: its request gets a 500 (its coroutine is ended;
	// the Lua state and its timers go on). Default: 1s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// MaxStates is the number of Lua states, the counterpart of
	// OpenResty's workers: each has its own loaded modules and serves
	// many requests at once, running one at a time and switching at
	// every wait. Default: two per GOMAXPROCS.
	MaxStates int `json:"max_states,omitempty"`

	// StateWaitTimeout bounds how long a request waits for its Lua state
	// while other requests' Lua runs on it; past it the request gets a
	// 500 with a clear log line. Default: 10s.
	StateWaitTimeout caddy.Duration `json:"state_wait_timeout,omitempty"`

	// MaxStringSize caps the strings a script can build (string.rep,
	// `..`, table.concat, string.format, gsub, cjson, ngx.re results):
	// over it the operation raises a catchable "string length overflow"
	// instead of exhausting memory. Size syntax as for shared dicts.
	// Default: 64m (LuaJIT's own ceiling is 2g).
	MaxStringSize string `json:"max_string_size,omitempty"`

	// MaxMemory is the Go heap size past which the Lua runs in progress
	// are stopped (they get a 500 and a logged error), so that one
	// request's allocations cannot exhaust the process. Default: 1g plus
	// the shared dicts' sizes.
	MaxMemory string `json:"max_memory,omitempty"`

	// MaxBodySize caps a request body read by ngx.req.read_body, as
	// nginx's client_max_body_size: a larger body gets 413. Default: 1m.
	MaxBodySize string `json:"max_body_size,omitempty"`

	// BodyBufferSize is the largest request body kept in memory, as
	// nginx's client_body_buffer_size; a larger one (up to MaxBodySize)
	// is written to a temporary file: get_body_data returns nil and
	// get_body_file its path. Default: MaxBodySize.
	BodyBufferSize string `json:"body_buffer_size,omitempty"`

	// BodyTimeout bounds each read of a request body, as nginx's
	// client_body_timeout; a client that stalls longer gets 408.
	// Default: 60s.
	BodyTimeout caddy.Duration `json:"body_timeout,omitempty"`

	// Env lists the environment variables os.getenv may read, as nginx's
	// env directive: `NAME` passes the variable through, `NAME=value`
	// sets it. Other variables read as nil.
	Env []string `json:"env,omitempty"`

	// LogQueue bounds how many finished requests may wait for their log
	// phase; beyond it log phases are dropped, counted and reported.
	// Default: 10000.
	LogQueue int `json:"log_queue,omitempty"`

	// LogWorkers is how many log phases run at once. Default: GOMAXPROCS.
	LogWorkers int `json:"log_workers,omitempty"`

	// MaxPendingTimers caps the ngx.timer.at timers waiting to fire, as
	// lua_max_pending_timers does. Default: 1024.
	MaxPendingTimers int `json:"max_pending_timers,omitempty"`

	// MaxRunningTimers caps the timers running at once, as
	// lua_max_running_timers does. Default: 256.
	MaxRunningTimers int `json:"max_running_timers,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "resty",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision sets up the shared dicts and the Lua runtime, reusing those of
// the previous config where their definition did not change.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if err := a.provisionDicts(); err != nil {
		return err
	}
	if err := a.provisionLua(); err != nil {
		return err
	}
	var opts dynupstream.Options
	var err error
	if opts.PersistToConfig, err = a.PersistToConfig.interval(); err != nil {
		return err
	}
	reg, err := dynupstream.Provision(ctx, a.Upstreams, opts)
	if err != nil {
		return err
	}
	a.registry = reg
	if err := a.provisionRoutes(ctx); err != nil {
		return err
	}
	return a.provisionMetrics(ctx)
}

func (a *App) provisionDicts() error {
	names := make([]string, 0, len(a.SharedDicts))
	for name := range a.SharedDicts {
		names = append(names, name)
	}
	sort.Strings(names)
	a.dicts = make(map[string]*shdict.Dict, len(names))
	for _, name := range names {
		cfg := a.SharedDicts[name]
		if name == "" {
			return fmt.Errorf("shared_dicts: empty dict name")
		}
		if cfg == nil {
			return fmt.Errorf("shared_dicts.%s: missing size", name)
		}
		size, err := ParseSize(cfg.Size)
		if err != nil {
			return fmt.Errorf("shared_dicts.%s.size: %w", name, err)
		}
		if err := CheckDictSize(size, cfg.Size); err != nil {
			return fmt.Errorf("shared_dicts.%s.size: %w", name, err)
		}
		d, key, err := loadDict(name, size)
		if err != nil {
			return fmt.Errorf("shared_dicts.%s: %w", name, err)
		}
		a.dictKeys = append(a.dictKeys, key)
		a.dicts[name] = d
	}
	// The bundled plugins' dicts (APISIX's names), unless declared.
	for _, pd := range pluginDicts {
		if a.dicts[pd.name] != nil {
			continue
		}
		d, key, err := loadDict(pd.name, pd.size)
		if err != nil {
			return fmt.Errorf("shared dict %s of the bundled plugins: %w", pd.name, err)
		}
		a.dictKeys = append(a.dictKeys, key)
		a.dicts[pd.name] = d
	}
	return nil
}

// pluginDicts are the shared dicts the bundled plugins keep their state
// in, with the size the app gives them when the config does not declare
// them (APISIX's defaults). A dict takes memory as it fills, not up front.
var pluginDicts = [...]struct {
	name string
	size int64
}{
	{"plugin-limit-req", 10 << 20},
	{"plugin-limit-count", 10 << 20},
	{"plugin-limit-conn", 10 << 20},
	{"plugin-api-breaker", 10 << 20},
	{"plugin-proxy-cache", 64 << 20},
}

// loadDict returns the dict name of size, kept across config loads in
// dictPool; key is its pool key, to release on Cleanup.
func loadDict(name string, size int64) (*shdict.Dict, string, error) {
	key := fmt.Sprintf("%s/%d", name, size)
	val, _, err := dictPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		d, err := shdict.New(name, size)
		if err != nil {
			return nil, err
		}
		return dictHolder{d}, nil
	})
	if err != nil {
		return nil, "", err
	}
	return val.(dictHolder).Dict, key, nil
}

// dictHolder lets a dict live in a UsagePool.
type dictHolder struct{ *shdict.Dict }

func (dictHolder) Destruct() error { return nil }

func (a *App) provisionLua() error {
	cfg := luaplugin.Config{Logger: a.logger}
	if a.Lua != nil {
		if err := a.Lua.apply(&cfg); err != nil {
			return err
		}
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = luaplugin.DefaultMaxMemory
		for _, d := range a.dicts {
			cfg.MaxMemory += d.Capacity()
		}
	}
	keyCfg := cfg
	keyCfg.Logger = nil
	keyJSON, err := json.Marshal(keyCfg)
	if err != nil {
		return fmt.Errorf("lua: %w", err)
	}
	a.poolKey = string(keyJSON)
	val, loaded, err := luaPool.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		return luaplugin.NewPool(cfg), nil
	})
	if err != nil {
		return fmt.Errorf("lua: %w", err)
	}
	a.pool = val.(*luaplugin.Pool)
	if loaded {
		a.pool.SetLogger(a.logger)
		if a.pool.FilesChanged() {
			a.logger.Info("Lua module files changed on disk; loading them afresh")
			a.pool.Reset()
		}
	}
	a.pool.SetDicts(a.dicts)
	return nil
}

// apply copies the Lua config into cfg, validating it; errors name the
// field (lua.max_body_size: …).
func (lc *LuaConfig) apply(cfg *luaplugin.Config) error {
	cfg.PackagePath = lc.PackagePath
	cfg.Timeout = time.Duration(lc.Timeout)
	cfg.StateWaitTimeout = time.Duration(lc.StateWaitTimeout)
	cfg.BodyTimeout = time.Duration(lc.BodyTimeout)
	cfg.MaxStates = lc.MaxStates
	cfg.MaxPendingTimers = lc.MaxPendingTimers
	cfg.MaxRunningTimers = lc.MaxRunningTimers
	cfg.LogQueue = lc.LogQueue
	cfg.LogWorkers = lc.LogWorkers
	cfg.Env = lc.Env
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", cfg.Timeout}, {"state_wait_timeout", cfg.StateWaitTimeout}, {"body_timeout", cfg.BodyTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("lua.%s: must not be negative", d.name)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max_states", cfg.MaxStates}, {"max_pending_timers", cfg.MaxPendingTimers},
		{"max_running_timers", cfg.MaxRunningTimers}, {"log_queue", cfg.LogQueue}, {"log_workers", cfg.LogWorkers}} {
		if n.v < 0 {
			return fmt.Errorf("lua.%s: must not be negative", n.name)
		}
	}
	for _, sz := range []struct {
		name string
		v    string
		min  int64
		max  int64
		out  func(int64)
	}{
		{"max_string_size", lc.MaxStringSize, 1 << 10, 2 << 30, func(n int64) { cfg.MaxStringSize = int(n) }},
		{"max_memory", lc.MaxMemory, 64 << 20, 1 << 50, func(n int64) { cfg.MaxMemory = n }},
		{"max_body_size", lc.MaxBodySize, 1, 1 << 50, func(n int64) { cfg.MaxBodySize = n }},
		{"body_buffer_size", lc.BodyBufferSize, 1, 1 << 50, func(n int64) { cfg.BodyBufferSize = n }},
	} {
		if sz.v == "" {
			continue
		}
		n, err := ParseSize(sz.v)
		if err != nil {
			return fmt.Errorf("lua.%s: %w", sz.name, err)
		}
		if n < sz.min || n > sz.max {
			return fmt.Errorf("lua.%s: %s is out of range (%s to %s)", sz.name, sz.v, FormatSize(sz.min), FormatSize(sz.max))
		}
		sz.out(n)
	}
	for i, e := range lc.Env {
		name, _, _ := strings.Cut(e, "=")
		if name == "" || strings.ContainsAny(name, " \t\n") {
			return fmt.Errorf("lua.env[%d]: invalid variable name %q", i, name)
		}
	}
	return nil
}

// Start implements caddy.App: changes made in place now apply to this
// config's registry first.
func (a *App) Start() error {
	a.registry.Start()
	if a.routes != nil && a.routes.view != nil {
		a.routes.view.Start()
	}
	return nil
}

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on the shared state.
func (a *App) Cleanup() error {
	for _, key := range a.dictKeys {
		_, _ = dictPool.Delete(key)
	}
	if a.poolKey != "" {
		_, _ = luaPool.Delete(a.poolKey)
	}
	if a.registry != nil {
		a.registry.Cleanup()
	}
	if a.routes != nil && a.routes.view != nil {
		a.routes.view.Close()
	}
	if a.routeCacheHeld {
		_, _ = routeCachePool.Delete(routeCacheKey)
	}
	if a.statsHeld {
		_, _ = statsPool.Delete(statsKey)
	}
	return nil
}

// Registry returns the upstream registry.
func (a *App) Registry() *dynupstream.Registry { return a.registry }

// Pool returns the Lua runtime.
func (a *App) Pool() *luaplugin.Pool { return a.pool }

// Dict returns the shared dict with that name, or nil: the Go API through
// which other packages share the dicts with Lua.
func (a *App) Dict(name string) *shdict.Dict { return a.dicts[name] }

// Interface guards.
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
