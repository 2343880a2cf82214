package dynupstream

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestProvisionErrorsNameThePlace(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"user_backend": {"servers": [{"address": "10.0.0.1:80"}, {"address": "10.0.0.2:80", "weight": -1}]}}`,
			"upstreams.user_backend.servers[1].weight: must be between 1 and 1000, got -1"},
		{`{"u": {"servers": [{"address": "10.0.0.1"}]}}`,
			`upstreams.u.servers[0].address: invalid address "10.0.0.1": missing port`},
		{`{"u": {"servers": [{"address": ""}]}}`, "upstreams.u.servers[0].address: missing address"},
		{`{"u": {"servers": [{"address": "udp/10.0.0.1:53"}]}}`, "network udp is not supported"},
		{`{"u": {"servers": [{"address": "unix/"}]}}`, "missing socket path"},
		{`{"u": {"servers": [{"address": ":80"}]}}`, "missing host"},
		{`{"u": {"servers": [{"address": "10.0.0.1:80", "fail_timeout": "10 s"}]}}`,
			`upstreams.u.servers[0].fail_timeout: invalid duration "10 s"`},
		{`{"u": {"servers": [{"address": "10.0.0.1:80", "fail_timeout": -5}]}}`,
			"upstreams.u.servers[0].fail_timeout: must not be negative"},
		{`{"u": {"servers": [{"address": "10.0.0.1:80", "fail_timeout": true}]}}`,
			`upstreams.u.servers[0].fail_timeout: invalid duration "true"`},
		{`{"u": {"servers": [{"address": "10.0.0.1:80", "max_fails": 1001}]}}`, "upstreams.u.servers[0].max_fails: must be between 0 and 1000"},
		{`{"u": {"health_check": {"path": "/h", "timeout": "x"}}}`, `upstreams.u.health_check.timeout: invalid duration "x"`},
		{`{"u": {"health_check": {"path": "/h", "expect": 700}}}`, `upstreams.u.health_check.expect: invalid status "700"`},
		{`{"u": {"health_check": {"path": "/h;x"}}}`, "upstreams.u.health_check.path: must not contain"},
		{`{"u": {"health_check": {"path": "/h", "unhealthy_threshold": 101}}}`, "upstreams.u.health_check.unhealthy_threshold"},
		{`{"u": {"lb_policy": {"policy": "header"}}}`, "upstreams.u.lb_policy.field: the header policy needs a header name"},
		{`{"u": {"lb_policy": {"policy": "cookie", "name": "a b"}}}`, "upstreams.u.lb_policy.name"},
		{`{"u": {"lb_policy": {"policy": "ip_hash", "field": "X"}}}`, "upstreams.u.lb_policy.policy: ip_hash takes no field or name"},
		{`{"u": null}`, "upstreams.u: missing cluster"},
		{`{"-u": {}}`, `upstreams: invalid cluster name "-u"`},
	} {
		var clusters map[string]*ClusterConfig
		if err := json.Unmarshal([]byte(c.json), &clusters); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		_, err := testProvision(clusters, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant %s", c.json, err, c.want)
		}
	}
}

func TestConfigJSON(t *testing.T) {
	in := `{"servers":[{"address":"10.0.0.1:8080","weight":5,"max_fails":0,"fail_timeout":"1m30s"},{"address":"unix//run/a.sock","backup":true}],` +
		`"health_check":{"path":"/healthz","interval":"5s","timeout":1000000000,"expect":200,"healthy_threshold":2},` +
		`"lb_policy":{"policy":"cookie","name":"sid"}}`
	var c ClusterConfig
	if err := json.Unmarshal([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if *c.Servers[0].MaxFails != 0 || c.Servers[0].FailTimeout.Duration() != 90*time.Second ||
		c.HealthCheck.Timeout.Duration() != time.Second || c.HealthCheck.Expect != "200" {
		t.Errorf("decoded %+v %+v", c.Servers[0], c.HealthCheck)
	}
	out, _ := json.Marshal(&c)
	want := `{"servers":[{"address":"10.0.0.1:8080","weight":5,"max_fails":0,"fail_timeout":"1m30s"},{"address":"unix//run/a.sock","backup":true}],` +
		`"health_check":{"path":"/healthz","interval":"5s","timeout":"1s","expect":"200","healthy_threshold":2},` +
		`"lb_policy":{"policy":"cookie","name":"sid"}}`
	if string(out) != want {
		t.Errorf("encoded %s\nwant    %s", out, want)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "10s": 10 * time.Second, "500ms": 500 * time.Millisecond,
		"1m30s": 90 * time.Second, "1d": 24 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "soon", "10 s", "-"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestStatusMatch(t *testing.T) {
	for _, c := range []struct {
		m      StatusMatch
		status int
		want   bool
	}{{"", 204, true}, {"", 301, false}, {"2xx", 200, true}, {"3xx", 302, true}, {"200", 200, true}, {"200", 204, false}} {
		if got := c.m.Match(c.status); got != c.want {
			t.Errorf("%q.Match(%d) = %v", c.m, c.status, got)
		}
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string][2]string{
		"10.0.0.1:80":         {"10.0.0.1:80", "10.0.0.1:80"},
		"tcp/10.0.0.1:80":     {"10.0.0.1:80", "10.0.0.1:80"},
		"tcp4/10.0.0.1:80":    {"tcp4/10.0.0.1:80", "10.0.0.1:80"},
		"[::1]:8080":          {"[::1]:8080", "[::1]:8080"},
		"backend.internal:81": {"backend.internal:81", "backend.internal:81"},
		"unix//run/a.sock":    {"unix//run/a.sock", "/run/a.sock"},
	} {
		dial, hostport, err := parseAddress(in)
		if err != nil || dial != want[0] || hostport != want[1] {
			t.Errorf("parseAddress(%q) = %q, %q, %v; want %q, %q", in, dial, hostport, err, want[0], want[1])
		}
	}
	for _, in := range map[string]string{"a": "10.0.0.1:0", "b": "10.0.0.1:{port}", "c": "10.0.0.1:80;x", "d": "[::1]", "e": "10.0.0.1:80-81"} {
		if _, _, err := parseAddress(in); err == nil {
			t.Errorf("parseAddress(%q) accepted", in)
		}
	}
	if nginxAddress("10.0.0.1") != "10.0.0.1:80" || nginxAddress("[::1]") != "[::1]:80" ||
		nginxAddress("unix:/run/x.sock") != "unix//run/x.sock" || nginxAddress("a:81") != "a:81" {
		t.Errorf("nginx addresses")
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"user_backend", "a", "api.v2", "svc-1", "_x"} {
		if !ValidName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", ".a", "-a", "a b", "a/b", "a{b}", strings.Repeat("a", 129), "ü"} {
		if ValidName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
