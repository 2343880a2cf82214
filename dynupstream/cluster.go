package dynupstream

import (
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/internal/livetable"
)

// peer is one server of a cluster as one config sees it: its settings
// and its live state (shared with the other configs that have the same
// server in the same cluster).
type peer struct {
	// address is the normalized address: what reverse_proxy dials.
	address string
	// hostport is what reverse_proxy reports in
	// {http.reverse_proxy.upstream.hostport} for this address.
	hostport    string
	weight      int64
	maxFails    int32
	failTimeout time.Duration
	backup      bool
	down        bool
	// drain: the server takes no new requests; those in flight finish.
	drain bool
	// checked: the cluster has an active health check.
	checked bool
	st      *serverState

	// cw is the current weight of smooth weighted round robin, guarded
	// by the tier's mutex.
	cw int64
}

// tier is the primary or the backup servers of a cluster.
type tier struct {
	peers []*peer
	// mu guards the round-robin state of the peers.
	mu   sync.Mutex
	ring ringOnce
}

// cluster is the live form of one ClusterConfig in one config.
type cluster struct {
	name    string
	cfg     *ClusterConfig
	all     []*peer // config order, down servers included
	primary tier
	backup  tier
	policy  balancer
	hc      *healthCheck
	// checker and sub are the cluster's use of its active health
	// checker, if it has a health check.
	checker *checker
	sub     *subscription
	// log records the passive health transitions of the servers.
	log *zap.Logger
	// meta describes the live value (version, changed at runtime).
	meta livetable.Meta
}

// newCluster builds the live cluster of a validated config, taking a
// reference to each server's state and, if the cluster has a health
// check, subscribing to the cluster's checker. release undoes both.
// Servers that stay in a cluster keep their state (health, counters)
// from one cluster value to the next: it lives in the pool, by cluster
// name and address.
func newCluster(name string, cfg *ClusterConfig, logger *zap.Logger) *cluster {
	c := &cluster{name: name, cfg: cfg, policy: newBalancer(cfg.LBPolicy), log: logger}
	if cfg.HealthCheck != nil {
		c.hc = newHealthCheck(cfg.HealthCheck)
	}
	var usable int
	hasBackup := false
	for i := range cfg.Servers {
		s := &cfg.Servers[i]
		dial, hostport, _ := parseAddress(s.Address)
		p := &peer{
			address:     dial,
			hostport:    hostport,
			weight:      int64(max(s.Weight, 1)),
			maxFails:    DefaultMaxFails,
			failTimeout: DefaultFailTimeout,
			backup:      s.Backup,
			down:        s.Down,
			drain:       s.Drain,
			checked:     c.hc != nil,
			st:          loadServerState(name, dial),
		}
		if s.MaxFails != nil {
			p.maxFails = int32(*s.MaxFails)
		}
		if d := s.FailTimeout.Duration(); d > 0 {
			p.failTimeout = d
		}
		c.all = append(c.all, p)
		if p.down || p.drain {
			continue
		}
		usable++
		if p.backup {
			hasBackup = true
			c.backup.peers = append(c.backup.peers, p)
		} else {
			c.primary.peers = append(c.primary.peers, p)
		}
	}
	// As in nginx, the only server of a cluster is never taken out by
	// the passive check: there is nothing else to send requests to.
	if usable == 1 && !hasBackup {
		for _, p := range c.primary.peers {
			p.maxFails = 0
		}
	}
	if c.hc != nil {
		c.sub = &subscription{hc: c.hc, logger: logger}
		for _, p := range c.all {
			if !p.down && !p.drain {
				c.sub.peers = append(c.sub.peers, p)
			}
		}
		c.checker = loadChecker(name)
		c.checker.subscribe(c.sub)
	}
	return c
}

// release drops the cluster's subscription to its checker and its
// references to its servers' states. Requests in flight on its servers
// finish: they hold the states they use.
func (c *cluster) release() {
	if c.checker != nil {
		c.checker.unsubscribe(c.sub)
		_, _ = pool.Delete(checkerKey{c.name})
	}
	for _, p := range c.all {
		_, _ = pool.Delete(serverKey{c.name, p.address})
	}
}

// usable counts the servers that may take requests by configuration:
// neither down nor drained.
func (c *ClusterConfig) usable() int {
	n := 0
	for i := range c.Servers {
		if s := &c.Servers[i]; !s.Down && !s.Drain {
			n++
		}
	}
	return n
}

// available reports whether p may take a request at now (unix nanos):
// not marked down (those are not in the tiers), healthy for the active
// check if the cluster has one, and not taken out by the passive check.
func (p *peer) available(now int64) bool {
	if p.checked && p.st.unhealthy.Load() {
		return false
	}
	return p.st.passiveAvailable(now, p.maxFails)
}

// filter tells a balancer which peers it may choose: the available ones
// not tried yet by this request.
type filter struct {
	now   int64
	tried []*serverState
}

func (f filter) ok(p *peer) bool {
	for _, st := range f.tried {
		if st == p.st {
			return false
		}
	}
	return p.available(f.now)
}

// pick chooses the server for one attempt of a request: an available
// primary not tried yet by the request, else such a backup; when every
// available server was tried, the request may go to one of them again
// (retries that outlast the servers, as lb_try_duration allows). It
// returns nil when no server is available.
func (c *cluster) pick(r *http.Request, tried []*serverState, now int64) *peer {
	f := filter{now: now, tried: tried}
	for {
		if p := c.policy.choose(&c.primary, r, f); p != nil {
			return p
		}
		if p := c.policy.choose(&c.backup, r, f); p != nil {
			return p
		}
		if len(f.tried) == 0 {
			return nil
		}
		f.tried = nil
	}
}
