// Package dynupstream is caddy-resty's runtime-mutable upstream registry:
// named clusters of servers with weights, backups and health checks, used
// by reverse_proxy through the `resty` dynamic upstream source and changed
// at runtime through Caddy's /config API and the /resty/upstreams routes.
package dynupstream

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// ClusterConfig is one named cluster of apps.resty.upstreams.
type ClusterConfig struct{}

// Registry holds the live clusters of a config.
type Registry struct{}

// Provision builds the registry of a config from apps.resty.upstreams,
// keeping the live state (health, counters) of clusters and servers that
// did not change.
func Provision(ctx caddy.Context, clusters map[string]*ClusterConfig) (*Registry, error) {
	return &Registry{}, nil
}

// Cleanup releases the config's hold on the shared state.
func (r *Registry) Cleanup() {}

// ParseCaddyfileCluster parses `upstream NAME { … }` inside the global
// resty option; the dispenser is on the `upstream` token.
func ParseCaddyfileCluster(d *caddyfile.Dispenser) (string, *ClusterConfig, error) {
	return "", nil, d.Err("upstream: not implemented yet")
}
