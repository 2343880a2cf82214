package phases

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// RouteVar is the request variable naming the matched route
// (`{http.vars.resty_route}`, `ngx.var.resty_route`).
const RouteVar = "resty_route"

// filterPhases are the phases that need the response to go through the
// handler's writer.
const filterPhases = luaplugin.PhaseHeaderFilter | luaplugin.PhaseBodyFilter | luaplugin.PhaseLog

// routeState is the per-request routing state of a reqState.
type routeState struct {
	mreq  matchRequest
	res   celrules.Result
	route *app.RouteData // the matched route's, nil when none
	name  string         // the matched route's name
	// global and plugins are the global plugins and the matched route's,
	// in run order; phases is the union of their phases.
	global, plugins []*app.PluginRef
	phases          luaplugin.Phase
	// condVM is set while a Lua condition holds a state during the match.
	condVM bool
}

func (s *routeState) reset() {
	s.mreq.HTTPRequest.Reset(nil, nil)
	s.mreq.rs = nil
	s.route, s.name = nil, ""
	s.global, s.plugins, s.phases = nil, nil, 0
	s.condVM = false
}

// matchRequest is what the route table matches: the HTTP request, with
// Lua conditions evaluated on the request's Lua state.
type matchRequest struct {
	celrules.HTTPRequest
	rs *reqState
}

var errNoCondition = errors.New("the route's Lua condition was not compiled")

// EvalLua implements celrules.LuaEvaluator.
func (m *matchRequest) EvalLua(_ *celrules.Route, data any) (bool, error) {
	d, _ := data.(*app.RouteData)
	if d == nil || d.Cond == nil {
		return false, errNoCondition
	}
	rs := m.rs
	vm, owned, err := rs.acquire()
	if err != nil {
		return false, err
	}
	if owned {
		rs.rt.condVM = true
	}
	return vm.EvalCondition(d.Cond, &rs.req)
}

// matchRoute evaluates the app's route table for the request: it sets
// the route's variables and plugins.
func (rs *reqState) matchRoute() {
	rt := rs.h.routes
	s := &rs.rt
	s.global, s.phases = rt.Global()
	r := rs.req.R
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	s.mreq.HTTPRequest.Reset(r, vars)
	s.mreq.rs = rs
	ok := rt.Table().MatchInto(&s.mreq, &s.res)
	if s.condVM {
		s.condVM = false
		rs.releaseVM(rs.held, true)
	}
	for _, e := range s.res.Errors {
		lvl := zap.ErrorLevel
		if e.Field == "when" && strings.HasPrefix(e.Err.Error(), "no such key") {
			// A header, cookie or query argument the request does not
			// have (`req.headers["x-tenant"] == "acme"` without the
			// header): CEL's answer is an error, the user's is "no".
			lvl = zap.DebugLevel
		}
		if ce := rs.h.logger.Check(lvl, "route condition failed; counted as no match"); ce != nil {
			ce.Write(zap.String("route", e.Name), zap.String("field", e.Field), zap.Error(e.Err))
		}
	}
	if !ok {
		return
	}
	d, _ := s.res.Data.(*app.RouteData)
	if d == nil {
		return
	}
	s.route, s.name = d, s.res.Route.Name
	s.plugins = d.Plugins
	s.phases |= d.Phases
	ctx := r.Context()
	caddyhttp.SetVar(ctx, RouteVar, d.Name)
	if d.Upstream != nil {
		caddyhttp.SetVar(ctx, dynupstream.UpstreamVar, d.Upstream)
	}
}

// routeAction carries out the matched route's action after the access
// phase. done is true when it answered the request (respond, redirect).
func (rs *reqState) routeAction() (done bool, err error) {
	d := rs.rt.route
	a := &rs.rt.res.Route.Action
	r := rs.req.R
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	caps := rs.rt.res.Captures
	switch {
	case a.Proxy != nil:
		if d.URI != nil {
			rewriteURI(r, d.URI.Expand(caps, repl))
		}
		for _, h := range d.Headers {
			if h.Value == nil {
				r.Header.Del(h.Name)
				continue
			}
			v := h.Value.Expand(caps, repl)
			if strings.EqualFold(h.Name, "Host") {
				r.Host = v
				continue
			}
			r.Header.Set(h.Name, v)
		}
		return false, nil
	case a.Respond != nil:
		hdr := rs.rw.Header()
		for _, h := range d.Headers {
			hdr.Set(h.Name, h.Value.Expand(caps, repl))
		}
		status := a.Respond.Status
		if status == 0 {
			status = http.StatusOK
		}
		body := d.Body.Expand(caps, repl)
		if body != "" && len(hdr["Content-Length"]) == 0 {
			hdr.Set("Content-Length", strconv.Itoa(len(body)))
		}
		rs.rw.status = status
		if r.Method != http.MethodHead && body != "" {
			if _, err := rs.rw.Write([]byte(body)); err != nil {
				return true, err
			}
		}
		return true, rs.rw.finish()
	case a.Redirect != nil:
		status := a.Redirect.Status
		if status == 0 {
			status = http.StatusFound
		}
		rs.rw.Header().Set("Location", d.Location.Expand(caps, repl))
		rs.rw.status = status
		return true, rs.rw.finish()
	}
	return false, nil
}

// routeCluster is the cluster of the matched route's proxy action, or "".
func (rs *reqState) routeCluster() string {
	if a := rs.rt.res.Route; a != nil && a.Action.Proxy != nil {
		return a.Action.Proxy.Upstream
	}
	return ""
}

// rewriteURI sets the request's path (and query, when uri has one) as
// Caddy's rewrite does; the original query is kept when uri has none.
func rewriteURI(r *http.Request, uri string) {
	path, query, hasQuery := strings.Cut(uri, "?")
	r.URL.Path, r.URL.RawPath = path, ""
	if strings.IndexByte(path, '%') >= 0 {
		// Escapes: decode as a client's request path would be.
		if u, err := url.Parse(path); err == nil && u.Path != "" {
			r.URL.Path, r.URL.RawPath = u.Path, u.RawPath
		}
	}
	if hasQuery {
		r.URL.RawQuery = query
	}
	r.RequestURI = r.URL.RequestURI()
}

// runPlugins runs the request's plugins (global, then the route's) of a
// phase on vm, giving each result to fn; it stops at the first for which
// fn returns true, and reports whether one did.
func (rs *reqState) runPlugins(vm *luaplugin.VM, phase luaplugin.Phase, fn func(p *app.PluginRef, res luaplugin.Result) bool) bool {
	s := &rs.rt
	for _, list := range [2][]*app.PluginRef{s.global, s.plugins} {
		for _, p := range list {
			if p.Phases&phase == 0 {
				continue
			}
			if fn(p, vm.RunPlugin(p.Conf, &rs.req, phase, s.name)) {
				return true
			}
		}
	}
	return false
}

// errLogger is the logger for the request's Lua errors: with the matched
// route's name, if any.
func (rs *reqState) errLogger() *zap.Logger {
	if rs.rt.name != "" {
		return rs.h.logger.With(zap.String("route", rs.rt.name))
	}
	return rs.h.logger
}
