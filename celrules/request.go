package celrules

import (
	"net"
	"net/http"
	"strings"
)

// Request is what the table matches. Method, Host and Path are read for every
// match; the other methods are called only when a condition reads the
// corresponding CEL variable, at most once per evaluation, so an
// implementation may build their values on demand.
type Request interface {
	// Method is the request method (`GET`).
	Method() string
	// Host is the request host, lower case, without the port.
	Host() string
	// Path is the request path (`/a/b`), as matched by Match.Paths.
	Path() string

	// Scheme is `http` or `https` (`req.scheme`).
	Scheme() string
	// URI is the request URI, path and query (`req.uri`).
	URI() string
	// Query is the parsed query string (`req.query`).
	Query() map[string][]string
	// Headers are the request headers with lower-case names, repeated
	// values joined with ", " (`req.headers`).
	Headers() map[string]string
	// Cookies are the request cookies by name (`req.cookies`).
	Cookies() map[string]string
	// RemoteIP is the client address without the port (`req.remote_ip`).
	RemoteIP() string
	// Vars are the request's Caddy vars (`vars`).
	Vars() map[string]any
}

// LuaEvaluator is implemented by a Request whose caller can evaluate Lua
// conditions (Route.Lua). When the Request does not implement it, a route
// with a Lua condition never matches and the match reports an error.
type LuaEvaluator interface {
	// EvalLua evaluates r.Lua for the request. data is the route's
	// prepared value (Options.Prepare), nil without Prepare. An error
	// counts as no match and is reported in Result.Errors.
	EvalLua(r *Route, data any) (bool, error)
}

// HTTPRequest adapts an *http.Request to Request. Values are computed when
// first asked for and kept, so reuse an HTTPRequest for one request only
// (Reset it to reuse the memory).
type HTTPRequest struct {
	R *http.Request
	// VarsMap is returned by Vars (Caddy's vars, for `vars`).
	VarsMap map[string]any

	host     string
	hostDone bool
	headers  map[string]string
	cookies  map[string]string
	remoteIP string
	ipDone   bool
}

// NewHTTPRequest returns a Request for r with the given Caddy vars.
func NewHTTPRequest(r *http.Request, vars map[string]any) *HTTPRequest {
	return &HTTPRequest{R: r, VarsMap: vars}
}

// Reset makes h describe r, dropping what was computed for the previous one.
func (h *HTTPRequest) Reset(r *http.Request, vars map[string]any) {
	*h = HTTPRequest{R: r, VarsMap: vars}
}

// Method implements Request.
func (h *HTTPRequest) Method() string { return h.R.Method }

// Host implements Request: r.Host, without the port, lower case.
func (h *HTTPRequest) Host() string {
	if !h.hostDone {
		h.host = NormalizeHost(h.R.Host)
		h.hostDone = true
	}
	return h.host
}

// Path implements Request: r.URL.Path.
func (h *HTTPRequest) Path() string { return h.R.URL.Path }

// Scheme implements Request.
func (h *HTTPRequest) Scheme() string {
	if h.R.TLS != nil {
		return "https"
	}
	return "http"
}

// URI implements Request: the path and query of r.URL, as Caddy's
// `{http.request.uri}`.
func (h *HTTPRequest) URI() string { return h.R.URL.RequestURI() }

// Query implements Request.
func (h *HTTPRequest) Query() map[string][]string { return h.R.URL.Query() }

// Headers implements Request.
func (h *HTTPRequest) Headers() map[string]string {
	if h.headers == nil {
		h.headers = make(map[string]string, len(h.R.Header)+1)
		for k, v := range h.R.Header {
			h.headers[strings.ToLower(k)] = strings.Join(v, ", ")
		}
		if _, ok := h.headers["host"]; !ok && h.R.Host != "" {
			h.headers["host"] = h.R.Host
		}
	}
	return h.headers
}

// Cookies implements Request. Of repeated cookies, the first wins.
func (h *HTTPRequest) Cookies() map[string]string {
	if h.cookies == nil {
		cs := h.R.Cookies()
		h.cookies = make(map[string]string, len(cs))
		for _, c := range cs {
			if _, ok := h.cookies[c.Name]; !ok {
				h.cookies[c.Name] = c.Value
			}
		}
	}
	return h.cookies
}

// RemoteIP implements Request: r.RemoteAddr without the port.
func (h *HTTPRequest) RemoteIP() string {
	if !h.ipDone {
		h.remoteIP = h.R.RemoteAddr
		if ip, _, err := net.SplitHostPort(h.remoteIP); err == nil {
			h.remoteIP = ip
		}
		h.ipDone = true
	}
	return h.remoteIP
}

// Vars implements Request.
func (h *HTTPRequest) Vars() map[string]any { return h.VarsMap }

// NormalizeHost returns host without its port (and without the brackets
// of an IPv6 literal), lower case, without a trailing dot. It allocates
// only when host has upper-case letters.
func NormalizeHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if strings.HasPrefix(host, "[") {
			if j := strings.IndexByte(host, ']'); j > 0 {
				host = host[1:j]
			}
		} else if strings.IndexByte(host, ':') == i { // one colon: host:port
			host = host[:i]
		}
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
