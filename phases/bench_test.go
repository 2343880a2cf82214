package phases

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/luaplugin"

	// resty.limit.req, for the limiter benchmark.
	_ "github.com/caddy-resty/caddy-resty/restylimit"
)

// The benchmark scripts are the ones of ../shared/bench's nginx-lua
// scenarios, so that the numbers compare like for like. Run with -cpu 1:
// the log phase runs on its own goroutine.
const (
	benchAccess = `if ngx.var.http_x_api_key ~= "secret" then return ngx.exit(403) end`
	benchShdict = `ngx.shared.d:incr(ngx.var.remote_addr, 1, 0, 60)`
	benchHF     = `ngx.header["X-Bench-Filter"] = "1"`
	benchBF     = `ngx.arg[1] = ngx.arg[1]`
	benchLog    = `ngx.shared.d:incr("log_count", 1, 0)`
)

var benchBody = strings.Repeat("x", 100)

func benchHandler(b *testing.B, h Handler) { benchHandlerWith(b, h, nil) }

// benchHandlerWith is benchHandler with a change made to the handler
// (and its pool) before the run.
func benchHandlerWith(b *testing.B, h Handler, change func(*Handler, *luaplugin.Pool)) {
	pool := testPool(b)
	hh := newHandler(b, pool, h)
	if change != nil {
		change(hh, pool)
	}
	next := &backend{body: benchBody}
	w := httptest.NewRecorder()
	r := caddyRequest("GET", "/bench", nil)
	r.Header.Set("X-Api-Key", "secret")
	// Warm the pool.
	if err := hh.ServeHTTP(w, r, next); err != nil {
		b.Fatal(err)
	}
	if w.Code != http.StatusOK || w.Body.String() != benchBody {
		b.Fatalf("got %d %q", w.Code, w.Body.String())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		if err := hh.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
		// Let the log phase's worker run, as a server's network waits
		// would: its CPU time is then counted in ns/op.
		runtime.Gosched()
	}
}

// BenchmarkBaseline is the cost of the test scaffolding alone (recorder and
// backend), to subtract from the others.
func BenchmarkBaseline(b *testing.B) {
	next := &backend{body: benchBody}
	r := caddyRequest("GET", "/bench", nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		_ = next.ServeHTTP(w, r)
		runtime.Gosched()
	}
}

func BenchmarkNoScripts(b *testing.B) { benchHandler(b, Handler{}) }

func BenchmarkAccessAPIKey(b *testing.B) { benchHandler(b, Handler{Access: scripts(benchAccess)}) }

func BenchmarkAccessShdictIncr(b *testing.B) { benchHandler(b, Handler{Access: scripts(benchShdict)}) }

func BenchmarkFilters(b *testing.B) {
	benchHandler(b, Handler{HeaderFilter: scripts(benchHF), BodyFilter: scripts(benchBF), Log: scripts(benchLog)})
}

// benchLimitReq is lua-resty-limit-traffic's usage with a rate nothing
// reaches (issue: end-to-end cost of resty.limit.req in access).
const benchLimitReq = `local lim = require("resty.limit.req").new("d", 1000000, 1000000)
local delay, err = lim:incoming(ngx.var.binary_remote_addr, true)
if not delay then return ngx.exit(503) end`

func BenchmarkAccessLimitReq(b *testing.B) { benchHandler(b, Handler{Access: scripts(benchLimitReq)}) }

// benchRouteTable has n proxy routes over n/10 hosts with exact, prefix
// and named-segment paths (as celrules' own benchmark), each with a URI
// rewrite; route n-1 is the one the benchmark request matches.
func benchRouteTable(b *testing.B, pool *luaplugin.Pool, n int, when string) *app.RouteTable {
	routes := make([]celrules.Route, n)
	for i := range routes {
		host := fmt.Sprintf("h%d.example.com", i/10)
		var path string
		switch i % 3 {
		case 0:
			path = fmt.Sprintf("/api/v%d/items", i)
		case 1:
			path = fmt.Sprintf("/svc%d/*", i)
		default:
			path = fmt.Sprintf("/user%d/{id}/profile", i)
		}
		routes[i] = celrules.Route{Name: fmt.Sprint("r", i),
			Match:  celrules.Match{Hosts: []string{host}, Paths: []string{path}, Methods: []string{"GET", "POST"}},
			Action: celrules.Action{Proxy: &celrules.ProxyAction{Upstream: "be", URI: "/v2/{path.*}"}}}
	}
	last := &routes[n-1]
	last.Match = celrules.Match{Hosts: []string{"api.example.com"}, Paths: []string{"/svc/*"}, Methods: []string{"GET"}}
	last.When = when
	rt, err := app.NewRouteTable(routes, nil, pool, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return rt
}

// benchRoutes measures a request through a `routes` handler that matches
// a proxy route (variables set, URI rewritten) at n routes; the next
// handler stands for reverse_proxy. Subtract BenchmarkBaseline for the
// cost the handler adds.
func benchRoutes(b *testing.B, when string) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			pool := testPool(b)
			hh := &Handler{Routes: true, routes: benchRouteTable(b, pool, n, when)}
			if err := hh.setup(pool, zap.NewNop()); err != nil {
				b.Fatal(err)
			}
			next := &backend{body: benchBody}
			r := caddyRequest("GET", "http://api.example.com/svc/a/b?x=1", nil)
			r.Header.Set("X-Tenant", "acme")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// The rewrite changed the request: back to the original.
				r.URL.Path, r.RequestURI = "/svc/a/b", "/svc/a/b?x=1"
				w := httptest.NewRecorder()
				if err := hh.ServeHTTP(w, r, next); err != nil {
					b.Fatal(err)
				}
				if next.seen.URL.Path != "/v2/a/b" {
					b.Fatalf("upstream path %q", next.seen.URL.Path)
				}
			}
		})
	}
}

func BenchmarkRoutes(b *testing.B) { benchRoutes(b, "") }

func BenchmarkRoutesCEL(b *testing.B) { benchRoutes(b, `req.headers["x-tenant"] == "acme"`) }
