package luaplugin

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	lua "github.com/yuin/gopher-lua"
)

// newVarTable builds ngx.var: reads compute nginx variables from the
// request; writes of unknown names set Caddy vars ({http.vars.NAME}).
func (vm *VM) newVarTable() *lua.LTable {
	return vm.newProxyTable(vm.varIndex, vm.varNewIndex)
}

func (vm *VM) varIndex(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	name, ok := L.Get(2).(lua.LString)
	if !ok {
		raiseError(L, "bad variable name")
	}
	if v, ok := Variable(req, string(name)); ok {
		L.Push(lua.LString(v))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

func (vm *VM) varNewIndex(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	lname, ok := L.Get(2).(lua.LString)
	if !ok {
		raiseError(L, "bad variable name")
	}
	name := string(lname)
	lower := strings.ToLower(name)
	val := L.Get(3)
	// lua-resty-core sets tostring(value); nil clears.
	s := ToString(val)
	r := req.R
	switch lower {
	case "args":
		if val == lua.LNil {
			s = ""
		}
		r.URL.RawQuery = s
		r.URL.ForceQuery = false
		return 0
	case "uri", "request_uri", "host", "scheme", "request_method", "remote_addr",
		"remote_port", "server_addr", "server_port", "server_name", "status",
		"request_time", "binary_remote_addr", "document_uri", "is_args",
		"content_type", "content_length", "server_protocol", "https", "query_string",
		"request_body", "request_length", "request_id", "msec", "time_local",
		"time_iso8601", "pid", "hostname", "realip_remote_addr", "http_host":
		raiseError(L, "variable \"%s\" not changeable", lower)
	}
	if strings.HasPrefix(lower, "http_") || strings.HasPrefix(lower, "arg_") ||
		strings.HasPrefix(lower, "cookie_") || strings.HasPrefix(lower, "sent_http_") ||
		strings.HasPrefix(lower, "upstream_") {
		raiseError(L, "variable \"%s\" not changeable", lower)
	}
	if val == lua.LNil {
		caddyhttp.SetVar(r.Context(), name, nil)
		return 0
	}
	caddyhttp.SetVar(r.Context(), name, s)
	return 0
}

// Variable returns the value of nginx variable name for req, as ngx.var
// reads it. Names nginx does not know fall back to Caddy vars (so that a
// value set with ngx.var.NAME reads back) and, when they contain a dot, to
// Caddy placeholders ("http.request.host").
func Variable(req *Request, name string) (string, bool) {
	r := req.R
	orig := name
	if hasUpper(name) {
		// nginx's variable names are case-insensitive.
		name = strings.ToLower(name)
	}
	switch name {
	case "uri", "document_uri":
		return req.URI(), true
	case "args", "query_string":
		if r.URL.RawQuery == "" && !r.URL.ForceQuery {
			return "", false
		}
		return r.URL.RawQuery, true
	case "is_args":
		if r.URL.RawQuery != "" {
			return "?", true
		}
		return "", true
	case "request_uri":
		if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.RequestURI != "" {
			return or.RequestURI, true
		}
		return r.RequestURI, true
	case "request_method":
		return r.Method, true
	case "scheme":
		if r.TLS != nil {
			return "https", true
		}
		return "http", true
	case "https":
		if r.TLS != nil {
			return "on", true
		}
		return "", true
	case "host":
		return requestHost(r), true
	case "http_host":
		return r.Host, r.Host != ""
	case "server_name":
		return requestHost(r), true
	case "remote_addr":
		host, _ := splitHostPort(r.RemoteAddr)
		return host, true
	case "remote_port":
		_, port := splitHostPort(r.RemoteAddr)
		return port, true
	case "binary_remote_addr":
		host, _ := splitHostPort(r.RemoteAddr)
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return "", false
		}
		ip = ip.Unmap()
		b := ip.AsSlice()
		return string(b), true
	case "realip_remote_addr":
		host, _ := splitHostPort(r.RemoteAddr)
		return host, true
	case "server_addr", "server_port":
		addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if addr == nil {
			return "", false
		}
		host, port := splitHostPort(addr.String())
		if name == "server_addr" {
			return host, true
		}
		return port, true
	case "server_protocol":
		return r.Proto, true
	case "content_type":
		v := r.Header.Get("Content-Type")
		return v, v != ""
	case "content_length":
		v := r.Header.Get("Content-Length")
		if v == "" && r.ContentLength > 0 {
			v = strconv.FormatInt(r.ContentLength, 10)
		}
		return v, v != ""
	case "request_time":
		d := time.Since(req.Start)
		return strconv.FormatFloat(float64(d.Milliseconds())/1000, 'f', 3, 64), true
	case "msec":
		return strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64), true
	case "time_local":
		return time.Now().Format("02/Jan/2006:15:04:05 -0700"), true
	case "time_iso8601":
		return time.Now().Format("2006-01-02T15:04:05-07:00"), true
	case "pid":
		return strconv.Itoa(os.Getpid()), true
	case "hostname":
		h, _ := os.Hostname()
		return h, true
	case "status":
		if req.W == nil {
			return "000", true
		}
		return fmt.Sprintf("%03d", req.W.Status()), true
	case "request_body":
		if req.bodyRead && req.bodyFile == "" && len(req.body) > 0 {
			return string(req.body), true
		}
		return "", false
	case "request_length":
		return strconv.FormatInt(r.ContentLength, 10), true
	case "request_id":
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			if v, ok := repl.GetString("http.request.uuid"); ok {
				return strings.ReplaceAll(v, "-", ""), true
			}
		}
		return "", false
	case "upstream_addr", "upstream_status", "upstream_response_time", "upstream_connect_time", "upstream_header_time":
		if u, ok := req.W.(UpstreamVars); ok {
			if v, ok := u.UpstreamVar(name); ok {
				return v, true
			}
		}
	}
	switch name {
	case "upstream_addr":
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			if v, ok := repl.GetString("http.reverse_proxy.upstream.hostport"); ok {
				return v, true
			}
		}
		return "", false
	case "upstream_status":
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			if v, ok := repl.GetString("http.reverse_proxy.status_code"); ok {
				return v, true
			}
		}
		return "", false
	}
	switch {
	case strings.HasPrefix(name, "http_"):
		return headerVar(r, name[5:])
	case strings.HasPrefix(name, "arg_"):
		return argVar(r.URL.RawQuery, name[4:])
	case strings.HasPrefix(name, "cookie_"):
		return cookieVar(r, name[7:])
	case strings.HasPrefix(name, "sent_http_"):
		if req.W == nil {
			return "", false
		}
		vals := req.W.Header().Values(headerKey(name[10:]))
		if len(vals) == 0 {
			return "", false
		}
		return strings.Join(vals, ", "), true
	}
	if v := caddyhttp.GetVar(r.Context(), orig); v != nil {
		return fmt.Sprint(v), true
	}
	if orig != name {
		if v := caddyhttp.GetVar(r.Context(), name); v != nil {
			return fmt.Sprint(v), true
		}
	}
	if strings.IndexByte(orig, '.') > 0 {
		if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
			if v, ok := repl.GetString(orig); ok {
				return v, true
			}
		}
	}
	return "", false
}

// URI returns the decoded, normalised request path (nginx's $uri).
func (req *Request) URI() string {
	if req.uri == "" || req.uriFrom != req.R.URL.Path {
		req.uriFrom = req.R.URL.Path
		req.uri = normalizePath(req.R.URL.Path)
	}
	return req.uri
}

// normalizePath resolves "." and ".." segments as nginx does for $uri,
// keeping a trailing slash.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if !strings.Contains(p, "/.") {
		return p
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	res := strings.Join(out, "/")
	if !strings.HasPrefix(res, "/") {
		res = "/" + res
	}
	return res
}

func requestHost(r *http.Request) string {
	h := r.Host
	if h == "" && r.URL != nil {
		h = r.URL.Host
	}
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	} else {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	}
	return strings.ToLower(h)
}

func splitHostPort(addr string) (string, string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, ""
	}
	return host, port
}

// headerVar reads $http_NAME: the header's values joined with ", " (as
// nginx 1.23+ does; Cookie with "; ").
func headerVar(r *http.Request, name string) (string, bool) {
	if strings.EqualFold(name, "host") {
		return r.Host, r.Host != ""
	}
	vals := lookupHeader(r.Header, name)
	switch len(vals) {
	case 0:
		return "", false
	case 1:
		return vals[0], true
	}
	sep := ", "
	if strings.EqualFold(name, "cookie") {
		sep = "; "
	}
	return strings.Join(vals, sep), true
}

// argVar reads $arg_NAME: the raw (still escaped) value of the first
// query argument with that name, compared case-insensitively.
func argVar(query, name string) (string, bool) {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// cookieVar reads $cookie_NAME.
func cookieVar(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				return v, true
			}
		}
	}
	return "", false
}

// hasUpper reports whether s has an ASCII upper-case letter.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
