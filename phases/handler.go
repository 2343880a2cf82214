// Package phases is the resty HTTP handler: it runs Lua in OpenResty's
// request phases (rewrite, access, content, header_filter, body_filter,
// log) around the handler it wraps (reverse_proxy, respond, file_server).
package phases

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/internal/stats"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler runs Lua code in OpenResty's phases. Each phase takes a list of
// scripts that run in order. Without a content phase, the request goes on
// to the next handler, whose response passes through header_filter and
// body_filter.
type Handler struct {
	// Set scripts run first, before rewrite (set_by_lua): each one's
	// return value is stored in its variable.
	Set []SetScript `json:"set,omitempty"`
	// Rewrite scripts run after set (rewrite_by_lua).
	Rewrite []Script `json:"rewrite,omitempty"`
	// Access scripts run after rewrite (access_by_lua): the place for
	// authentication and rate limiting.
	Access []Script `json:"access,omitempty"`
	// Content scripts produce the response (content_by_lua). When set, the
	// next handler is not called.
	Content []Script `json:"content,omitempty"`
	// HeaderFilter scripts run when the response headers go out
	// (header_filter_by_lua).
	HeaderFilter []Script `json:"header_filter,omitempty"`
	// BodyFilter scripts run on each chunk of the response body, then once
	// with eof (body_filter_by_lua).
	BodyFilter []Script `json:"body_filter,omitempty"`
	// Log scripts run after the response was sent (log_by_lua).
	Log []Script `json:"log,omitempty"`

	// Routes makes the handler evaluate the app's route table
	// (apps.resty.routes) at the start of the rewrite phase. In each phase
	// the global plugins run, then the matched route's plugins (highest
	// priority first), then this handler's scripts; after the access
	// phase the route's action proxies (with proxy_pass, to the route's
	// cluster, after rewriting the URI and headers), responds or
	// redirects. A request no route matches goes on unchanged (the
	// global plugins still run).
	Routes bool `json:"routes,omitempty"`

	// ProxyPass proxies the request with the handler's own HTTP/1.1
	// proxy (nginx's proxy_pass) in the content phase, when there are
	// no content scripts. Without a URL or an upstream, it proxies the
	// requests that Lua or a route gave a cluster
	// ({http.vars.resty_upstream}); the others go on to the next
	// handler. Its settings also serve the route table's proxy actions.
	ProxyPass *ProxyPass `json:"proxy_pass,omitempty"`

	app    *app.App
	routes *app.RouteTable
	// stats receives each request's figures; nil when metrics are off.
	stats  *stats.Store
	pool   *luaplugin.Pool
	logger *zap.Logger
	// proxy serves ProxyPass and the routes' proxy actions.
	proxy *proxier

	set                                                     []setChunk
	rewrite, access, content, headerFilter, bodyFilter, log []*luaplugin.Chunk

	// wrap is true when the response must pass through this handler's
	// writer (filters or a log phase).
	wrap bool
	any  bool
}

// Script is one piece of Lua code: inline or a file.
type Script struct {
	// Lua is inline Lua source.
	Lua string `json:"lua,omitempty"`
	// LuaFile is the path of a Lua file, read and compiled at load.
	LuaFile string `json:"lua_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.resty",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles every script; a syntax error refuses the config with
// the script's name and line.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	appIface, err := ctx.App("resty")
	if err != nil {
		return fmt.Errorf("loading resty app: %w", err)
	}
	h.app = appIface.(*app.App)
	h.routes = h.app.RouteTable()
	h.stats = h.app.Stats()
	if err := h.setup(h.app.Pool(), h.logger); err != nil {
		return err
	}
	if h.ProxyPass != nil || h.Routes {
		px, err := newProxier(h.ProxyPass, h.app.Registry())
		if err != nil {
			return err
		}
		h.proxy = px
		h.any = true
	}
	return nil
}

// Cleanup closes the proxy's upstream connections: idle ones now, those
// of requests in flight when they end.
func (h *Handler) Cleanup() error {
	if h.proxy != nil {
		return h.proxy.tr.Close()
	}
	return nil
}

// setup compiles the scripts and binds the handler to a Lua pool.
func (h *Handler) setup(pool *luaplugin.Pool, logger *zap.Logger) error {
	h.pool = pool
	h.logger = logger
	if h.Routes && h.routes == nil {
		return errors.New("routes: no route table (the resty app is not configured)")
	}
	for _, ph := range luaplugin.RequestPhases {
		scripts, out := h.phase(ph)
		for i, s := range *scripts {
			c, err := compileScript(pool, ph.String(), i, s)
			if err != nil {
				return err
			}
			*out = append(*out, c)
		}
	}
	if err := h.compileSet(pool); err != nil {
		return err
	}
	h.wrap = len(h.headerFilter) > 0 || len(h.bodyFilter) > 0 || len(h.log) > 0
	h.any = h.wrap || h.Routes || len(h.set) > 0 || len(h.rewrite) > 0 || len(h.access) > 0 || len(h.content) > 0
	return nil
}

// hasPhase reports whether the request has scripts or plugins for phase.
func (rs *reqState) hasPhase(chunks []*luaplugin.Chunk, phase luaplugin.Phase) bool {
	return len(chunks) > 0 || rs.rt.phases&phase != 0
}

// phase returns the configured scripts of a request phase and where their
// compiled chunks go.
func (h *Handler) phase(ph luaplugin.Phase) (*[]Script, *[]*luaplugin.Chunk) {
	switch ph {
	case luaplugin.PhaseRewrite:
		return &h.Rewrite, &h.rewrite
	case luaplugin.PhaseAccess:
		return &h.Access, &h.access
	case luaplugin.PhaseContent:
		return &h.Content, &h.content
	case luaplugin.PhaseHeaderFilter:
		return &h.HeaderFilter, &h.headerFilter
	case luaplugin.PhaseBodyFilter:
		return &h.BodyFilter, &h.bodyFilter
	case luaplugin.PhaseLog:
		return &h.Log, &h.log
	}
	return nil, nil
}

func compileScript(pool *luaplugin.Pool, phase string, i int, s Script) (*luaplugin.Chunk, error) {
	place := fmt.Sprintf("%s[%d]", phase, i)
	switch {
	case s.Lua != "" && s.LuaFile != "":
		return nil, fmt.Errorf("%s: lua and lua_file are mutually exclusive", place)
	case s.LuaFile != "":
		c, err := pool.CompileFile(s.LuaFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", place, err)
		}
		return c, nil
	case s.Lua != "":
		return luaplugin.Compile(place, s.Lua)
	}
	return nil, fmt.Errorf("%s: empty script (set lua or lua_file)", place)
}

// reqState is the per-request state of the handler, pooled.
type reqState struct {
	h   *Handler
	req luaplugin.Request
	rw  responseWriter
	// held is the Lua state this request is running on now, if any; a
	// filter triggered by Lua output runs on it.
	held *luaplugin.VM
	next caddyhttp.Handler
	// logFn is rs.runLog, bound once per pooled state.
	logFn func()
	// rt is the routing state (Handler.Routes).
	rt routeState
	// luaErrors counts the Lua errors of this request's response path
	// (rewrite to body_filter), for the access log.
	luaErrors int
	// px is the proxy_pass state.
	px proxyState
	// sw records the status of a response that goes straight to the next
	// handler, when metrics are on.
	sw statusWriter
}

var statePool = sync.Pool{New: func() any {
	rs := new(reqState)
	rs.rw.rs = rs
	return rs
}}

// ServeHTTP runs the phases around next.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.any {
		return next.ServeHTTP(w, r)
	}
	rs := statePool.Get().(*reqState)
	if rs.logFn == nil {
		rs.logFn = rs.runLog
	}
	rs.h = h
	rs.next = next
	rs.req.R = r
	rs.req.Logger = h.logger
	rs.req.Start = time.Now()
	rs.rw.reset(w)
	rs.req.W = &rs.rw

	defer func() {
		if p := recover(); p != nil {
			// A filter aborted the response (http.ErrAbortHandler): the
			// log phase still runs, then the panic closes the connection.
			rs.done(nil)
			panic(p)
		}
	}()
	err := rs.serve()
	rs.done(err)
	return err
}

// done runs the log phase, if any, off the response path, and recycles
// the request state.
func (rs *reqState) done(err error) {
	rs.addLogFields()
	if rs.h.stats != nil {
		rs.record(err)
	}
	if rs.hasPhase(rs.h.log, luaplugin.PhaseLog) {
		if err != nil {
			// Caddy's error handling goes on with the request (it restores
			// the original URL, runs handle_errors) while the log phase
			// runs: give the log phase its own copy.
			rs.req.R = rs.req.R.Clone(rs.req.R.Context())
		}
		rs.rw.status = rs.rw.finalStatus(err)
		rs.rw.finished = true
		if rs.h.pool.Background(rs.logFn) {
			return
		}
		// The log queue is full: the log phase of this request is
		// dropped (counted and reported by the pool).
	}
	rs.release()
}

func (rs *reqState) release() {
	rs.h.pool.Finish(&rs.req)
	rs.req.Reset()
	rs.rw.reset(nil)
	rs.h, rs.next, rs.held = nil, nil, nil
	rs.luaErrors = 0
	rs.rt.reset()
	rs.px.reset()
	rs.sw = statusWriter{}
	statePool.Put(rs)
}

// runEarlyPhases runs set, rewrite and access. When more than one runs,
// one Lua state serves them (acquired once: nothing waits between them),
// and it is given back before the content phase, which may proxy.
func (rs *reqState) runEarlyPhases() (done bool, err error) {
	h := rs.h
	set := len(h.set) > 0
	rewrite := len(h.rewrite) > 0 || rs.rt.phases&luaplugin.PhaseRewrite != 0
	access := len(h.access) > 0 || rs.rt.phases&luaplugin.PhaseAccess != 0
	if (set && (rewrite || access)) || (rewrite && access) {
		vm, owned, err := rs.acquire()
		if err != nil {
			return true, caddyhttp.Error(http.StatusInternalServerError, err)
		}
		defer rs.releaseVM(vm, owned)
	}
	if set {
		vm, owned, err := rs.acquire()
		if err != nil {
			return true, caddyhttp.Error(http.StatusInternalServerError, err)
		}
		err = rs.runSet(vm)
		rs.releaseVM(vm, owned)
		if err != nil || rs.rw.finished || rs.rw.wroteHeader {
			return true, err
		}
	}
	if rewrite {
		if done, err := rs.runRequestPhase(luaplugin.PhaseRewrite, h.rewrite); done || err != nil {
			return done, err
		}
	}
	if access {
		return rs.runRequestPhase(luaplugin.PhaseAccess, h.access)
	}
	return false, nil
}

// serve runs rewrite, access and content, then finishes the response.
func (rs *reqState) serve() error {
	h := rs.h
	if h.Routes {
		rs.matchRoute()
	}
	if done, err := rs.runEarlyPhases(); done || err != nil {
		return err
	}
	if rs.rt.route != nil {
		if done, err := rs.routeAction(); done || err != nil {
			return err
		}
		if c := rs.routeCluster(); c != "" && h.proxy != nil {
			return rs.proxy(h.proxy, c)
		}
	}

	if len(h.content) > 0 {
		rs.rw.luaResponse = true
		if _, err := rs.runRequestPhase(luaplugin.PhaseContent, h.content); err != nil {
			return err
		}
		return rs.rw.finish()
	}
	if h.ProxyPass != nil {
		if err := rs.proxy(h.proxy, ""); err != errNoTarget {
			return err
		}
	}

	r := rs.req.R
	if !h.wrap && rs.rt.phases&filterPhases == 0 {
		if h.stats != nil {
			rs.sw.ResponseWriter = rs.rw.ResponseWriter
			return rs.next.ServeHTTP(&rs.sw, r)
		}
		return rs.next.ServeHTTP(rs.rw.ResponseWriter, r)
	}
	err := rs.next.ServeHTTP(&rs.rw, r)
	if err != nil {
		if rs.rw.wroteHeader {
			// The response started; it can only be ended.
			h.logger.Error("handler error after the response started", zap.Error(err))
			if ferr := rs.rw.finish(); ferr != nil {
				return ferr
			}
			return nil
		}
		return rs.errorResponse(err)
	}
	return rs.rw.finish()
}

// runRequestPhase runs the plugins, then the scripts of rewrite, access
// or content. done is true when the request ended there (output,
// ngx.exit, an error).
func (rs *reqState) runRequestPhase(phase luaplugin.Phase, chunks []*luaplugin.Chunk) (done bool, err error) {
	vm, owned, err := rs.acquire()
	if err != nil {
		return true, caddyhttp.Error(http.StatusInternalServerError, err)
	}
	defer rs.releaseVM(vm, owned)
	if rs.rt.phases&phase != 0 {
		var stop bool
		if rs.runPlugins(vm, phase, func(p *app.PluginRef, res luaplugin.Result) bool {
			stop, done, err = rs.onResult(phase, res, p.Name)
			return stop
		}) {
			return done, err
		}
	}
	for _, c := range chunks {
		if stop, done, err := rs.onResult(phase, vm.Run(c, &rs.req, phase), c.Name); stop {
			return done, err
		}
	}
	if phase != luaplugin.PhaseContent && rs.rw.wroteHeader {
		// Output in rewrite/access ends the request.
		return true, rs.rw.finish()
	}
	return false, nil
}

// onResult acts on how one piece (a script or a plugin, named name) of
// rewrite, access or content ended. stop is true when the phase ends
// there; done and err are then runRequestPhase's results.
func (rs *reqState) onResult(phase luaplugin.Phase, res luaplugin.Result, name string) (stop, done bool, err error) {
	if res.Err != nil {
		rs.logLuaError(phase, res.Err)
		if rs.rw.wroteHeader {
			// The response started: cut it short, as nginx does, so
			// the client can tell it is incomplete.
			rs.rw.aborted = true
			panic(http.ErrAbortHandler)
		}
		return true, true, rs.exitResponse(http.StatusInternalServerError, res.Err)
	}
	if !res.Exited {
		return false, false, nil
	}
	code := res.Code
	switch {
	case code == luaplugin.ExitOK || code == luaplugin.ExitDeclined: // this piece only
		return false, false, nil
	case rs.rw.wroteHeader:
		return true, true, rs.rw.finish()
	case code == luaplugin.ExitHTTPClose: // close without a response
		panic(http.ErrAbortHandler)
	case code >= 200 && code < 300:
		rs.rw.status = code
		return true, true, rs.rw.finish()
	case code >= 300:
		return true, true, rs.exitResponse(code, nil)
	case code == luaplugin.ExitError:
		return true, true, rs.exitResponse(http.StatusInternalServerError, errors.New("ngx.exit(ngx.ERROR)"))
	}
	err = fmt.Errorf("%s: ngx.exit called with bad status %d", name, code)
	rs.h.logger.Error("lua error", zap.Error(err))
	return true, true, rs.exitResponse(http.StatusInternalServerError, err)
}

// acquire returns the Lua state to run on: the one this request already
// runs on (a filter triggered by Lua output), or one from the pool. owned
// tells whether the caller must give it back with releaseVM.
func (rs *reqState) acquire() (vm *luaplugin.VM, owned bool, err error) {
	if rs.held != nil {
		return rs.held, false, nil
	}
	vm, err = rs.h.pool.Acquire(&rs.req)
	if err != nil {
		return nil, false, err
	}
	rs.held = vm
	return vm, true, nil
}

func (rs *reqState) releaseVM(vm *luaplugin.VM, owned bool) {
	if owned {
		rs.held = nil
		rs.h.pool.Release(vm)
	}
}

// exitResponse answers with an error status made by Lua (ngx.exit(>=300),
// a Lua error). Error statuses go to Caddy's error handling when the
// server has handle_errors routes; otherwise (and for redirects) they are
// written through this handler, so that header_filter, body_filter and log
// see them.
func (rs *reqState) exitResponse(code int, cause error) error {
	if code >= 400 && hasErrorRoutes(rs.req.R) {
		if cause == nil {
			cause = fmt.Errorf("ngx.exit(%d)", code)
		}
		rs.rw.status = code
		return caddyhttp.Error(code, cause)
	}
	rs.rw.luaResponse = false
	rs.rw.clearForError()
	rs.rw.status = code
	return rs.rw.finish()
}

// errorResponse handles an error returned by the next handler.
func (rs *reqState) errorResponse(err error) error {
	if hasErrorRoutes(rs.req.R) {
		return err
	}
	code := http.StatusInternalServerError
	var he caddyhttp.HandlerError
	if errors.As(err, &he) && he.StatusCode != 0 {
		code = he.StatusCode
	}
	if code >= 500 {
		rs.h.logger.Error("upstream handler error", zap.Int("status", code), zap.Error(err))
	} else {
		rs.h.logger.Debug("upstream handler error", zap.Int("status", code), zap.Error(err))
	}
	rs.rw.clearForError()
	rs.rw.status = code
	return rs.rw.finish()
}

func hasErrorRoutes(r *http.Request) bool {
	srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	return ok && srv != nil && srv.Errors != nil && len(srv.Errors.Routes) > 0
}

// runLog runs the log phase after the response went out, on one of the
// pool's log workers so the response is not held up, and recycles the
// request state.
func (rs *reqState) runLog() {
	defer rs.release()
	vm, err := rs.h.pool.Acquire(&rs.req)
	if err != nil {
		rs.h.logger.Error("log phase skipped", zap.Error(err))
		return
	}
	if rs.rt.phases&luaplugin.PhaseLog != 0 {
		rs.runPlugins(vm, luaplugin.PhaseLog, func(_ *app.PluginRef, res luaplugin.Result) bool {
			if res.Err != nil {
				rs.countLuaError(luaplugin.PhaseLog)
				luaplugin.LogError(rs.errLogger(), luaplugin.PhaseLog, res.Err)
			}
			return false
		})
	}
	for _, c := range rs.h.log {
		if res := vm.Run(c, &rs.req, luaplugin.PhaseLog); res.Err != nil {
			rs.countLuaError(luaplugin.PhaseLog)
			luaplugin.LogError(rs.errLogger(), luaplugin.PhaseLog, res.Err)
		}
	}
	rs.h.pool.Release(vm)
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
