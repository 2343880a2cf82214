package dynupstream

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestParseCaddyfileCluster(t *testing.T) {
	d := caddyfile.NewTestDispenser(`upstream user_backend {
		server 10.0.0.1:8080 weight=5 max_fails=3 fail_timeout=10s
		server 10.0.0.2:8080;
		server 10.0.0.3:8080 backup
		health_check /healthz interval=5s timeout=1s
		lb_policy least_conn
	}`)
	d.Next()
	name, c, err := ParseCaddyfileCluster(d)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(c)
	want := `{"servers":[{"address":"10.0.0.1:8080","weight":5,"max_fails":3,"fail_timeout":"10s"},{"address":"10.0.0.2:8080"},` +
		`{"address":"10.0.0.3:8080","backup":true}],"health_check":{"path":"/healthz","interval":"5s","timeout":"1s"},"lb_policy":{"policy":"least_conn"}}`
	if name != "user_backend" || string(js) != want {
		t.Errorf("%s %s\nwant %s", name, js, want)
	}

	for _, c := range []struct{ in, want string }{
		{"upstream {\n}", "upstream: missing cluster name"},
		{"upstream", "missing cluster name"},
		{"upstream a b {\n}", `unexpected argument "b"`},
		{"upstream a {\nserver 10.0.0.1:80 {\nweight 2\n}\n}", "unexpected block"},
		{"upstream a {\nserver 10.0.0.1:80 weight=0\n}", "upstream a: server 10.0.0.1:80: weight: must be between 1 and 1000, got 0, at Testfile:2"},
		{"upstream a {\nserver 10.0.0.1:80\nserver 10.0.0.1:80\n}", "servers[1].address"},
	} {
		d := caddyfile.NewTestDispenser(c.in)
		d.Next()
		_, _, err := ParseCaddyfileCluster(d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

func TestSourceCaddyfile(t *testing.T) {
	for in, want := range map[string]string{
		"resty":                         "",
		"resty user_backend":            "user_backend",
		"resty {http.vars.backend}":     "{http.vars.backend}",
		"resty {http.request.header.X}": "{http.request.header.X}",
	} {
		var s Source
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil || s.Upstream != want {
			t.Errorf("%q: %q, %v", in, s.Upstream, err)
		}
	}
	for _, in := range []string{"resty a b", "resty a {\nx\n}"} {
		var s Source
		if err := s.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
