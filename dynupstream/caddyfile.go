package dynupstream

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// ParseCaddyfileCluster parses `upstream NAME { … }` inside the global
// resty option; the dispenser is on the `upstream` token:
//
//	upstream NAME {
//		server ADDR [weight=N] [max_fails=N] [fail_timeout=D] [backup] [down] [drain]
//		health_check PATH [interval=D] [timeout=D] [expect=STATUS] [host=HOST] [passes=N] [fails=N]
//		lb_policy round_robin|least_conn|ip_hash|random|header NAME|cookie NAME
//	}
//
// A trailing `;` on a line is ignored, so nginx `server` lines can be
// pasted as they are.
func ParseCaddyfileCluster(d *caddyfile.Dispenser) (string, *ClusterConfig, error) {
	if !d.NextArg() {
		return "", nil, d.Err("upstream: missing cluster name")
	}
	name := d.Val()
	if err := checkName(name); err != nil {
		return "", nil, d.Errf("upstream: %v", err)
	}
	if d.NextArg() {
		return "", nil, d.Errf("upstream %s: unexpected argument %q (the servers go in a block)", name, d.Val())
	}
	c := new(ClusterConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		args := append([]string{d.Val()}, d.RemainingArgs()...)
		if d.NextBlock(d.Nesting()) {
			return "", nil, d.Errf("upstream %s: %s: unexpected block", name, args[0])
		}
		last := len(args) - 1
		args[last] = strings.TrimSuffix(args[last], ";")
		if args[last] == "" {
			args = args[:last]
		}
		if err := applyDirective(c, args); err != nil {
			return "", nil, d.Errf("upstream %s: %v", name, err)
		}
	}
	if err := c.Validate(); err != nil {
		return "", nil, d.Errf("upstream %s: %v", name, err)
	}
	return name, c, nil
}
