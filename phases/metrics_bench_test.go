package phases

import (
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/internal/stats"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// withMetrics turns the handler's request statistics on, as the resty
// app does when metrics are on (the default).
func withMetrics(h *Handler, pool *luaplugin.Pool) {
	st := stats.NewStore()
	h.stats = st
	pool.SetRunObserver(func(p luaplugin.Phase, d time.Duration, _ bool) { st.LuaRun(p.Index(), d) })
}

// BenchmarkMetrics: the handler's cost per request with the metrics off
// and on (request counters, latency histogram, status ring buffer, Lua
// run times), for a request that passes through to the next handler
// after an access script, one whose response goes through the filters
// and a log phase, and one matched by a route. Run with -cpu 1.
func BenchmarkMetrics(b *testing.B) {
	for _, on := range []struct {
		name   string
		change func(*Handler, *luaplugin.Pool)
	}{{"off", nil}, {"on", withMetrics}} {
		b.Run("access/"+on.name, func(b *testing.B) {
			benchHandlerWith(b, Handler{Access: scripts(benchAccess)}, on.change)
		})
		b.Run("filters/"+on.name, func(b *testing.B) {
			benchHandlerWith(b, Handler{HeaderFilter: scripts(benchHF), BodyFilter: scripts(benchBF), Log: scripts(benchLog)}, on.change)
		})
		b.Run("route/"+on.name, func(b *testing.B) {
			pool := testPool(b)
			hh := &Handler{Routes: true, routes: benchRouteTable(b, pool, 10, "")}
			if err := hh.setup(pool, zap.NewNop()); err != nil {
				b.Fatal(err)
			}
			if on.change != nil {
				on.change(hh, pool)
			}
			next := &backend{body: benchBody}
			r := caddyRequest("GET", "http://api.example.com/svc/a/b?x=1", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.URL.Path, r.RequestURI = "/svc/a/b", "/svc/a/b?x=1"
				w := httptest.NewRecorder()
				if err := hh.ServeHTTP(w, r, next); err != nil {
					b.Fatal(err)
				}
			}
			if on.change != nil {
				if n := hh.stats.Traffic("r9", "be").Latency().Count(); n != uint64(b.N) {
					b.Fatalf("%d requests counted for route r9, want %d", n, b.N)
				}
			}
		})
	}
}
