package nginximport

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-resty/caddy-resty/internal/nginxconf"
)

func itoa(n int) string { return strconv.Itoa(n) }

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }

// srvPlan is a server with its site addresses.
type srvPlan struct {
	d     *nginxconf.Directive
	addrs []string
	bind  []string
	notes []string
	name  string // first server_name, for $server_name
	skip  bool
}

// listenPlan maps listen and server_name to site addresses. A server
// gets `http://NAME:PORT` for each name and port; the default server of a
// port (default_server, else the first server on it) also gets the
// catch-all `http://:PORT`, as nginx gives it the requests no name
// matches. A listen address with an IP becomes Caddy's `bind`.
func (t *translator) listenPlan(servers []*nginxconf.Directive) []*srvPlan {
	type listen struct {
		port, ip string
		def      bool
	}
	plans := make([]*srvPlan, len(servers))
	listens := make([][]listen, len(servers))
	defaults := map[string]int{} // port → server index
	for i, s := range servers {
		p := &srvPlan{d: s}
		plans[i] = p
		for _, d := range s.Block {
			if d.Name != "listen" || len(d.Args) == 0 {
				continue
			}
			a := d.Args[0]
			if strings.HasPrefix(a, "unix:") {
				p.notes = append(p.notes, t.note(d, "unix sockets: use Caddy's `bind unix//path`; not translated"))
				continue
			}
			l := listen{}
			if host, port, err := net.SplitHostPort(a); err == nil {
				l.port = port
				if host != "*" && host != "::" && host != "0.0.0.0" && host != "" {
					l.ip = host
				}
			} else if _, err := strconv.Atoi(a); err == nil {
				l.port = a
			} else {
				l.port, l.ip = "80", a
			}
			for _, f := range d.Args[1:] {
				switch {
				case f == "default_server" || f == "default":
					l.def = true
				case f == "ssl" || f == "http2" || f == "quic":
					p.notes = append(p.notes, t.note(d, "%s: translated as plain HTTP; give the site an https:// address and a `tls` directive (Caddy can also get certificates itself)", f))
				default:
					p.notes = append(p.notes, t.note(d, "listen parameter %q ignored", f))
				}
			}
			listens[i] = append(listens[i], l)
		}
		if len(listens[i]) == 0 {
			listens[i] = []listen{{port: "80"}}
		}
		for _, l := range listens[i] {
			if l.def {
				defaults[l.port] = i
			}
		}
	}
	for i := range servers {
		for _, l := range listens[i] {
			if _, ok := defaults[l.port]; !ok {
				defaults[l.port] = i
			}
		}
	}
	for i, s := range servers {
		p := plans[i]
		var names []string
		for _, d := range s.Block {
			if d.Name != "server_name" {
				continue
			}
			for _, n := range d.Args {
				switch {
				case n == "" || n == "_" || n == "\"\"":
				case strings.HasPrefix(n, "~"):
					p.notes = append(p.notes, t.note(d, "regex server name %q has no equivalent; not translated", n))
				case strings.HasPrefix(n, "."):
					names = append(names, n[1:], "*"+n)
				case strings.HasSuffix(n, ".*"):
					p.notes = append(p.notes, t.note(d, "server name %q (wildcard TLD) has no equivalent; not translated", n))
				default:
					names = append(names, strings.ToLower(n))
				}
			}
			if p.name == "" && len(d.Args) > 0 {
				p.name = d.Args[0]
			}
		}
		seen := map[string]bool{}
		for _, l := range listens[i] {
			for _, n := range names {
				a := "http://" + n + ":" + l.port
				if !seen[a] {
					seen[a] = true
					p.addrs = append(p.addrs, a)
				}
			}
			if defaults[l.port] == i {
				a := "http://:" + l.port
				if !seen[a] {
					seen[a] = true
					p.addrs = append(p.addrs, a)
				}
			}
			if l.ip != "" {
				p.bind = append(p.bind, l.ip)
			}
		}
		if len(p.addrs) == 0 {
			p.notes = append(p.notes, t.note(s, "server without a server_name that is not the default server of its port: it only gets requests without a Host; not translated"))
			p.skip = true
		}
	}
	return plans
}

// locItem is one location of a server.
type locItem struct {
	d        *nginxconf.Directive
	mod, pat string
	name     string // matcher name
	re       string // the path_regexp
	excl     []string
	capRest  bool
	named    map[string]bool
}

var namedCapRe = regexp.MustCompile(`\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>`)

// server translates one server block into a site.
func (t *translator) server(p *srvPlan, base *ctx) {
	t.siteN++
	sid := fmt.Sprintf("s%d", t.siteN)
	s := p.d
	site := &out{}
	site.add(0, "")
	site.addf(0, "# server at %s", t.pos(s))
	for _, n := range p.notes {
		site.add(0, n)
	}
	if p.skip {
		t.sites.append(site)
		return
	}
	c := base.child()
	var rw []*nginxconf.Directive
	var locs []*nginxconf.Directive
	var errorPages []*nginxconf.Directive
	body := &out{}
	for _, d := range s.Block {
		switch d.Name {
		case "listen", "server_name":
		case "error_page":
			errorPages = append(errorPages, d)
		case "location":
			locs = append(locs, d)
		case "set", "rewrite", "return", "break", "if", "set_by_lua", "set_by_lua_block", "set_by_lua_file":
			rw = append(rw, d)
		case "dyups_interface":
			body.add(2, t.note(d, "the dyups API is served by Caddy's admin listener at /resty/upstreams (dyups' body format accepted); no dyups server is needed"))
		default:
			if c.apply(t, d, body, 2) {
				continue
			}
			if why, ok := ignoredDirectives[d.Name]; ok {
				body.add(2, t.dropped(d, why))
				continue
			}
			if strings.HasPrefix(d.Name, "ssl_") {
				body.add(2, t.note(d, "TLS settings are not translated (see the listen note)"))
				continue
			}
			body.add(2, t.note(d, "unknown or unsupported directive; not translated"))
		}
	}
	sc := &scope{vars: map[string]bool{}, serverName: p.name}
	collectVars(s, sc.vars)
	if errorPages == nil {
		errorPages = t.httpErrorPages // inherited only when the server has none
	}
	errPages := t.errorPages(errorPages, sc, body)

	// The locations, in the order that encodes nginx's precedence.
	items := t.locItems(sid, locs, site)
	restarts := 0
	for _, it := range items {
		if hasRestart(it.d) {
			restarts++
		}
	}
	copies := 1
	if restarts > 0 {
		copies = min(10, restarts+1) + 1
	}
	chainName := func(k int) string { return fmt.Sprintf("%s_locations_%d", sid, k) }
	for k := copies - 1; k >= 1; k-- {
		// Named routes for the chains entered again after a rewrite
		// (nginx's `last`: location matching starts over).
		nr := &out{}
		nr.add(0, "")
		nr.addf(0, "# the locations of the server at %s, matched again after a rewrite (round %d)", t.pos(s), k)
		nr.addf(0, "&(%s) {", chainName(k))
		nr.append(t.chain(items, c, sc, 1, k, copies, chainName))
		nr.add(0, "}")
		t.sites.append(nr)
	}
	if len(errPages) > 0 {
		// The locations once more, for error_page's internal redirect.
		nr := &out{}
		nr.add(0, "")
		nr.addf(0, "# the locations of the server at %s, for its error pages", t.pos(s))
		nr.addf(0, "&(%s_errors) {", sid)
		esc := *sc
		esc.internalOK = true
		nr.append(t.chain(items, c, &esc, 1, 0, copies, chainName))
		nr.add(0, "}")
		t.sites.append(nr)
	}
	site.addf(0, "%s {", strings.Join(p.addrs, ", "))
	if len(p.bind) > 0 {
		site.addf(1, "bind %s", strings.Join(p.bind, " "))
	}
	site.append(body)
	site.add(1, "route {")
	// Server-level rewrite module directives run before location
	// matching; their `last` only ends this list.
	site.append(t.rewrites(rw, sc, sid+"_srv", 2, -1, copies, chainName, true))
	site.append(t.chain(items, c, sc, 2, 0, copies, chainName))
	site.add(1, "}")
	for _, e := range errPages {
		site.addf(1, "# %s error_page %s", t.pos(e.d), strings.Join(e.d.Args, " "))
		site.addf(1, "handle_errors %s {", strings.Join(e.codes, " "))
		if e.redirect {
			site.addf(2, "redir * %s 302", quote(e.uri))
		} else {
			site.addf(2, "rewrite * %s", quote(e.uri))
			site.addf(2, "invoke %s_errors", sid)
		}
		site.add(1, "}")
	}
	site.add(0, "}")
	t.sites.append(site)
}

// collectVars finds the variables set in a server: `set $x` and
// `set_by_lua* $x`.
func collectVars(s *nginxconf.Directive, vars map[string]bool) {
	nginxconf.Walk(s.Block, func(d *nginxconf.Directive, _ []*nginxconf.Directive) {
		if (d.Name == "set" || strings.HasPrefix(d.Name, "set_by_lua")) && len(d.Args) > 0 {
			vars[strings.Trim(strings.TrimPrefix(d.Args[0], "$"), "{}")] = true
		}
	})
}

func hasRestart(loc *nginxconf.Directive) bool {
	for _, d := range loc.Block {
		if d.Name == "rewrite" && len(d.Args) >= 2 && !strings.HasPrefix(d.Args[1], "http://") && !strings.HasPrefix(d.Args[1], "https://") && !strings.HasPrefix(d.Args[1], "$scheme") {
			if len(d.Args) == 2 || d.Args[2] == "last" {
				return true
			}
		}
	}
	return false
}

// locItems sorts the locations in the order whose first match is nginx's
// choice: exact matches; `^~` prefixes (each excluding the longer
// prefixes that extend it, since only the longest prefix counts);
// regular expressions in config order; the other prefixes, longest first.
func (t *translator) locItems(sid string, locs []*nginxconf.Directive, o *out) []*locItem {
	var exact, stop, regex, prefix []*locItem
	var allPrefixes []string
	for i, d := range locs {
		it := &locItem{d: d, name: fmt.Sprintf("%s_l%d", sid, i+1)}
		switch len(d.Args) {
		case 1:
			it.pat = d.Args[0]
		case 2:
			it.mod, it.pat = d.Args[0], d.Args[1]
		default:
			o.add(0, t.note(d, "want [modifier] pattern; not translated"))
			continue
		}
		if strings.HasPrefix(it.pat, "@") {
			o.add(0, t.note(d, "named locations are reached by try_files, error_page or ngx.exec, which have no equivalent here; not translated"))
			continue
		}
		for _, sub := range d.Block {
			if sub.Name == "location" {
				o.add(0, t.note(sub, "nested locations are not translated; move it to the server level"))
			}
		}
		switch it.mod {
		case "=":
			it.re = "^" + regexp.QuoteMeta(it.pat) + "$"
			exact = append(exact, it)
		case "~", "~*":
			if _, err := regexp.Compile(it.pat); err != nil {
				o.add(0, t.note(d, "regular expression %q: Go's RE2 refuses it (%v); not translated", it.pat, err))
				continue
			}
			it.re = it.pat
			if it.mod == "~*" {
				it.re = "(?i)" + it.pat
			}
			it.named = map[string]bool{}
			for _, m := range namedCapRe.FindAllStringSubmatch(it.pat, -1) {
				it.named[m[1]] = true
			}
			regex = append(regex, it)
		case "^~", "":
			it.re = "^" + regexp.QuoteMeta(it.pat) + "(?s:(.*))$"
			it.capRest = true
			allPrefixes = append(allPrefixes, it.pat)
			if it.mod == "^~" {
				stop = append(stop, it)
			} else {
				prefix = append(prefix, it)
			}
		default:
			o.add(0, t.note(d, "unknown location modifier %q; not translated", it.mod))
		}
	}
	byLen := func(s []*locItem) {
		sort.SliceStable(s, func(i, j int) bool { return len(s[i].pat) > len(s[j].pat) })
	}
	byLen(stop)
	byLen(prefix)
	for _, it := range stop {
		for _, p := range allPrefixes {
			if len(p) > len(it.pat) && strings.HasPrefix(p, it.pat) {
				it.excl = append(it.excl, regexp.QuoteMeta(p))
			}
		}
	}
	return append(append(append(exact, stop...), regex...), prefix...)
}

// chain emits the location chain: each location a `route @match { … }`
// ending in a handler that answers, so the first match is the only one.
// Round k of copies: `last` enters round k+1.
func (t *translator) chain(items []*locItem, c *ctx, sc *scope, depth, k, copies int, chainName func(int) string) *out {
	o := &out{}
	for _, it := range items {
		o.addf(depth, "# location %s at %s", strings.TrimSpace(it.mod+" "+it.pat), t.pos(it.d))
		o.addf(depth, "@%s {", it.name)
		o.addf(depth+1, "path_regexp %s %s", it.name, quote(it.re))
		if len(it.excl) > 0 {
			o.addf(depth+1, "not path_regexp %s", quote("^("+strings.Join(it.excl, "|")+")"))
		}
		o.add(depth, "}")
		o.addf(depth, "route @%s {", it.name)
		lc := c.child()
		lsc := *sc
		lsc.re, lsc.named = "", nil
		if it.mod == "~" || it.mod == "~*" {
			lsc.re, lsc.named = it.name, it.named
		}
		o.append(t.location(it, lc, &lsc, depth+1, k, copies, chainName))
		o.add(depth, "}")
	}
	// No location matched: nginx serves the request with the server's
	// own settings (static files from its root).
	o.add(depth, "# no location matched: the server's own settings")
	fb := &locItem{d: nil, name: "", pat: ""}
	lsc := *sc
	lsc.re, lsc.named = "", nil
	o.append(t.location(fb, c.child(), &lsc, depth, k, copies, chainName))
	return o
}

// rewrites translates the rewrite module's directives (set, rewrite,
// return, break, if) of a server or location, in order. round is the
// chain round (-1 at server level: `last` ends the list there).
func (t *translator) rewrites(rw []*nginxconf.Directive, sc *scope, id string, depth, round, copies int, chainName func(int) string, server bool) *out {
	o := &out{}
	broken := false // a break rewrite came before: later ones are skipped when it matched
	restart := false
	guard := func() string {
		if broken {
			return "\tnot vars nginx_break 1\n"
		}
		return ""
	}
	enter := func() string {
		if round+1 < copies {
			return "invoke " + chainName(round+1)
		}
		return "respond 500 # nginx: rewrite or internal redirection cycle"
	}
	for i, d := range rw {
		m := fmt.Sprintf("%s_r%d", id, i+1)
		switch d.Name {
		case "set":
			if len(d.Args) != 2 {
				o.add(depth, t.note(d, "want a variable and a value; not translated"))
				continue
			}
			v, unk := sc.convert(d.Args[1])
			t.unknownVars(o, depth, d, unk)
			name := strings.Trim(strings.TrimPrefix(d.Args[0], "$"), "{}")
			if broken {
				o.addf(depth, "@%s {\n\tnot vars nginx_break 1\n}", m)
				o.addf(depth, "vars @%s %s %s", m, name, quote(v))
			} else {
				o.addf(depth, "vars %s %s", name, quote(v))
			}
		case "return":
			if len(d.Args) == 0 || len(d.Args) > 2 {
				o.add(depth, t.note(d, "want a code and an optional text or URL; not translated"))
				continue
			}
			if broken {
				o.addf(depth, "@%s {\n\tnot vars nginx_break 1\n}", m)
				o.addf(depth, "route @%s {", m)
				o.append(t.returnLines(d, sc, depth+1))
				o.add(depth, "}")
			} else {
				o.append(t.returnLines(d, sc, depth))
			}
		case "rewrite":
			if len(d.Args) < 2 || len(d.Args) > 3 {
				o.add(depth, t.note(d, "want a regex, a replacement and an optional flag; not translated"))
				continue
			}
			if _, err := regexp.Compile(d.Args[0]); err != nil {
				o.add(depth, t.note(d, "regular expression %q: Go's RE2 refuses it (%v); not translated", d.Args[0], err))
				continue
			}
			flag := ""
			if len(d.Args) == 3 {
				flag = d.Args[2]
			}
			rsc := *sc
			rsc.re, rsc.named = m, map[string]bool{}
			for _, nm := range namedCapRe.FindAllStringSubmatch(d.Args[0], -1) {
				rsc.named[nm[1]] = true
			}
			repl := d.Args[1]
			redirect := strings.HasPrefix(repl, "http://") || strings.HasPrefix(repl, "https://") || strings.HasPrefix(repl, "$scheme")
			v, unk := rsc.convert(repl)
			t.unknownVars(o, depth, d, unk)
			o.addf(depth, "# %s rewrite %s", t.pos(d), strings.Join(d.Args, " "))
			o.addf(depth, "@%s {\n\tpath_regexp %s %s\n%s}", m, m, quote(d.Args[0]), guard())
			o.addf(depth, "route @%s {", m)
			switch {
			case redirect || flag == "redirect" || flag == "permanent":
				code := "302"
				if flag == "permanent" {
					code = "301"
				}
				if strings.Contains(repl, "?") {
					o.addf(depth+1, "redir * %s %s", quote(strings.TrimSuffix(v, "?")), code)
				} else {
					// nginx appends the request's arguments.
					o.addf(depth+1, "@%s_q expression `{query} != \"\"`", m)
					o.addf(depth+1, "redir @%s_q %s %s", m, quote(v+"?{query}"), code)
					o.addf(depth+1, "redir * %s %s", quote(v), code)
				}
			default:
				target := v
				if strings.Contains(repl, "?") && !strings.HasSuffix(repl, "?") {
					target = v + "&{query}" // nginx appends the old arguments
				}
				o.addf(depth+1, "rewrite * %s", quote(target))
				switch {
				case server && (flag == "last" || flag == "break"):
					o.add(depth+1, "vars nginx_break 1")
					broken = true
				case flag == "break":
					o.add(depth+1, "vars nginx_break 1")
					broken = true
				case flag == "last":
					o.addf(depth+1, "%s", enter())
				case flag == "":
					if !server {
						o.add(depth+1, "vars nginx_restart 1")
						restart = true
					}
				default:
					o.add(depth+1, t.note(d, "unknown flag %q; treated as no flag", flag))
				}
			}
			o.add(depth, "}")
		case "break":
			o.add(depth, "vars nginx_break 1")
			broken = true
		case "if":
			o.add(depth, t.note(d, "`if` blocks are not translated; express the condition with a Caddy matcher (or Lua in rewrite_by_lua)"))
		case "set_by_lua", "set_by_lua_block", "set_by_lua_file":
			// Emitted with the resty handler.
		}
	}
	if restart {
		o.addf(depth, "@%s_restart vars nginx_restart 1", id)
		o.addf(depth, "route @%s_restart {", id)
		o.add(depth+1, "vars nginx_restart 0")
		o.addf(depth+1, "%s", enter())
		o.add(depth, "}")
	}
	return o
}

func (t *translator) unknownVars(o *out, depth int, d *nginxconf.Directive, unk []string) {
	if len(unk) > 0 {
		o.add(depth, t.note(d, "variable(s) %s have no Caddy equivalent; kept as literal text", strings.Join(unk, ", ")))
	}
}

// returnLines translates `return`.
func (t *translator) returnLines(d *nginxconf.Directive, sc *scope, depth int) *out {
	o := &out{}
	o.addf(depth, "# %s return %s", t.pos(d), strings.Join(d.Args, " "))
	code, err := strconv.Atoi(d.Args[0])
	if err != nil {
		// return URL: a 302.
		v, unk := sc.convert(d.Args[0])
		t.unknownVars(o, depth, d, unk)
		o.addf(depth, "redir * %s 302", quote(v))
		return o
	}
	text := ""
	if len(d.Args) == 2 {
		v, unk := sc.convert(d.Args[1])
		t.unknownVars(o, depth, d, unk)
		text = v
	}
	switch {
	case code == 301 || code == 302 || code == 303 || code == 307 || code == 308:
		if text == "" {
			o.addf(depth, "respond %d", code)
		} else {
			o.addf(depth, "redir * %s %d", quote(text), code)
		}
	case text != "":
		o.addf(depth, "header Content-Type %s", quote(sc.defaultType))
		o.addf(depth, "respond * %s %d", quote(text), code)
	case code == 444:
		o.add(depth, "abort")
	case sc.errorCodes[code]:
		// An error, so that the server's handle_errors (its error_page)
		// answers it, as nginx's error_page does.
		o.addf(depth, "error %d", code)
	default:
		if code >= 400 {
			o.add(depth, "# nginx sends its HTML error page; Caddy an empty body (handle_errors can add one)")
		}
		o.addf(depth, "respond %d", code)
	}
	return o
}

// errorPage is a translated error_page.
type errorPage struct {
	d        *nginxconf.Directive
	codes    []string
	uri      string
	redirect bool
}

// errorPages translates error_page directives: `error_page CODE… /uri`
// becomes handle_errors for those codes, rewriting to the URI and running
// the server's locations again (nginx's internal redirect); a URL is a
// 302. The codes go into sc.errorCodes (see scope). Changing the status
// (`=CODE`) and named locations are notes.
func (t *translator) errorPages(ds []*nginxconf.Directive, sc *scope, body *out) []errorPage {
	var pages []errorPage
	for _, d := range ds {
		if len(d.Args) < 2 {
			body.add(2, t.note(d, "want codes and a URI; not translated"))
			continue
		}
		uri := d.Args[len(d.Args)-1]
		e := errorPage{d: d, uri: uri}
		ok := true
		for _, a := range d.Args[:len(d.Args)-1] {
			n, err := strconv.Atoi(a)
			if err != nil || n < 300 || n > 599 {
				body.add(2, t.note(d, "%q: only status codes are translated (no `=` response change); not translated", a))
				ok = false
				break
			}
			e.codes = append(e.codes, a)
		}
		switch {
		case !ok:
			continue
		case strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://"):
			e.redirect = true
		case strings.HasPrefix(uri, "/") && !strings.ContainsAny(uri, "$?{}"):
		default:
			body.add(2, t.note(d, "%q: only a plain local URI or a URL is translated (named locations and variables are not); not translated", uri))
			continue
		}
		if sc.errorCodes == nil {
			sc.errorCodes = map[int]bool{}
		}
		for _, c := range e.codes {
			n, _ := strconv.Atoi(c)
			sc.errorCodes[n] = true
		}
		pages = append(pages, e)
	}
	return pages
}
