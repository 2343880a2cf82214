package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// routesPool is a Lua pool whose package path has a plugin `tag`.
func routesPool(t *testing.T) *luaplugin.Pool {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "resty", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `return {priority = 5, schema = {type = "object", properties = {v = {type = "integer", default = 7}}},
		access = function(conf, ctx) end}`
	if err := os.WriteFile(filepath.Join(dir, "resty", "plugins", "tag.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := luaplugin.NewPool(luaplugin.Config{Timeout: time.Second, PackagePath: []string{dir + "/?.lua"}})
	t.Cleanup(p.Close)
	return p
}

func cacheRoutes(n int) []celrules.Route {
	routes := make([]celrules.Route, n)
	for i := range routes {
		r := celrules.Route{Name: fmt.Sprint("r", i),
			Match:  celrules.Match{Paths: []string{fmt.Sprintf("/p%d", i)}},
			Action: celrules.Action{Respond: &celrules.RespondAction{Body: "x"}}}
		switch i % 3 {
		case 0:
			r.When = fmt.Sprintf(`req.headers["x-n"] == "%d"`, i)
		case 1:
			r.Lua = fmt.Sprintf("return ngx.var.arg_n == '%d'", i)
		default:
			r.Plugins = map[string]json.RawMessage{"tag": json.RawMessage(fmt.Sprintf(`{"v": %d}`, i%5))}
		}
		routes[i] = r
	}
	return routes
}

// TestRouteCacheAcrossLoads: a second load of the same table (as a config
// reload does, with the cache kept in the app's UsagePool) compiles no CEL
// program, no Lua condition and converts no plugin config again; a changed
// route recompiles only itself.
func TestRouteCacheAcrossLoads(t *testing.T) {
	pool := routesPool(t)
	cache := newRouteCache()
	routes := cacheRoutes(30)
	rt1, _, err := newRouteTable(cache, routes, nil, pool, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cache.sweep()
	_, misses1 := cache.cel.Stats()
	if misses1 != 10 {
		t.Fatalf("first load compiled %d CEL programs, want 10", misses1)
	}

	routes[0].When = `req.headers["x-n"] == "changed"`
	rt2, _, err := newRouteTable(cache, routes, nil, pool, nil, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cache.sweep()
	_, misses2 := cache.cel.Stats()
	if misses2-misses1 != 1 {
		t.Errorf("the reload compiled %d CEL programs, want 1 (the changed one)", misses2-misses1)
	}
	for i := 1; i < 6; i++ {
		d1, err1 := rt1.prepare("x", &routes[i])
		d2, err2 := rt2.prepare("x", &routes[i])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		a, b := d1.(*RouteData), d2.(*RouteData)
		if a.Cond != b.Cond {
			t.Errorf("route %d: Lua condition compiled again", i)
		}
		if len(a.Plugins) != len(b.Plugins) || len(a.Plugins) > 0 && a.Plugins[0].Conf != b.Plugins[0].Conf {
			t.Errorf("route %d: plugin config converted again", i)
		}
	}
	// The schema's default was applied once, for every state.
	d, _ := rt2.prepare("x", &celrules.Route{Name: "d", Plugins: map[string]json.RawMessage{"tag": json.RawMessage(`{}`)}})
	if got := d.(*RouteData).Plugins[0].Conf.Conf(); fmt.Sprint(got) != "map[_scope:route:d v:7]" {
		t.Errorf("conf with defaults: %v", got)
	}
}

// TestRoutePrepareErrors: the errors of what a route's preparation checks
// name the place.
func TestRoutePrepareErrors(t *testing.T) {
	pool := routesPool(t)
	for _, c := range []struct {
		route celrules.Route
		want  string
	}{
		{celrules.Route{Name: "a", Lua: "return (", Action: celrules.Action{Respond: &celrules.RespondAction{}}}, "routes[0].lua: route a:1:"},
		{celrules.Route{Name: "a", Plugins: map[string]json.RawMessage{"nope": nil}, Action: celrules.Action{Respond: &celrules.RespondAction{}}}, `route a: routes[0].plugins.nope: plugin "nope": module 'resty.plugins.nope' not found`},
		{celrules.Route{Name: "a", Plugins: map[string]json.RawMessage{"tag": json.RawMessage(`{"v": "x"}`)}, Action: celrules.Action{Respond: &celrules.RespondAction{}}}, "route a: routes[0].plugins.tag.v:"},
		{celrules.Route{Name: "a", Plugins: map[string]json.RawMessage{"tag": json.RawMessage(`[1]`)}, Action: celrules.Action{Respond: &celrules.RespondAction{}}}, "route a: routes[0].plugins.tag:"},
		{celrules.Route{Name: "a", Action: celrules.Action{Redirect: &celrules.RedirectAction{Location: "/x{unclosed"}}}, "routes[0].action.redirect.location:"},
	} {
		_, err := NewRouteTable([]celrules.Route{c.route}, nil, pool, nil, nil)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q…", c.route, err, c.want)
		}
	}
	if _, err := NewRouteTable(nil, map[string]json.RawMessage{"tag": json.RawMessage(`{"v": 1.5}`)}, pool, nil, nil); err == nil || !strings.HasPrefix(err.Error(), "global_plugins.tag.v:") {
		t.Errorf("global plugin: %v", err)
	}
}
