package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/internal/jsonschema"
	"github.com/caddy-resty/caddy-resty/internal/livetable"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// RouteData is what a route needs at request time beyond its config,
// prepared once when the route is loaded (celrules.Options.Prepare) and
// reported by a match as celrules.Result.Data.
type RouteData struct {
	// Name is the route's name, boxed once for Caddy's vars.
	Name any
	// Cond is the compiled Lua condition, nil without one.
	Cond *luaplugin.Chunk
	// Plugins are the route's plugins in the order they run: highest
	// priority first, then by name.
	Plugins []*PluginRef
	// Phases is the union of the plugins' phases.
	Phases luaplugin.Phase

	// Upstream is the proxy action's cluster, boxed for Caddy's vars;
	// nil for other actions.
	Upstream any
	// URI is the proxy action's URI rewrite, nil without one.
	URI *celrules.Template
	// Headers are the proxy action's request headers (sorted by name) or
	// the respond action's response headers.
	Headers []HeaderTemplate
	// Body is the respond action's body; Location the redirect's target.
	Body, Location *celrules.Template
}

// HeaderTemplate is a header an action sets (or removes, when Value is
// nil).
type HeaderTemplate struct {
	Name  string
	Value *celrules.Template
}

// PluginRef is one plugin configuration of a route (or of global_plugins).
type PluginRef struct {
	// Name is the plugin's name (resty.plugins.NAME).
	Name string
	// Priority orders the plugins of a phase: the highest runs first.
	Priority int
	// Phases are the phases the plugin has a function for.
	Phases luaplugin.Phase
	// Conf is the configuration, converted to a Lua table once per state.
	Conf *luaplugin.PluginConf
}

// RouteTable is the app's live route table: the compiled table of the
// config, changed in place by the /resty/routes admin routes (package
// livetable), read lock-free by the handlers.
type RouteTable struct {
	cur    atomic.Pointer[celrules.Table]
	global []*PluginRef
	phases luaplugin.Phase // the global plugins' phases

	mu     sync.Mutex // serializes changes (with the table's own lock)
	opts   celrules.Options
	view   *livetable.View[celrules.Route]
	cache  *routeCache
	pool   *luaplugin.Pool
	logger *zap.Logger
}

// Table returns the route table as it is now.
func (rt *RouteTable) Table() *celrules.Table { return rt.cur.Load() }

// Global returns the global plugins in the order they run, and the union
// of their phases.
func (rt *RouteTable) Global() ([]*PluginRef, luaplugin.Phase) { return rt.global, rt.phases }

// Live returns the table of runtime changes (the admin routes' entry
// point).
func (rt *RouteTable) Live() *livetable.Table[celrules.Route] { return rt.view.Table() }

// Check validates route r as the live table would take it under name,
// without changing anything; the error names the place
// (`routes/NAME.when: …`).
func (rt *RouteTable) Check(name string, r *celrules.Route) error {
	_, err := rt.cur.Load().With(name, r, rt.opts)
	return err
}

// routeCachePool holds the compiled parts of routes across config
// reloads.
var routeCachePool = caddy.NewUsagePool()

const routeCacheKey = "routes"

// routeCache keeps what compiling routes produced, keyed by its source,
// so that a reload recompiles only what changed: CEL programs, Lua
// conditions, plugin modules' metadata and plugin configs. Each config
// load sweeps what it no longer uses.
type routeCache struct {
	cel *celrules.Cache

	mu      sync.Mutex
	lua     map[luaKey]*cached[*luaplugin.Chunk]
	plugins map[pluginKey]*cached[*pluginEntry]
	confs   map[confKey]*cached[*luaplugin.PluginConf]
}

type cached[T any] struct {
	v    T
	used bool
}

type luaKey struct{ name, src string }

type pluginKey struct {
	pool *luaplugin.Pool
	name string
}

type confKey struct {
	pool              *luaplugin.Pool
	name, conf, scope string
}

type pluginEntry struct {
	info   *luaplugin.PluginInfo
	schema *jsonschema.Schema
}

func (*routeCache) Destruct() error { return nil }

// maxCacheEntries bounds each map of the cache between sweeps (changes
// made in place add entries until the next config load).
const maxCacheEntries = 1 << 16

func getCached[K comparable, T any](m map[K]*cached[T], k K) (T, bool) {
	if e := m[k]; e != nil {
		e.used = true
		return e.v, true
	}
	var zero T
	return zero, false
}

func putCached[K comparable, T any](m map[K]*cached[T], k K, v T) {
	if len(m) >= maxCacheEntries {
		clear(m)
	}
	m[k] = &cached[T]{v: v, used: true}
}

func sweepMap[K comparable, T any](m map[K]*cached[T]) {
	for k, e := range m {
		if !e.used {
			delete(m, k)
			continue
		}
		e.used = false
	}
}

func (c *routeCache) sweep() {
	c.cel.Sweep()
	c.mu.Lock()
	defer c.mu.Unlock()
	sweepMap(c.lua)
	sweepMap(c.plugins)
	sweepMap(c.confs)
}

// luaCondition compiles a route's Lua condition, or returns the compiled
// chunk of the same source.
func (c *routeCache) luaCondition(name, src string) (*luaplugin.Chunk, error) {
	k := luaKey{name, src}
	c.mu.Lock()
	ch, ok := getCached(c.lua, k)
	c.mu.Unlock()
	if ok {
		return ch, nil
	}
	ch, err := luaplugin.Compile("route "+name, src)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	putCached(c.lua, k, ch)
	c.mu.Unlock()
	return ch, nil
}

// plugin loads a plugin module's metadata on pool.
func (c *routeCache) plugin(pool *luaplugin.Pool, name string) (*pluginEntry, error) {
	k := pluginKey{pool, name}
	c.mu.Lock()
	pe, ok := getCached(c.plugins, k)
	c.mu.Unlock()
	if ok {
		return pe, nil
	}
	info, err := pool.LoadPlugin(name)
	if err != nil {
		return nil, err
	}
	schema, err := jsonschema.Compile(info.Schema)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: schema: %w", name, err)
	}
	pe = &pluginEntry{info: info, schema: schema}
	c.mu.Lock()
	putCached(c.plugins, k, pe)
	c.mu.Unlock()
	return pe, nil
}

// ScopeField is the field the route table adds to an object plugin
// configuration once checked: "global" for global_plugins, "route:NAME"
// for a route's. Plugins key the state they share between requests (a
// limit's counters, a breaker) by it, so that the same plugin on two
// routes keeps two states, on every Lua state and across reloads.
const ScopeField = "_scope"

// pluginRef checks a plugin config against its plugin's schema and
// returns it ready to run; place names it in errors, scope is its
// ScopeField.
func (c *routeCache) pluginRef(pool *luaplugin.Pool, place, scope, name string, raw json.RawMessage) (*PluginRef, error) {
	pe, err := c.plugin(pool, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", place, err)
	}
	var buf bytes.Buffer
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("%s: %w", place, err)
	}
	k := confKey{pool, name, buf.String(), scope}
	c.mu.Lock()
	pc, ok := getCached(c.confs, k)
	c.mu.Unlock()
	if !ok {
		var v any
		if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", place, err)
		}
		v, err = pe.schema.Validate(v)
		if err != nil {
			var ve *jsonschema.ValidationError
			if errors.As(err, &ve) && ve.Path != "" {
				if ve.Path[0] == '[' {
					return nil, fmt.Errorf("%s%s: %s", place, ve.Path, ve.Message)
				}
				return nil, fmt.Errorf("%s.%s: %s", place, ve.Path, ve.Message)
			}
			return nil, fmt.Errorf("%s: %w", place, err)
		}
		if m, ok := v.(map[string]any); ok {
			m[ScopeField] = scope
		}
		pc = luaplugin.NewPluginConf(pe.info, v)
		if err := pool.CheckPluginConf(pc); err != nil {
			return nil, fmt.Errorf("%s: %w", place, err)
		}
		c.mu.Lock()
		putCached(c.confs, k, pc)
		c.mu.Unlock()
	}
	return &PluginRef{Name: name, Priority: pe.info.Priority, Phases: pe.info.Phases, Conf: pc}, nil
}

// pluginRefs prepares a set of plugin configs, sorted in run order.
func (c *routeCache) pluginRefs(pool *luaplugin.Pool, place, scope string, plugins map[string]json.RawMessage) ([]*PluginRef, luaplugin.Phase, error) {
	if len(plugins) == 0 {
		return nil, 0, nil
	}
	names := make([]string, 0, len(plugins))
	for n := range plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	refs := make([]*PluginRef, 0, len(names))
	var phases luaplugin.Phase
	for _, n := range names {
		ref, err := c.pluginRef(pool, place+"."+n, scope, n, plugins[n])
		if err != nil {
			return nil, 0, err
		}
		refs = append(refs, ref)
		phases |= ref.Phases
	}
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].Priority > refs[j].Priority })
	return refs, phases, nil
}

// prepare is celrules.Options.Prepare: it compiles what a route needs at
// request time.
func (rt *RouteTable) prepare(place string, r *celrules.Route) (any, error) {
	d := &RouteData{Name: r.Name}
	if r.Lua != "" {
		c, err := rt.cache.luaCondition(r.Name, r.Lua)
		if err != nil {
			return nil, fmt.Errorf("%s.lua: %w", place, err)
		}
		d.Cond = c
	}
	var err error
	if d.Plugins, d.Phases, err = rt.cache.pluginRefs(rt.pool, "route "+r.Name+": "+place+".plugins", "route:"+r.Name, r.Plugins); err != nil {
		return nil, err
	}
	tpl := func(field, s string) (*celrules.Template, error) {
		t, err := celrules.ParseTemplate(s)
		if err != nil {
			return nil, fmt.Errorf("%s.action.%s: %w", place, field, err)
		}
		return t, nil
	}
	headers := func(field string, h map[string]string, removable bool) ([]HeaderTemplate, error) {
		names := make([]string, 0, len(h))
		for n := range h {
			names = append(names, n)
		}
		sort.Strings(names)
		out := make([]HeaderTemplate, 0, len(names))
		for _, n := range names {
			ht := HeaderTemplate{Name: n}
			if h[n] != "" || !removable {
				t, err := tpl(field+"."+n, h[n])
				if err != nil {
					return nil, err
				}
				ht.Value = t
			}
			out = append(out, ht)
		}
		return out, nil
	}
	a := r.Action
	switch {
	case a.Proxy != nil:
		d.Upstream = a.Proxy.Upstream
		if a.Proxy.URI != "" {
			if d.URI, err = tpl("proxy.uri", a.Proxy.URI); err != nil {
				return nil, err
			}
		}
		if d.Headers, err = headers("proxy.headers", a.Proxy.Headers, true); err != nil {
			return nil, err
		}
	case a.Respond != nil:
		if d.Body, err = tpl("respond.body", a.Respond.Body); err != nil {
			return nil, err
		}
		if d.Headers, err = headers("respond.headers", a.Respond.Headers, false); err != nil {
			return nil, err
		}
	case a.Redirect != nil:
		if d.Location, err = tpl("redirect.location", a.Redirect.Location); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// provisionRoutes compiles the route table and the global plugins, and
// opens the table of runtime changes.
func (a *App) provisionRoutes(ctx caddy.Context) error {
	val, _, err := routeCachePool.LoadOrNew(routeCacheKey, func() (caddy.Destructor, error) {
		return newRouteCache(), nil
	})
	if err != nil {
		return err
	}
	a.routeCacheHeld = true
	rt, base, err := newRouteTable(val.(*routeCache), a.Routes, a.GlobalPlugins, a.pool, a.registry.Has, a.logger)
	if err != nil {
		return err
	}
	a.routes = rt
	config := make(map[string]*celrules.Route, len(a.Routes))
	for i := range a.Routes {
		r := &a.Routes[i]
		config[r.Name] = r
		if p := r.Action.Proxy; p != nil {
			a.registry.AddReferrer(p.Upstream, "route "+r.Name)
		}
	}

	// The live values: the config's, with the changes made in place
	// (stored) over them.
	live := make(map[string]*celrules.Route, len(config))
	initial := true
	view, err := livetable.Open(livetable.Options[celrules.Route]{
		Name:    "routes",
		Storage: ctx.Storage(),
		Config:  config,
		Validate: func(name string, r *celrules.Route) error {
			_, err := celrules.Compile([]celrules.Route{*r}, rt.opts)
			return err
		},
		Apply: func(e livetable.Entry[celrules.Route]) {
			if initial {
				live[e.Name] = e.Value
				return
			}
			rt.apply(e)
		},
		ConfigPath: "/config/apps/resty/routes",
		Logger:     a.logger,
	})
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	rt.view = view
	table := base
	var extra []string
	for name, r := range live {
		if config[name] == nil {
			extra = append(extra, name)
			continue
		}
		if r != config[name] {
			table = rt.with(table, name, r)
		}
	}
	for name := range config {
		if live[name] == nil {
			table = rt.with(table, name, nil)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		table = rt.with(table, name, live[name])
	}
	rt.cur.Store(table)
	initial = false
	rt.cache.sweep()
	return nil
}

// newRouteTable compiles the routes and the global plugins. base is the
// compiled table, not yet installed.
func newRouteTable(cache *routeCache, routes []celrules.Route, global map[string]json.RawMessage,
	pool *luaplugin.Pool, upstreams func(string) bool, logger *zap.Logger) (rt *RouteTable, base *celrules.Table, err error) {
	rt = &RouteTable{cache: cache, pool: pool, logger: logger}
	rt.opts = celrules.Options{Cache: cache.cel, Upstreams: upstreams, Prepare: rt.prepare}
	if rt.global, rt.phases, err = cache.pluginRefs(pool, "global_plugins", "global", global); err != nil {
		return nil, nil, err
	}
	if base, err = celrules.Compile(routes, rt.opts); err != nil {
		return nil, nil, err
	}
	return rt, base, nil
}

func newRouteCache() *routeCache {
	return &routeCache{
		cel:     &celrules.Cache{},
		lua:     make(map[luaKey]*cached[*luaplugin.Chunk]),
		plugins: make(map[pluginKey]*cached[*pluginEntry]),
		confs:   make(map[confKey]*cached[*luaplugin.PluginConf]),
	}
}

// NewRouteTable compiles routes and global plugins into a route table
// that changes only through a new table: what tests and benchmarks of
// the handler use (the app's own table, changed in place, is made by
// Provision). upstreams, if not nil, reports whether a cluster exists.
func NewRouteTable(routes []celrules.Route, global map[string]json.RawMessage, pool *luaplugin.Pool,
	upstreams func(string) bool, logger *zap.Logger) (*RouteTable, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	rt, base, err := newRouteTable(newRouteCache(), routes, global, pool, upstreams, logger)
	if err != nil {
		return nil, err
	}
	rt.cur.Store(base)
	return rt, nil
}

// with applies one stored change to t; a change the table refuses (a
// route naming an upstream this config removed…) is logged and skipped.
func (rt *RouteTable) with(t *celrules.Table, name string, r *celrules.Route) *celrules.Table {
	next, err := t.With(name, r, rt.opts)
	if err != nil {
		rt.logger.Warn("a route changed at runtime does not apply to this config; ignored",
			zap.String("route", name), zap.Error(err))
		return t
	}
	return next
}

// apply installs a change made in place (livetable's Apply).
func (rt *RouteTable) apply(e livetable.Entry[celrules.Route]) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.cur.Store(rt.with(rt.cur.Load(), e.Name, e.Value))
}

// RouteTable returns the app's route table.
func (a *App) RouteTable() *RouteTable { return a.routes }

// routeDescription is a route with its live metadata, as the admin
// routes show it.
type routeDescription struct {
	Name     string          `json:"name"`
	Index    *int            `json:"index,omitempty"` // the place in table order (listings only)
	Version  uint64          `json:"version"`
	Modified bool            `json:"modified"`
	Updated  string          `json:"updated,omitempty"`
	Route    *celrules.Route `json:"route"`
}

func (rt *RouteTable) describe(r *celrules.Route) routeDescription {
	d := routeDescription{Name: r.Name, Route: r}
	if meta, ok := rt.Live().Lookup(r.Name); ok {
		d.Version, d.Modified = meta.Version, meta.Modified
		if !meta.Updated.IsZero() {
			d.Updated = meta.Updated.Format("2006-01-02T15:04:05.000000Z07:00")
		}
	}
	return d
}

// checkRouteName refuses names the admin path cannot carry.
func checkRouteName(name string) error {
	if name == "" || strings.ContainsAny(name, "/ \t\r\n") {
		return fmt.Errorf("bad route name %q", name)
	}
	return nil
}
