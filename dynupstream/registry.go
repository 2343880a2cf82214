// Package dynupstream is caddy-resty's runtime-mutable upstream registry:
// named clusters of servers with weights, backups and health checks, used
// by reverse_proxy through the `resty` dynamic upstream source and changed
// at runtime in place through the /resty/upstreams admin routes (or with a
// config reload through Caddy's /config API).
//
// A registry is built from apps.resty.upstreams at each config load,
// overlaid with the changes made in place (internal/livetable keeps them,
// in Caddy's storage). Each cluster sits in a slot that a change swaps
// atomically: the next request, also on an existing connection, sees the
// new cluster; requests in flight finish on the servers they chose. The
// live state of each server (load, counters, passive and active health)
// and each cluster's active health checker live in a caddy.UsagePool, so
// a change or a reload keeps them for every server it keeps. Once a
// config is replaced, its registry is retired: the reverse_proxy handlers
// of the old config (requests still arriving on its connections, retries
// of requests in flight) then choose servers from the running config's
// registry.
package dynupstream

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/internal/livetable"
)

// TableName names the registry's live table: its records are stored in
// Caddy's storage under resty/live/upstreams/.
const TableName = "upstreams"

// ConfigPath is where the registry lives in Caddy's config.
const ConfigPath = "/config/apps/resty/upstreams"

// Registry holds the live clusters of a config.
type Registry struct {
	// slots maps each cluster name the registry has seen to its slot.
	// The map is replaced (copied) when a name is added; a slot's
	// cluster is swapped in place.
	slots   atomic.Pointer[map[string]*slot]
	view    *livetable.View[ClusterConfig]
	logger  *zap.Logger
	retired atomic.Bool
}

// slot holds the live value of one cluster; nil when the cluster is
// absent (deleted).
type slot struct {
	c atomic.Pointer[cluster]
}

// Options are the registry's settings besides its clusters.
type Options struct {
	// PersistToConfig, if positive, writes the live clusters back into
	// apps.resty.upstreams after changes made in place, at most once
	// per PersistToConfig.
	PersistToConfig time.Duration
}

// Provision builds the registry of a config from apps.resty.upstreams
// and the changes made in place that still apply (see the package
// livetable for the model), keeping the live state (health, counters) of
// clusters and servers that did not change. Errors name the place of the
// bad value (`upstreams.user_backend.servers[1].weight: …`).
func Provision(ctx caddy.Context, clusters map[string]*ClusterConfig, opts Options) (*Registry, error) {
	return provision(clusters, ctx.Logger().Named("upstreams"), ctx.Storage(), "", opts)
}

// provision builds a registry; key scopes its live table (tests), store
// keeps the changes (nil: in memory).
func provision(clusters map[string]*ClusterConfig, logger *zap.Logger, store certmagic.Storage, key string, opts Options) (*Registry, error) {
	names := make([]string, 0, len(clusters))
	for name := range clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("upstreams: %w", err)
		}
		cfg := clusters[name]
		if cfg == nil {
			return nil, fmt.Errorf("upstreams.%s: missing cluster (want {\"servers\": […]})", name)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("upstreams.%s.%w", name, err)
		}
	}
	r := &Registry{logger: logger}
	m := make(map[string]*slot, len(clusters))
	r.slots.Store(&m)
	view, err := livetable.Open(livetable.Options[ClusterConfig]{
		Name:    TableName,
		Key:     key,
		Storage: store,
		Config:  clusters,
		Validate: func(name string, c *ClusterConfig) error {
			if err := checkName(name); err != nil {
				return err
			}
			return c.Validate()
		},
		Apply:           r.apply,
		ConfigPath:      ConfigPath,
		PersistToConfig: opts.PersistToConfig,
		Logger:          logger,
	})
	if err != nil {
		r.releaseAll()
		return nil, fmt.Errorf("upstreams: %w", err)
	}
	r.view = view
	return r, nil
}

// apply installs the live value of a cluster: one atomic swap of its
// slot. It runs under the live table's lock.
func (r *Registry) apply(e livetable.Entry[ClusterConfig]) {
	m := *r.slots.Load()
	s := m[e.Name]
	var c *cluster
	if e.Value != nil {
		c = newCluster(e.Name, e.Value, r.logger)
		c.meta = e.Meta
	}
	if s == nil {
		if c == nil {
			return
		}
		s = new(slot)
		s.c.Store(c)
		if e.Initial {
			m[e.Name] = s // not in use yet
		} else {
			m2 := maps.Clone(m)
			m2[e.Name] = s
			r.slots.Store(&m2)
		}
		return
	}
	if old := s.c.Swap(c); old != nil {
		old.release()
	}
}

// Start marks the registry's config as running: changes made in place
// are computed from its clusters from now on.
func (r *Registry) Start() {
	if r != nil && r.view != nil {
		r.view.Start()
	}
}

// Cleanup releases the config's hold on the shared state and retires the
// registry: from now on the config's handlers use the running config's
// registry.
func (r *Registry) Cleanup() {
	if r == nil || r.retired.Swap(true) {
		return
	}
	if r.view != nil {
		r.view.Close() // no more changes are applied here
	}
	r.releaseAll()
}

// releaseAll drops the references of the registry's clusters to the
// shared state. The clusters stay in their slots for the requests that
// still use them: with no running config, a retired registry answers
// from its own clusters.
func (r *Registry) releaseAll() {
	for _, s := range *r.slots.Load() {
		if c := s.c.Load(); c != nil {
			c.release()
		}
	}
}

// Table returns the live table through which the admin routes change the
// registry.
func (r *Registry) Table() *livetable.Table[ClusterConfig] {
	if r == nil || r.view == nil {
		return nil
	}
	return r.view.Table()
}

// AddReferrer records that the config names a cluster (who describes
// where): deleting it in place then needs ?force=true.
func (r *Registry) AddReferrer(name, who string) {
	if r != nil && r.view != nil {
		r.view.AddReferrer(name, who)
	}
}

// Has reports whether the registry has a cluster with that name.
func (r *Registry) Has(name string) bool {
	return r.lookup(name) != nil
}

// Names returns the names of the clusters, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	var names []string
	for name, s := range *r.slots.Load() {
		if s.c.Load() != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Config returns the live configuration of a cluster (nil if there is
// none). It must not be modified.
func (r *Registry) Config(name string) *ClusterConfig {
	if c := r.lookup(name); c != nil {
		return c.cfg
	}
	return nil
}

// lookup returns the live cluster with that name, or nil.
func (r *Registry) lookup(name string) *cluster {
	if r == nil {
		return nil
	}
	if s := (*r.slots.Load())[name]; s != nil {
		return s.c.Load()
	}
	return nil
}

// registryProvider is what the resty app offers (app.App.Registry); an
// interface avoids an import cycle.
type registryProvider interface {
	Registry() *Registry
}

// Active returns the registry of the running config, or nil when it has
// no resty app.
func Active() *Registry {
	ctx := caddy.ActiveContext()
	app, err := ctx.AppIfConfigured("resty")
	if err != nil {
		return nil
	}
	if p, ok := app.(registryProvider); ok {
		return p.Registry()
	}
	return nil
}

// current returns r while its config runs, else the running config's
// registry (or r if there is none).
func (r *Registry) current() *Registry {
	if r != nil && !r.retired.Load() {
		return r
	}
	if a := Active(); a != nil {
		return a
	}
	return r
}
