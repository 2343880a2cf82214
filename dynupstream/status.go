package dynupstream

import (
	"time"
)

// Health of a server, as ServerStatus.Health shows it.
const (
	// HealthUp: the server takes requests.
	HealthUp = "up"
	// HealthDown: the server is marked down in the config.
	HealthDown = "down"
	// HealthUnhealthy: the server failed the active health check.
	HealthUnhealthy = "unhealthy"
	// HealthFailed: the passive check took the server out (max_fails
	// failures within fail_timeout) until FailedUntil.
	HealthFailed = "failed"
	// HealthDraining: the server is drained: no new requests, those in
	// flight (ActiveRequests) finish.
	HealthDraining = "draining"
)

// ClusterStatus is the live view of a cluster: its settings and the
// state of its servers.
type ClusterStatus struct {
	// Name is the cluster's name.
	Name string `json:"name"`
	// Version counts the changes made to the cluster in place (admin
	// routes); 0: the config's definition, unchanged.
	Version uint64 `json:"version"`
	// LiveModified reports whether what serves differs from the config's
	// definition: the cluster was created or changed in place.
	LiveModified bool `json:"live_modified"`
	// Updated is the time of the last change in place, if any.
	Updated *time.Time `json:"updated,omitempty"`
	// LBPolicy is the cluster's load-balancing policy.
	LBPolicy LBPolicy `json:"lb_policy"`
	// HealthCheck is the active health check, if any.
	HealthCheck *HealthCheckConfig `json:"health_check,omitempty"`
	// Available counts the servers that can take a request now.
	Available int `json:"available"`
	// Servers are the cluster's servers, in config order.
	Servers []ServerStatus `json:"servers"`
}

// ServerStatus is the live view of one server of a cluster.
type ServerStatus struct {
	// Address is the server's (normalized) address.
	Address string `json:"address"`
	// Weight is its weight.
	Weight int `json:"weight"`
	// Backup marks a backup server.
	Backup bool `json:"backup,omitempty"`
	// Down marks a server the config marks down.
	Down bool `json:"down,omitempty"`
	// Drain marks a drained server.
	Drain bool `json:"drain,omitempty"`
	// MaxFails and FailTimeout are its passive check settings (MaxFails 0:
	// no passive check).
	MaxFails    int    `json:"max_fails"`
	FailTimeout string `json:"fail_timeout"`

	// Health is up, down (config), draining, unhealthy (active check) or
	// failed (passive check).
	Health string `json:"health"`
	// Available tells whether it can take a request now.
	Available bool `json:"available"`
	// ActiveRequests counts the requests proxied to it right now.
	ActiveRequests int64 `json:"active_requests"`
	// Requests counts the requests it was chosen for.
	Requests uint64 `json:"requests"`
	// Fails counts the recent failures (those of the passive check's
	// current window).
	Fails int `json:"fails"`
	// Failures counts every failed attempt observed.
	Failures uint64 `json:"failures"`
	// FailedUntil is when a server the passive check took out gets its
	// next probe request.
	FailedUntil *time.Time `json:"failed_until,omitempty"`
	// Check is the state of the active health check, if the cluster has
	// one.
	Check *CheckStatus `json:"check,omitempty"`
}

// CheckStatus is the active health check state of a server.
type CheckStatus struct {
	// Healthy is the server's active health.
	Healthy bool `json:"healthy"`
	// Passes and Fails count the consecutive passed and failed checks.
	Passes int `json:"passes"`
	Fails  int `json:"fails"`
	// LastChecked is the time of the last check, if any.
	LastChecked *time.Time `json:"last_checked,omitempty"`
	// LastProblem is why the last check failed, if it did.
	LastProblem string `json:"last_problem,omitempty"`
}

// Status returns the live view of every cluster, by name.
func (r *Registry) Status() map[string]ClusterStatus {
	out := make(map[string]ClusterStatus)
	if r == nil {
		return out
	}
	now := time.Now().UnixNano()
	for _, name := range r.Names() {
		if c := r.lookup(name); c != nil {
			out[name] = c.status(now)
		}
	}
	return out
}

// ClusterStatus returns the live view of one cluster.
func (r *Registry) ClusterStatus(name string) (ClusterStatus, bool) {
	c := r.lookup(name)
	if c == nil {
		return ClusterStatus{}, false
	}
	return c.status(time.Now().UnixNano()), true
}

func (c *cluster) status(now int64) ClusterStatus {
	cs := ClusterStatus{
		Name:         c.name,
		LBPolicy:     LBPolicy{Policy: PolicyRoundRobin},
		HealthCheck:  c.cfg.HealthCheck,
		Version:      c.meta.Version,
		LiveModified: c.meta.Modified,
		Servers:      make([]ServerStatus, 0, len(c.all)),
	}
	if !c.meta.Updated.IsZero() {
		t := c.meta.Updated
		cs.Updated = &t
	}
	if c.cfg.LBPolicy != nil {
		cs.LBPolicy = *c.cfg.LBPolicy
	}
	for _, p := range c.all {
		st := p.st
		s := ServerStatus{
			Address:        p.address,
			Weight:         int(p.weight),
			Backup:         p.backup,
			Down:           p.down,
			Drain:          p.drain,
			MaxFails:       int(p.maxFails),
			FailTimeout:    p.failTimeout.String(),
			ActiveRequests: st.active.Load(),
			Requests:       st.requests.Load(),
			Fails:          int(st.fails.Load()),
			Failures:       st.failures.Load(),
		}
		unhealthy := p.checked && st.unhealthy.Load()
		failed := !st.passiveAvailable(now, p.maxFails)
		if p.maxFails > 0 && s.Fails >= int(p.maxFails) {
			t := time.Unix(0, st.downUntil.Load())
			s.FailedUntil = &t
		}
		switch {
		case p.down:
			s.Health = HealthDown
		case p.drain:
			s.Health = HealthDraining
		case unhealthy:
			s.Health = HealthUnhealthy
		case failed:
			s.Health = HealthFailed
		default:
			s.Health = HealthUp
			s.Available = true
			cs.Available++
		}
		if p.checked {
			chk := &CheckStatus{
				Healthy: !st.unhealthy.Load(),
				Passes:  int(st.passes.Load()),
				Fails:   int(st.checkFails.Load()),
			}
			if st.checked.Load() {
				t := time.Unix(0, st.lastCheck.Load())
				chk.LastChecked = &t
			}
			if pr := st.lastProblem.Load(); pr != nil {
				chk.LastProblem = *pr
			}
			s.Check = chk
		}
		cs.Servers = append(cs.Servers, s)
	}
	return cs
}
