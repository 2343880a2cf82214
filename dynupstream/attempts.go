package dynupstream

import (
	"net/http"
	"time"
)

// Attempts follows one request's attempts on a cluster for a proxy that
// reports to the registry itself (the resty handler's proxy_pass), as
// the Source does for reverse_proxy: which server each attempt goes to,
// which servers the request tried, and how each attempt went, which is
// the passive health check. The zero value is ready for Begin; an
// Attempts can be reused after Reset, so a per-request state can embed
// one and proxy without allocating.
type Attempts struct {
	c     *cluster
	cur   *peer
	began int64 // when cur was chosen (unix nanos)
	tried []*serverState
	buf   [4]*serverState
}

// Server is the server an attempt goes to.
type Server struct {
	// Dial is the address to connect to (host:port).
	Dial string
	// HostPort is the server's address as configured (what logs and
	// ngx.var.upstream_addr show).
	HostPort string
}

// Outcome is how an attempt went, for the passive health check.
type Outcome uint8

// Outcomes of an attempt.
const (
	// OutcomeSuccess: the server answered.
	OutcomeSuccess Outcome = iota
	// OutcomeFailure: nginx's "unsuccessful attempt": a connect error, a
	// reset or a timeout before the response, an invalid response, or a
	// status the proxy treats as a failure (proxy_next_upstream http_5xx).
	OutcomeFailure
	// OutcomeNeutral: the attempt says nothing about the server (the
	// client went away, a 403 or 404 retried elsewhere).
	OutcomeNeutral
)

// Begin starts a request's attempts on the named cluster of the running
// config's registry. It reports false when there is no such cluster.
func (r *Registry) Begin(a *Attempts, name string) bool {
	a.Reset()
	c := r.current().lookup(name)
	if c == nil {
		return false
	}
	a.c = c
	a.tried = a.buf[:0]
	return true
}

// Servers is the number of servers of the cluster that may take
// requests by configuration (neither down nor drained): the most
// attempts a request makes.
func (a *Attempts) Servers() int {
	if a.c == nil {
		return 0
	}
	return len(a.c.primary.peers) + len(a.c.backup.peers)
}

// Next chooses the server of the next attempt, by the cluster's
// lb_policy, among the available servers the request has not tried
// (primaries, then backups); ok is false when there is none. The server
// counts the request among its active ones until Done. A previous
// attempt not settled with Done counts as neutral.
func (a *Attempts) Next(r *http.Request) (s Server, ok bool) {
	if a.c == nil {
		return Server{}, false
	}
	now := time.Now().UnixNano()
	if a.cur != nil {
		a.settle(OutcomeNeutral, now)
	}
	f := filter{now: now, tried: a.tried}
	p := a.c.policy.choose(&a.c.primary, r, f)
	if p == nil {
		p = a.c.policy.choose(&a.c.backup, r, f)
	}
	if p == nil {
		return Server{}, false
	}
	p.st.claimProbe(now, p.maxFails, p.failTimeout)
	p.st.requests.Add(1)
	p.st.active.Add(1)
	a.cur, a.began = p, now
	return Server{Dial: p.address, HostPort: p.hostport}, true
}

// Done settles the current attempt with its outcome.
func (a *Attempts) Done(o Outcome) {
	if a.cur != nil {
		a.settle(o, time.Now().UnixNano())
	}
}

func (a *Attempts) settle(o Outcome, now int64) {
	p := a.cur
	a.cur = nil
	p.st.active.Add(-1)
	a.tried = append(a.tried, p.st)
	switch o {
	case OutcomeSuccess:
		p.st.succeeded(now, a.began, p.maxFails, p.failTimeout, a.c.log)
	case OutcomeFailure:
		p.st.failed(now, p.maxFails, p.failTimeout, a.c.log)
	}
}

// Reset settles an unsettled attempt as neutral and forgets the cluster.
func (a *Attempts) Reset() {
	a.Done(OutcomeNeutral)
	clear(a.buf[:])
	a.c, a.tried = nil, nil
}
