package phases

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"

	_ "github.com/caddy-resty/caddy-resty/cjson"
	_ "github.com/caddy-resty/caddy-resty/plugins"
	_ "github.com/caddy-resty/caddy-resty/restycrypto"
	_ "github.com/caddy-resty/caddy-resty/restylimit"
	_ "github.com/caddy-resty/caddy-resty/restyredis"
	_ "github.com/caddy-resty/caddy-resty/restystring"
)

func init() {
	// A plugin that does nothing: the engine's cost of running one.
	luaplugin.RegisterLuaModule("resty.plugins.bench-noop", "return {priority = 1, access = function(conf, ctx) end}")
}

// benchPluginRoute measures the handler with the route table on, one
// route with the given plugins in front of an in-process backend (the
// route's proxy action is not taken: no proxy is set up here), so that
// what it measures is the route match and the plugins.
func benchPluginRoute(b *testing.B, plugins map[string]json.RawMessage) {
	pool := luaplugin.NewPool(luaplugin.Config{Timeout: 2 * time.Second})
	dicts := map[string]*shdict.Dict{}
	for _, n := range []string{"plugin-limit-count", "plugin-limit-req", "plugin-limit-conn", "plugin-api-breaker", "plugin-proxy-cache"} {
		d, err := shdict.New(n, 10<<20)
		if err != nil {
			b.Fatal(err)
		}
		dicts[n] = d
	}
	pool.SetDicts(dicts)
	b.Cleanup(pool.Close)
	routes := []celrules.Route{{Name: "r", Plugins: plugins,
		Match:  celrules.Match{Paths: []string{"/svc/*"}},
		Action: celrules.Action{Proxy: &celrules.ProxyAction{Upstream: "be"}}}}
	rt, err := app.NewRouteTable(routes, nil, pool, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	hh := &Handler{Routes: true, routes: rt}
	if err := hh.setup(pool, zap.NewNop()); err != nil {
		b.Fatal(err)
	}
	next := &backend{body: benchBody}
	r := caddyRequest("GET", "http://api.example.com/svc/a", nil)
	r.Header.Set("X-Api-Key", "secret")
	w := httptest.NewRecorder()
	if err := hh.ServeHTTP(w, r, next); err != nil || w.Code != 200 {
		b.Fatalf("%v: status %d %v %s", err, w.Code, w.Header(), w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.URL.Path, r.RequestURI = "/svc/a", "/svc/a"
		r.Header.Set("X-Api-Key", "secret")
		w := httptest.NewRecorder()
		if err := hh.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
}

const (
	benchKeyAuthConf    = `{"header": "X-Api-Key", "consumers": [{"name": "bench", "key": "secret"}]}`
	benchLimitCountConf = `{"count": 1000000000, "time_window": 3600}`
)

// BenchmarkPluginRoute: the handler's cost per request with a route and
// no plugin, a plugin doing nothing, and the bundled plugins the issue
// measures.
func BenchmarkPluginRoute(b *testing.B) {
	for _, c := range []struct {
		name    string
		plugins map[string]json.RawMessage
	}{
		{"none", nil},
		{"noop", map[string]json.RawMessage{"bench-noop": json.RawMessage(`{}`)}},
		{"key-auth", map[string]json.RawMessage{"key-auth": json.RawMessage(benchKeyAuthConf)}},
		{"limit-count", map[string]json.RawMessage{"limit-count": json.RawMessage(benchLimitCountConf)}},
		{"key-auth+limit-count", map[string]json.RawMessage{"key-auth": json.RawMessage(benchKeyAuthConf), "limit-count": json.RawMessage(benchLimitCountConf)}},
		{"limit-req", map[string]json.RawMessage{"limit-req": json.RawMessage(`{"rate": 1000000000, "burst": 0, "key": "remote_addr"}`)}},
		{"limit-conn", map[string]json.RawMessage{"limit-conn": json.RawMessage(`{"conn": 1000000000, "burst": 0, "default_conn_delay": 0.1, "key": "remote_addr"}`)}},
		{"api-breaker", map[string]json.RawMessage{"api-breaker": json.RawMessage(`{"break_response_code": 502}`)}},
	} {
		b.Run(c.name, func(b *testing.B) { benchPluginRoute(b, c.plugins) })
	}
}
