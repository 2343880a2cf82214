package caddyfile

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/phases"
)

// Placeholders. Caddy's Caddyfile adapter (httpcaddyfile.ServerType.Setup,
// v2.11.9) rewrites placeholder shorthands ({uri}, {host}, {path},
// {path.N}, {header.X}, {query.X}, …) into their long forms
// ({http.request.uri}, …) only in site blocks and named routes: the global
// options block is evaluated by evaluateGlobalOptionsBlock, which runs
// before the ShorthandReplacer is made and removes the global block from
// the blocks it is applied to. So what routes say in the global `resty`
// option reaches the JSON exactly as written: `{uri}` stays `{uri}`, and the
// captured segments `{path.id}` and `{path.*}` stay too (in a site block
// `{path.id}` would become `{http.request.uri.path.id}`). The route table's
// runtime expands both the short and the long forms. Environment variables
// (`{$NAME}`, `{$NAME:default}`) are substituted when the Caddyfile is
// lexed, in every block, heredocs and quoted tokens included.

// parseRoute parses a route of the global option, the dispenser being on
// `route`:
//
//	route <name> {
//		host <host>...
//		path <pattern>...
//		method <method>...
//		when <cel>
//		lua <code>
//		priority <n>
//		plugin <name> [<json>] [{ … }]
//		proxy <upstream> [<uri>] [{
//			uri <uri>
//			header_up <name> <value>
//			header_up -<name>
//		}]
//		respond [<status>|<body> [<status>]|<status> <body>] [{
//			header <name> <value>
//		}]
//		redirect [<status>] <location>
//	}
//
// The route's name is also its `@id`. host, path and method may be given
// several times and take several values each. At most one of when and lua;
// exactly one action (proxy, respond or redirect). A name already used by
// one of before is refused.
func parseRoute(d *caddyfile.Dispenser, before []celrules.Route) (celrules.Route, error) {
	var r celrules.Route
	if !d.NextArg() {
		return r, d.Err("route: missing name (route <name> { … })")
	}
	start := d.Token()
	name := d.Val()
	if name == "" || strings.ContainsAny(name, "/ \t\r\n") {
		return r, d.Errf("route %q: a route name may not be empty or contain '/' or white space", name)
	}
	for _, b := range before {
		if b.Name == name {
			return r, d.Errf("route %s: declared twice", name)
		}
	}
	if d.NextArg() {
		return r, d.Errf("route %s: too many arguments (route <name> { … })", name)
	}
	r.Name, r.ID = name, name
	action, hasPriority := "", false
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		switch sub {
		case "host", "path", "method":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return r, d.Errf("route %s: %s: missing value", name, sub)
			}
			for _, a := range args {
				var probe celrules.Route
				switch sub {
				case "host":
					probe.Match.Hosts = []string{a}
					r.Match.Hosts = append(r.Match.Hosts, a)
				case "path":
					probe.Match.Paths = []string{a}
					r.Match.Paths = append(r.Match.Paths, a)
				case "method":
					a = strings.ToUpper(a)
					probe.Match.Methods = []string{a}
					r.Match.Methods = append(r.Match.Methods, a)
				}
				if err := check(probe); err != "" {
					return r, d.Errf("route %s: %s: %s", name, sub, err)
				}
			}
			if blockFollows(d) {
				return r, d.Errf("route %s: %s takes no block", name, sub)
			}
		case "when", "lua":
			var v string
			if !d.Args(&v) {
				return r, d.Errf("route %s: %s: missing %s", name, sub, map[string]string{"when": "CEL expression", "lua": "Lua code"}[sub])
			}
			if d.NextArg() {
				return r, d.Errf("route %s: %s: too many arguments (quote the %s, for example in backquotes, or use a heredoc)", name, sub, map[string]string{"when": "expression", "lua": "code"}[sub])
			}
			if r.When != "" || r.Lua != "" {
				return r, d.Errf("route %s: %s: a route has at most one condition (when or lua)", name, sub)
			}
			if sub == "lua" {
				r.Lua = phases.Dedent(v)
				if r.Lua == "" {
					return r, d.Errf("route %s: lua: empty code", name)
				}
				continue
			}
			r.When = strings.TrimSpace(v)
			if r.When == "" {
				return r, d.Errf("route %s: when: empty expression", name)
			}
			if err := check(celrules.Route{When: r.When}); err != "" {
				return r, d.Errf("route %s: when: %s", name, err)
			}
		case "priority":
			var v string
			if !d.AllArgs(&v) {
				return r, d.Errf("route %s: usage: priority <integer>", name)
			}
			if hasPriority {
				return r, d.Errf("route %s: priority: given twice", name)
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return r, d.Errf("route %s: priority: %q is not an integer", name, v)
			}
			r.Priority, hasPriority = n, true
		case "plugin":
			if !d.NextArg() {
				return r, d.Errf("route %s: plugin: missing plugin name", name)
			}
			pname := d.Val()
			if _, dup := r.Plugins[pname]; dup {
				return r, d.Errf("route %s: plugin %s: given twice (one block per plugin)", name, pname)
			}
			conf, err := parsePluginConfig(d, "route "+name+": plugin "+pname)
			if err != nil {
				return r, err
			}
			if r.Plugins == nil {
				r.Plugins = make(map[string]json.RawMessage)
			}
			r.Plugins[pname] = conf
		case "proxy", "respond", "redirect":
			if action != "" {
				return r, d.Errf("route %s: %s: a route has one action, and it already has %s", name, sub, action)
			}
			action = sub
			var err error
			switch sub {
			case "proxy":
				r.Action.Proxy, err = parseProxy(d, name)
			case "respond":
				r.Action.Respond, err = parseRespond(d, name)
			case "redirect":
				r.Action.Redirect, err = parseRedirect(d, name)
			}
			if err != nil {
				return r, err
			}
		default:
			return r, d.Errf("route %s: unrecognized subdirective %q (host, path, method, when, lua, priority, plugin, proxy, respond, redirect)", name, sub)
		}
	}
	if action == "" {
		at := caddyfile.NewDispenser([]caddyfile.Token{start})
		at.Next()
		return r, at.Errf("route %s: missing action (proxy, respond or redirect)", name)
	}
	return r, nil
}

// check validates what probe sets (the rest of a route filled in) as the
// route table does when it loads, and returns the problem, or "".
func check(probe celrules.Route) string {
	probe.Name = "probe"
	if probe.Action == (celrules.Action{}) {
		probe.Action.Respond = &celrules.RespondAction{}
	}
	if _, err := celrules.Compile([]celrules.Route{probe}, celrules.Options{}); err != nil {
		// The message names the place in the table ("routes[0].when: "),
		// which the Caddyfile error replaces.
		msg := err.Error()
		if strings.HasPrefix(msg, "routes[0]") {
			if _, rest, ok := strings.Cut(msg, ": "); ok {
				msg = rest
			}
		}
		return msg
	}
	return ""
}

// parseProxy parses `proxy <upstream> [<uri>] [{ … }]`.
func parseProxy(d *caddyfile.Dispenser, route string) (*celrules.ProxyAction, error) {
	p := new(celrules.ProxyAction)
	if !d.NextArg() {
		return nil, d.Errf("route %s: proxy: missing upstream name", route)
	}
	p.Upstream = d.Val()
	if d.NextArg() {
		p.URI = d.Val()
	}
	if d.NextArg() {
		return nil, d.Errf("route %s: usage: proxy <upstream> [<uri>] [{ … }]", route)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "uri":
			var v string
			if !d.AllArgs(&v) {
				return nil, d.Errf("route %s: proxy: usage: uri <uri>", route)
			}
			if p.URI != "" {
				return nil, d.Errf("route %s: proxy: uri given twice", route)
			}
			p.URI = v
		case "header_up":
			args := d.RemainingArgs()
			var hname, value string
			switch {
			case len(args) == 1 && strings.HasPrefix(args[0], "-"):
				hname = args[0][1:]
			case len(args) == 2 && !strings.HasPrefix(args[0], "-") && !strings.HasPrefix(args[0], "+"):
				hname, value = args[0], args[1]
			default:
				return nil, d.Errf("route %s: proxy: usage: header_up <name> <value> | header_up -<name>", route)
			}
			if err := setHeader(&p.Headers, hname, value); err != "" {
				return nil, d.Errf("route %s: proxy: header_up: %s", route, err)
			}
		default:
			return nil, d.Errf("route %s: proxy: unrecognized subdirective %q (uri, header_up)", route, d.Val())
		}
	}
	return p, nil
}

// parseRespond parses `respond [<status>|<body> [<status>]|<status> <body>]
// [{ header <name> <value> }]`.
func parseRespond(d *caddyfile.Dispenser, route string) (*celrules.RespondAction, error) {
	r := new(celrules.RespondAction)
	var args []caddyfile.Token
	for d.NextArg() {
		args = append(args, d.Token())
	}
	switch {
	case len(args) == 0:
	case len(args) == 1 && statusCode(args[0]) != 0:
		r.Status = statusCode(args[0])
	case len(args) == 1:
		r.Body = args[0].Text
	case len(args) == 2 && statusCode(args[0]) != 0 && statusCode(args[1]) == 0:
		r.Status, r.Body = statusCode(args[0]), args[1].Text
	case len(args) == 2:
		r.Body = args[0].Text
		if r.Status = statusCode(args[1]); r.Status == 0 {
			return nil, d.Errf("route %s: respond: %q is not a status code", route, args[1].Text)
		}
	default:
		return nil, d.Errf("route %s: usage: respond [<status>|<body> [<status>]|<status> <body>] [{ … }]", route)
	}
	if s := r.Status; s != 0 && (s < 100 || s > 599) {
		return nil, d.Errf("route %s: respond: %d is not a status code (100 to 599)", route, s)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "header":
			var hname, value string
			if !d.AllArgs(&hname, &value) {
				return nil, d.Errf("route %s: respond: usage: header <name> <value>", route)
			}
			if err := setHeader(&r.Headers, hname, value); err != "" {
				return nil, d.Errf("route %s: respond: header: %s", route, err)
			}
		default:
			return nil, d.Errf("route %s: respond: unrecognized subdirective %q (header)", route, d.Val())
		}
	}
	return r, nil
}

// parseRedirect parses `redirect [<status>] <location>` (or, as Caddy's
// redir, `redirect <location> [<status>]`).
func parseRedirect(d *caddyfile.Dispenser, route string) (*celrules.RedirectAction, error) {
	r := new(celrules.RedirectAction)
	var args []caddyfile.Token
	for d.NextArg() {
		args = append(args, d.Token())
	}
	switch {
	case len(args) == 1 && redirectCode(args[0]) == 0:
		r.Location = args[0].Text
	case len(args) == 2 && redirectCode(args[0]) != 0:
		r.Status, r.Location = redirectCode(args[0]), args[1].Text
	case len(args) == 2 && redirectCode(args[1]) != 0:
		r.Location, r.Status = args[0].Text, redirectCode(args[1])
	default:
		return nil, d.Errf("route %s: usage: redirect [<status>] <location> (status 300 to 399, permanent or temporary)", route)
	}
	if r.Status != 0 && (r.Status < 300 || r.Status > 399) {
		return nil, d.Errf("route %s: redirect: %d is not a redirection status (300 to 399)", route, r.Status)
	}
	if r.Location == "" {
		return nil, d.Errf("route %s: redirect: empty location", route)
	}
	if blockFollows(d) {
		return nil, d.Errf("route %s: redirect takes no block", route)
	}
	return r, nil
}

// statusCode returns the status code an unquoted three-digit token says, or
// 0.
func statusCode(t caddyfile.Token) int {
	if t.Quoted() || len(t.Text) != 3 {
		return 0
	}
	n, err := strconv.Atoi(t.Text)
	if err != nil || n < 100 {
		return 0
	}
	return n
}

// redirectCode is statusCode, also taking Caddy's redir names permanent
// (301) and temporary (302).
func redirectCode(t caddyfile.Token) int {
	if !t.Quoted() {
		switch t.Text {
		case "permanent":
			return 301
		case "temporary":
			return 302
		}
	}
	return statusCode(t)
}

// setHeader sets name to value in *h, refusing a bad name or a name set
// twice.
func setHeader(h *map[string]string, name, value string) string {
	if err := check(celrules.Route{Action: celrules.Action{Respond: &celrules.RespondAction{Headers: map[string]string{name: ""}}}}); err != "" {
		return err
	}
	if *h == nil {
		*h = make(map[string]string)
	}
	for k := range *h {
		if strings.EqualFold(k, name) {
			return "header " + name + " given twice"
		}
	}
	(*h)[name] = value
	return ""
}
