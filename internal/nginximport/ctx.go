package nginximport

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/caddy-resty/caddy-resty/internal/nginxconf"
)

// phases are the request phases of the resty handler, in its order.
var phases = []string{"rewrite", "access", "content", "header_filter", "body_filter", "log"}

// lua is one piece of Lua: inline code or a file.
type lua struct {
	d    *nginxconf.Directive
	code string // inline code (when file is "")
	file string // absolute path of a *_by_lua_file
}

// ctx holds what a server or location inherits, with nginx's merge
// rules: each Lua phase is inherited unless the child sets it; the lists
// (add_header, proxy_set_header, proxy_hide_header) are inherited only by
// a child that has none of its own.
type ctx struct {
	phases      map[string]*lua
	addHeader   []*nginxconf.Directive
	proxySet    []*nginxconf.Directive
	proxyHide   []*nginxconf.Directive
	proxyOpt    map[string]*nginxconf.Directive
	root        *nginxconf.Directive
	index       []string
	defaultType string

	ownAdd, ownSet, ownHide bool
}

func newCtx() *ctx {
	return &ctx{phases: map[string]*lua{}, proxyOpt: map[string]*nginxconf.Directive{}, index: []string{"index.html"}, defaultType: "text/plain"}
}

// child returns a copy for a nested block.
func (c *ctx) child() *ctx {
	n := *c
	n.phases = make(map[string]*lua, len(c.phases))
	for k, v := range c.phases {
		n.phases[k] = v
	}
	n.proxyOpt = make(map[string]*nginxconf.Directive, len(c.proxyOpt))
	for k, v := range c.proxyOpt {
		n.proxyOpt[k] = v
	}
	n.ownAdd, n.ownSet, n.ownHide = false, false, false
	return &n
}

var proxyOpts = map[string]bool{
	"proxy_connect_timeout": true, "proxy_send_timeout": true, "proxy_read_timeout": true,
	"proxy_next_upstream": true, "proxy_next_upstream_tries": true, "proxy_next_upstream_timeout": true,
	"proxy_ssl_verify": true, "proxy_ssl_trusted_certificate": true, "proxy_ssl_name": true,
	"proxy_buffer_size": true,
}

// phaseOf returns the phase and form of a Lua directive name.
func phaseOf(name string) (phase, form string, ok bool) {
	for _, f := range []string{"_by_lua_block", "_by_lua_file", "_by_lua"} {
		if strings.HasSuffix(name, f) {
			p := strings.TrimSuffix(name, f)
			for _, ph := range phases {
				if p == ph {
					return p, f, true
				}
			}
		}
	}
	return "", "", false
}

// apply records an inheritable directive in c; it reports whether d was
// one. Notes go to o at depth.
func (c *ctx) apply(t *translator, d *nginxconf.Directive, o *out, depth int) bool {
	if ph, form, ok := phaseOf(d.Name); ok {
		l := &lua{d: d}
		switch form {
		case "_by_lua_block":
			l.code = d.Lua
		case "_by_lua":
			if len(d.Args) != 1 {
				o.add(depth, t.note(d, "want one argument; not translated"))
				return true
			}
			l.code = d.Args[0]
		case "_by_lua_file":
			if len(d.Args) != 1 {
				o.add(depth, t.note(d, "want one argument; not translated"))
				return true
			}
			f := d.Args[0]
			if strings.Contains(f, "$") {
				o.add(depth, t.note(d, "a file path with variables has no equivalent; not translated"))
				return true
			}
			if !filepath.IsAbs(f) {
				f = filepath.Join(t.prefix, f)
			}
			l.file = f
		}
		c.phases[ph] = l
		return true
	}
	switch d.Name {
	case "add_header":
		if !c.ownAdd {
			c.addHeader, c.ownAdd = nil, true
		}
		c.addHeader = append(c.addHeader, d)
	case "proxy_set_header":
		if !c.ownSet {
			c.proxySet, c.ownSet = nil, true
		}
		c.proxySet = append(c.proxySet, d)
	case "proxy_hide_header":
		if !c.ownHide {
			c.proxyHide, c.ownHide = nil, true
		}
		c.proxyHide = append(c.proxyHide, d)
	case "root":
		c.root = d
	case "index":
		c.index = d.Args
	case "default_type":
		if len(d.Args) == 1 {
			c.defaultType = d.Args[0]
		}
	default:
		if proxyOpts[d.Name] {
			c.proxyOpt[d.Name] = d
			return true
		}
		return false
	}
	return true
}

// placeholderRe finds what Caddy's Caddyfile adapter would rewrite in a
// token: placeholder shorthands like {uri} and environment variables
// {$ENV}. Lua code holding one is moved to a file.
var placeholderRe = regexp.MustCompile(`\{[$A-Za-z_][A-Za-z0-9_.:$-]*\}`)

// luaDirective returns the resty handler line(s) of a phase's Lua: a
// heredoc when the code can stay in the Caddyfile unchanged, else a file
// under LuaDir.
func (t *translator) luaDirective(phase string, l *lua, depth int, prepend string) *out {
	o := &out{}
	if l.file != "" && prepend == "" {
		o.addf(depth, "%s_by_lua_file %s", phase, quote(l.file))
		return o
	}
	code := l.code
	if l.file != "" {
		o.addf(depth, "# %s: %s, with a first line added (see the comment in it)", t.pos(l.d), l.file)
		code = "-- " + l.file + " (the first line of this copy sets nginx's default_type)\n"
		if b, err := readFile(l.file); err == nil {
			code += string(b)
		} else {
			o.add(depth, t.note(l.d, "cannot read %s to add the default_type line: %v; the file is used as it is", l.file, err))
			o.addf(depth, "%s_by_lua_file %s", phase, quote(l.file))
			return o
		}
	}
	code = prepend + code
	if placeholderRe.MatchString(code) || strings.Contains(code, "[[") || strings.Contains(code, "[=") ||
		strings.Contains(code, "`") || strings.Contains(code, "\r") || l.file != "" {
		name := t.luaFileName(l.d, phase)
		t.files[name] = []byte(code)
		p := name
		if t.opts.LuaDir != "" {
			p = filepath.Join(t.opts.LuaDir, name)
		}
		o.addf(depth, "%s_by_lua_file %s", phase, quote(p))
		return o
	}
	tag := "LUA"
	for i := 1; strings.Contains(code, tag); i++ {
		tag = "LUA" + strings.Repeat("_", i)
	}
	o.addf(depth, "%s_by_lua <<%s", phase, tag)
	ind := strings.Repeat("\t", depth+1)
	for _, line := range strings.Split(strings.Trim(code, "\n"), "\n") {
		o.raw(ind + line)
	}
	o.raw(ind + tag)
	return o
}

// luaFileName names the file of a piece of Lua moved out of the
// Caddyfile: after the config file, line and phase.
func (t *translator) luaFileName(d *nginxconf.Directive, phase string) string {
	base := strings.TrimSuffix(filepath.Base(d.File), filepath.Ext(d.File))
	name := sanitizeName(base) + "-" + itoa(d.Line) + "-" + phase + ".lua"
	for i := 2; t.files[name] != nil; i++ {
		name = sanitizeName(base) + "-" + itoa(d.Line) + "-" + phase + "-" + itoa(i) + ".lua"
	}
	return name
}
