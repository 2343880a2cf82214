// Package dynupstream is caddy-resty's runtime-mutable upstream registry:
// named clusters of servers with weights, backups and health checks, used
// by reverse_proxy through the `resty` dynamic upstream source and changed
// at runtime through Caddy's /config API and the /resty/upstreams routes.
//
// A registry is built from apps.resty.upstreams at each config load. The
// live state of each server (load, counters, passive and active health)
// and each cluster's active health checker live in a caddy.UsagePool, so
// a reload keeps them for every cluster and server it keeps. Once a
// config is replaced, its registry is retired: the reverse_proxy handlers
// of the old config (requests still arriving on its connections, retries
// of requests in flight) then choose servers from the running config's
// registry, so no new request goes to a server a change removed.
package dynupstream

import (
	"fmt"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Registry holds the live clusters of a config.
type Registry struct {
	clusters map[string]*cluster
	names    []string
	logger   *zap.Logger
	subs     map[*checker]*subscription
	retired  atomic.Bool
}

// Provision builds the registry of a config from apps.resty.upstreams,
// keeping the live state (health, counters) of clusters and servers that
// did not change. Errors name the place of the bad value
// (`upstreams.user_backend.servers[1].weight: …`).
func Provision(ctx caddy.Context, clusters map[string]*ClusterConfig) (*Registry, error) {
	return provision(clusters, ctx.Logger().Named("upstreams"))
}

func provision(clusters map[string]*ClusterConfig, logger *zap.Logger) (*Registry, error) {
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
	r := &Registry{
		clusters: make(map[string]*cluster, len(names)),
		names:    names,
		logger:   logger,
		subs:     make(map[*checker]*subscription),
	}
	for _, name := range names {
		c := newCluster(name, clusters[name], logger)
		r.clusters[name] = c
		if c.hc == nil {
			continue
		}
		sub := &subscription{hc: c.hc, logger: logger}
		for _, p := range c.all {
			if !p.down {
				sub.peers = append(sub.peers, p)
			}
		}
		ch := loadChecker(name)
		r.subs[ch] = sub
		ch.subscribe(sub)
	}
	return r, nil
}

// Cleanup releases the config's hold on the shared state and retires the
// registry: from now on the config's handlers use the running config's
// registry.
func (r *Registry) Cleanup() {
	if r == nil || r.retired.Swap(true) {
		return
	}
	for ch, sub := range r.subs {
		ch.unsubscribe(sub)
		_, _ = pool.Delete(checkerKey{ch.cluster})
	}
	for _, c := range r.clusters {
		c.release()
	}
}

// Has reports whether the registry has a cluster with that name.
func (r *Registry) Has(name string) bool {
	if r == nil {
		return false
	}
	_, ok := r.clusters[name]
	return ok
}

// Names returns the names of the clusters, sorted.
func (r *Registry) Names() []string {
	if r == nil {
		return nil
	}
	return slices.Clone(r.names)
}

// Config returns the configuration of a cluster (nil if there is none).
// It must not be modified.
func (r *Registry) Config(name string) *ClusterConfig {
	if c := r.lookup(name); c != nil {
		return c.cfg
	}
	return nil
}

func (r *Registry) lookup(name string) *cluster {
	if r == nil {
		return nil
	}
	return r.clusters[name]
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
