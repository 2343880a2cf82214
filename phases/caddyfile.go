package phases

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	resty {
//		routes
//		<phase>_by_lua <<TAG
//			code
//		TAG
//		<phase>_by_lua "code"
//		<phase>_by_lua_file <path>
//		set_by_lua <var> <code> [<arg>...]
//		set_by_lua_file <var> <path> [<arg>...]
//		proxy_pass [<url>|<cluster>]
//		proxy_set_header <name> <value>
//		proxy_hide_header <name>...
//		proxy_connect_timeout|proxy_send_timeout|proxy_read_timeout <duration>
//		proxy_next_upstream <case>...
//		proxy_next_upstream_tries <n>
//		proxy_next_upstream_timeout <duration>
//		proxy_ssl_verify on|off
//		proxy_ssl_trusted_certificate <file>
//		proxy_ssl_name <name>
//		proxy_buffer_size <size>
//		proxy_keepalive <n>
//		proxy_keepalive_timeout <duration>
//	}
//
// The proxy_* options configure proxy_pass (see ProxyPass), with nginx's
// names; they need proxy_pass.
//
// set_by_lua stores what its code returns in the variable <var> (with or
// without nginx's `$`), before rewrite; its arguments are ngx.arg[1…n]:
// `$name` reads an nginx variable, anything else has its placeholders
// replaced.
//
// routes (no arguments) makes the handler evaluate the route table of the
// resty app (apps.resty.routes). <phase> is one of rewrite, access,
// content, header_filter, body_filter, log. A phase may be given several
// times; the pieces run in order. Inline code is dedented (see Dedent).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	proxyPassGiven := false
	targets := make(map[string]*[]Script, len(luaplugin.RequestPhases))
	for _, ph := range luaplugin.RequestPhases {
		targets[ph.String()], _ = h.phase(ph)
	}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt == "routes" {
			if d.NextArg() {
				return d.ArgErr()
			}
			if h.Routes {
				return d.Err("routes: given twice")
			}
			h.Routes = true
			continue
		}
		if opt == "proxy_pass" {
			if proxyPassGiven {
				return d.Err("proxy_pass: given twice")
			}
			proxyPassGiven = true
		}
		if ok, err := h.unmarshalProxy(d, opt); ok {
			if err != nil {
				return err
			}
			continue
		}
		if opt == "set_by_lua" || opt == "set_by_lua_file" {
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("%s: want a variable and %s, then optional arguments", opt,
					map[bool]string{true: "a file path", false: "Lua code"}[opt == "set_by_lua_file"])
			}
			s := SetScript{Var: strings.TrimPrefix(args[0], "$"), Args: args[2:]}
			if opt == "set_by_lua_file" {
				s.LuaFile = args[1]
			} else {
				s.Lua = Dedent(args[1])
			}
			h.Set = append(h.Set, s)
			continue
		}
		phase, file := "", false
		switch {
		case strings.HasSuffix(opt, "_by_lua_file"):
			phase, file = strings.TrimSuffix(opt, "_by_lua_file"), true
		case strings.HasSuffix(opt, "_by_lua_block"):
			return d.Errf("%s: use %s_by_lua with a heredoc (<<LUA … LUA) instead", opt, strings.TrimSuffix(opt, "_by_lua_block"))
		case strings.HasSuffix(opt, "_by_lua"):
			phase = strings.TrimSuffix(opt, "_by_lua")
		}
		target, ok := targets[phase]
		if !ok {
			return d.Errf("unrecognized resty directive %q (phases: set, rewrite, access, content, header_filter, body_filter, log; forms: <phase>_by_lua, <phase>_by_lua_file)", opt)
		}
		var v string
		if !d.Args(&v) {
			return d.Errf("%s: missing %s", opt, map[bool]string{true: "file path", false: "Lua code"}[file])
		}
		if d.NextArg() {
			return d.Errf("%s: too many arguments (quote the code or use a heredoc)", opt)
		}
		if file {
			*target = append(*target, Script{LuaFile: v})
		} else {
			*target = append(*target, Script{Lua: Dedent(v)})
		}
	}
	if p := h.ProxyPass; p != nil && p.URL == "" && p.Upstream == "" && !proxyPassGiven {
		return d.Err("proxy_* options need proxy_pass (with no argument it proxies the requests Lua or a route gave a cluster)")
	}
	return nil
}

// Dedent removes the indentation common to every non-blank line of inline
// code (a heredoc keeps the indentation beyond its closing tag's) and
// trailing blank space, keeping line numbers as they are. The Caddyfile
// adapter applies it to every inline Lua chunk: the handler's phases and
// the route table's `lua` conditions.
func Dedent(code string) string {
	lines := strings.Split(code, "\n")
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = ind, false
			continue
		}
		for !strings.HasPrefix(ind, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if prefix == "" {
		return strings.TrimRight(code, " \t\n")
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, prefix)
	}
	return strings.TrimRight(strings.Join(lines, "\n"), " \t\n")
}

// Interface guards.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
