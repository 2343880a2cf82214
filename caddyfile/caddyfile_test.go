package caddyfile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func adapt(t *testing.T, src string) (map[string]any, error) {
	t.Helper()
	out, _, err := caddyfile.Adapter{ServerType: httpcaddyfile.ServerType{}}.Adapt([]byte(src), nil)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg, nil
}

func TestAdaptContractForms(t *testing.T) {
	cfg, err := adapt(t, `{
	resty {
		shared_dict limits 10m
		shared_dict small 512k
		lua_package_path /etc/caddy/lua/?.lua;/opt/lua/?.lua
		lua_timeout 2s
	}
}
:8080 {
	resty {
		rewrite_by_lua_file /etc/caddy/lua/rewrite.lua
		access_by_lua <<LUA
			if ngx.var.http_x_block then return ngx.exit(403) end
		LUA
		access_by_lua "ngx.ctx.second = true"
		header_filter_by_lua <<LUA
			ngx.header["X-Gateway"] = "caddy-resty"
		LUA
		body_filter_by_lua_file /etc/caddy/lua/encrypt.lua
		log_by_lua_file /etc/caddy/lua/log.lua
	}
	reverse_proxy 127.0.0.1:9000
}`)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := json.Marshal(cfg["apps"].(map[string]any)["resty"])
	want := `{"lua":{"package_path":["/etc/caddy/lua/?.lua","/opt/lua/?.lua"],"timeout":2000000000},"shared_dicts":{"limits":{"size":"10MiB"},"small":{"size":"512KiB"}}}`
	if string(app) != want {
		t.Fatalf("resty app:\n got %s\nwant %s", app, want)
	}
	srv, _ := json.Marshal(cfg["apps"].(map[string]any)["http"])
	s := string(srv)
	for _, frag := range []string{
		`"handler":"resty"`,
		`"rewrite":[{"lua_file":"/etc/caddy/lua/rewrite.lua"}]`,
		`"access":[{"lua":"if ngx.var.http_x_block then return ngx.exit(403) end"},{"lua":"ngx.ctx.second = true"}]`,
		`"header_filter":[{"lua":"ngx.header[\"X-Gateway\"] = \"caddy-resty\""}]`,
		`"body_filter":[{"lua_file":"/etc/caddy/lua/encrypt.lua"}]`,
		`"log":[{"lua_file":"/etc/caddy/lua/log.lua"}]`,
	} {
		if !strings.Contains(s, frag) {
			t.Errorf("adapted config lacks %s\n%s", frag, s)
		}
	}
	// resty must come before reverse_proxy in the handler chain.
	if strings.Index(s, `"handler":"resty"`) > strings.Index(s, `"handler":"reverse_proxy"`) {
		t.Errorf("resty is not ordered before reverse_proxy: %s", s)
	}
}

func TestAdaptErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{\n resty {\n  shared_dict d 10q\n }\n}\n:80 {\n respond ok\n}", "unknown unit"},
		{"{\n resty {\n  shared_dict d 1k\n }\n}\n:80 {\n respond ok\n}", "too small"},
		{"{\n resty {\n  shared_dict d 1m\n  shared_dict d 2m\n }\n}\n:80 {\n respond ok\n}", "declared twice"},
		{"{\n resty {\n  bogus 1\n }\n}\n:80 {\n respond ok\n}", "unrecognized resty option"},
		{"{\n resty {\n  lua_timeout never\n }\n}\n:80 {\n respond ok\n}", "lua_timeout"},
		{":80 {\n resty {\n  acces_by_lua \"x\"\n }\n respond ok\n}", "unrecognized resty directive"},
		{":80 {\n resty {\n  access_by_lua\n }\n respond ok\n}", "missing Lua code"},
		{":80 {\n resty {\n  access_by_lua a b\n }\n respond ok\n}", "too many arguments"},
	} {
		_, err := adapt(t, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.src, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "Caddyfile:") {
			t.Errorf("%q: error does not name the place: %v", tc.src, err)
		}
	}
}

func TestAdaptPersistToConfig(t *testing.T) {
	for _, tc := range []struct{ opt, want string }{
		{"persist_to_config", `{"persist_to_config":{}}`},
		{"persist_to_config 30s", `{"persist_to_config":{"interval":30000000000}}`},
	} {
		cfg, err := adapt(t, "{\n resty {\n  "+tc.opt+"\n }\n}\n:80 {\n respond ok\n}")
		if err != nil {
			t.Fatal(err)
		}
		app, _ := json.Marshal(cfg["apps"].(map[string]any)["resty"])
		if string(app) != tc.want {
			t.Errorf("%s: %s, want %s", tc.opt, app, tc.want)
		}
	}
	for _, tc := range []struct{ opt, want string }{
		{"persist_to_config 500ms", `invalid interval "500ms"`},
		{"persist_to_config soon", `invalid interval "soon"`},
		{"persist_to_config 10s 20s", "wrong argument count"},
		{"persist_to_config\n  persist_to_config", "given twice"},
	} {
		_, err := adapt(t, "{\n resty {\n  "+tc.opt+"\n }\n}\n:80 {\n respond ok\n}")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.opt, err, tc.want)
		}
	}
}

func TestAdaptMetrics(t *testing.T) {
	for _, tc := range []struct{ opt, want string }{
		{"metrics off", `{"metrics":{"disabled":true}}`},
		{"metrics on", `{"metrics":{}}`},
	} {
		cfg, err := adapt(t, "{\n resty {\n  "+tc.opt+"\n }\n}\n:80 {\n respond ok\n}")
		if err != nil {
			t.Fatal(err)
		}
		app, _ := json.Marshal(cfg["apps"].(map[string]any)["resty"])
		if string(app) != tc.want {
			t.Errorf("%s: %s, want %s", tc.opt, app, tc.want)
		}
	}
	for _, tc := range []struct{ opt, want string }{
		{"metrics", "wrong argument count"},
		{"metrics maybe", `want on or off, got "maybe"`},
		{"metrics on off", "wrong argument count"},
		{"metrics on\n  metrics off", "given twice"},
	} {
		_, err := adapt(t, "{\n resty {\n  "+tc.opt+"\n }\n}\n:80 {\n respond ok\n}")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.opt, err, tc.want)
		}
	}
}
