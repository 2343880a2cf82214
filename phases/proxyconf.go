package phases

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/net/http/httpguts"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/proxypass"
)

// ProxyPass configures the handler's own HTTP/1.1 proxy, nginx's
// proxy_pass: it runs in the content phase when the handler has no
// content scripts, and its response passes through header_filter,
// body_filter and log. Routes of the route table whose action is `proxy`
// use it too (with these settings, or the defaults when the handler has
// none). HTTP/2 and HTTP/3 upstreams are not supported: use Caddy's
// reverse_proxy for them.
type ProxyPass struct {
	// URL is where requests go: `http://host:port` or
	// `https://host:port`, with an optional path that replaces the
	// request's path (its query is kept unless the URL has one). Its host
	// may instead name a cluster of apps.resty.upstreams
	// (`http://backend`), whose servers are then balanced, health-checked
	// and retried. Placeholders are expanded per request
	// (`http://backend/v2{http.request.uri.path}`).
	URL string `json:"url,omitempty"`
	// Upstream names a cluster of apps.resty.upstreams; the same as a URL
	// `http://NAME`. With neither URL nor Upstream, the cluster is
	// {http.vars.resty_upstream}, which Lua (`ngx.var.resty_upstream`)
	// or a route sets.
	Upstream string `json:"upstream,omitempty"`
	// SetHeaders are request fields to set (nginx's proxy_set_header),
	// in order; an empty value removes the field. Values may hold
	// placeholders. `Host` sets the Host the upstream sees (by default
	// the client's, as reverse_proxy does).
	SetHeaders []HeaderField `json:"set_headers,omitempty"`
	// HideHeaders are response fields not passed to the client
	// (proxy_hide_header).
	HideHeaders []string `json:"hide_headers,omitempty"`
	// ConnectTimeout bounds connecting (and the TLS handshake) to a
	// server (proxy_connect_timeout). Default: 60s.
	ConnectTimeout caddy.Duration `json:"connect_timeout,omitempty"`
	// SendTimeout bounds the time between two successive writes of the
	// request to the server (proxy_send_timeout). Default: 60s.
	SendTimeout caddy.Duration `json:"send_timeout,omitempty"`
	// ReadTimeout bounds the time between two successive reads from the
	// server, waiting for the response head included
	// (proxy_read_timeout). Default: 60s.
	ReadTimeout caddy.Duration `json:"read_timeout,omitempty"`
	// NextUpstream lists when a request is passed to the next server of
	// its cluster (proxy_next_upstream): `error`, `timeout`,
	// `invalid_header`, `http_500`, `http_502`, `http_503`, `http_504`,
	// `http_403`, `http_404`, `http_429`, `non_idempotent`, or `off`.
	// Default: error timeout. A request whose body was sent (even in
	// part) is never passed on, nor is a non-idempotent one (POST, PATCH,
	// LOCK) that reached a server, unless non_idempotent is listed.
	NextUpstream []string `json:"next_upstream,omitempty"`
	// NextUpstreamTries caps the attempts of a request
	// (proxy_next_upstream_tries); 0 means one per server of the cluster.
	NextUpstreamTries int `json:"next_upstream_tries,omitempty"`
	// NextUpstreamTimeout caps the time a request may spend on retries
	// (proxy_next_upstream_timeout); 0 means no limit.
	NextUpstreamTimeout caddy.Duration `json:"next_upstream_timeout,omitempty"`
	// TLS configures connections to https:// upstreams.
	TLS *ProxyTLS `json:"tls,omitempty"`
	// MaxHeaderSize is the largest response head (status line and
	// fields) accepted, in bytes; a larger one is a 502 (nginx's
	// proxy_buffer_size plays this part). Default: 64 KiB.
	MaxHeaderSize int `json:"max_header_size,omitempty"`
	// Keepalive is the number of idle connections kept per server; -1
	// keeps none. Default: 32.
	Keepalive int `json:"keepalive,omitempty"`
	// KeepaliveTimeout is how long an idle connection is kept. Default:
	// 4s, shorter than the 5s most servers (Node, Apache) keep theirs,
	// so that the proxy does not reuse a connection the server is
	// closing.
	KeepaliveTimeout caddy.Duration `json:"keepalive_timeout,omitempty"`
}

// HeaderField is one request field to set.
type HeaderField struct {
	// Name is the field name.
	Name string `json:"name"`
	// Value is the value (placeholders allowed); empty removes the field.
	Value string `json:"value,omitempty"`
}

// ProxyTLS configures TLS to https:// upstreams.
type ProxyTLS struct {
	// InsecureSkipVerify turns certificate verification off
	// (`proxy_ssl_verify off`).
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
	// CAFile is a PEM file of the certificate authorities trusted for
	// upstream certificates (proxy_ssl_trusted_certificate), instead of
	// the system's.
	CAFile string `json:"ca_file,omitempty"`
	// ServerName is the name sent as SNI and verified (proxy_ssl_name);
	// default: the URL's host, or the server's address for a cluster.
	ServerName string `json:"server_name,omitempty"`
}

// nextUpstream is the parsed form of NextUpstream: a bit per case.
type nextUpstream uint16

const (
	nuError nextUpstream = 1 << iota
	nuTimeout
	nuInvalidHeader
	nuHTTP500
	nuHTTP502
	nuHTTP503
	nuHTTP504
	nuHTTP403
	nuHTTP404
	nuHTTP429
	nuNonIdempotent
)

var nextUpstreamNames = map[string]nextUpstream{
	"error": nuError, "timeout": nuTimeout, "invalid_header": nuInvalidHeader,
	"http_500": nuHTTP500, "http_502": nuHTTP502, "http_503": nuHTTP503, "http_504": nuHTTP504,
	"http_403": nuHTTP403, "http_404": nuHTTP404, "http_429": nuHTTP429,
	"non_idempotent": nuNonIdempotent,
}

// statusCase returns the case of an upstream status, or 0.
func statusCase(code int) nextUpstream {
	switch code {
	case 500:
		return nuHTTP500
	case 502:
		return nuHTTP502
	case 503:
		return nuHTTP503
	case 504:
		return nuHTTP504
	case 403:
		return nuHTTP403
	case 404:
		return nuHTTP404
	case 429:
		return nuHTTP429
	}
	return 0
}

// proxier is the provisioned form of a ProxyPass.
type proxier struct {
	tr  *proxypass.Transport
	reg *dynupstream.Registry

	// scheme is the URL's ("http" or "https").
	tls bool
	// url is the URL with placeholders, when it has some; the parsed
	// parts below are then per request.
	urlTemplate string
	// cluster is the cluster named by the URL or Upstream (no
	// placeholders); addr the host:port of a URL naming no cluster.
	cluster, addr string
	// serverName is the TLS name of a static address.
	serverName string
	// path replaces the request's path when set; query, when hasQuery,
	// replaces the request's query. pathRepl says path has placeholders:
	// it then holds the query too, split once expanded.
	path, query       string
	hasPath, hasQuery bool
	pathRepl          bool

	set      []setField
	setHost  *setField
	hide     []string
	next     nextUpstream
	tries    int
	tryLimit time.Duration
	tlsName  string
}

// setField is one proxy_set_header.
type setField struct {
	name  string // canonical
	value string
	repl  bool // value has placeholders
}

// xfNames are the fields the proxy sets itself unless proxy_set_header
// does.
var xfNames = [3]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

// newProxier validates and provisions a ProxyPass; p may be nil (the
// defaults, for route actions).
func newProxier(p *ProxyPass, reg *dynupstream.Registry) (*proxier, error) {
	if p == nil {
		p = new(ProxyPass)
	}
	px := &proxier{reg: reg, next: nuError | nuTimeout, tries: p.NextUpstreamTries,
		tryLimit: time.Duration(p.NextUpstreamTimeout)}
	if p.URL != "" && p.Upstream != "" {
		return nil, errors.New("proxy_pass: url and upstream are mutually exclusive")
	}
	if p.Upstream != "" {
		if !dynupstream.ValidName(p.Upstream) {
			return nil, fmt.Errorf("proxy_pass: upstream: invalid cluster name %q", p.Upstream)
		}
		px.cluster = p.Upstream
	}
	if p.URL != "" {
		if err := px.parseURL(p.URL); err != nil {
			return nil, err
		}
	}
	for i, h := range p.SetHeaders {
		if h.Name == "" || !httpguts.ValidHeaderFieldName(h.Name) {
			return nil, fmt.Errorf("proxy_pass: set_headers[%d]: invalid field name %q", i, h.Name)
		}
		if strings.ContainsAny(h.Value, "\r\n\x00") {
			return nil, fmt.Errorf("proxy_pass: set_headers[%d]: the value of %s has a CR, LF or NUL", i, h.Name)
		}
		f := setField{name: textproto.CanonicalMIMEHeaderKey(h.Name), value: h.Value, repl: strings.Contains(h.Value, "{")}
		if f.name == "Host" {
			px.setHost = &f
			continue
		}
		px.set = append(px.set, f)
	}
	for i, h := range p.HideHeaders {
		if !httpguts.ValidHeaderFieldName(h) {
			return nil, fmt.Errorf("proxy_pass: hide_headers[%d]: invalid field name %q", i, h)
		}
		px.hide = append(px.hide, textproto.CanonicalMIMEHeaderKey(h))
	}
	if len(p.NextUpstream) > 0 {
		px.next = 0
		for i, n := range p.NextUpstream {
			if n == "off" {
				if len(p.NextUpstream) > 1 {
					return nil, fmt.Errorf("proxy_pass: next_upstream[%d]: off goes alone", i)
				}
				break
			}
			c, ok := nextUpstreamNames[n]
			if !ok {
				return nil, fmt.Errorf("proxy_pass: next_upstream[%d]: unknown case %q (error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent, off)", i, n)
			}
			px.next |= c
		}
	}
	if p.NextUpstreamTries < 0 {
		return nil, errors.New("proxy_pass: next_upstream_tries: must not be negative")
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"connect_timeout", p.ConnectTimeout}, {"send_timeout", p.SendTimeout}, {"read_timeout", p.ReadTimeout},
		{"next_upstream_timeout", p.NextUpstreamTimeout}, {"keepalive_timeout", p.KeepaliveTimeout}} {
		if d.v < 0 {
			return nil, fmt.Errorf("proxy_pass: %s: must not be negative", d.name)
		}
	}
	if p.MaxHeaderSize < 0 {
		return nil, errors.New("proxy_pass: max_header_size: must not be negative")
	}
	opts := proxypass.Options{
		ConnectTimeout:   time.Duration(p.ConnectTimeout),
		SendTimeout:      time.Duration(p.SendTimeout),
		ReadTimeout:      time.Duration(p.ReadTimeout),
		MaxIdlePerTarget: p.Keepalive,
		IdleTimeout:      time.Duration(p.KeepaliveTimeout),
		MaxHeaderBytes:   p.MaxHeaderSize,
	}
	if t := p.TLS; t != nil {
		cfg := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the user's choice (proxy_ssl_verify off)
		if t.CAFile != "" {
			pem, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("proxy_pass: tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("proxy_pass: tls.ca_file: no PEM certificate in %s", t.CAFile)
			}
			cfg.RootCAs = pool
		}
		opts.TLS = cfg
		px.tlsName = t.ServerName
	}
	px.tr = proxypass.New(opts)
	if px.cluster != "" && reg != nil {
		reg.AddReferrer(px.cluster, "proxy_pass "+px.cluster)
	}
	return px, nil
}

// parseURL reads the URL of a ProxyPass.
func (px *proxier) parseURL(raw string) error {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch {
	case !ok:
		return fmt.Errorf("proxy_pass: url %q: want http://HOST[:PORT][/PATH] or https://…", raw)
	case scheme == "https":
		px.tls = true
	case scheme != "http":
		return fmt.Errorf("proxy_pass: url %q: scheme %q is not supported (http, https; use reverse_proxy for h2c or HTTP/3)", raw, scheme)
	}
	host, path, hasPath := strings.Cut(rest, "/")
	if strings.Contains(host, "{") {
		// The host is known per request.
		px.urlTemplate = raw
		return nil
	}
	if hasPath {
		path = "/" + path
		px.hasPath = true
		if strings.Contains(path, "{") {
			// Split after expansion: {uri} brings its own query.
			px.path, px.pathRepl = path, true
		} else {
			px.path, px.query, px.hasQuery = strings.Cut(path, "?")
		}
	}
	if host == "" {
		return fmt.Errorf("proxy_pass: url %q: no host", raw)
	}
	if dynupstream.ValidName(host) && !strings.Contains(host, ":") && !looksLikeHost(host) {
		px.cluster = host
		return nil
	}
	addr, name, err := hostPort(host, px.tls)
	if err != nil {
		return fmt.Errorf("proxy_pass: url %q: %w", raw, err)
	}
	px.addr, px.serverName = addr, name
	return nil
}

// looksLikeHost tells a host name or IP from a cluster name: an IP, or a
// name with a dot (`backend.internal`), is a host; `localhost` too.
func looksLikeHost(s string) bool {
	return strings.Contains(s, ".") || s == "localhost" || strings.HasPrefix(s, "[")
}

// hostPort returns the dial address of a URL host (default port 80 or
// 443) and the name to verify over TLS (empty for an IP).
func hostPort(host string, tlsOn bool) (addr, name string, err error) {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = strings.Trim(host, "[]"), "80"
		if tlsOn {
			port = "443"
		}
	}
	if h == "" {
		return "", "", errors.New("no host")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("invalid port %q", port)
	}
	if net.ParseIP(h) == nil {
		name = h
	}
	return net.JoinHostPort(h, port), name, nil
}

// unmarshalProxy reads one proxy_* option of the resty directive into
// h.ProxyPass; it reports false when opt is not one.
func (h *Handler) unmarshalProxy(d *caddyfile.Dispenser, opt string) (bool, error) {
	if !strings.HasPrefix(opt, "proxy_") {
		return false, nil
	}
	if h.ProxyPass == nil {
		h.ProxyPass = new(ProxyPass)
	}
	p := h.ProxyPass
	args := d.RemainingArgs()
	one := func() (string, error) {
		if len(args) != 1 {
			return "", d.Errf("%s: want one argument", opt)
		}
		return args[0], nil
	}
	dur := func(dst *caddy.Duration) error {
		v, err := one()
		if err != nil {
			return err
		}
		t, err := caddy.ParseDuration(v)
		if err != nil || t < 0 {
			return d.Errf("%s: invalid duration %q", opt, v)
		}
		*dst = caddy.Duration(t)
		return nil
	}
	tlsCfg := func() *ProxyTLS {
		if p.TLS == nil {
			p.TLS = new(ProxyTLS)
		}
		return p.TLS
	}
	switch opt {
	case "proxy_pass":
		if len(args) > 1 {
			return true, d.Errf("proxy_pass: want at most one argument (a URL or a cluster name)")
		}
		if len(args) == 1 {
			if strings.Contains(args[0], "://") {
				p.URL = args[0]
			} else {
				p.Upstream = args[0]
			}
		}
	case "proxy_set_header":
		if len(args) != 2 {
			return true, d.Errf("proxy_set_header: want a name and a value (\"\" removes the field)")
		}
		p.SetHeaders = append(p.SetHeaders, HeaderField{Name: args[0], Value: args[1]})
	case "proxy_hide_header":
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		p.HideHeaders = append(p.HideHeaders, args...)
	case "proxy_connect_timeout":
		return true, dur(&p.ConnectTimeout)
	case "proxy_send_timeout":
		return true, dur(&p.SendTimeout)
	case "proxy_read_timeout":
		return true, dur(&p.ReadTimeout)
	case "proxy_next_upstream_timeout":
		return true, dur(&p.NextUpstreamTimeout)
	case "proxy_keepalive_timeout":
		return true, dur(&p.KeepaliveTimeout)
	case "proxy_next_upstream":
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		p.NextUpstream = append(p.NextUpstream, args...)
	case "proxy_next_upstream_tries", "proxy_keepalive":
		v, err := one()
		if err != nil {
			return true, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 && opt == "proxy_next_upstream_tries" {
			return true, d.Errf("%s: invalid number %q", opt, v)
		}
		if opt == "proxy_keepalive" {
			if n == 0 {
				n = -1 // `proxy_keepalive 0`: no idle connections
			}
			p.Keepalive = n
		} else {
			p.NextUpstreamTries = n
		}
	case "proxy_buffer_size":
		v, err := one()
		if err != nil {
			return true, err
		}
		n, err := app.ParseSize(v)
		if err != nil || n <= 0 || n > 1<<30 {
			return true, d.Errf("proxy_buffer_size: invalid size %q", v)
		}
		p.MaxHeaderSize = int(n)
	case "proxy_ssl_verify":
		v, err := one()
		if err != nil {
			return true, err
		}
		if v != "on" && v != "off" {
			return true, d.Errf("proxy_ssl_verify: want on or off")
		}
		tlsCfg().InsecureSkipVerify = v == "off"
	case "proxy_ssl_trusted_certificate":
		v, err := one()
		if err != nil {
			return true, err
		}
		tlsCfg().CAFile = v
	case "proxy_ssl_name":
		v, err := one()
		if err != nil {
			return true, err
		}
		tlsCfg().ServerName = v
	default:
		return true, d.Errf("unrecognized resty directive %q (proxy options: proxy_pass, proxy_set_header, proxy_hide_header, proxy_connect_timeout, proxy_send_timeout, proxy_read_timeout, proxy_next_upstream, proxy_next_upstream_tries, proxy_next_upstream_timeout, proxy_ssl_verify, proxy_ssl_trusted_certificate, proxy_ssl_name, proxy_buffer_size, proxy_keepalive, proxy_keepalive_timeout)", opt)
	}
	return true, nil
}
