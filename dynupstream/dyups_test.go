package dynupstream

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDyups(t *testing.T) {
	two := 2
	for _, c := range []struct {
		name, body string
		want       *ClusterConfig
	}{
		{
			name: "dyups README",
			body: "server 127.0.0.1:8089;server 127.0.0.1:8088;",
			want: &ClusterConfig{Servers: []ServerConfig{{Address: "127.0.0.1:8089"}, {Address: "127.0.0.1:8088"}}},
		},
		{
			name: "every server parameter, nginx forms",
			body: `# the pool
server 10.0.0.1 weight=2 max_fails=2 fail_timeout=30;   # port 80, seconds
server [::1]:8080 backup;
server unix:/run/app.sock down;
server "10.0.0.4:81";`,
			want: &ClusterConfig{Servers: []ServerConfig{
				{Address: "10.0.0.1:80", Weight: 2, MaxFails: &two, FailTimeout: NewDuration(30 * time.Second)},
				{Address: "[::1]:8080", Backup: true},
				{Address: "unix//run/app.sock", Down: true},
				{Address: "10.0.0.4:81"},
			}},
		},
		{
			name: "health check and policy, last ; left out",
			body: "server 10.0.0.1:80;\nhealth_check /healthz interval=1s timeout=500ms expect=200 host=api passes=2 fails=3;\nlb_policy header X-User",
			want: &ClusterConfig{
				Servers: []ServerConfig{{Address: "10.0.0.1:80"}},
				HealthCheck: &HealthCheckConfig{Path: "/healthz", Host: "api", Interval: NewDuration(time.Second),
					Timeout: NewDuration(500 * time.Millisecond), Expect: "200", HealthyThreshold: 2, UnhealthyThreshold: 3},
				LBPolicy: &LBPolicy{Policy: PolicyHeader, Field: "X-User"},
			},
		},
		{
			name: "nginx balancing directives",
			body: "ip_hash; server 10.0.0.1:80;",
			want: &ClusterConfig{Servers: []ServerConfig{{Address: "10.0.0.1:80"}}, LBPolicy: &LBPolicy{Policy: PolicyIPHash}},
		},
		{
			name: "nginx hash on a header",
			body: "hash $http_x_user_id consistent; server 10.0.0.1:80;",
			want: &ClusterConfig{Servers: []ServerConfig{{Address: "10.0.0.1:80"}}, LBPolicy: &LBPolicy{Policy: PolicyHeader, Field: "x-user-id"}},
		},
		{
			name: "nginx hash on a cookie",
			body: "server 10.0.0.1:80; hash $cookie_sid;",
			want: &ClusterConfig{Servers: []ServerConfig{{Address: "10.0.0.1:80"}}, LBPolicy: &LBPolicy{Policy: PolicyCookie, Name: "sid"}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDyups(c.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(c.want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

func TestParseDyupsErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"", "no server"},
		{"   # nothing\n", "no server"},
		{"server;", "server: missing address"},
		{";", "line 1: unexpected ';'"},
		{"server 10.0.0.1:80;\n;", "line 2: unexpected ';'"},
		{"server 10.0.0.1:80 weight=x;", `weight: invalid number "x"`},
		{"server 10.0.0.1:80 weight=0;", "weight: must be between 1 and 1000, got 0"},
		{"server 10.0.0.1:80 weight=1001;", "weight: must be between 1 and 1000"},
		{"server 10.0.0.1:80 weight=1 weight=2;", "weight given twice"},
		{"server 10.0.0.1:80 max_fails=-1;", "max_fails: must be between 0 and 1000"},
		{"server 10.0.0.1:80 fail_timeout=soon;", `invalid duration "soon"`},
		{"server 10.0.0.1:80 backup=yes;", `backup: takes no value`},
		{"server 10.0.0.1:80 max_conns=10;", "max_conns: not supported"},
		{"server 10.0.0.1:80 weird;", `unknown parameter "weird"`},
		{"server http://10.0.0.1:80;", "without a scheme"},
		{"server 10.0.0.1:80-90;", "one port, not a range"},
		{"server 10.0.0.1:{port};", "no blocks"},
		{"server 10.0.0.1:80; server 10.0.0.1:80;", "servers[1].address: 10.0.0.1:80 is already servers[0]"},
		{"upstream x { server 10.0.0.1:80; }", "no blocks"},
		{"server 'unterminated;", "unterminated quoted word"},
		{"server \"10.0.0.1:80\"x;", "unexpected character after a quoted word"},
		{"server 10.0.0.1:80\x00;", "control character"},
		{"keepalive 16; server 10.0.0.1:80;", `unknown directive "keepalive"`},
		{"server 10.0.0.1:80; health_check;", "health_check: missing path"},
		{"server 10.0.0.1:80; health_check healthz;", "must begin with '/'"},
		{"server 10.0.0.1:80; health_check /h interval=0;", "interval: must be positive"},
		{"server 10.0.0.1:80; health_check /h interval=1ns;", "interval: 1ns is below the minimum of 100ms"},
		{"server 10.0.0.1:80; health_check /h timeout=1us;", "timeout: 1µs is below the minimum of 10ms"},
		{"server 10.0.0.1:80; health_check /h expect=20x;", `invalid status "20x"`},
		{"server 10.0.0.1:80; health_check /h passes=0;", "passes: must be a number between 1 and 100"},
		{"server 10.0.0.1:80; health_check /h; health_check /i;", "health_check: given twice"},
		{"server 10.0.0.1:80; lb_policy fastest;", `unknown policy "fastest"`},
		{"server 10.0.0.1:80; lb_policy cookie;", "want one cookie name"},
		{"server 10.0.0.1:80; least_conn; ip_hash;", "lb_policy: given twice"},
		{"server 10.0.0.1:80; hash $remote_addr;", `unsupported key "$remote_addr"`},
		{"server 10.0.0.1:80; random two;", `random: unsupported argument "two"`},
	} {
		_, err := ParseDyups(c.body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseDyups(%q) = %v, want an error with %q", c.body, err, c.want)
		}
	}
}

func TestParseDyupsTooLarge(t *testing.T) {
	var b strings.Builder
	for i := 0; i <= maxStatements; i++ {
		b.WriteString("least_conn;")
	}
	if _, err := ParseDyups(b.String()); err == nil || !strings.Contains(err.Error(), "too many statements") {
		t.Errorf("got %v", err)
	}
	if _, err := ParseDyups("server 10.0.0.1:80" + strings.Repeat(" down", maxStmtTokens) + ";"); err == nil ||
		!strings.Contains(err.Error(), "too many words") {
		t.Errorf("got %v", err)
	}
}

// FuzzParseDyups: the parser never panics, accepts only configurations
// that validate, and reads back what FormatDyups writes of them, as JSON
// does.
func FuzzParseDyups(f *testing.F) {
	for _, seed := range []string{
		"server 127.0.0.1:8089;server 127.0.0.1:8088;",
		"server 10.0.0.1:80 weight=2; server 10.0.0.2:80 backup;",
		"server 10.0.0.1 max_fails=3 fail_timeout=10s; server [::1]:81 down;",
		"server unix:/run/a.sock;\nhealth_check /healthz interval=1s timeout=500ms expect=2xx passes=2 fails=2;",
		"ip_hash;\nserver a.example:80;\n# comment\nserver b.example:80 weight=5;",
		"hash $http_x_user consistent; server 10.0.0.1:80;",
		"hash $cookie_sid; server 10.0.0.1:80;",
		"lb_policy header 'X#Odd'; server 10.0.0.1:80;",
		"server \"10.0.0.1:80\" 'weight=3';",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cfg, err := ParseDyups(body)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseDyups(%q) accepted a config that does not validate: %v", body, err)
		}
		text := FormatDyups(cfg)
		again, err := ParseDyups(text)
		if err != nil {
			t.Fatalf("ParseDyups(FormatDyups(ParseDyups(%q))) = %v; text %q", body, err, text)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip of %q through %q changed it", body, text)
		}
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var back ClusterConfig
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("JSON %s does not decode: %v", js, err)
		}
		if !reflect.DeepEqual(cfg, &back) {
			t.Fatalf("JSON round trip of %q through %s changed it", body, js)
		}
	})
}
