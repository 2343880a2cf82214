package celrules

import (
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestTemplate(t *testing.T) {
	r := httptest.NewRequest("GET", "http://api.example.com:8080/a/b/c?x=1", nil)
	r.Header.Set("X-Tenant", "acme")
	repl := caddyhttp.NewTestReplacer(r)
	repl.Set("http.vars.tier", "gold")
	caps := []Capture{{Name: "id", Value: "42"}, {Name: "*", Value: "rest/of"}}
	for _, c := range []struct{ src, want string }{
		{"/static", "/static"},
		{"/v2/{path.*}", "/v2/rest/of"},
		{"/u/{path.id}/{http.request.uri.path.id}", "/u/42/42"},
		{"{uri}", "/a/b/c?x=1"},
		{"{host}|{method}|{path}|{query}", "api.example.com|GET|/a/b/c|x=1"},
		{"{header.X-Tenant}-{vars.tier}-{http.vars.tier}", "acme-gold-gold"},
		{"{query.x}", "1"},
		{"{path.1}", "b"}, // Caddy's path segment when no capture has that name
		{"{unknown.thing}", "{unknown.thing}"},
		{`\{literal\}`, "{literal}"},
		{`{"json": {}}`, `{"json": {}}`},
		{"", ""},
	} {
		tp, err := ParseTemplate(c.src)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		if got := tp.Expand(caps, repl); got != c.want {
			t.Errorf("%q: %q, want %q", c.src, got, c.want)
		}
	}
	if _, err := ParseTemplate("/x{unclosed"); err == nil {
		t.Error("an unclosed placeholder is refused")
	}
	var nilRepl *caddy.Replacer
	tp, _ := ParseTemplate("/a/{path.id}/{host}")
	if got := tp.Expand(caps, nilRepl); got != "/a/42/{http.request.host}" {
		t.Errorf("without a replacer: %q", got)
	}
}
