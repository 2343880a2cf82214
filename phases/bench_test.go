package phases

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

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

func benchHandler(b *testing.B, h Handler) {
	pool := testPool(b)
	hh := newHandler(b, pool, h)
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
