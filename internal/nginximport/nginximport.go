// Package nginximport translates an nginx (OpenResty) configuration into
// a Caddyfile for caddy-resty: what `caddy resty import nginx.conf` prints.
//
// What has an equivalent is translated: lua_shared_dict, lua_package_path,
// upstream blocks, servers (listen, server_name) as sites, locations with
// nginx's precedence, the *_by_lua* phases, proxy_pass and its proxy_*
// options, return, rewrite, add_header, set, root/alias/index/try_files.
// Everything else is either dropped with a comment (directives without a
// meaning for a Caddy site, such as worker_processes or access_log) or
// reported as a Note, at its place in the Caddyfile and in Result.Notes.
package nginximport

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-resty/caddy-resty/internal/nginxconf"
)

// Options configures Translate.
type Options struct {
	// Prefix is nginx's -p prefix: the base of relative *_by_lua_file
	// paths and of $prefix in lua_package_path. "" means the parent of
	// the config file's directory when that directory is named conf
	// (OpenResty's layout, `nginx -p DIR -c conf/nginx.conf`), else the
	// config file's directory.
	Prefix string
	// LuaDir is the directory where the caller writes Result.Files; the
	// Caddyfile refers to LuaDir/<name>.lua.
	LuaDir string
}

// Note is something not translated, or translated approximately, with its
// place.
type Note struct {
	File      string
	Line      int
	Directive string
	Reason    string
}

func (n Note) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", n.File, n.Line, n.Directive, n.Reason)
}

// Result is a translation.
type Result struct {
	// Caddyfile is the Caddyfile text, with the notes as `# NOTE …`
	// comments at the place they concern.
	Caddyfile []byte
	// Files are files to write, path relative to LuaDir → content: Lua
	// code moved out of the Caddyfile.
	Files map[string][]byte
	// Notes are everything not translated, in file and line order.
	Notes []Note
	// Complete is true when Notes is empty.
	Complete bool
}

// Translate reads the nginx configuration at path (and what it includes)
// and translates it. Errors are the configuration's syntax errors
// ("FILE:LINE: …"), missing includes and unreadable files; everything
// that merely has no translation is a Note.
func Translate(path string, o Options) (*Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	ds, err := nginxconf.ParseFile(abs)
	if err != nil {
		return nil, err
	}
	prefix := o.Prefix
	if prefix == "" {
		dir := filepath.Dir(abs)
		prefix = dir
		if filepath.Base(dir) == "conf" {
			prefix = filepath.Dir(dir)
		}
	} else if p, err := filepath.Abs(prefix); err == nil {
		prefix = p
	}
	t := &translator{
		opts:      o,
		prefix:    filepath.Clean(prefix),
		confDir:   filepath.Dir(abs),
		files:     map[string][]byte{},
		upstreams: map[string]*upstream{},
		keepalive: map[string]string{},
	}
	t.run(ds)
	// The location chain is written once per round of `last`: a note
	// counts once.
	seen := map[Note]bool{}
	notes := t.notes[:0]
	for _, n := range t.notes {
		if !seen[n] {
			seen[n] = true
			notes = append(notes, n)
		}
	}
	t.notes = notes
	sort.SliceStable(t.notes, func(i, j int) bool {
		if t.notes[i].File != t.notes[j].File {
			return t.notes[i].File < t.notes[j].File
		}
		return t.notes[i].Line < t.notes[j].Line
	})
	return &Result{
		Caddyfile: caddyfile.Format([]byte(t.render())),
		Files:     t.files,
		Notes:     t.notes,
		Complete:  len(t.notes) == 0,
	}, nil
}

// out is an indented list of Caddyfile lines.
type out struct{ lines []string }

func (o *out) addf(depth int, format string, args ...any) {
	o.add(depth, fmt.Sprintf(format, args...))
}

// add adds s (lines) at depth.
func (o *out) add(depth int, s string) {
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			o.lines = append(o.lines, "")
			continue
		}
		o.lines = append(o.lines, strings.ReplaceAll(strings.Repeat("\t", depth)+l, nlMark, "\n"))
	}
}

// raw adds lines as they are (heredoc bodies).
func (o *out) raw(s string) { o.lines = append(o.lines, s) }

func (o *out) append(p *out) { o.lines = append(o.lines, p.lines...) }

type upstream struct {
	name  string // Caddy's name
	lines []string
}

type translator struct {
	opts    Options
	prefix  string
	confDir string

	notes []Note
	files map[string][]byte

	top       out // comments before the global block
	dicts     []string
	pkgPath   []string
	luaOpts   []string // other lines of the global resty option
	upOrder   []string
	upstreams map[string]*upstream // by nginx name
	keepalive map[string]string    // nginx upstream name → keepalive N
	sites     out
	siteN     int
	// httpErrorPages are the http block's error_page directives, which
	// servers without their own inherit.
	httpErrorPages []*nginxconf.Directive
}

// pos is a directive's place for comments: its file relative to the
// config's directory, and its line.
func (t *translator) pos(d *nginxconf.Directive) string {
	f := d.File
	if r, err := filepath.Rel(t.confDir, f); err == nil && !strings.HasPrefix(r, "..") {
		f = r
	}
	return fmt.Sprintf("%s:%d", f, d.Line)
}

// note records a Note and returns its comment line.
func (t *translator) note(d *nginxconf.Directive, format string, args ...any) string {
	reason := fmt.Sprintf(format, args...)
	t.notes = append(t.notes, Note{File: d.File, Line: d.Line, Directive: d.Name, Reason: reason})
	return fmt.Sprintf("# NOTE %s %s: %s", t.pos(d), d.Name, oneLine(reason))
}

// dropped returns the comment of a directive dropped on purpose.
func (t *translator) dropped(d *nginxconf.Directive, why string) string {
	return fmt.Sprintf("# %s %s: dropped (%s)", t.pos(d), d.Name, why)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// ignoredDirectives have no meaning for a Caddy site: dropped with a
// comment, not a Note.
var ignoredDirectives = map[string]string{
	"worker_processes": "Go schedules on every core", "worker_connections": "no worker model",
	"worker_rlimit_nofile": "no worker model", "worker_cpu_affinity": "no worker model",
	"events": "no worker model", "pid": "no pid file", "load_module": "modules are compiled in",
	"daemon": "Caddy runs in the foreground or as a service", "user": "run Caddy as the user you want",
	"master_process": "no worker model", "error_log": "Caddy logs errors to its own log",
	"access_log": "use Caddy's `log` directive", "log_format": "use Caddy's `log` directive",
	"include": "", "types": "Caddy has its own MIME table", "sendfile": "I/O tuning",
	"tcp_nopush": "I/O tuning", "tcp_nodelay": "I/O tuning", "keepalive_timeout": "client keep-alive tuning",
	"keepalive_requests": "client keep-alive tuning", "types_hash_max_size": "table tuning",
	"types_hash_bucket_size": "table tuning", "server_names_hash_bucket_size": "table tuning",
	"server_names_hash_max_size": "table tuning", "variables_hash_max_size": "table tuning",
	"server_tokens":         "Caddy sends `Server: Caddy`; remove it with `header -Server`",
	"lua_code_cache":        "caddy-resty caches compiled code and reloads it with the config",
	"lua_socket_log_errors": "logging detail", "resolver": "Go resolves with the system's resolver",
	"resolver_timeout": "Go resolves with the system's resolver", "proxy_http_version": "proxy_pass speaks HTTP/1.1",
	"proxy_buffering": "proxy_pass streams responses", "proxy_buffers": "buffer tuning",
	"proxy_busy_buffers_size": "buffer tuning", "client_body_buffer_size": "buffer tuning",
	"lua_need_request_body":       "ngx.req.read_body() reads it when needed",
	"lua_regex_cache_max_entries": "regex cache tuning", "pcre_jit": "regex engine tuning",
	"proxy_temp_path": "no temp files", "client_body_temp_path": "no temp files",
	"fastcgi_temp_path": "no temp files", "uwsgi_temp_path": "no temp files", "scgi_temp_path": "no temp files",
	"worker_shutdown_timeout": "Caddy's grace_period", "zone": "shared state is in-process",
	"proxy_cache_path": "", "multi_accept": "no worker model", "use": "no worker model",
	"accept_mutex": "no worker model", "timer_resolution": "no worker model",
	"charset_types": "", "reset_timedout_connection": "connection tuning", "server_name_in_redirect": "",
	"port_in_redirect": "", "absolute_redirect": "", "lua_transform_underscores_in_response_headers": "",
	"underscores_in_headers": "",
}

// run translates the top level.
func (t *translator) run(ds []*nginxconf.Directive) {
	for _, d := range ds {
		switch d.Name {
		case "http":
			t.http(d)
		case "stream":
			t.top.add(0, t.note(d, "the stream (TCP/UDP) module has no caddy-resty equivalent; not translated"))
		case "env":
			// nginx's env: the variables Lua's os.getenv may read
			// ("NAME", or "NAME=value" to set one): resty's lua_env.
			if len(d.Args) != 1 {
				t.top.add(0, t.note(d, "want one variable; not translated"))
				continue
			}
			t.luaOpts = append(t.luaOpts, "lua_env "+quote(d.Args[0]))
		default:
			if why, ok := ignoredDirectives[d.Name]; ok {
				t.top.add(0, t.dropped(d, why))
				continue
			}
			t.top.add(0, t.note(d, "unknown or unsupported directive; not translated"))
		}
	}
}

func (t *translator) render() string {
	var b strings.Builder
	for _, l := range t.top.lines {
		b.WriteString(l + "\n")
	}
	if len(t.dicts)+len(t.pkgPath)+len(t.luaOpts)+len(t.upOrder) > 0 {
		b.WriteString("{\n\tresty {\n")
		for _, l := range t.dicts {
			b.WriteString("\t\t" + l + "\n")
		}
		if len(t.pkgPath) > 0 {
			qs := make([]string, len(t.pkgPath))
			for i, p := range t.pkgPath {
				qs[i] = quote(p)
			}
			b.WriteString("\t\tlua_package_path " + strings.Join(qs, " ") + "\n")
		}
		for _, l := range t.luaOpts {
			b.WriteString("\t\t" + l + "\n")
		}
		for _, n := range t.upOrder {
			u := t.upstreams[n]
			b.WriteString("\t\tupstream " + u.name + " {\n")
			for _, l := range u.lines {
				b.WriteString("\t\t\t" + l + "\n")
			}
			b.WriteString("\t\t}\n")
		}
		b.WriteString("\t}\n}\n")
	}
	for _, l := range t.sites.lines {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// http translates the http block.
func (t *translator) http(h *nginxconf.Directive) {
	base := newCtx()
	// Upstreams first: proxy_pass needs to know their names.
	for _, d := range h.Block {
		if d.Name == "upstream" {
			t.upstream(d)
		}
	}
	var servers []*nginxconf.Directive
	for _, d := range h.Block {
		switch d.Name {
		case "upstream":
		case "server":
			servers = append(servers, d)
		case "lua_shared_dict":
			if len(d.Args) != 2 {
				t.top.add(0, t.note(d, "want a name and a size; not translated"))
				continue
			}
			t.dicts = append(t.dicts, "shared_dict "+quote(d.Args[0])+" "+quote(d.Args[1]))
		case "lua_package_path":
			for _, a := range d.Args {
				for _, p := range strings.Split(a, ";") {
					if p = strings.TrimSpace(p); p == "" {
						continue // ";;" is the default path, always searched
					}
					p = strings.ReplaceAll(strings.ReplaceAll(p, "${prefix}", t.prefix+"/"), "$prefix", t.prefix+"/")
					for strings.Contains(p, "//") {
						p = strings.ReplaceAll(p, "//", "/")
					}
					if !filepath.IsAbs(p) {
						t.top.add(0, t.note(d, "relative path %q is searched from Caddy's working directory (nginx: its own)", p))
					}
					t.pkgPath = append(t.pkgPath, p)
				}
			}
		case "error_page":
			t.httpErrorPages = append(t.httpErrorPages, d)
		case "lua_max_running_timers", "lua_max_pending_timers":
			if len(d.Args) != 1 {
				t.top.add(0, t.note(d, "want one number; not translated"))
				continue
			}
			if n, err := strconv.Atoi(d.Args[0]); err != nil || n <= 0 {
				t.top.add(0, t.note(d, "%q is not a positive number; not translated", d.Args[0]))
				continue
			}
			t.luaOpts = append(t.luaOpts, d.Name+" "+d.Args[0])
		case "lua_package_cpath":
			t.top.add(0, t.note(d, "C modules cannot be loaded by caddy-resty (gopher-lua); modules it needs must be pure Lua or built in (cjson, resty.* listed in the README)"))
		case "init_by_lua", "init_by_lua_block", "init_by_lua_file", "init_worker_by_lua", "init_worker_by_lua_block", "init_worker_by_lua_file":
			t.top.add(0, t.note(d, "caddy-resty has no init phases; move the code to modules loaded with require (they run once per Lua state) or to a timer"))
		default:
			if c := base.apply(t, d, &t.top, 0); c {
				continue
			}
			if why, ok := ignoredDirectives[d.Name]; ok {
				t.top.add(0, t.dropped(d, why))
				continue
			}
			t.top.add(0, t.note(d, "unknown or unsupported directive; not translated"))
		}
	}
	srvs := t.listenPlan(servers)
	for _, s := range srvs {
		t.server(s, base)
	}
}

// upstream translates an upstream block into the global option.
func (t *translator) upstream(d *nginxconf.Directive) {
	if len(d.Args) != 1 {
		t.top.add(0, t.note(d, "want one name; not translated"))
		return
	}
	name := sanitizeName(d.Args[0])
	u := &upstream{name: name}
	if name != d.Args[0] {
		u.lines = append(u.lines, fmt.Sprintf("# nginx name: %s", d.Args[0]))
	}
	for _, s := range d.Block {
		switch s.Name {
		case "server":
			if len(s.Args) == 0 {
				u.lines = append(u.lines, t.note(s, "no address; not translated"))
				continue
			}
			addr := s.Args[0]
			if strings.HasPrefix(addr, "unix:") {
				addr = "unix/" + strings.TrimPrefix(addr, "unix:")
			} else if !hasPort(addr) {
				addr += ":80"
			}
			parts := []string{"server", addr}
			for _, a := range s.Args[1:] {
				k, v, _ := strings.Cut(a, "=")
				switch k {
				case "weight", "max_fails":
					parts = append(parts, a)
				case "fail_timeout":
					parts = append(parts, "fail_timeout="+goDuration(v))
				case "backup", "down":
					parts = append(parts, k)
				default:
					u.lines = append(u.lines, t.note(s, "server parameter %q has no equivalent; ignored", a))
				}
			}
			u.lines = append(u.lines, strings.Join(parts, " "))
		case "least_conn", "ip_hash":
			u.lines = append(u.lines, "lb_policy "+s.Name)
		case "random":
			if len(s.Args) > 0 {
				u.lines = append(u.lines, t.note(s, "random with %q: plain weighted random instead", strings.Join(s.Args, " ")))
			}
			u.lines = append(u.lines, "lb_policy random")
		case "hash":
			key := ""
			if len(s.Args) > 0 {
				key = s.Args[0]
			}
			switch {
			case strings.HasPrefix(key, "$http_") && len(key) > 6:
				u.lines = append(u.lines, "lb_policy header "+strings.ReplaceAll(key[6:], "_", "-"))
			case strings.HasPrefix(key, "$cookie_") && len(key) > 8:
				u.lines = append(u.lines, "lb_policy cookie "+key[8:])
			case key == "$remote_addr":
				u.lines = append(u.lines, t.note(s, "hash $remote_addr: ip_hash instead (hashes the first three octets of an IPv4 address)"))
				u.lines = append(u.lines, "lb_policy ip_hash")
				continue
			default:
				u.lines = append(u.lines, t.note(s, "hash key %q: only $http_NAME, $cookie_NAME and $remote_addr have an equivalent; round robin instead", key))
				continue
			}
			if len(s.Args) < 2 || s.Args[1] != "consistent" {
				u.lines = append(u.lines, "# "+t.pos(s)+" hash without `consistent`: caddy-resty always hashes onto a consistent ring")
			}
		case "keepalive":
			if len(s.Args) == 1 {
				t.keepalive[d.Args[0]] = s.Args[0]
				u.lines = append(u.lines, "# "+t.pos(s)+" keepalive "+s.Args[0]+": proxy_keepalive on each proxy_pass to this upstream")
			}
		case "keepalive_timeout", "keepalive_requests", "keepalive_time", "zone":
			u.lines = append(u.lines, t.dropped(s, "connection tuning"))
		default:
			u.lines = append(u.lines, t.note(s, "unknown or unsupported upstream directive; not translated"))
		}
	}
	if _, dup := t.upstreams[d.Args[0]]; dup {
		t.top.add(0, t.note(d, "upstream declared twice; the second is ignored"))
		return
	}
	t.upstreams[d.Args[0]] = u
	t.upOrder = append(t.upOrder, d.Args[0])
}

func hasPort(addr string) bool {
	if strings.HasPrefix(addr, "[") {
		return strings.Contains(addr, "]:")
	}
	return strings.Contains(addr, ":")
}

// sanitizeName makes an nginx upstream name a valid cluster name.
func sanitizeName(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// goDuration converts an nginx time ("10", "10s", "1m", "500ms", "1h30m")
// into Go's syntax.
func goDuration(v string) string {
	if v == "" {
		return v
	}
	var b strings.Builder
	num := ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			num += string(c)
			continue
		}
		unit := string(c)
		if c == 'm' && i+1 < len(v) && v[i+1] == 's' {
			unit = "ms"
			i++
		}
		switch unit {
		case "d":
			n := 0
			fmt.Sscan(num, &n)
			b.WriteString(fmt.Sprintf("%dh", n*24))
		case "w":
			n := 0
			fmt.Sscan(num, &n)
			b.WriteString(fmt.Sprintf("%dh", n*24*7))
		default:
			b.WriteString(num + unit)
		}
		num = ""
	}
	if num != "" {
		b.WriteString(num + "s")
	}
	return b.String()
}
