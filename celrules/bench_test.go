package celrules

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// benchRoutes returns n routes over n/10 hosts (exact and wildcard), or all
// on one host, with exact, prefix and named-segment paths, like a gateway's
// table.
func benchRoutes(n int, oneHost bool) []Route {
	routes := make([]Route, n)
	for i := range routes {
		host := fmt.Sprintf("h%d.example.com", i/10)
		if i%20 == 5 {
			host = fmt.Sprintf("*.w%d.example.com", i/10)
		}
		if oneHost {
			host = "api.example.com"
		}
		var path string
		switch i % 3 {
		case 0:
			path = fmt.Sprintf("/api/v%d/items", i)
		case 1:
			path = fmt.Sprintf("/svc%d/*", i)
		default:
			path = fmt.Sprintf("/user%d/{id}/profile", i)
		}
		routes[i] = Route{Name: fmt.Sprint("r", i), Match: Match{Hosts: []string{host}, Paths: []string{path}, Methods: []string{"GET", "POST"}}, Action: resp("x")}
	}
	return routes
}

// benchTable is the table of benchRoutes(n, false).
func benchTable(b *testing.B, n int) *Table {
	return mustCompile(b, benchRoutes(n, false), Options{})
}

// BenchmarkWith: one change to a table of n routes (benchRoutes), on n/10
// hosts or all on one host: a route in the middle replaced (another path on
// the same host), a route appended, a route deleted.
func BenchmarkWith(b *testing.B) {
	for _, shape := range []string{"hosts", "one-host"} {
		for _, n := range []int{10, 1000, 10000} {
			routes := benchRoutes(n, shape == "one-host")
			tb := mustCompile(b, routes, Options{})
			mid := routes[n/2]
			moved := mid
			moved.Match.Paths = []string{"/moved/{id}/*"}
			added := routes[n/2]
			added.Name = "added"
			added.Match.Paths = []string{"/added/{id}"}
			for _, op := range []struct {
				name  string
				route string
				r     *Route
			}{
				{"replace", mid.Name, &moved},
				{"append", added.Name, &added},
				{"delete", mid.Name, nil},
			} {
				b.Run(fmt.Sprintf("%s/%s/routes=%d", op.name, shape, n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := tb.With(op.route, op.r, Options{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkCompile: compiling the whole table, what With avoids.
func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		routes := benchRoutes(n, false)
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(routes, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatchHostPath(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		tb := benchTable(b, n)
		i := n - 3 // a prefix route near the end of the table (i%3 == 1)
		cases := []struct {
			name string
			req  *testReq
		}{
			{"exact", get(fmt.Sprintf("h%d.example.com", (n-1)/10), fmt.Sprintf("/api/v%d/items", n-1-(n-1)%3))},
			{"prefix", get(fmt.Sprintf("h%d.example.com", i/10), fmt.Sprintf("/svc%d/a/b/c", i))},
			{"named", get(fmt.Sprintf("h%d.example.com", (n-3)/10), fmt.Sprintf("/user%d/42/profile", n-3-(n-3)%3+2))},
			{"miss", get("nope.example.com", "/api/v1/items")},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/routes=%d", c.name, n), func(b *testing.B) {
				var res Result
				want := c.name != "miss"
				if got := tb.MatchInto(c.req, &res); got != want {
					b.Fatalf("match %v, want %v (%s %s)", got, want, c.req.host, c.req.path)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					tb.MatchInto(c.req, &res)
				}
			})
		}
	}
}

const benchCond = `req.headers["x-tenant"] == "acme"`

func benchHTTPReq() *http.Request {
	r := httptest.NewRequest("GET", "http://api.example.com/user/42", nil)
	r.Header.Set("X-Tenant", "acme")
	r.Header.Set("User-Agent", "bench/1.0")
	r.Header.Set("Accept", "*/*")
	r.Header.Set("Accept-Encoding", "gzip")
	return r
}

// BenchmarkMatchCELHeader: host+path match of one route among 10,000 whose
// CEL condition reads a header, through HTTPRequest (header map built per
// request), with the same route without condition as the baseline.
func BenchmarkMatchCELHeader(b *testing.B) {
	for _, cond := range []string{"", benchCond} {
		routes := make([]Route, 10000)
		for i := range routes {
			routes[i] = Route{Name: fmt.Sprint("r", i), Match: Match{Hosts: []string{fmt.Sprintf("h%d.example.com", i)}, Paths: []string{"/user/{id}"}}, Action: resp("x")}
		}
		routes[9999].Match.Hosts = []string{"api.example.com"}
		routes[9999].When = cond
		tb := mustCompile(b, routes, Options{})
		name := "no-condition"
		if cond != "" {
			name = "cel-header"
		}
		b.Run(name, func(b *testing.B) {
			r := benchHTTPReq()
			var h HTTPRequest
			var res Result
			h.Reset(r, nil)
			if !tb.MatchInto(&h, &res) {
				b.Fatal("no match")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.Reset(r, nil)
				tb.MatchInto(&h, &res)
			}
		})
	}
}

// BenchmarkCaddyExpression: Caddy's own expression matcher on the same
// condition, for comparison.
func BenchmarkCaddyExpression(b *testing.B) {
	for _, expr := range []string{
		`{http.request.header.X-Tenant} == "acme"`,
		`header({'X-Tenant': 'acme'})`,
	} {
		b.Run(expr, func(b *testing.B) {
			m := caddyhttp.MatchExpression{Expr: expr}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			if err := m.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			r := benchHTTPReq()
			repl := caddyhttp.NewTestReplacer(r)
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
			ok, err := m.MatchWithError(r)
			if !ok || err != nil {
				b.Fatalf("no match: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.MatchWithError(r)
			}
		})
	}
}
