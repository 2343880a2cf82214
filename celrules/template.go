package celrules

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// Template is a string of an action (a proxy URI, a redirect location, a
// response body or header) with placeholders, parsed once when the route
// is loaded and expanded per request.
//
// A placeholder is `{name}`:
//
//   - `{path.NAME}` is the path segment the route's pattern captured as
//     NAME (`/user/{id}` captures `id`), and `{path.*}` the remainder after
//     a prefix pattern (`/api/*`). Caddy's adapter may have rewritten them
//     to `{http.request.uri.path.NAME}`, which means the same. A
//     `{path.N}` (N a number) that names no capture is Caddy's N-th path
//     segment.
//   - Caddy's Caddyfile shorthands (`{uri}`, `{host}`, `{path}`,
//     `{query}`, `{method}`, `{scheme}`, `{remote_host}`, `{header.NAME}`,
//     `{query.NAME}`, `{cookie.NAME}`, `{vars.NAME}`, ...) mean what they
//     mean in a Caddyfile.
//   - Any other name is a Caddy placeholder (`{http.request.uri}`,
//     `{http.vars.tenant}`, `{env.HOME}`); an unknown one is left as is.
//
// `\{` and `\}` are literal braces, as in Caddy.
type Template struct {
	src   string
	parts []tplPart
}

type tplPart struct {
	lit     string
	capture string // capture name, for {path.NAME}
	ph      string // Caddy placeholder name (without braces)
	isPh    bool
}

// ParseTemplate parses s. It fails on an unclosed or empty placeholder.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '}') {
			lit.WriteByte(s[i+1])
			i++
			continue
		}
		if c != '{' {
			lit.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: unclosed placeholder at offset %d", s, i)
		}
		name := s[i+1 : i+1+end]
		if name == "" || strings.ContainsAny(name, "{ \t\n") {
			// Not a placeholder (`{}`, JSON in a body): literal.
			lit.WriteByte(c)
			continue
		}
		flush()
		t.parts = append(t.parts, placeholderPart(name))
		i += end + 1
	}
	flush()
	return t, nil
}

// shorthands are Caddy's Caddyfile placeholder shorthands
// (caddyconfig/httpcaddyfile), which Caddy's adapter expands in server
// blocks but which may reach an action's template unexpanded.
var shorthands = map[string]string{
	"dir":                    "http.request.uri.path.dir",
	"file":                   "http.request.uri.path.file",
	"host":                   "http.request.host",
	"hostport":               "http.request.hostport",
	"port":                   "http.request.port",
	"method":                 "http.request.method",
	"path":                   "http.request.uri.path",
	"query":                  "http.request.uri.query",
	"remote":                 "http.request.remote",
	"remote_host":            "http.request.remote.host",
	"remote_port":            "http.request.remote.port",
	"scheme":                 "http.request.scheme",
	"uri":                    "http.request.uri",
	"uuid":                   "http.request.uuid",
	"client_ip":              "http.vars.client_ip",
	"upstream_hostport":      "http.reverse_proxy.upstream.hostport",
	"tls_cipher":             "http.request.tls.cipher_suite",
	"tls_version":            "http.request.tls.version",
	"tls_client_fingerprint": "http.request.tls.client.fingerprint",
	"tls_client_issuer":      "http.request.tls.client.issuer",
	"tls_client_serial":      "http.request.tls.client.serial",
	"tls_client_subject":     "http.request.tls.client.subject",
}

// shorthandPrefixes are Caddy's prefixed shorthands.
var shorthandPrefixes = [][2]string{
	{"header.", "http.request.header."},
	{"cookie.", "http.request.cookie."},
	{"query.", "http.request.uri.query."},
	{"labels.", "http.request.host.labels."},
	{"vars.", "http.vars."},
	{"re.", "http.regexp."},
}

func placeholderPart(name string) tplPart {
	if rest, ok := strings.CutPrefix(name, "path."); ok {
		return tplPart{capture: rest, ph: "http.request.uri.path." + rest, isPh: true}
	}
	if rest, ok := strings.CutPrefix(name, "http.request.uri.path."); ok {
		return tplPart{capture: rest, ph: name, isPh: true}
	}
	if full, ok := shorthands[name]; ok {
		return tplPart{ph: full, isPh: true}
	}
	for _, p := range shorthandPrefixes {
		if rest, ok := strings.CutPrefix(name, p[0]); ok {
			return tplPart{ph: p[1] + rest, isPh: true}
		}
	}
	return tplPart{ph: name, isPh: true}
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Expand returns the template with its placeholders replaced: captures from
// caps, the others from repl (which may be nil: they are left as is).
func (t *Template) Expand(caps []Capture, repl *caddy.Replacer) string {
	switch {
	case len(t.parts) == 0:
		return ""
	case len(t.parts) == 1 && !t.parts[0].isPh:
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if !p.isPh {
			b.WriteString(p.lit)
			continue
		}
		if p.capture != "" {
			if v, ok := findCapture(caps, p.capture); ok {
				b.WriteString(v)
				continue
			}
		}
		if repl != nil {
			if v, ok := repl.Get(p.ph); ok {
				b.WriteString(caddy.ToString(v))
				continue
			}
		}
		b.WriteByte('{')
		b.WriteString(p.ph)
		b.WriteByte('}')
	}
	return b.String()
}

func findCapture(caps []Capture, name string) (string, bool) {
	for _, c := range caps {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}
