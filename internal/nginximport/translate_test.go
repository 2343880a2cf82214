package nginximport_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/internal/nginximport"
)

func translateText(t *testing.T, conf string, o nginximport.Options) *nginximport.Result {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := nginximport.Translate(p, o)
	if err != nil {
		t.Fatal(err)
	}
	adapt(t, res)
	return res
}

// Lua that Caddy's Caddyfile parser would change goes to a file, exact.
func TestLuaMovedToFile(t *testing.T) {
	body := "\n    local s = \"{uri} {$HOME}\"\n    local l = [[\n  kept  ]]\n    ngx.say(s, l)\n"
	res := translateText(t, "http { server { listen 8080; location / { content_by_lua_block {"+body+"} } } }\n",
		nginximport.Options{LuaDir: "/srv/lua"})
	if len(res.Files) != 1 {
		t.Fatalf("files: %v", res.Files)
	}
	for name, b := range res.Files {
		if string(b) != body {
			t.Errorf("%s: %q, want %q", name, b, body)
		}
		if !strings.Contains(string(res.Caddyfile), "content_by_lua_file /srv/lua/"+name) {
			t.Errorf("Caddyfile does not refer to %s:\n%s", name, res.Caddyfile)
		}
	}
	if !res.Complete {
		t.Errorf("notes: %v", res.Notes)
	}
}

// Variables become placeholders; unknown ones are notes.
func TestVariablesAndNotes(t *testing.T) {
	res := translateText(t, `http {
    server {
        listen 8080;
        location /v {
            set $who "$arg_name@$host";
            return 200 "$who $request_uri $http_x_a_b $nonesuch {literal}";
        }
        location /h {
            add_header X-A "$remote_addr" always;
            gzip on;
            return 204;
        }
    }
}
`, nginximport.Options{})
	cf := string(res.Caddyfile)
	for _, want := range []string{
		`vars who "{query.name}@{host}"`,
		`{vars.who} {http.request.orig_uri} {header.x-a-b} $nonesuch \{literal\}`,
		"header +X-A \"{remote_host}\" {\n\t\t\t\tdefer",
	} {
		if !strings.Contains(cf, want) {
			t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
		}
	}
	if len(res.Notes) != 2 || res.Notes[0].Directive != "return" || !strings.Contains(res.Notes[0].Reason, "$nonesuch") ||
		res.Notes[1].Directive != "gzip" || res.Notes[1].Line != 10 {
		t.Errorf("notes: %v", res.Notes)
	}
	if !strings.Contains(cf, "# NOTE nginx.conf:10 gzip:") {
		t.Errorf("no note comment:\n%s", cf)
	}
}

// The prefix: a conf directory's parent (OpenResty's layout), else the
// config's directory; relative *_by_lua_file paths are resolved on it.
func TestPrefix(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(conf, "nginx.conf")
	src := "http { lua_package_path \"$prefix/lua/?.lua;/abs/?.lua;;\"; server { listen 8080; location / { content_by_lua_file lua/c.lua; } } }\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ prefix, want string }{{"", dir}, {"/opt/app", "/opt/app"}} {
		res, err := nginximport.Translate(p, nginximport.Options{Prefix: c.prefix})
		if err != nil {
			t.Fatal(err)
		}
		cf := string(res.Caddyfile)
		if !strings.Contains(cf, "lua_package_path "+c.want+"/lua/?.lua /abs/?.lua\n") ||
			!strings.Contains(cf, "content_by_lua_file "+c.want+"/lua/c.lua\n") {
			t.Errorf("prefix %q:\n%s", c.prefix, cf)
		}
	}
}

// An unknown directive anywhere is a note; the config still adapts.
func TestUnknownDirectives(t *testing.T) {
	res := translateText(t, "foo 1;\nhttp {\n  bar 2;\n  upstream u { server 127.0.0.1:1 slow_start=1s; sticky; }\n  server {\n    listen 8080;\n    baz 3;\n    location / { qux 4; proxy_pass http://u; }\n  }\n}\n", nginximport.Options{})
	var got []string
	for _, n := range res.Notes {
		got = append(got, n.Directive+":"+itoa(n.Line))
	}
	if strings.Join(got, " ") != "foo:1 bar:3 server:4 sticky:4 baz:7 qux:8" {
		t.Errorf("notes: %v", res.Notes)
	}
}

// nginx's env and the timer caps become the resty option's lua_env and
// lua_max_*_timers; tuning with no meaning here is dropped, not a note.
func TestEnvAndLuaOptions(t *testing.T) {
	res := translateText(t, `env FOO;
env BAR=1;
pcre_jit on;
events {}
http {
	lua_max_pending_timers 10;
	lua_max_running_timers 5;
	fastcgi_temp_path /tmp/f;
	server {
		listen 8080;
		location / { content_by_lua_block { ngx.say(os.getenv("FOO")) } }
	}
}
`, nginximport.Options{})
	if !res.Complete {
		t.Errorf("notes: %v", res.Notes)
	}
	cfg := adapt(t, res)
	lua, _ := cfg["apps"].(map[string]any)["resty"].(map[string]any)["lua"].(map[string]any)
	b, _ := json.Marshal(lua)
	if got := string(b); got != `{"env":["FOO","BAR=1"],"max_pending_timers":10,"max_running_timers":5}` {
		t.Errorf("apps.resty.lua = %s\n%s", got, res.Caddyfile)
	}
}

// error_page: codes and a plain URI (or a URL) are translated; a status
// change or a named location is a note at its place.
func TestErrorPageNotes(t *testing.T) {
	res := translateText(t, `events {}
http {
	error_page 404 /404.html;
	server {
		listen 8080;
		location / { return 404; }
	}
	server {
		listen 8081;
		error_page 500 =200 /ok.html;
		error_page 502 @fallback;
		error_page 503 https://status.example.com/;
		location / { return 503; }
	}
}
`, nginximport.Options{})
	cf := string(res.Caddyfile)
	for _, want := range []string{"handle_errors 404 {", "rewrite * /404.html", "invoke s1_errors", "error 404",
		"handle_errors 503 {", "redir * https://status.example.com/ 302", "error 503"} {
		if !strings.Contains(cf, want) {
			t.Errorf("no %q in\n%s", want, cf)
		}
	}
	if strings.Contains(cf, "handle_errors 404 {\n\t\tredir") || strings.Count(cf, "handle_errors 404") != 1 {
		t.Errorf("the second server inherits http's error_page although it has its own:\n%s", cf)
	}
	var lines []int
	for _, n := range res.Notes {
		if n.Directive == "error_page" {
			lines = append(lines, n.Line)
		}
	}
	if len(lines) != 2 || lines[0] != 10 || lines[1] != 11 {
		t.Errorf("error_page notes at lines %v, want [10 11]: %v", lines, res.Notes)
	}
	adapt(t, res)
}
