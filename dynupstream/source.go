package dynupstream

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Source{})
}

// UpstreamVar is the request variable that names the cluster when the
// source has no Upstream: {http.vars.resty_upstream}, set by Lua
// (`ngx.var.resty_upstream = "name"`) or by a route's proxy action.
const UpstreamVar = "resty_upstream"

// attemptVar is the request variable holding the request's attempt
// record (which server it was sent to, which it tried).
const attemptVar = "resty.upstream_attempt"

// Placeholders reverse_proxy sets for each attempt; the source reads
// them to learn how the previous attempt went.
const (
	phHostport = "http.reverse_proxy.upstream.hostport"
	phLatency  = "http.reverse_proxy.upstream.latency"
	phErrCode  = "http.error.status_code"
)

// Source is the `resty` dynamic upstream source of reverse_proxy
// (http.reverse_proxy.upstreams.resty): it proxies each request to a
// server of a cluster of apps.resty.upstreams, chosen by the cluster's
// lb_policy among its available servers.
//
// GetUpstreams returns exactly one upstream, the chosen server, so
// reverse_proxy's own selection policy has nothing to choose. When
// reverse_proxy retries (lb_retries, lb_try_duration), it calls
// GetUpstreams again; the source then records how the previous attempt
// went and chooses another server the request has not tried yet (backups
// once the primaries are tried). A request to an unknown cluster gets
// 502, a request to a cluster with no available server 503.
type Source struct {
	// Upstream names the cluster. Placeholders are evaluated per request
	// (`{http.request.header.X-Backend}`). Empty means the cluster named
	// by {http.vars.resty_upstream}, which a route or Lua sets.
	Upstream string `json:"upstream,omitempty"`

	reg         *Registry
	placeholder bool
	logger      *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Source) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.reverse_proxy.upstreams.resty",
		New: func() caddy.Module { return new(Source) },
	}
}

// UnmarshalCaddyfile sets up the source from Caddyfile tokens:
//
//	dynamic resty [<upstream>]
//
// where <upstream> is a cluster name or a placeholder.
func (s *Source) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // source name
	if d.NextArg() {
		s.Upstream = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	if d.NextBlock(0) {
		return d.Errf("dynamic resty: unexpected block (usage: dynamic resty [<upstream>])")
	}
	return nil
}

// Provision sets up the source.
func (s *Source) Provision(ctx caddy.Context) error {
	s.logger = ctx.Logger()
	s.placeholder = strings.Contains(s.Upstream, "{")
	if s.Upstream != "" && !s.placeholder {
		if err := checkName(s.Upstream); err != nil {
			return fmt.Errorf("upstream: %w", err)
		}
	}
	app, err := ctx.AppIfConfigured("resty")
	if err == nil {
		if p, ok := app.(registryProvider); ok {
			s.reg = p.Registry()
		}
	}
	if s.Upstream != "" && !s.placeholder {
		// Deleting this cluster in place now needs ?force=true.
		s.reg.AddReferrer(s.Upstream, "reverse_proxy `dynamic resty "+s.Upstream+"`")
		if !s.reg.Has(s.Upstream) {
			s.logger.Warn("upstream cluster is not in apps.resty.upstreams; its requests get 502 until it is",
				zap.String("upstream", s.Upstream))
		}
	}
	return nil
}

// clusterName returns the name of the request's cluster.
func (s *Source) clusterName(r *http.Request) string {
	switch {
	case s.Upstream == "":
		v, _ := caddyhttp.GetVar(r.Context(), UpstreamVar).(string)
		return v
	case s.placeholder:
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			return repl.ReplaceAll(s.Upstream, "")
		}
		return ""
	}
	return s.Upstream
}

// GetUpstreams returns the server for this attempt of the request.
func (s *Source) GetUpstreams(r *http.Request) ([]*reverseproxy.Upstream, error) {
	name := s.clusterName(r)
	c := s.reg.current().lookup(name)
	ctx := r.Context()
	at, _ := caddyhttp.GetVar(ctx, attemptVar).(*attempt)
	if c == nil {
		if at == nil {
			s.logUnknown(name)
		}
		return unknownCluster(name), nil
	}
	now := time.Now().UnixNano()
	if at == nil {
		at = &attempt{logger: c.log}
		at.tried = at.triedBuf[:0]
		at.repl, _ = ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		caddyhttp.SetVar(ctx, attemptVar, at)
		context.AfterFunc(ctx, at.finish)
	}
	p, first := at.next(c, r, now)
	if p == nil {
		if first {
			s.logger.Error("no available server in upstream cluster",
				zap.String("upstream", name),
				zap.Int("servers", len(c.all)))
		}
		return nil, nil
	}
	var u *oneUpstream
	if first {
		u = &at.first // saves an allocation per request
	} else {
		u = new(oneUpstream)
	}
	u.up.Dial = p.address
	u.list[0] = &u.up
	return u.list[:], nil
}

// oneUpstream allocates the upstream and the slice that holds it at once.
// reverse_proxy provisions the upstreams it gets (it sets their Host), so
// each call returns new ones.
type oneUpstream struct {
	up   reverseproxy.Upstream
	list [1]*reverseproxy.Upstream
}

func (s *Source) logUnknown(name string) {
	if name == "" {
		msg := "no upstream cluster named for this request"
		if s.Upstream == "" {
			msg += " (set {http.vars." + UpstreamVar + "} from a route or Lua, or name one: dynamic resty NAME)"
		}
		s.logger.Error(msg, zap.String("upstream", s.Upstream))
		return
	}
	s.logger.Error("unknown upstream cluster", zap.String("upstream", name))
}

// unknownCluster returns an upstream whose dial address reverse_proxy
// refuses, which ends the request with 502 and no retry; the error it
// logs names the cluster.
func unknownCluster(name string) []*reverseproxy.Upstream {
	var b strings.Builder
	b.WriteString("unknown-resty-upstream:cluster=")
	for i := 0; i < len(name) && i < MaxNameLen; i++ {
		if c := name[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return []*reverseproxy.Upstream{{Dial: b.String()}}
}

// attempt follows one request through its attempts: the server it was
// last sent to (counted as an active request there) and the servers it
// tried. Its outcome is read from reverse_proxy's placeholders: an
// attempt happened when {http.reverse_proxy.upstream.hostport} is the
// server's, and got a response when {http.reverse_proxy.upstream.latency}
// is set; one without a response failed (nginx's "error" and "timeout").
// A retry settles the previous attempt; the end of the request (its
// context is done) settles the last one.
type attempt struct {
	mu     sync.Mutex
	repl   *caddy.Replacer
	logger *zap.Logger
	cur    *peer
	began  int64 // when cur was chosen (unix nanos)
	tried  []*serverState
	done   bool
	calls  int

	triedBuf [3]*serverState
	// first holds the upstream of the first attempt; retries allocate
	// theirs. reverse_proxy writes to it (its Host); the attempt's other
	// fields never touch it.
	first oneUpstream
}

// next settles the previous attempt, if any, and chooses the server of
// the next one. first reports whether this is the request's first call.
func (a *attempt) next(c *cluster, r *http.Request, now int64) (p *peer, first bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	first = a.calls == 0
	a.calls++
	if a.cur != nil {
		a.settleLocked(now, false)
	}
	p = c.pick(r, a.tried, now)
	if p == nil {
		return nil, first
	}
	p.st.claimProbe(now, p.maxFails, p.failTimeout)
	p.st.requests.Add(1)
	if !a.done {
		p.st.active.Add(1)
		a.cur, a.began = p, now
	}
	if a.repl != nil {
		// Forget the previous attempt's, so that settling this one
		// sees only its own.
		a.repl.Delete(phHostport)
		a.repl.Delete(phLatency)
	}
	return p, first
}

// finish settles the last attempt when the request is over.
func (a *attempt) finish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	if a.cur != nil {
		a.settleLocked(time.Now().UnixNano(), true)
	}
}

// settleLocked ends the current attempt: it leaves the server's active
// requests, joins the tried servers and, if it reached the server, counts
// as a success or a failure for the passive check. A request's last
// attempt failed only if the request ended with reverse_proxy's 502 or
// 504: a client that went away fails no server.
func (a *attempt) settleLocked(now int64, last bool) {
	p := a.cur
	a.cur = nil
	p.st.active.Add(-1)
	a.tried = append(a.tried, p.st)
	if a.repl == nil {
		return
	}
	if hp, _ := a.repl.GetString(phHostport); hp != p.hostport {
		return // reverse_proxy did not send it (its own health checks said no)
	}
	if _, responded := a.repl.Get(phLatency); responded {
		p.st.succeeded(now, a.began, p.maxFails, p.failTimeout, a.logger)
		return
	}
	if last {
		code, _ := a.repl.Get(phErrCode)
		if n, _ := code.(int); n != http.StatusBadGateway && n != http.StatusGatewayTimeout {
			return
		}
	}
	p.st.failed(now, p.maxFails, p.failTimeout, a.logger)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Source)(nil)
	_ caddyfile.Unmarshaler       = (*Source)(nil)
	_ reverseproxy.UpstreamSource = (*Source)(nil)
)
