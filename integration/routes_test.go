package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testPlugins are route plugins written for these tests, as
// resty/plugins/NAME.lua on the package path.
var testPlugins = map[string]string{
	// trace-* append "<tag>.<phase>" to ctx.trace in every phase; the
	// trace goes out as X-Trace (header_filter), at the end of the body
	// (body_filter) and into the dict `seen` (log).
	"trace": `
local function add(conf, ctx, phase)
	ctx.trace = (ctx.trace and ctx.trace .. " " or "") .. conf.tag .. "." .. phase
end
return {
	name = "trace",
	priority = 100,
	schema = {type = "object", properties = {tag = {type = "string"}}, required = {"tag"}},
	rewrite = function(conf, ctx) add(conf, ctx, "rewrite") end,
	access = function(conf, ctx) add(conf, ctx, "access") end,
	header_filter = function(conf, ctx)
		add(conf, ctx, "header_filter")
		ngx.header["X-Trace-" .. conf.tag] = ctx.trace
		ngx.header["Content-Length"] = nil
	end,
	body_filter = function(conf, ctx)
		if ngx.arg[2] then
			add(conf, ctx, "body_filter")
			ngx.arg[1] = (ngx.arg[1] or "") .. "|" .. conf.tag .. ":" .. ctx.trace
		end
	end,
	log = function(conf, ctx)
		add(conf, ctx, "log")
		ngx.shared.seen:set("trace-" .. conf.tag .. "-" .. ctx.route_name, ctx.trace)
	end,
}`,
	"trace-high": `
local t = require("resty.plugins.trace")
return {name = "trace-high", priority = 200, schema = t.schema, rewrite = t.rewrite, access = t.access}`,
	"trace-low": `
local t = require("resty.plugins.trace")
return {name = "trace-low", priority = 10, schema = t.schema, rewrite = t.rewrite, access = t.access}`,
	// deny answers conf.status when the request lacks conf.header.
	"deny": `
return {
	name = "deny",
	priority = 2500,
	schema = {
		type = "object",
		properties = {
			header = {type = "string", minLength = 1},
			status = {type = "integer", minimum = 400, maximum = 599, default = 401},
		},
		required = {"header"},
	},
	access = function(conf, ctx)
		if not ngx.req.get_headers()[conf.header] then
			return ngx.exit(conf.status)
		end
	end,
}`,
	// broken fails in the phase its conf names.
	"broken": `
return {
	name = "broken",
	schema = {type = "object", properties = {phase = {type = "string", enum = {"access", "header_filter", "log"}}}},
	access = function(conf) if conf.phase == "access" then error("broken plugin failed") end end,
	header_filter = function(conf) if conf.phase == "header_filter" then error("broken in header_filter") end end,
	log = function(conf) if conf.phase == "log" then error("broken in log") end end,
}`,
}

// pluginDir writes testPlugins under a temp dir and returns the
// lua_package_path line for it.
func pluginDir(t *testing.T) string {
	t.Helper()
	dir := tempDir(t)
	pdir := filepath.Join(dir, "resty", "plugins")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range testPlugins {
		if err := os.WriteFile(filepath.Join(pdir, name+".lua"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return "lua_package_path " + dir + "/?.lua\n"
}

// routeTableGlobal is the route table the tests share. @BACKEND@ is the
// backend of the proxy routes.
const routeTableGlobal = `
upstream be {
	server @BACKEND@
}
upstream fallback {
	server @FALLBACK@
}
route exact {
	host api.example.com
	path /exact
	respond 200 "exact"
}
route wildcard {
	host *.example.com
	path /w/*
	respond 200 "wildcard {path.*} on {host}"
}
route named {
	path /user/{id}/posts/{post}
	respond 200 "user {path.id} post {path.post}"
}
route methods {
	path /m
	method POST PUT
	respond 200 "post or put"
}
route prio-low {
	path /p
	priority 10
	respond 200 "low"
}
route prio-high {
	path /p
	priority 1
	respond 200 "high"
}
route order-a {
	path /o
	respond 200 "a"
}
route order-b {
	path /o
	respond 200 "b"
}
route cel {
	path /cel
	when ` + "`" + `req.headers["x-tenant"] == "acme" && req.query["v"].exists(v, v == "2")` + "`" + `
	respond 200 "acme v2"
}
route cel-cidr {
	path /cel
	when ` + "`" + `ip_in_cidr(req.remote_ip, "10.0.0.0/8")` + "`" + `
	respond 200 "never: the client is 127.0.0.1"
}
route cel-fallback {
	path /cel
	respond 200 "other"
}
route cel-heavy {
	path /heavy
	when ` + "`" + `req.headers["x-list"].split(",").all(a, req.headers["x-list"].split(",").all(b, a != b || a == b))` + "`" + `
	respond 200 "heavy"
}
route luacond {
	path /lua
	lua <<LUA
		return ngx.var.arg_beta == "1" and ngx.req.get_headers()["x-beta"] ~= nil
	LUA
	respond 200 "beta"
}
route luacond-fallback {
	path /lua
	respond 200 "stable"
}
route luaerr {
	path /luaerr
	lua <<LUA
		error("condition exploded")
	LUA
	respond 200 "never"
}
route proxy {
	path /api/*
	proxy be {
		uri /v2/{path.*}?src=route
		header_up X-Tenant acme
		header_up -X-Debug
	}
}
route proxy-plain {
	host proxy.example.com
	proxy be
}
route redirect {
	path /old/*
	redirect 301 https://new.example.com/{path.*}
}
route var {
	path /var
	respond 200 "route={http.vars.resty_route}"
}
route traced {
	path /traced
	plugin trace-high {
		tag h
	}
	plugin trace {
		tag m
	}
	plugin trace-low {
		tag l
	}
	proxy be
}
route denied {
	path /denied
	plugin deny {
		header X-Key
	}
	respond 200 "allowed"
}
route denied-403 {
	path /denied403
	plugin deny {
		header X-Key
		status 403
	}
	respond 200 "allowed"
}
route broken-access {
	path /broken/access
	plugin broken {
		phase access
	}
	respond 200 "never"
}
route broken-log {
	path /broken/log
	plugin broken {
		phase log
	}
	respond 200 "fine"
}
`

// routedSite is a site whose resty handler evaluates the route table;
// requests no route matched go to the fallback cluster (set by the
// handler's own rewrite script), showing they went on unchanged.
const routedSite = `resty {
	routes
	rewrite_by_lua <<LUA
		if not ngx.var.resty_route then ngx.var.resty_upstream = "fallback" end
	LUA
	header_filter_by_lua <<LUA
		ngx.header["X-Route"] = ngx.var.resty_route or "none"
	LUA
}
reverse_proxy {
	dynamic resty
}
`

type routesEnv struct {
	g            *gateway
	be, fallback *backend
}

func newRoutesEnv(t *testing.T, extraGlobal string) *routesEnv {
	t.Helper()
	be := newBackend(t, true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "backend %s?%s", r.URL.Path, r.URL.RawQuery)
	})
	fb := newBackend(t, true, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "fallback %s", r.URL.Path)
	})
	g := newGateway(t)
	global := strings.NewReplacer("@BACKEND@", be.addr, "@FALLBACK@", fb.addr).Replace(routeTableGlobal)
	g.load(cfg{global: "shared_dict seen 1m\n" + pluginDir(t) + extraGlobal + global, site: routedSite})
	return &routesEnv{g: g, be: be, fallback: fb}
}

// TestRoutes: each match kind, priority and order, CEL and Lua
// conditions, each action, the route variable, and no match, through a
// real Caddy with real backends.
func TestRoutes(t *testing.T) {
	env := newRoutesEnv(t, "")
	type tc struct {
		name, method, path string
		hdr                []string
		status             int
		body               string
		header             map[string]string
	}
	cases := []tc{
		{name: "exact host and path", path: "/exact", hdr: []string{"Host", "api.example.com"}, status: 200, body: "exact",
			header: map[string]string{"X-Route": "exact"}},
		{name: "exact path, other host: no match", path: "/exact", hdr: []string{"Host", "other.test"}, status: 200, body: "fallback /exact",
			header: map[string]string{"X-Route": "none"}},
		{name: "host with port and upper case", path: "/exact", hdr: []string{"Host", "API.Example.com:9080"}, status: 200, body: "exact"},
		{name: "exact path does not match a longer one", path: "/exact/more", hdr: []string{"Host", "api.example.com"}, status: 200, body: "fallback /exact/more"},
		{name: "wildcard host, prefix path, capture", path: "/w/a/b", hdr: []string{"Host", "deep.sub.example.com"}, status: 200,
			body: "wildcard a/b on deep.sub.example.com"},
		{name: "wildcard does not match the bare domain", path: "/w/a", hdr: []string{"Host", "example.com"}, status: 200, body: "fallback /w/a"},
		{name: "prefix does not match its bare parent", path: "/w", hdr: []string{"Host", "x.example.com"}, status: 200, body: "fallback /w"},
		{name: "named segments", path: "/user/42/posts/7", status: 200, body: "user 42 post 7"},
		{name: "named segment needs a segment", path: "/user//posts/7", status: 200, body: "fallback /user//posts/7"},
		{name: "method POST", method: "POST", path: "/m", status: 200, body: "post or put"},
		{name: "method GET: no match", path: "/m", status: 200, body: "fallback /m"},
		{name: "lowest priority value wins over table order", path: "/p", status: 200, body: "high"},
		{name: "equal priority: table order", path: "/o", status: 200, body: "a"},
		{name: "CEL condition true", path: "/cel?v=1&v=2", hdr: []string{"X-Tenant", "acme"}, status: 200, body: "acme v2"},
		{name: "CEL condition false falls to the next route", path: "/cel?v=1", hdr: []string{"X-Tenant", "acme"}, status: 200, body: "other"},
		{name: "CEL condition without the header it reads: false", path: "/cel?v=2", status: 200, body: "other"},
		{name: "CEL within its cost limit", path: "/heavy", hdr: []string{"X-List", "a,b,c"}, status: 200, body: "heavy"},
		{name: "CEL over its cost limit: no match", path: "/heavy", hdr: []string{"X-List", strings.Repeat("x,", 300)}, status: 200, body: "fallback /heavy"},
		{name: "Lua condition true", path: "/lua?beta=1", hdr: []string{"X-Beta", "y"}, status: 200, body: "beta"},
		{name: "Lua condition false", path: "/lua?beta=0", hdr: []string{"X-Beta", "y"}, status: 200, body: "stable"},
		{name: "Lua condition error: no match", path: "/luaerr", status: 200, body: "fallback /luaerr"},
		{name: "redirect with capture", path: "/old/x/y", status: 301, body: "",
			header: map[string]string{"Location": "https://new.example.com/x/y", "X-Route": "redirect"}},
		{name: "respond body with the route variable", path: "/var", status: 200, body: "route=var"},
		{name: "HEAD of a respond route has no body", method: "HEAD", path: "/var", status: 200, body: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.method
			if m == "" {
				m = "GET"
			}
			r := request(t, m, c.path, "", c.hdr...)
			r.expect(t, c.status, c.body)
			for k, v := range c.header {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	env.g.waitLog("route condition failed", "luaerr", "condition exploded")
	env.g.waitLog("route condition failed", "cel-heavy", "cost limit")

	t.Run("proxy action: upstream, uri with capture, headers", func(t *testing.T) {
		r := get(t, "/api/items/9?orig=1", "X-Debug", "1", "X-Keep", "k")
		r.expect(t, 200, "backend /v2/items/9?src=route")
		last := env.be.last(t)
		if last.Header.Get("X-Tenant") != "acme" || last.Header.Get("X-Debug") != "" || last.Header.Get("X-Keep") != "k" {
			t.Errorf("upstream headers %v: want X-Tenant acme, no X-Debug, X-Keep kept", last.Header)
		}
		if r.Header.Get("X-Route") != "proxy" {
			t.Errorf("X-Route %q", r.Header.Get("X-Route"))
		}
	})
	t.Run("proxy action without rewrite keeps the request", func(t *testing.T) {
		get(t, "/any/path?q=1", "Host", "proxy.example.com").expect(t, 200, "backend /any/path?q=1")
	})
}

// TestRoutePlugins: plugin phases in priority order with the global
// plugins first, plugin configs checked and defaulted by their schema,
// plugin errors.
func TestRoutePlugins(t *testing.T) {
	env := newRoutesEnv(t, "global_plugin trace {\n\ttag g\n}\n")

	t.Run("phases in order, global first", func(t *testing.T) {
		r := get(t, "/traced")
		// The route's plugins by priority (high 200, trace 100, low 10)
		// after the global one; header_filter, body_filter and log are
		// trace's only (the others have none).
		wantHdr := "g.rewrite h.rewrite m.rewrite l.rewrite g.access h.access m.access l.access g.header_filter"
		if got := r.Header.Get("X-Trace-G"); got != wantHdr {
			t.Errorf("X-Trace-G = %q, want %q", got, wantHdr)
		}
		if got := r.Header.Get("X-Trace-M"); got != wantHdr+" m.header_filter" {
			t.Errorf("X-Trace-M = %q", got)
		}
		want := "backend /traced?|g:" + wantHdr + " m.header_filter g.body_filter|m:" + wantHdr + " m.header_filter g.body_filter m.body_filter"
		r.expect(t, 200, want)
		waitDict(t, "seen", "trace-m-traced", wantHdr+" m.header_filter g.body_filter m.body_filter g.log m.log")
	})
	t.Run("global plugins run for requests no route matched", func(t *testing.T) {
		r := get(t, "/nothing-here")
		r.expect(t, 200, "fallback /nothing-here|g:g.rewrite g.access g.header_filter g.body_filter")
	})
	t.Run("schema default applies", func(t *testing.T) {
		// The global plugin's filters also see the error response.
		get(t, "/denied").expect(t, 401, "|g:g.rewrite g.access g.header_filter g.body_filter")
		get(t, "/denied", "X-Key", "k").expect(t, 200, "allowed|g:g.rewrite g.access g.header_filter g.body_filter")
		get(t, "/denied403").expect(t, 403, "|g:g.rewrite g.access g.header_filter g.body_filter")
	})
	t.Run("plugin error in access: 500, logged with route and plugin", func(t *testing.T) {
		r := get(t, "/broken/access")
		if r.Status != 500 {
			t.Errorf("status %d, want 500", r.Status)
		}
		env.g.waitLog("broken-access", "broken plugin failed")
	})
	t.Run("plugin error in log: response unaffected", func(t *testing.T) {
		get(t, "/broken/log").expect(t, 200, "fine|g:g.rewrite g.access g.header_filter g.body_filter")
		env.g.waitLog("broken-log", "broken in log")
	})
}

// jsonConfig is a JSON config with the resty app apps.resty (given as
// JSON) and a site that routes.
func jsonConfig(resty string) string {
	return `{"admin": {"listen": "localhost:2999"},
	"apps": {"resty": ` + resty + `,
	"http": {"http_port": 9080, "servers": {"srv0": {"listen": [":9080"], "routes": [{"handle": [
		{"handler": "resty", "routes": true},
		{"handler": "static_response", "body": "no route"}]}]}}}}}`
}

func tryLoadJSON(t *testing.T, config string) (int, string) {
	t.Helper()
	resp, err := http.Post(adminURL+"/load", "application/json", strings.NewReader(config))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRouteBadInput: bad routes are refused at load naming the route
// and the field; the running config keeps serving.
func TestRouteBadInput(t *testing.T) {
	env := newRoutesEnv(t, "")
	pkg := strings.TrimSpace(strings.TrimPrefix(pluginDir(t), "lua_package_path "))
	app := func(routes string) string {
		return `{"lua": {"package_path": [` + strconvQuote(pkg) + `]},
			"upstreams": {"be": {"servers": [{"address": "127.0.0.1:1"}]}},
			"routes": ` + routes + `}`
	}
	resp := `"action": {"respond": {"body": "x"}}`
	cases := []struct{ name, routes, want string }{
		{"CEL syntax", `[{"name": "a", ` + resp + `}, {"name": "b", "when": "req.path ==", ` + resp + `}]`, "routes[1].when"},
		{"CEL type", `[{"name": "a", "when": "req.path + 1", ` + resp + `}]`, "routes[0].when"},
		{"CEL not bool", `[{"name": "a", "when": "req.path", ` + resp + `}]`, "routes[0].when"},
		{"CEL unknown variable", `[{"name": "a", "when": "request.path == \"/\"", ` + resp + `}]`, "routes[0].when"},
		{"Lua syntax", `[{"name": "a", "lua": "return ==", ` + resp + `}]`, "routes[0].lua"},
		{"unknown upstream", `[{"name": "a", "action": {"proxy": {"upstream": "nope"}}}]`, "routes[0].action.proxy.upstream"},
		{"duplicate names", `[{"name": "a", ` + resp + `}, {"name": "a", ` + resp + `}]`, "routes[1].name"},
		{"unknown plugin", `[{"name": "a", "plugins": {"nope": {}}, ` + resp + `}]`, "routes[0].plugins.nope"},
		{"plugin config fails its schema", `[{"name": "a", "plugins": {"deny": {"status": 200, "header": "X"}}, ` + resp + `}]`, "routes[0].plugins.deny.status"},
		{"plugin config missing a required field", `[{"name": "a", "plugins": {"deny": {}}, ` + resp + `}]`, "routes[0].plugins.deny"},
		{"bad path pattern", `[{"name": "a", "match": {"paths": ["/api*"]}, ` + resp + `}]`, "routes[0].match.paths[0]"},
		{"two actions", `[{"name": "a", "action": {"respond": {}, "redirect": {"location": "/"}}}]`, "routes[0].action"},
		{"no name", `[{` + resp + `}]`, "routes[0].name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := tryLoadJSON(t, jsonConfig(app(c.routes)))
			if code < 400 || !strings.Contains(body, c.want) {
				t.Errorf("load: %d %s; want an error naming %q", code, body, c.want)
			}
			// The running config keeps serving.
			get(t, "/exact", "Host", "api.example.com").expect(t, 200, "exact")
		})
	}
	_ = env
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// routeAdmin calls the /resty/routes admin routes.
func routeAdmin(t *testing.T, method, name, body string) (int, string) {
	t.Helper()
	path := "/resty/routes"
	if name != "" {
		path += "/" + name
	}
	return admin(t, method, path, "application/json", body)
}

// TestRoutesAdmin: GET, PUT (create, replace), DELETE through
// /resty/routes, applied to the next request without a reload, kept
// across a reload of the same config, and refused with the field named.
func TestRoutesAdmin(t *testing.T) {
	env := newRoutesEnv(t, "")
	code, out := routeAdmin(t, "GET", "", "")
	if code != 200 || !strings.Contains(out, `"name":"exact"`) {
		t.Fatalf("GET /resty/routes: %d %s", code, tail(out))
	}
	code, out = routeAdmin(t, "GET", "named", "")
	if code != 200 || !strings.Contains(out, `"/user/{id}/posts/{post}"`) || !strings.Contains(out, `"version":0`) {
		t.Fatalf("GET /resty/routes/named: %d %s", code, out)
	}
	if code, _ := routeAdmin(t, "GET", "nope", ""); code != 404 {
		t.Errorf("GET unknown: %d, want 404", code)
	}

	// Replace: the next request sees it, in place.
	code, out = routeAdmin(t, "PUT", "var", `{"match": {"paths": ["/var"]}, "action": {"respond": {"body": "v1 {http.vars.resty_route}"}}}`)
	if code != 200 || !strings.Contains(out, `"version":1`) {
		t.Fatalf("PUT var: %d %s", code, out)
	}
	get(t, "/var").expect(t, 200, "v1 var")

	// Create: it goes after the others (so /o still answers a), unless
	// its priority puts it first.
	code, out = routeAdmin(t, "PUT", "new-o", `{"match": {"paths": ["/o"]}, "action": {"respond": {"body": "new"}}}`)
	if code != 201 {
		t.Fatalf("PUT new-o: %d %s", code, out)
	}
	get(t, "/o").expect(t, 200, "a")
	routeAdmin(t, "PUT", "new-o", `{"match": {"paths": ["/o"]}, "priority": -1, "action": {"respond": {"body": "new first"}}}`)
	get(t, "/o").expect(t, 200, "new first")

	// Refused changes name the field and change nothing.
	for body, want := range map[string]string{
		`{"match": {"paths": ["/var"]}, "when": "req.path +", "action": {"respond": {"body": "bad"}}}`:  "routes/var.when",
		`{"match": {"paths": ["/var"]}, "action": {"proxy": {"upstream": "nope"}}}`:                     "routes/var.action.proxy.upstream",
		`{"match": {"paths": ["/var"]}, "plugins": {"deny": {"header": 5}}, "action": {"respond": {}}}`: "routes/var.plugins.deny.header",
		`{"name": "other", "action": {"respond": {}}}`:                                                  "routes/var.name",
		`{"match": {"paths": ["/var"]}, "actoin": {}}`:                                                  "unknown field",
		`{"match": {"paths": ["/var"]}, "lua": "return (", "action": {"respond": {"body": "bad"}}}`:     "routes/var.lua",
	} {
		code, out := routeAdmin(t, "PUT", "var", body)
		if code != 400 || !strings.Contains(out, want) {
			t.Errorf("PUT %s: %d %s; want 400 naming %q", body, code, out, want)
		}
	}
	get(t, "/var").expect(t, 200, "v1 var")

	// Delete: a config route, then the runtime one.
	if code, out := routeAdmin(t, "DELETE", "exact", ""); code != 200 {
		t.Fatalf("DELETE exact: %d %s", code, out)
	}
	get(t, "/exact", "Host", "api.example.com").expect(t, 200, "fallback /exact")
	if code, _ := routeAdmin(t, "DELETE", "exact", ""); code != 404 {
		t.Errorf("DELETE again: %d, want 404", code)
	}

	// The changes survive a reload of the same config (kept in storage).
	env.g.load(cfg{global: "shared_dict seen 1m\n" + pluginDir(t) + strings.NewReplacer("@BACKEND@", env.be.addr, "@FALLBACK@", env.fallback.addr).Replace(routeTableGlobal), site: routedSite})
	get(t, "/var").expect(t, 200, "v1 var")
	get(t, "/o").expect(t, 200, "new first")
	get(t, "/exact", "Host", "api.example.com").expect(t, 200, "fallback /exact")
}

// TestRouteChangesUnderTraffic: routes replaced, added and removed
// through /resty/routes and through /config while a load runs: no request
// fails, and each change applies to the next request.
func TestRouteChangesUnderTraffic(t *testing.T) {
	env := newRoutesEnv(t, "route work {\n\tpath /work\n\trespond 200 \"v0\"\n}\n")
	_ = env

	t.Run("in place", func(t *testing.T) {
		load := startRawLoad(8, true, "")
		for i := 1; i <= 60; i++ {
			body := fmt.Sprintf(`{"match": {"paths": ["/work"]}, "action": {"respond": {"body": "v%d"}}}`, i)
			if code, out := routeAdmin(t, "PUT", "work", body); code != 200 {
				t.Fatalf("PUT: %d %s", code, out)
			}
			get(t, "/work").expect(t, 200, fmt.Sprintf("v%d", i))
			// A route added before it and removed again.
			if code, out := routeAdmin(t, "PUT", "work-override", `{"priority": -5, "match": {"paths": ["/work"]}, "action": {"respond": {"body": "override"}}}`); code/100 != 2 {
				t.Fatalf("PUT override: %d %s", code, out)
			}
			get(t, "/work").expect(t, 200, "override")
			if code, out := routeAdmin(t, "DELETE", "work-override", ""); code != 200 {
				t.Fatalf("DELETE override: %d %s", code, out)
			}
		}
		time.Sleep(100 * time.Millisecond)
		ok, non2xx, errs, first := load.finish()
		t.Logf("load during 180 in-place changes (keep-alive connections): %d ok, %d non-2xx, %d failed %v", ok, non2xx, errs, first)
		if non2xx != 0 || errs != 0 || ok == 0 {
			t.Errorf("%d non-2xx and %d failed requests during in-place changes: %v", non2xx, errs, first)
		}
	})

	t.Run("through /config", func(t *testing.T) {
		load := startRawLoad(4, false, "")
		steps := []struct{ method, path, body, want string }{
			// Replace by index (the table has 1 + len(routeTableGlobal)
			// routes; `work` is the first).
			{"PATCH", "/config/apps/resty/routes/0/action/respond/body", `"c1"`, "c1"},
			// By @id.
			{"PATCH", "/id/work/action/respond/body", `"c2"`, "c2"},
			// Insert before it at index 0, then delete it.
			{"PUT", "/config/apps/resty/routes/0", `{"name": "work-first", "@id": "work-first", "match": {"paths": ["/work"]}, "action": {"respond": {"body": "first"}}}`, "first"},
			{"DELETE", "/id/work-first", "", "c2"},
			// Append one with a better priority, then delete by index.
			{"POST", "/config/apps/resty/routes", `{"name": "work-last", "priority": -1, "match": {"paths": ["/work"]}, "action": {"respond": {"body": "last"}}}`, "last"},
		}
		for _, s := range steps {
			code, out := admin(t, s.method, s.path, "application/json", s.body)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", s.method, s.path, code, out)
			}
			getAfterReload(t, "/work").expect(t, 200, s.want)
		}
		// Delete the appended route (the last one) by index.
		code, out := admin(t, "GET", "/config/apps/resty/routes", "", "")
		var routes []map[string]any
		if code != 200 || json.Unmarshal([]byte(out), &routes) != nil {
			t.Fatalf("GET routes: %d %s", code, tail(out))
		}
		if code, out := admin(t, "DELETE", fmt.Sprintf("/config/apps/resty/routes/%d", len(routes)-1), "", ""); code != 200 {
			t.Fatalf("DELETE last: %d %s", code, out)
		}
		getAfterReload(t, "/work").expect(t, 200, "c2")
		time.Sleep(100 * time.Millisecond)
		ok, non2xx, errs, first := load.finish()
		resets := load.resets.Load()
		t.Logf("load during %d config changes (each a Caddy reload): %d ok, %d non-2xx, %d failed, all %d reset by Caddy's listener replacement %v",
			len(steps)+1, ok, non2xx, errs, resets, first)
		// A reload replaces Caddy's listening socket (SO_REUSEPORT, then
		// the old one is closed): the connections the kernel had queued
		// on the old socket are reset before any byte of an answer. That
		// is Caddy's reload, not the route table; every other request
		// must succeed with an answer of the table before or after.
		if non2xx != 0 || errs != resets || ok == 0 {
			t.Errorf("%d non-2xx and %d failed requests (%d of them connection resets) during config changes: %v", non2xx, errs, resets, first)
		}
		for body := range load.bodies {
			if !slices.Contains([]string{"v60", "c1", "c2", "first", "last"}, body) {
				t.Errorf("answer %q", body)
			}
		}
	})
}

// getAfterReload is get for the request that checks a change made through
// /config: the change is a Caddy reload, which replaces the listener and
// may reset a connection the kernel had queued on the old one before any
// byte of an answer (the background load counts those); such a reset is
// retried, up to three times.
func getAfterReload(t *testing.T, path string) reply {
	t.Helper()
	var r reply
	for i := 0; i < 3; i++ {
		r = get(t, path)
		if r.Err == nil || !connLevel(r.Err) {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}
