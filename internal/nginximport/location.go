package nginximport

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/caddy-resty/caddy-resty/internal/nginxconf"
)

// addHeaderCodes are the statuses nginx's add_header applies to without
// `always`.
const addHeaderCodes = "200 201 204 206 301 302 303 304 307 308"

// location translates one location (it.d nil: the server's own settings,
// for requests no location matches) into the body of its route: headers
// (add_header), the rewrite module's directives, the resty handler
// (set_by_lua, the Lua phases, proxy_pass), then static files when
// nothing else answers, as nginx's static module does.
func (t *translator) location(it *locItem, c *ctx, sc *scope, depth, round, copies int, chainName func(int) string) *out {
	o := &out{}
	var rw, sets []*nginxconf.Directive
	var proxyPass, tryFiles, alias *nginxconf.Directive
	var block []*nginxconf.Directive
	id := "s_fallback"
	if it.d != nil {
		block = it.d.Block
		id = it.name
	}
	hasBreak := false
	var internal *nginxconf.Directive
	for _, d := range block {
		switch d.Name {
		case "location":
		case "internal":
			internal = d
		case "set", "rewrite", "return", "break", "if":
			rw = append(rw, d)
			if d.Name == "rewrite" && len(d.Args) == 3 && d.Args[2] == "break" || d.Name == "break" {
				hasBreak = true
			}
		case "set_by_lua", "set_by_lua_block", "set_by_lua_file":
			rw = append(rw, d)
			sets = append(sets, d)
		case "proxy_pass":
			proxyPass = d
		case "try_files":
			tryFiles = d
		case "alias":
			alias = d
		case "dyups_interface":
			o.add(depth, t.note(d, "the dyups API is served by Caddy's admin listener at /resty/upstreams (GET, POST with dyups' body format, DELETE); no dyups server is needed, so this location is not translated"))
			o.add(depth, "respond 404")
			return o
		default:
			if c.apply(t, d, o, depth) {
				continue
			}
			if why, ok := ignoredDirectives[d.Name]; ok {
				o.add(depth, t.dropped(d, why))
				continue
			}
			o.add(depth, t.note(d, "unknown or unsupported directive; not translated"))
		}
	}
	sc.defaultType = c.defaultType
	if internal != nil && round == 0 && !sc.internalOK {
		// Only internal redirects (error_page, a rewrite's next round)
		// reach it; a request for it is a 404, which error_page answers.
		o.addf(depth, "# %s internal: reached only by error_page and rewrites", t.pos(internal))
		o.add(depth, "error 404")
		return o
	}

	// add_header: deferred, on nginx's statuses unless `always`.
	for _, d := range c.addHeader {
		if len(d.Args) < 2 || len(d.Args) > 3 || len(d.Args) == 3 && d.Args[2] != "always" {
			o.add(depth, t.note(d, "want a name, a value and an optional `always`; not translated"))
			continue
		}
		v, unk := sc.convert(d.Args[1])
		t.unknownVars(o, depth, d, unk)
		if len(d.Args) == 3 {
			o.addf(depth, "header +%s %s {\n\tdefer\n}", d.Args[0], quote(v))
		} else {
			o.addf(depth, "header +%s %s {\n\tmatch {\n\t\tstatus %s\n\t}\n}", d.Args[0], quote(v), addHeaderCodes)
		}
	}

	// The handler: set_by_lua, phases, proxy_pass.
	resty := &out{}
	for _, d := range sets {
		t.setByLua(resty, d, depth+1)
	}
	content := c.phases["content"] != nil
	for _, ph := range phases {
		l := c.phases[ph]
		if l == nil {
			continue
		}
		prepend := ""
		if ph == "content" && c.defaultType != "text/plain" {
			// nginx gives Lua's responses default_type; caddy-resty
			// text/plain: set it first, on the first line (line numbers
			// stay).
			prepend = "if ngx.header.content_type == nil then ngx.header.content_type = " + luaQuote(c.defaultType) + " end "
		}
		resty.append(t.luaDirective(ph, l, depth+1, prepend))
	}
	if proxyPass != nil && !content {
		t.proxy(resty, proxyPass, it, c, sc, hasBreak, depth+1)
		content = true
	} else if proxyPass != nil {
		resty.add(depth+1, t.note(proxyPass, "both content_by_lua and proxy_pass: nginx refuses this; proxy_pass dropped"))
	}

	// Filters and log see the responses of return/rewrite too in nginx:
	// the handler goes first when it has only those phases.
	onlyFilters := c.phases["rewrite"] == nil && c.phases["access"] == nil && c.phases["content"] == nil && len(sets) == 0 && proxyPass == nil
	writeResty := func() {
		if len(resty.lines) > 0 {
			o.add(depth, "resty {")
			o.append(resty)
			o.add(depth, "}")
		}
	}
	if onlyFilters {
		writeResty()
	}
	o.append(t.rewrites(rw, sc, id, depth, round, copies, chainName, false))
	if !onlyFilters {
		writeResty()
	}
	if content {
		return o
	}
	for _, d := range rw {
		if d.Name == "return" && !hasBreak {
			return o // answered in the rewrite phase
		}
	}

	// Static files.
	root := filepath.Join(t.prefix, "html")
	if c.root != nil && len(c.root.Args) == 1 {
		r := c.root.Args[0]
		if strings.Contains(r, "$") {
			o.add(depth, t.note(c.root, "a root with variables is not translated; using %s", root))
		} else {
			if !filepath.IsAbs(r) {
				r = filepath.Join(t.prefix, r)
			}
			root = r
		}
	}
	if alias != nil && len(alias.Args) == 1 && it.d != nil {
		a := alias.Args[0]
		if !filepath.IsAbs(a) {
			a = filepath.Join(t.prefix, a)
		}
		switch {
		case it.capRest:
			// /prefix/rest → alias/rest
			o.addf(depth, "root * %s", quote(a))
			o.addf(depth, "rewrite * %s", quote("/{re."+it.name+".1}"))
		case it.mod == "=":
			o.addf(depth, "root * %s", quote(filepath.Dir(a)))
			o.addf(depth, "rewrite * %s", quote("/"+filepath.Base(a)))
		default:
			o.add(depth, t.note(alias, "alias in a regex location is not translated; using root"))
			o.addf(depth, "root * %s", quote(root))
		}
	} else {
		o.addf(depth, "root * %s", quote(root))
	}
	if tryFiles != nil {
		var args []string
		for i, a := range tryFiles.Args {
			if strings.HasPrefix(a, "@") {
				o.add(depth, t.note(tryFiles, "named location %s: not translated; 404 instead", a))
				a = "=404"
			} else if !(i == len(tryFiles.Args)-1 && strings.HasPrefix(a, "=")) {
				v, unk := sc.convert(a)
				t.unknownVars(o, depth, tryFiles, unk)
				a = v
			}
			args = append(args, quote(a))
		}
		o.addf(depth, "try_files %s", strings.Join(args, " "))
	}
	if len(c.index) > 0 {
		o.addf(depth, "file_server {\n\tindex %s\n}", strings.Join(c.index, " "))
	} else {
		o.add(depth, "file_server")
	}
	return o
}

func luaQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// setByLua emits set_by_lua/_file for a set_by_lua* directive.
func (t *translator) setByLua(o *out, d *nginxconf.Directive, depth int) {
	if len(d.Args) == 0 {
		o.add(depth, t.note(d, "missing variable; not translated"))
		return
	}
	name := strings.Trim(strings.TrimPrefix(d.Args[0], "$"), "{}")
	var l *lua
	var args []string
	switch d.Name {
	case "set_by_lua_block":
		l = &lua{d: d, code: d.Lua}
	case "set_by_lua":
		if len(d.Args) < 2 {
			o.add(depth, t.note(d, "missing code; not translated"))
			return
		}
		l, args = &lua{d: d, code: d.Args[1]}, d.Args[2:]
	case "set_by_lua_file":
		if len(d.Args) < 2 {
			o.add(depth, t.note(d, "missing file; not translated"))
			return
		}
		f := d.Args[1]
		if !filepath.IsAbs(f) {
			f = filepath.Join(t.prefix, f)
		}
		o.addf(depth, "set_by_lua_file %s %s %s", name, quote(f), strings.Join(quoteAll(args), " "))
		return
	}
	// set_by_lua takes its code as one token: always a file, so that the
	// arguments can follow.
	fname := t.luaFileName(d, "set")
	t.files[fname] = []byte(l.code)
	p := fname
	if t.opts.LuaDir != "" {
		p = filepath.Join(t.opts.LuaDir, fname)
	}
	line := "set_by_lua_file " + name + " " + quote(p)
	if len(args) > 0 {
		line += " " + strings.Join(quoteAll(args), " ")
	}
	o.addf(depth, "%s", line)
}

func quoteAll(a []string) []string {
	r := make([]string, len(a))
	for i, s := range a {
		r[i] = quote(s)
	}
	return r
}

// proxy emits proxy_pass and its options.
func (t *translator) proxy(o *out, d *nginxconf.Directive, it *locItem, c *ctx, sc *scope, hasBreak bool, depth int) {
	if len(d.Args) != 1 {
		o.add(depth, t.note(d, "want one URL; not translated"))
		return
	}
	raw := d.Args[0]
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme != "http" && scheme != "https" {
		o.add(depth, t.note(d, "only http:// and https:// upstreams are translated"))
		return
	}
	hostport, uri, hasURI := strings.Cut(rest, "/")
	proxyHost := hostport
	keepalive := ""
	url := ""
	if u, ok := t.upstreams[hostport]; ok {
		url = scheme + "://" + u.name
		keepalive = t.keepalive[hostport]
	} else if strings.Contains(hostport, "$") {
		v, unk := sc.convert(hostport)
		t.unknownVars(o, depth, d, unk)
		url = scheme + "://" + v
		proxyHost = v
	} else {
		hp := hostport
		if !hasPort(hp) {
			// An explicit port: a name without a dot would otherwise be
			// taken for a cluster name.
			if scheme == "https" {
				hp += ":443"
			} else {
				hp += ":80"
			}
		}
		url = scheme + "://" + hp
	}
	if hasURI {
		switch {
		case strings.Contains(raw, "$"):
			v, unk := sc.convert("/" + uri)
			t.unknownVars(o, depth, d, unk)
			url += v
		case hasBreak:
			o.addf(depth, "# %s: the URI was changed by rewrite … break: nginx sends the changed URI, not proxy_pass's", t.pos(d))
		case it.capRest:
			// nginx replaces the location's prefix with the URI part.
			url += escBraces("/"+uri) + "{re." + it.name + ".1}"
		case it.mod == "=":
			url += escBraces("/" + uri)
		default:
			o.add(depth, t.note(d, "a URI part in a regex location: nginx refuses it; dropped"))
		}
	}
	o.addf(depth, "proxy_pass %s", quote(url))
	own := map[string]bool{}
	for _, h := range c.proxySet {
		if len(h.Args) != 2 {
			o.add(depth, t.note(h, "want a name and a value; not translated"))
			continue
		}
		name := strings.ToLower(h.Args[0])
		if h.Args[1] == "$proxy_add_x_forwarded_for" {
			o.add(depth, t.note(h, "$proxy_add_x_forwarded_for: caddy-resty sets X-Forwarded-For to the client address, appending to the client's own only when it is a trusted proxy (Caddy's trusted_proxies)"))
			own[name] = true
			continue
		}
		val := strings.ReplaceAll(h.Args[1], "$proxy_host", proxyHost)
		v, unk := sc.convert(val)
		t.unknownVars(o, depth, h, unk)
		own[name] = true
		o.addf(depth, "proxy_set_header %s %s", h.Args[0], quote(v))
	}
	// nginx's defaults: Host is the upstream's ($proxy_host), and no
	// X-Forwarded-* fields (which the resty proxy adds unless told).
	if !own["host"] {
		o.addf(depth, "proxy_set_header Host %s", quote(escBraces(proxyHost)))
	}
	for _, n := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
		if !own[strings.ToLower(n)] {
			o.addf(depth, "proxy_set_header %s \"\"", n)
		}
	}
	for _, h := range c.proxyHide {
		o.addf(depth, "proxy_hide_header %s", strings.Join(quoteAll(h.Args), " "))
	}
	var names []string
	for n := range c.proxyOpt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h := c.proxyOpt[n]
		args := h.Args
		switch n {
		case "proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout", "proxy_next_upstream_timeout":
			if len(args) == 1 {
				args = []string{goDuration(args[0])}
			}
		case "proxy_next_upstream":
			var keep []string
			for _, a := range args {
				if nextUpstreamOK[a] {
					keep = append(keep, a)
				} else {
					o.add(depth, t.note(h, "case %q has no equivalent; ignored", a))
				}
			}
			args = keep
			if len(args) == 0 {
				continue
			}
		}
		o.addf(depth, "%s %s", n, strings.Join(quoteAll(args), " "))
	}
	if keepalive != "" {
		o.addf(depth, "proxy_keepalive %s", keepalive)
	}
}

var nextUpstreamOK = map[string]bool{
	"error": true, "timeout": true, "invalid_header": true, "http_500": true, "http_502": true,
	"http_503": true, "http_504": true, "http_403": true, "http_404": true, "http_429": true,
	"non_idempotent": true, "off": true,
}
