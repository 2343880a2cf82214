package plugins_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/internal/jsonschema"
	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
	"github.com/caddy-resty/caddy-resty/plugins"

	// The Go-backed modules the bundled plugins require.
	_ "github.com/caddy-resty/caddy-resty/cjson"
	_ "github.com/caddy-resty/caddy-resty/restycrypto"
	_ "github.com/caddy-resty/caddy-resty/restyhttp"
	_ "github.com/caddy-resty/caddy-resty/restyipmatcher"
	_ "github.com/caddy-resty/caddy-resty/restyjsonschema"
	_ "github.com/caddy-resty/caddy-resty/restyjwt"
	_ "github.com/caddy-resty/caddy-resty/restylimit"
	_ "github.com/caddy-resty/caddy-resty/restyredis"
	_ "github.com/caddy-resty/caddy-resty/restystring"
)

// TestBundledPluginsLoad: every bundled plugin module loads as a route
// table would load it, with its declared name, a priority, at least one
// phase and a schema the validator compiles.
func TestBundledPluginsLoad(t *testing.T) {
	pool := luatest.NewPool(t, luaplugin.Config{})
	n := 0
	for _, mod := range plugins.Modules() {
		name, ok := strings.CutPrefix(mod, "resty.plugins.")
		if !ok {
			continue
		}
		n++
		info, err := pool.LoadPlugin(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.Priority == 0 || info.Phases == 0 || info.Schema == nil {
			t.Errorf("%s: priority %d, phases %v, schema %v", name, info.Priority, info.Phases, info.Schema)
		}
		if _, err := jsonschema.Compile(info.Schema); err != nil {
			t.Errorf("%s: schema: %v", name, err)
		}
	}
	if n == 0 {
		t.Fatal("no bundled plugin")
	}
}

// TestFileOverridesEmbedded: a module file on lua_package_path is found
// before the embedded module of the same name.
func TestFileOverridesEmbedded(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "resty", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `return {name = "request-id", priority = 1, rewrite = function() end, mine = true}`
	if err := os.WriteFile(filepath.Join(dir, "resty", "plugins", "request-id.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	pool := luatest.NewPool(t, luaplugin.Config{PackagePath: []string{filepath.Join(dir, "?.lua")}})
	info, err := pool.LoadPlugin("request-id")
	if err != nil {
		t.Fatal(err)
	}
	if info.Priority != 1 {
		t.Fatalf("the embedded request-id loaded (priority %d), not the file", info.Priority)
	}
	out := luatest.RunOK(t, pool, `ngx.print(tostring(require("resty.plugins.request-id").mine), " ", type(require("resty.plugin").exit))`)
	if out != "true function" {
		t.Fatalf("got %q", out)
	}
	// Without the file, the embedded one.
	pool2 := luatest.NewPool(t, luaplugin.Config{})
	if info, err := pool2.LoadPlugin("request-id"); err != nil || info.Priority != 12015 {
		t.Fatalf("embedded request-id: %+v %v", info, err)
	}
}

// TestToolkit: resty.plugin's helpers.
func TestToolkit(t *testing.T) {
	pool := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, pool, `
		local plugin = require "resty.plugin"
		ngx.say(plugin.var("$arg_x"), " ", plugin.var("arg_x"), " ", tostring(plugin.var("arg_none")))
		ngx.say(plugin.interpolate("$request_method:$arg_x:$arg_none:$http_x_key"))
		ngx.say(plugin.key({key = "http_x_key"}))
		ngx.say(plugin.key({key = "$arg_x-$http_x_key", key_type = "var_combination"}))
		ngx.say(plugin.key({key = "all", key_type = "constant"}))
		ngx.say(plugin.key({key = "http_x_missing"}))
		local t = plugin.template("/v2/$1/$arg_x?m=$request_method&none=$arg_none")
		ngx.say(plugin.expand(t, {[0] = "all", "first"}), " ", plugin.expand(t), " ", plugin.template("plain"))
		ngx.say(plugin.scope({_scope = "route:a"}), " ", plugin.scope({_scope = "route:a", group = "g"}), " ", plugin.scope({}))
		local idx = plugin.consumer_by({{name = "a", key = "k1"}, {name = "b", key = "k2"}, {name = "c"}}, "key")
		ngx.say(idx.k1.name, idx.k2.name, tostring(idx[""]))
		plugin.drop_query_arg("Y")
		ngx.say(ngx.var.args)
		ngx.req.set_header("X-Consumer-Username", "forged")
		plugin.set_consumer({}, {name = "alice", custom_id = 7})
		ngx.say(ngx.req.get_headers()["x-consumer-username"], " ", plugin.var("consumer_name"), " ", ngx.ctx.consumer.name, " ",
			ngx.req.get_headers()["x-consumer-custom-id"])
	`)
	luatest.ExpectLines(t, out,
		"1 1 nil",
		"GET:1::v1",
		"v1",
		"1-v1",
		"all",
		"192.0.2.1",
		"/v2/first/1?m=GET&none= /v2//1?m=GET&none= plain",
		"route:a group:g global",
		"abnil",
		"x=1",
		"alice alice alice 7",
	)
	res, w := luatest.Run(t, pool, luaplugin.PhaseAccess, `return require("resty.plugin").exit(401, {message = "no"}, {["WWW-Authenticate"] = "Basic"})`)
	if !res.Exited || res.Code != 401 || w.Status() != 401 || strings.TrimSpace(w.Body.String()) != `{"message":"no"}` ||
		w.Header().Get("Content-Type") != "application/json" || w.Header().Get("WWW-Authenticate") != "Basic" {
		t.Fatalf("exit: %+v %d %q %v", res, w.Status(), w.Body.String(), w.Header())
	}
}
