package celrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// testReq is a Request with fixed values that counts the lazy lookups.
type testReq struct {
	method, host, path, scheme, uri, remoteIP string
	query                                     map[string][]string
	headers, cookies                          map[string]string
	vars                                      map[string]any
	headerCalls, cookieCalls, queryCalls      int
	lua                                       func(*Route, any) (bool, error)
}

func (r *testReq) Method() string { return r.method }
func (r *testReq) Host() string   { return r.host }
func (r *testReq) Path() string   { return r.path }
func (r *testReq) Scheme() string { return r.scheme }
func (r *testReq) URI() string    { return r.uri }
func (r *testReq) Query() map[string][]string {
	r.queryCalls++
	return r.query
}
func (r *testReq) Headers() map[string]string {
	r.headerCalls++
	return r.headers
}
func (r *testReq) Cookies() map[string]string {
	r.cookieCalls++
	return r.cookies
}
func (r *testReq) RemoteIP() string     { return r.remoteIP }
func (r *testReq) Vars() map[string]any { return r.vars }

type luaReq struct{ *testReq }

func (r luaReq) EvalLua(rt *Route, data any) (bool, error) { return r.lua(rt, data) }

func resp(name string) Action { return Action{Respond: &RespondAction{Status: 200, Body: name}} }

func rt(name string, hosts, paths, methods []string) Route {
	return Route{Name: name, Match: Match{Hosts: hosts, Paths: paths, Methods: methods}, Action: resp(name)}
}

func get(host, path string) *testReq {
	return &testReq{method: "GET", host: host, path: path, scheme: "http", uri: path}
}

func mustCompile(t testing.TB, routes []Route, opts Options) *Table {
	t.Helper()
	tb, err := Compile(routes, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return tb
}

func matchName(t *testing.T, tb *Table, req Request) (string, *Result) {
	t.Helper()
	res, err := tb.Match(req)
	if err != nil {
		t.Logf("match errors: %v", err)
	}
	if res == nil {
		return "", nil
	}
	return res.Route.Name, res
}

func TestMatchKinds(t *testing.T) {
	s := func(v ...string) []string { return v }
	routes := []Route{
		rt("exact-host-exact-path", s("api.example.com"), s("/a/b"), nil),
		rt("exact-host-prefix", s("api.example.com"), s("/api/*"), nil),
		rt("wild", s("*.example.com"), s("/w"), nil),
		rt("wild-deeper", s("*.eu.example.com"), s("/w"), nil),
		rt("user", nil, s("/user/{id}"), nil),
		rt("user-posts", nil, s("/user/{uid}/posts/{pid}"), nil),
		rt("files", nil, s("/files/{bucket}/*"), nil),
		rt("root", nil, s("/"), nil),
		rt("post-only", s("m.example.org"), s("/m"), s("POST", "put")),
		rt("any-method", s("m.example.org"), s("/m2"), nil),
		rt("custom-method", s("m.example.org"), s("/dav"), s("PROPFIND")),
		rt("multi", s("x.test", "y.test"), s("/one", "/two/*"), nil),
		rt("ipv6", s("::1"), s("/v6"), nil),
		rt("catchall-host", s("c.test"), nil, nil),
		rt("trailing", nil, s("/t/"), nil),
	}
	tb := mustCompile(t, routes, Options{})
	tests := []struct {
		method, host, path string
		want               string
		caps               map[string]string
	}{
		{"GET", "api.example.com", "/a/b", "exact-host-exact-path", nil},
		{"GET", "api.example.com", "/a/b/", "", nil},
		{"GET", "api.example.com", "/a", "", nil},
		{"GET", "other.com", "/a/b", "", nil},
		{"GET", "api.example.com", "/api/", "exact-host-prefix", map[string]string{"*": ""}},
		{"GET", "api.example.com", "/api/x/y", "exact-host-prefix", map[string]string{"*": "x/y"}},
		{"GET", "api.example.com", "/api", "", nil},
		{"GET", "api.example.com", "/apix/y", "", nil},
		{"GET", "a.example.com", "/w", "wild", nil},
		{"GET", "a.b.example.com", "/w", "wild", nil},
		{"GET", "example.com", "/w", "", nil},
		{"GET", "x.eu.example.com", "/w", "wild", nil}, // both wildcards hold; table order decides
		{"GET", "any.host", "/user/42", "user", map[string]string{"id": "42"}},
		{"GET", "any.host", "/user/", "", nil},
		{"GET", "any.host", "/user/42/posts/7", "user-posts", map[string]string{"uid": "42", "pid": "7"}},
		{"GET", "any.host", "/files/b1/a/b.txt", "files", map[string]string{"bucket": "b1", "*": "a/b.txt"}},
		{"GET", "any.host", "/files/b1", "", nil},
		{"GET", "any.host", "/", "root", nil},
		{"POST", "m.example.org", "/m", "post-only", nil},
		{"PUT", "m.example.org", "/m", "post-only", nil},
		{"GET", "m.example.org", "/m", "", nil},
		{"DELETE", "m.example.org", "/m2", "any-method", nil},
		{"PROPFIND", "m.example.org", "/dav", "custom-method", nil},
		{"MKCOL", "m.example.org", "/dav", "", nil},
		{"GET", "y.test", "/one", "multi", nil},
		{"GET", "x.test", "/two/3", "multi", map[string]string{"*": "3"}},
		{"GET", "::1", "/v6", "ipv6", nil},
		{"GET", "c.test", "/anything/at/all", "catchall-host", map[string]string{"*": "anything/at/all"}},
		{"GET", "c.test", "*", "catchall-host", map[string]string{"*": "*"}},
		{"GET", "any.host", "/t/", "trailing", nil},
		{"GET", "any.host", "/t", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.host+tc.path, func(t *testing.T) {
			req := get(tc.host, tc.path)
			req.method = tc.method
			got, res := matchName(t, tb, req)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if res == nil {
				return
			}
			if len(res.Captures) != len(tc.caps) {
				t.Fatalf("captures %v, want %v", res.Captures, tc.caps)
			}
			for k, v := range tc.caps {
				if g, ok := res.Capture(k); !ok || g != v {
					t.Errorf("capture %q = %q, %v; want %q", k, g, ok, v)
				}
			}
		})
	}
}

func TestWildcardAndAnyHostOrder(t *testing.T) {
	s := func(v ...string) []string { return v }
	// Host kinds are index keys, not precedence: table order and priority decide.
	tb := mustCompile(t, []Route{
		rt("any", nil, s("/p"), nil),
		rt("wild", s("*.example.com"), s("/p"), nil),
		rt("exact", s("a.example.com"), s("/p"), nil),
	}, Options{})
	if got, _ := matchName(t, tb, get("a.example.com", "/p")); got != "any" {
		t.Fatalf("got %q, want any (first in table)", got)
	}
	tb = mustCompile(t, []Route{
		rt("any", nil, s("/p"), nil),
		{Name: "wild", Priority: -1, Match: Match{Hosts: s("*.example.com"), Paths: s("/p")}, Action: resp("w")},
		{Name: "exact", Priority: -2, Match: Match{Hosts: s("A.Example.COM"), Paths: s("/p")}, Action: resp("e")},
	}, Options{})
	for host, want := range map[string]string{"a.example.com": "exact", "b.example.com": "wild", "b.example.org": "any"} {
		if got, _ := matchName(t, tb, get(host, "/p")); got != want {
			t.Errorf("%s: got %q, want %q", host, got, want)
		}
	}
}

func TestPriority(t *testing.T) {
	s := func(v ...string) []string { return v }
	tb := mustCompile(t, []Route{
		{Name: "first", Match: Match{Paths: s("/api/*")}, Action: resp("1")},
		{Name: "high", Priority: -10, Match: Match{Paths: s("/api/v1/*")}, Action: resp("2")},
		{Name: "low", Priority: 10, Match: Match{Paths: s("/api/v1/x")}, Action: resp("3")},
		{Name: "tie-a", Priority: 5, Match: Match{Paths: s("/b/{x}")}, Action: resp("4")},
		{Name: "tie-b", Priority: 5, Match: Match{Paths: s("/b/c")}, Action: resp("5")},
	}, Options{})
	for path, want := range map[string]string{
		"/api/v1/x": "high", "/api/v2": "first", "/b/c": "tie-a", "/b/d": "tie-a",
	} {
		if got, _ := matchName(t, tb, get("h", path)); got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

func TestCELConditions(t *testing.T) {
	base := func() *testReq {
		return &testReq{
			method: "GET", host: "api.example.com", path: "/v2/items", scheme: "https",
			uri: "/v2/items?v=2&v=3&q=x", remoteIP: "10.1.2.3",
			query:   map[string][]string{"v": {"2", "3"}, "q": {"x"}},
			headers: map[string]string{"x-tenant": "acme", "user-agent": "Curl/8.0", "accept": "a, b"},
			cookies: map[string]string{"beta": "1"},
			vars:    map[string]any{"tier": "gold", "n": 3},
		}
	}
	tests := []struct {
		when string
		want bool
	}{
		{`req.method == "GET"`, true},
		{`req.scheme == "https"`, true},
		{`req.host == "api.example.com"`, true},
		{`req.path.startsWith("/v2/")`, true},
		{`req.uri.contains("q=x")`, true},
		{`req.query["v"] == ["2", "3"]`, true},
		{`req.query["v"].exists(v, v == "3")`, true},
		{`"nope" in req.query`, false},
		{`req.headers["x-tenant"] == "acme"`, true},
		{`req.headers["accept"] == "a, b"`, true},
		{`req.headers["x-tenant"] == "other"`, false},
		{`"x-missing" in req.headers`, false},
		{`req.cookies["beta"] == "1"`, true},
		{`"alpha" in req.cookies`, false},
		{`req.remote_ip == "10.1.2.3"`, true},
		{`ip_in_cidr(req.remote_ip, "10.0.0.0/8")`, true},
		{`ip_in_cidr(req.remote_ip, "192.168.0.0/16")`, false},
		{`ip_in_cidr(req.remote_ip, "10.1.2.3")`, true},
		{`ip_in_cidr("not-an-ip", "10.0.0.0/8")`, false},
		{`vars["tier"] == "gold" && vars["n"] == 3`, true},
		{`now > timestamp("2020-01-01T00:00:00Z")`, true},
		{`req.headers["user-agent"].lowerAscii().startsWith("curl")`, true},
		{`req.path.split("/")[1] == "v2"`, true},
		{`req.path.replace("items", "x") == "/v2/x"`, true},
		{`base64.encode(b"acme") == "YWNtZQ=="`, true},
		{`string(base64.decode("YWNtZQ==")) == req.headers["x-tenant"]`, true},
		{`req.path.matches("^/v[0-9]+/")`, true},
		{`req.headers["user-agent"].matches("^Wget")`, false},
	}
	for i, tc := range tests {
		t.Run(tc.when, func(t *testing.T) {
			tb := mustCompile(t, []Route{
				{Name: "c", When: tc.when, Action: resp("c")},
				{Name: "fallback", Action: resp("f")},
			}, Options{})
			got, _ := matchName(t, tb, base())
			if want := map[bool]string{true: "c", false: "fallback"}[tc.want]; got != want {
				t.Fatalf("test %d: got %q, want %q", i, got, want)
			}
		})
	}
}

func TestCELLazyActivation(t *testing.T) {
	tb := mustCompile(t, []Route{
		{Name: "path-only", When: `req.path == "/nope"`, Action: resp("1")},
		{Name: "hdr1", When: `req.headers["a"] == "x"`, Action: resp("2")},
		{Name: "hdr2", When: `req.headers["a"] == "1"`, Action: resp("3")},
	}, Options{})
	req := get("h", "/p")
	req.headers = map[string]string{"a": "1"}
	tb2 := mustCompile(t, tb.Routes()[:1], Options{})
	if got, _ := matchName(t, tb2, req); got != "" || req.headerCalls != 0 || req.cookieCalls != 0 || req.queryCalls != 0 {
		t.Fatalf("path-only: got %q, headers built %d times, cookies %d, query %d", got, req.headerCalls, req.cookieCalls, req.queryCalls)
	}
	if got, _ := matchName(t, tb, req); got != "hdr2" || req.headerCalls != 1 {
		t.Fatalf("got %q, headers built %d times; want hdr2, once", got, req.headerCalls)
	}
}

func TestCostLimit(t *testing.T) {
	heavy := `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c > 0)))`
	tb := mustCompile(t, []Route{
		{Name: "heavy", When: heavy, Action: resp("h")},
		{Name: "fallback", Action: resp("f")},
	}, Options{CostLimit: 100})
	res, err := tb.Match(get("h", "/"))
	if res == nil || res.Route.Name != "fallback" {
		t.Fatalf("want the fallback route, got %+v", res)
	}
	if err == nil || !strings.Contains(err.Error(), `routes/heavy.when: `) || !strings.Contains(err.Error(), "cost limit") {
		t.Fatalf("want a cost limit error naming the route, got %v", err)
	}
	var re *RouteError
	if !errors.As(err, &re) || re.Name != "heavy" || re.Field != "when" || len(res.Errors) != 1 {
		t.Fatalf("want a RouteError, got %v", err)
	}
	// With the default limit the same condition holds.
	tb = mustCompile(t, []Route{{Name: "heavy", When: heavy, Action: resp("h")}}, Options{})
	if got, _ := matchName(t, tb, get("h", "/")); got != "heavy" {
		t.Fatalf("got %q with the default limit", got)
	}
}

func TestCELRuntimeErrorIsNoMatch(t *testing.T) {
	tb := mustCompile(t, []Route{
		{Name: "missing-key", When: `req.headers["absent"] == "x"`, Action: resp("1")},
		{Name: "bad-cidr", When: `ip_in_cidr(req.remote_ip, "nonsense")`, Action: resp("2")},
	}, Options{})
	req := get("h", "/")
	req.remoteIP = "1.2.3.4"
	res, err := tb.Match(req)
	if res != nil || err == nil || len(strings.Split(err.Error(), "\n")) != 2 {
		t.Fatalf("res %v, err %v", res, err)
	}
}

func TestLuaConditions(t *testing.T) {
	tb := mustCompile(t, []Route{
		{Name: "lua-no", Lua: "return false", Action: resp("1")},
		{Name: "lua-err", Lua: "error('x')", Action: resp("2")},
		{Name: "lua-yes", Lua: "return true", Action: resp("3")},
	}, Options{})
	var seen []string
	req := luaReq{get("h", "/")}
	req.lua = func(r *Route, data any) (bool, error) {
		seen = append(seen, r.Name)
		switch r.Lua {
		case "return true":
			return true, nil
		case "error('x')":
			return false, errors.New("boom")
		}
		return false, nil
	}
	res, err := tb.Match(req)
	if res == nil || res.Route.Name != "lua-yes" || err == nil || !strings.Contains(err.Error(), "routes/lua-err.lua: boom") {
		t.Fatalf("res %v err %v", res, err)
	}
	if fmt.Sprint(seen) != "[lua-no lua-err lua-yes]" {
		t.Fatalf("evaluated %v", seen)
	}
	// Without an evaluator, Lua routes do not match and say why.
	res, err = tb.Match(get("h", "/"))
	if res != nil || err == nil {
		t.Fatalf("res %v err %v", res, err)
	}
}

func TestBadInput(t *testing.T) {
	ok := func(name string) Route { return Route{Name: name, Action: resp(name)} }
	with := func(f func(r *Route)) []Route {
		r := ok("bad")
		f(&r)
		return []Route{ok("a"), r}
	}
	tests := []struct {
		name   string
		routes []Route
		opts   Options
		want   string
	}{
		{"no name", with(func(r *Route) { r.Name = "" }), Options{}, "routes[1].name: a route needs a name"},
		{"slash in name", with(func(r *Route) { r.Name = "a/b" }), Options{}, "routes[1].name: "},
		{"duplicate name", []Route{ok("a"), ok("b"), ok("a")}, Options{}, `routes[2].name: duplicate route name "a" (also routes[0])`},
		{"cel syntax", with(func(r *Route) { r.When = `req.path ==` }), Options{}, "routes[1].when: ERROR"},
		{"cel type", with(func(r *Route) { r.When = `req.path == 1` }), Options{}, "routes[1].when: ERROR"},
		{"cel not bool", with(func(r *Route) { r.When = `req.path` }), Options{}, "routes[1].when: the expression must be of type bool"},
		{"cel unknown var", with(func(r *Route) { r.When = `request.path == "/"` }), Options{}, "routes[1].when: ERROR"},
		{"when and lua", with(func(r *Route) { r.When = "true"; r.Lua = "return true" }), Options{}, "routes[1]: at most one of when and lua"},
		{"no action", with(func(r *Route) { r.Action = Action{} }), Options{}, "routes[1].action: exactly one of proxy, respond and redirect must be set (0 are)"},
		{"two actions", with(func(r *Route) { r.Action.Redirect = &RedirectAction{Location: "/"} }), Options{}, "routes[1].action: exactly one"},
		{"respond status", with(func(r *Route) { r.Action.Respond.Status = 600 }), Options{}, "routes[1].action.respond.status: 600"},
		{"respond status low", with(func(r *Route) { r.Action.Respond.Status = 99 }), Options{}, "routes[1].action.respond.status: 99"},
		{"respond header", with(func(r *Route) { r.Action.Respond.Headers = map[string]string{"a b": "x"} }), Options{}, "routes[1].action.respond.headers: bad header name"},
		{"redirect status", with(func(r *Route) { r.Action = Action{Redirect: &RedirectAction{Status: 200, Location: "/"}} }), Options{}, "routes[1].action.redirect.status: 200"},
		{"redirect location", with(func(r *Route) { r.Action = Action{Redirect: &RedirectAction{Status: 301}} }), Options{}, "routes[1].action.redirect.location: a location is required"},
		{"proxy upstream", with(func(r *Route) { r.Action = Action{Proxy: &ProxyAction{}} }), Options{}, "routes[1].action.proxy.upstream: an upstream is required"},
		{"unknown upstream", with(func(r *Route) { r.Action = Action{Proxy: &ProxyAction{Upstream: "nope"}} }),
			Options{Upstreams: func(n string) bool { return n == "known" }}, `routes[1].action.proxy.upstream: unknown upstream "nope"`},
		{"proxy header", with(func(r *Route) {
			r.Action = Action{Proxy: &ProxyAction{Upstream: "u", Headers: map[string]string{"": "x"}}}
		}), Options{}, "routes[1].action.proxy.headers: empty header name"},
		{"path no slash", with(func(r *Route) { r.Match.Paths = []string{"/ok", "api"} }), Options{}, "routes[1].match.paths[1]: \"api\": a path pattern starts with '/'"},
		{"path empty", with(func(r *Route) { r.Match.Paths = []string{""} }), Options{}, "routes[1].match.paths[0]: empty path pattern"},
		{"path star middle", with(func(r *Route) { r.Match.Paths = []string{"/a/*/b"} }), Options{}, "routes[1].match.paths[0]: \"/a/*/b\": '*' is allowed only as the last segment"},
		{"path star in segment", with(func(r *Route) { r.Match.Paths = []string{"/api*"} }), Options{}, "routes[1].match.paths[0]: \"/api*\": '*' is allowed only as a whole last segment"},
		{"path bad name", with(func(r *Route) { r.Match.Paths = []string{"/u/{}"} }), Options{}, "routes[1].match.paths[0]: \"/u/{}\": bad segment name"},
		{"path partial name", with(func(r *Route) { r.Match.Paths = []string{"/u/x{id}"} }), Options{}, "routes[1].match.paths[0]: \"/u/x{id}\": a named segment is a whole segment"},
		{"path dup name", with(func(r *Route) { r.Match.Paths = []string{"/u/{id}/{id}"} }), Options{}, "routes[1].match.paths[0]: \"/u/{id}/{id}\": segment name \"id\" used twice"},
		{"host empty", with(func(r *Route) { r.Match.Hosts = []string{""} }), Options{}, "routes[1].match.hosts[0]: empty host"},
		{"host star middle", with(func(r *Route) { r.Match.Hosts = []string{"a.*.com"} }), Options{}, "routes[1].match.hosts[0]: \"a.*.com\": '*' is allowed only"},
		{"host bare wildcard", with(func(r *Route) { r.Match.Hosts = []string{"*."} }), Options{}, "routes[1].match.hosts[0]: \"*.\": a wildcard needs a domain"},
		{"host port", with(func(r *Route) { r.Match.Hosts = []string{"a.com:8080"} }), Options{}, "routes[1].match.hosts[0]: \"a.com:8080\": a host is matched without its port"},
		{"host slash", with(func(r *Route) { r.Match.Hosts = []string{"a.com/x"} }), Options{}, "routes[1].match.hosts[0]: \"a.com/x\": a host may not contain"},
		{"method empty", with(func(r *Route) { r.Match.Methods = []string{"GET", ""} }), Options{}, "routes[1].match.methods[1]: empty method"},
		{"method bad", with(func(r *Route) { r.Match.Methods = []string{"GE T"} }), Options{}, "routes[1].match.methods[0]: bad method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.routes, tc.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant prefix %q", err, tc.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	const in = `[{"@id": "user-api", "name": "user-api",
	  "match": {"hosts": ["api.example.com"], "paths": ["/user/*"], "methods": ["GET", "POST"]},
	  "when": "req.headers[\"x-tenant\"] == \"acme\"",
	  "priority": 3,
	  "plugins": {"key-auth": {"header": "X-Api-Key"}},
	  "action": {"proxy": {"upstream": "user_backend", "uri": "/u/{path.*}", "headers": {"X-A": "1"}}}},
	 {"name": "r", "action": {"respond": {"status": 404, "body": "no", "headers": {"X-B": "2"}}}},
	 {"name": "d", "lua": "return true", "action": {"redirect": {"status": 301, "location": "https://x/"}}}]`
	var routes []Route
	if err := json.Unmarshal([]byte(in), &routes); err != nil {
		t.Fatal(err)
	}
	r := routes[0]
	if r.ID != "user-api" || r.Priority != 3 || string(r.Plugins["key-auth"]) != `{"header": "X-Api-Key"}` ||
		r.Action.Proxy.Upstream != "user_backend" || r.Action.Proxy.Headers["X-A"] != "1" || len(r.Match.Methods) != 2 {
		t.Fatalf("decoded %+v", r)
	}
	if routes[1].Action.Respond.Status != 404 || routes[2].Action.Redirect.Location != "https://x/" || routes[2].Lua == "" {
		t.Fatalf("decoded %+v", routes[1:])
	}
	mustCompile(t, routes, Options{})
	out, err := json.Marshal(routes[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"r","match":{},"action":{"respond":{"status":404,"body":"no","headers":{"X-B":"2"}}}}`; string(out) != want {
		t.Fatalf("marshal: %s\nwant %s", out, want)
	}
}

func TestCache(t *testing.T) {
	var c Cache
	routes := make([]Route, 50)
	for i := range routes {
		routes[i] = Route{Name: fmt.Sprint("r", i), When: fmt.Sprintf(`req.headers["x"] == "%d"`, i), Action: resp("x")}
	}
	mustCompile(t, routes, Options{Cache: &c})
	if h, m := c.Stats(); h != 0 || m != 50 || c.Len() != 50 {
		t.Fatalf("hits %d misses %d len %d", h, m, c.Len())
	}
	routes[7].When = `req.headers["x"] == "changed"`
	tb := mustCompile(t, routes, Options{Cache: &c})
	if h, m := c.Stats(); h != 49 || m != 51 {
		t.Fatalf("after one change: hits %d misses %d", h, m)
	}
	c.Sweep() // both generations were used since the last sweep: keeps all 51
	if c.Len() != 51 {
		t.Fatalf("len %d after first sweep", c.Len())
	}
	mustCompile(t, routes, Options{Cache: &c})
	c.Sweep() // the old routes[7] condition was not used since the last sweep
	if c.Len() != 50 {
		t.Fatalf("len %d after second sweep", c.Len())
	}
	req := get("h", "/")
	req.headers = map[string]string{"x": "changed"}
	if got, _ := matchName(t, tb, req); got != "r7" {
		t.Fatalf("got %q", got)
	}
	// A different cost limit is a different program.
	mustCompile(t, routes[:1], Options{Cache: &c, CostLimit: 5})
	if _, m := c.Stats(); m != 52 {
		t.Fatalf("misses %d", m)
	}
	// Concurrent compiles share the cache safely.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Compile(routes, Options{Cache: &c}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestConcurrentMatch(t *testing.T) {
	tb := mustCompile(t, []Route{
		{Name: "h", Match: Match{Paths: []string{"/u/{id}"}}, When: `req.headers["x"] == "1"`, Action: resp("h")},
	}, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for j := 0; j < 200; j++ {
				req := get("h", fmt.Sprint("/u/", j))
				req.headers = map[string]string{"x": "1"}
				if !tb.MatchInto(req, &res) || res.Captures[0].Value != fmt.Sprint(j) {
					t.Error("no match")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestHTTPRequest(t *testing.T) {
	r := httptest.NewRequest("POST", "http://API.Example.com:8443/a/b?x=1&x=2", nil)
	r.RemoteAddr = "[2001:db8::1]:5555"
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.Header.Set("Cookie", "s=abc; t=1")
	tb := mustCompile(t, []Route{{
		Name:  "all",
		Match: Match{Hosts: []string{"api.example.com"}, Paths: []string{"/a/{x}"}, Methods: []string{"POST"}},
		When: `req.host == "api.example.com" && req.headers["x-multi"] == "a, b" && req.cookies["s"] == "abc" &&
			req.query["x"] == ["1", "2"] && req.uri == "/a/b?x=1&x=2" && req.scheme == "http" &&
			ip_in_cidr(req.remote_ip, "2001:db8::/32") && vars["k"] == "v"`,
		Action: resp("all"),
	}}, Options{})
	res, err := tb.Match(NewHTTPRequest(r, map[string]any{"k": "v"}))
	if res == nil || err != nil {
		t.Fatalf("no match: %v", err)
	}
	for in, want := range map[string]string{
		"Example.COM:80": "example.com", "[::1]:443": "::1", "::1": "::1", "a.b.": "a.b", "x": "x",
	} {
		if got := NormalizeHost(in); got != want {
			t.Errorf("NormalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPRequestHeaderMap(t *testing.T) {
	r := httptest.NewRequest("GET", "http://h/", nil)
	r.Header.Set("X-A", "1")
	r.Header.Add("X-B", "2")
	r.Header.Add("X-B", "3")
	for when, want := range map[string]bool{
		`req.headers["x-a"] == "1"`:                               true,
		`req.headers["x-b"] == "2, 3"`:                            true,
		`"x-a" in req.headers && !("x-c" in req.headers)`:         true,
		`req.headers["host"] == "h"`:                              true,
		`req.headers.size() == 3`:                                 true,
		`req.headers.exists(k, k == "x-b")`:                       true,
		`req.headers == {"x-a": "1", "x-b": "2, 3", "host": "h"}`: true,
		`req.headers["x-c"] == "1"`:                               false, // no such key: an error, no match
	} {
		tb := mustCompile(t, []Route{{Name: "c", When: when, Action: resp("c")}}, Options{})
		res, _ := tb.Match(NewHTTPRequest(r, nil))
		if (res != nil) != want {
			t.Errorf("%s: matched %v, want %v", when, res != nil, want)
		}
	}
}
