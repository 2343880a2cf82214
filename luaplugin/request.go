package luaplugin

import (
	"math/bits"
	"net/http"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
)

// Phase is an OpenResty request phase. Values are bits so that an API can
// list the phases it is allowed in as a mask.
type Phase uint16

// The phases, in request order, plus the contexts that run outside requests.
const (
	PhaseInit Phase = 1 << iota
	PhaseRewrite
	PhaseAccess
	PhaseContent
	PhaseHeaderFilter
	PhaseBodyFilter
	PhaseLog
	PhaseTimer
	// PhaseSet is set_by_lua: it runs before rewrite and returns a value
	// (listed last so the other phases keep their bits).
	PhaseSet
)

// RequestPhases are the phases of a request a handler runs scripts in, in
// request order.
var RequestPhases = [...]Phase{PhaseRewrite, PhaseAccess, PhaseContent, PhaseHeaderFilter, PhaseBodyFilter, PhaseLog}

var phaseNames = map[Phase]string{
	PhaseInit: "init", PhaseRewrite: "rewrite", PhaseAccess: "access", PhaseContent: "content",
	PhaseHeaderFilter: "header_filter", PhaseBodyFilter: "body_filter", PhaseLog: "log", PhaseTimer: "timer",
	PhaseSet: "set",
}

var contextNames = map[Phase]string{
	PhaseInit: "init_by_lua*", PhaseSet: "set_by_lua*", PhaseRewrite: "rewrite_by_lua*",
	PhaseAccess: "access_by_lua*", PhaseContent: "content_by_lua*",
	PhaseHeaderFilter: "header_filter_by_lua*", PhaseBodyFilter: "body_filter_by_lua*",
	PhaseLog: "log_by_lua*", PhaseTimer: "ngx.timer",
}

// Context is the phase's name in lua-nginx-module's error messages
// ("API disabled in the context of set_by_lua*").
func (p Phase) Context() string {
	if n, ok := contextNames[p]; ok {
		return n
	}
	return "(unknown)"
}

// Index is the phase's bit position, 0 (init) to 7 (timer).
func (p Phase) Index() int { return bits.TrailingZeros16(uint16(p)) }

// String gives the name ngx.get_phase returns (and the <phase> of the
// <phase>_by_lua directives).
func (p Phase) String() string {
	if n, ok := phaseNames[p]; ok {
		return n
	}
	return "unknown"
}

// The ngx.exit codes with a meaning of their own (ngx.OK, ngx.ERROR,
// ngx.DECLINED, ngx.HTTP_CLOSE), shared by the ngx table and the handler
// that acts on them.
const (
	ExitOK        = 0
	ExitError     = -1
	ExitAgain     = -2
	ExitDone      = -4
	ExitDeclined  = -5
	ExitHTTPClose = 444
)

// Response is what the ngx API needs from the HTTP side of a request: the
// phases package implements it around Caddy's ResponseWriter.
type Response interface {
	// Header is the response header map. Lua changes it only while
	// HeadersSent is false.
	Header() http.Header
	// HeadersSent tells whether the status line and headers went out.
	HeadersSent() bool
	// Status is the status as ngx.status reads it (0 before one is set in
	// the content phase, as in nginx).
	Status() int
	// SetStatus sets the status that will be sent.
	SetStatus(code int)
	// Print sends output produced by Lua (ngx.print, ngx.say): headers
	// first if needed (running header_filter), then the data through
	// body_filter.
	Print(p []byte) error
	// SendHeaders sends the headers now (ngx.send_headers).
	SendHeaders() error
	// FlushError flushes buffered output to the client.
	FlushError() error
	// EOF ends the response body (ngx.eof); later output is discarded.
	EOF() error
	// SetReadDeadline sets the deadline for reading the request body
	// (http.ResponseController's); the zero time clears it.
	SetReadDeadline(t time.Time) error
}

// UpstreamVars is what a Response that proxies offers (the resty
// handler's proxy_pass): nginx's $upstream_addr, $upstream_status,
// $upstream_response_time, $upstream_connect_time and
// $upstream_header_time of the request's attempts ("a, b" for two).
type UpstreamVars interface {
	UpstreamVar(name string) (string, bool)
}

// Request is the per-request state the ngx API acts on. The phases package
// creates one per request and hands it to every Lua run of that request.
type Request struct {
	// R is the HTTP request. Lua changes it in place (headers, URI, body),
	// so that the next handler (reverse_proxy...) sees the changes.
	R *http.Request
	// W is the response side; nil outside requests (timers).
	W Response
	// Logger receives ngx.log output and Lua errors.
	Logger *zap.Logger
	// Start is when the request started (ngx.req.start_time).
	Start time.Time

	// Phase is the phase running now.
	Phase Phase
	// Ctx is ngx.ctx, created on first use.
	Ctx *lua.LTable
	// PluginCtx is the ctx table of route plugins (VM.RunPlugin), shared
	// by every plugin and phase of the request; created on first use.
	PluginCtx *lua.LTable

	// ExitCode is the code given to ngx.exit (or ngx.redirect's status).
	ExitCode int

	// Arg1 and Arg2 are ngx.arg[1] and ngx.arg[2] in body_filter.
	Arg1 lua.LValue
	Arg2 bool
	// SetArgs are ngx.arg[1…n] in set_by_lua.
	SetArgs []string

	// body state for ngx.req.read_body / get_body_data.
	bodyRead bool
	body     []byte
	bodyFile string // a body over the buffer size, spooled to disk
	newBody  []byte

	// uri caches the normalised request path for ngx.var.uri.
	uri     string
	uriFrom string

	// filterUsed is the budget the request's body_filter runs used so far
	// (see filterAllowance), filterBytes the body they have seen.
	filterUsed  int64
	filterBytes int64

	// vm is the Lua state this request is bound to for its life, th its
	// thread there.
	vm *VM
	th *thread
}

// Reset clears r for reuse from a pool, removing a spooled body file. The
// Lua thread of its last request stays cached (see Pool.Finish).
func (r *Request) Reset() {
	r.dropBodyFile()
	th := r.th
	*r = Request{th: th}
}
