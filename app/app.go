// Package app is the `resty` Caddy app: the config shared by every resty
// handler of a Caddy config (shared dicts, the Lua runtime) and the state
// that outlives config reloads.
package app

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

func init() {
	caddy.RegisterModule(App{})
}

// State that must survive config reloads lives in these pools, keyed by
// what defines it: a dict by name and size, the Lua runtime by its config.
var (
	dictPool = caddy.NewUsagePool()
	luaPool  = caddy.NewUsagePool()
)

// App is the `resty` app (config at /config/apps/resty).
type App struct {
	// SharedDicts declares the shared dictionaries (ngx.shared.NAME), by
	// name. A dict keeps its contents across config reloads as long as
	// its name and size stay the same.
	SharedDicts map[string]*SharedDictConfig `json:"shared_dicts,omitempty"`

	// Lua configures the Lua runtime shared by every resty handler.
	Lua *LuaConfig `json:"lua,omitempty"`

	// Upstreams is the upstream registry: named clusters of servers that
	// reverse_proxy uses through `dynamic resty`. It can be changed at
	// runtime through /config/apps/resty/upstreams and the
	// /resty/upstreams admin routes.
	Upstreams map[string]*dynupstream.ClusterConfig `json:"upstreams,omitempty"`

	dicts    map[string]*shdict.Dict
	dictKeys []string
	pool     *luaplugin.Pool
	registry *dynupstream.Registry
	poolKey  string
	logger   *zap.Logger
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
	// request, or one timer callback), not counting time spent waiting in
	// ngx.sleep or on I/O. A run over it is stopped: its request gets a
	// 500 and its Lua state is discarded. Default: 1s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// MaxStates caps the number of Lua states (each like one OpenResty
	// worker's VM, with its own loaded modules). States are created on
	// demand; a run that finds all of them busy waits. Default: 512.
	MaxStates int `json:"max_states,omitempty"`

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
	reg, err := dynupstream.Provision(ctx, a.Upstreams)
	if err != nil {
		return err
	}
	a.registry = reg
	return nil
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
		if size < MinDictSize {
			return fmt.Errorf("shared_dicts.%s.size: %s is too small (at least 8k)", name, cfg.Size)
		}
		key := fmt.Sprintf("%s/%d", name, size)
		val, _, err := dictPool.LoadOrNew(key, func() (caddy.Destructor, error) {
			d, err := shdict.New(name, size)
			if err != nil {
				return nil, err
			}
			return dictHolder{d}, nil
		})
		if err != nil {
			return fmt.Errorf("shared_dicts.%s: %w", name, err)
		}
		a.dictKeys = append(a.dictKeys, key)
		a.dicts[name] = val.(dictHolder).Dict
	}
	return nil
}

// dictHolder lets a dict live in a UsagePool.
type dictHolder struct{ *shdict.Dict }

func (dictHolder) Destruct() error { return nil }

func (a *App) provisionLua() error {
	cfg := luaplugin.Config{Logger: a.logger}
	if a.Lua != nil {
		cfg.PackagePath = a.Lua.PackagePath
		cfg.Timeout = time.Duration(a.Lua.Timeout)
		cfg.MaxStates = a.Lua.MaxStates
		cfg.MaxPendingTimers = a.Lua.MaxPendingTimers
		cfg.MaxRunningTimers = a.Lua.MaxRunningTimers
		if cfg.Timeout < 0 {
			return fmt.Errorf("lua.timeout: must not be negative")
		}
		for _, n := range []struct {
			name string
			v    int
		}{{"max_states", cfg.MaxStates}, {"max_pending_timers", cfg.MaxPendingTimers}, {"max_running_timers", cfg.MaxRunningTimers}} {
			if n.v < 0 {
				return fmt.Errorf("lua.%s: must not be negative", n.name)
			}
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

// Start implements caddy.App.
func (a *App) Start() error { return nil }

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
