package restycmd

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp"
	_ "github.com/caddyserver/caddy/v2/modules/logging"

	_ "github.com/caddy-resty/caddy-resty/phases"
)

func simulate(t *testing.T, rf runFlags, file, stdin string) consoleRun {
	t.Helper()
	if rf.errlog == "" {
		rf.errlog = "warn"
	}
	if rf.phase == "" {
		rf.phase = "content"
	}
	var out, errb bytes.Buffer
	code := runRequest(rf, file, strings.NewReader(stdin), &out, &errb)
	return consoleRun{out: out.String(), err: errb.String(), code: code}
}

// head splits a printed response into its head and body.
func head(t *testing.T, out string) (status string, fields map[string]string, body string) {
	t.Helper()
	h, body, ok := strings.Cut(out, "\n\n")
	if !ok {
		t.Fatalf("no head in %q", out)
	}
	lines := strings.Split(h, "\n")
	fields = map[string]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		fields[k] = v
	}
	return lines[0], fields, body
}

func TestRestyCLIRequest(t *testing.T) {
	// content (the default): the script's response.
	r := simulate(t, runFlags{request: "GET /hello?name=x&name=y", headers: []string{"X-Api-Key: k1", "Cookie: a=b"},
		code: `ngx.header["X-A"] = "1"
ngx.say("hi ", ngx.var.arg_name, " ", ngx.req.get_headers()["x-api-key"], " ", ngx.var.cookie_a, " ", ngx.var.uri, " ", ngx.req.get_method(), " ", ngx.var.host)`}, "", "")
	status, f, body := head(t, r.out)
	if r.code != 0 || status != "HTTP/1.1 200 OK" || f["X-A"] != "1" || body != "hi x k1 b /hello GET localhost\n" {
		t.Errorf("content: %+v", r)
	}

	// access with a body from stdin; the deny path, logged on stderr.
	r = simulate(t, runFlags{request: "POST http://api.example.com/x", body: "-", phase: "access", code: `
ngx.req.read_body()
local data = ngx.req.get_body_data()
if not data:find("allow") then
	ngx.log(ngx.WARN, "denied on ", ngx.var.host)
	return ngx.exit(403)
end`}, "", `{"nope":1}`)
	if status, _, _ := head(t, r.out); status != "HTTP/1.1 403 Forbidden" || !regexp.MustCompile(`warn\s+http.handlers.resty\s+denied on api.example.com`).MatchString(r.err) {
		t.Errorf("access deny: %+v", r)
	}
	// The allow path reaches the next handler (a stub).
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(bodyFile, []byte(`{"allow":1}`), 0o644)
	r = simulate(t, runFlags{request: "POST /x", body: bodyFile, phase: "access", code: `
ngx.req.read_body()
if not ngx.req.get_body_data():find("allow") then return ngx.exit(403) end`}, "", "")
	if status, _, body := head(t, r.out); status != "HTTP/1.1 200 OK" || body != stubBody {
		t.Errorf("access allow: %+v", r)
	}

	// The filters see the next handler's response.
	r = simulate(t, runFlags{request: "GET /", phase: "header_filter", code: `ngx.header["X-Status"] = ngx.status ngx.header.content_length = nil`}, "", "")
	if _, f, _ := head(t, r.out); f["X-Status"] != "200" {
		t.Errorf("header_filter: %+v", r)
	}
	r = simulate(t, runFlags{request: "GET /", phase: "body_filter", noHeaders: true,
		code: `ngx.arg[1] = string.upper(ngx.arg[1]) if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "tail\n" end`}, "", "")
	if r.out != strings.ToUpper(stubBody)+"tail\n" {
		t.Errorf("body_filter: %+v", r)
	}
	// The log phase runs before the command ends.
	r = simulate(t, runFlags{request: "GET /", phase: "log", code: `ngx.log(ngx.ERR, "logged ", ngx.status, " ", ngx.var.request_uri)`}, "", "")
	if !strings.Contains(r.err, "logged 200 /") {
		t.Errorf("log: %+v", r)
	}

	// A file script, dicts and the package path.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "m.lua"), []byte(`return { n = 7 }`), 0o644)
	f2 := filepath.Join(dir, "content.lua")
	os.WriteFile(f2, []byte(`ngx.shared.d:set("k", require("m").n) ngx.say(ngx.shared.d:get("k"))`), 0o644)
	r = simulate(t, runFlags{request: "/", shdicts: []string{"d 1m"}, include: []string{dir}}, f2, "")
	if _, _, body := head(t, r.out); body != "7\n" {
		t.Errorf("file: %+v", r)
	}

	// A Lua error is the handler's 500, its traceback on stderr.
	r = simulate(t, runFlags{request: "GET /", code: `error("boom")`}, "", "")
	if status, _, _ := head(t, r.out); status != "HTTP/1.1 500 Internal Server Error" || !strings.Contains(r.err, "content[0]:1: boom") {
		t.Errorf("error: %+v", r)
	}
}

func TestRestyCLIRequestBadInput(t *testing.T) {
	for _, tc := range []struct {
		rf   runFlags
		want string
	}{
		{runFlags{request: "GET /x y z w", code: "x=1"}, "bad --request"},
		{runFlags{request: "G(T /", code: "x=1"}, "bad method"},
		{runFlags{request: "GET ftp://h/", code: "x=1"}, "the target is"},
		{runFlags{request: "GET /", headers: []string{"NoColon"}, code: "x=1"}, "bad -H"},
		{runFlags{request: "GET /", phase: "balancer", code: "x=1"}, "bad --phase"},
		{runFlags{request: "GET /", body: "/no/such/file", code: "x=1"}, "--body"},
		{runFlags{request: "GET /", shdicts: []string{"x"}, code: "x=1"}, "bad --shdict"},
	} {
		r := simulate(t, tc.rf, "", "")
		if r.code != 2 || !strings.Contains(r.err, tc.want) || r.out != "" {
			t.Errorf("%+v: %+v (want %q)", tc.rf, r, tc.want)
		}
	}
	// A syntax error is the config's refusal, naming the place.
	r := simulate(t, runFlags{request: "GET /", code: "ngx.say("}, "", "")
	if r.code != 1 || !strings.Contains(r.err, "content[0]:1:") {
		t.Errorf("syntax error: %+v", r)
	}
}
