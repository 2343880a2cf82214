package dynupstream

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// testRegistry provisions a registry from dyups bodies by cluster name.
func testRegistry(t testing.TB, clusters map[string]string) *Registry {
	t.Helper()
	cfgs := make(map[string]*ClusterConfig)
	for name, body := range clusters {
		cfg, err := ParseDyups(body)
		if err != nil {
			t.Fatal(err)
		}
		cfgs[name] = cfg
	}
	reg, err := testProvision(cfgs, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Cleanup)
	return reg
}

func testSource(reg *Registry, upstream string) *Source {
	return &Source{Upstream: upstream, reg: reg, placeholder: strings.Contains(upstream, "{"), logger: zap.NewNop()}
}

// attemptTo plays reverse_proxy's part of one attempt: the placeholders
// it sets for the upstream it sent the request to, and whether a response
// came.
func attemptTo(repl *caddy.Replacer, hostport string, responded bool) {
	repl.Set(phHostport, hostport)
	if responded {
		repl.Set(phLatency, time.Millisecond)
	}
}

func TestGetUpstreams(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80; server 10.0.0.2:80;"})
	s := testSource(reg, "pool")
	r, repl, cancel := testRequest()
	ups, err := s.GetUpstreams(r)
	if err != nil || len(ups) != 1 || ups[0].Dial != "10.0.0.1:80" {
		t.Fatalf("GetUpstreams = %v, %v", ups, err)
	}
	st := reg.lookup("pool").all[0].st
	if st.active.Load() != 1 || st.requests.Load() != 1 {
		t.Errorf("active %d requests %d", st.active.Load(), st.requests.Load())
	}
	attemptTo(repl, "10.0.0.1:80", true)
	cancel()
	waitUntil(t, func() bool { return st.active.Load() == 0 })
	if st.failures.Load() != 0 {
		t.Errorf("a success counted as a failure")
	}

	// Fresh upstreams each call.
	r2, _, cancel2 := testRequest()
	defer cancel2()
	u1, _ := s.GetUpstreams(r2)
	r3, _, cancel3 := testRequest()
	defer cancel3()
	u2, _ := s.GetUpstreams(r3)
	if u1[0] == u2[0] {
		t.Errorf("the same *Upstream twice")
	}
}

func TestRetriesSettleAndMoveOn(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80 max_fails=2; server 10.0.0.2:80; server 10.0.0.3:80 backup;"})
	s := testSource(reg, "pool")
	c := reg.lookup("pool")
	a, b, bk := c.all[0].st, c.all[1].st, c.all[2].st

	r, repl, cancel := testRequest()
	u, _ := s.GetUpstreams(r)
	if u[0].Dial != "10.0.0.1:80" {
		t.Fatalf("first: %s", u[0].Dial)
	}
	attemptTo(repl, "10.0.0.1:80", false) // dial failed
	u, _ = s.GetUpstreams(r)              // the retry
	if u[0].Dial != "10.0.0.2:80" {
		t.Fatalf("retry: %s, want the other primary", u[0].Dial)
	}
	if a.failures.Load() != 1 || a.fails.Load() != 1 || a.active.Load() != 0 || b.active.Load() != 1 {
		t.Errorf("after the first retry: a failures %d fails %d active %d, b active %d",
			a.failures.Load(), a.fails.Load(), a.active.Load(), b.active.Load())
	}
	if _, ok := repl.Get(phHostport); ok {
		t.Errorf("the previous attempt's hostport is still set")
	}
	attemptTo(repl, "10.0.0.2:80", false)
	u, _ = s.GetUpstreams(r)
	if u[0].Dial != "10.0.0.3:80" {
		t.Fatalf("second retry: %s, want the backup", u[0].Dial)
	}
	// b's max_fails is 1 (default): it is out; a (max_fails 2) is not.
	now := time.Now().UnixNano()
	if b.passiveAvailable(now, 1) || !a.passiveAvailable(now, 2) {
		t.Errorf("passive: a %v b %v", a.passiveAvailable(now, 2), b.passiveAvailable(now, 1))
	}
	// Caddy refused the upstream (its own health checks): no attempt, no
	// failure.
	u, _ = s.GetUpstreams(r)
	if bk.failures.Load() != 0 {
		t.Errorf("an attempt reverse_proxy did not make counted as a failure")
	}
	if u[0].Dial != "10.0.0.1:80" {
		t.Errorf("all tried: %s, want a (still available) again", u[0].Dial)
	}
	// The request ends with a client that went away: no failure.
	attemptTo(repl, "10.0.0.1:80", false)
	cancel()
	waitUntil(t, func() bool { return a.active.Load() == 0 })
	if a.failures.Load() != 1 {
		t.Errorf("a cancelled request counted as a failure")
	}
	if got := a.requests.Load() + b.requests.Load() + bk.requests.Load(); got != 4 {
		t.Errorf("requests counted %d, want 4", got)
	}
}

func TestLastAttemptFailure(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80; server 10.0.0.2:80;"})
	s := testSource(reg, "pool")
	a := reg.lookup("pool").all[0].st
	r, repl, cancel := testRequest()
	s.GetUpstreams(r)
	attemptTo(repl, "10.0.0.1:80", false)
	repl.Set(phErrCode, http.StatusBadGateway)
	cancel()
	waitUntil(t, func() bool { return a.failures.Load() == 1 })
	if a.passiveAvailable(time.Now().UnixNano(), 1) {
		t.Errorf("a failed last attempt did not take the server out")
	}
	// The next request goes to the other server.
	r, _, cancel = testRequest()
	defer cancel()
	if u, _ := s.GetUpstreams(r); u[0].Dial != "10.0.0.2:80" {
		t.Errorf("after a failure: %s", u[0].Dial)
	}
}

func TestClusterName(t *testing.T) {
	reg := testRegistry(t, map[string]string{"a": "server 10.0.0.1:80;", "b": "server 10.0.0.2:80;"})
	// From the var.
	r, _, cancel := testRequest()
	defer cancel()
	caddyhttp.SetVar(r.Context(), UpstreamVar, "b")
	if u, _ := testSource(reg, "").GetUpstreams(r); u[0].Dial != "10.0.0.2:80" {
		t.Errorf("var: %s", u[0].Dial)
	}
	// From a placeholder.
	r, repl, cancel2 := testRequest()
	defer cancel2()
	repl.Set("which", "a")
	if u, _ := testSource(reg, "{which}").GetUpstreams(r); u[0].Dial != "10.0.0.1:80" {
		t.Errorf("placeholder: %s", u[0].Dial)
	}
}

func TestUnknownAndEmpty(t *testing.T) {
	reg := testRegistry(t, map[string]string{"empty": "server 10.0.0.1:80 down;"})
	r, _, cancel := testRequest()
	defer cancel()
	u, err := testSource(reg, "nope").GetUpstreams(r)
	if err != nil || len(u) != 1 {
		t.Fatalf("unknown: %v %v", u, err)
	}
	if _, err := caddy.ParseNetworkAddress(u[0].Dial); err == nil || !strings.Contains(u[0].Dial, "nope") {
		t.Errorf("unknown cluster dial %q must name it and not parse", u[0].Dial)
	}
	if u := unknownCluster("a/b{c}"); u[0].Dial != "unknown-resty-upstream:cluster=a_b_c_" {
		t.Errorf("sanitized: %q", u[0].Dial)
	}
	u, err = testSource(reg, "empty").GetUpstreams(r)
	if err != nil || len(u) != 0 {
		t.Errorf("all down: %v %v, want no upstream", u, err)
	}
}

func TestRetiredRegistryDefersToActive(t *testing.T) {
	old := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80;"})
	s := testSource(old, "pool")
	old.Cleanup()
	// No config runs in this test process: a retired registry with no
	// active one still answers from its own clusters.
	r, _, cancel := testRequest()
	defer cancel()
	if u, _ := s.GetUpstreams(r); len(u) != 1 || u[0].Dial != "10.0.0.1:80" {
		t.Errorf("retired, nothing active: %v", u)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkGetUpstreams: the cost per request of choosing its server
// (GetUpstreams on the first attempt and the settling at the end of the
// request), by policy, for a cluster of 10 servers.
func BenchmarkGetUpstreams(b *testing.B) {
	var servers strings.Builder
	for _, a := range addrs(10) {
		servers.WriteString("server " + a + " weight=3; ")
	}
	for _, policy := range []string{"baseline", "round_robin", "least_conn", "random", "ip_hash", "header X-User", "cookie sid"} {
		b.Run(strings.Fields(policy)[0], func(b *testing.B) {
			if policy == "baseline" {
				// What the benchmark itself costs: the request's context
				// and its end.
				req, _ := http.NewRequest("GET", "/", nil)
				b.ReportAllocs()
				for b.Loop() {
					ctx, cancel := context.WithCancel(context.Background())
					sinkRequest = req.WithContext(ctx)
					cancel()
				}
				return
			}
			reg := testRegistry(b, map[string]string{"pool": servers.String() + "lb_policy " + policy + ";"})
			s := testSource(reg, "pool")
			repl := caddy.NewReplacer()
			base := context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl)
			vars := map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.7"}
			base = context.WithValue(base, caddyhttp.VarsCtxKey, vars)
			req, _ := http.NewRequest("GET", "/", nil)
			req.Header.Set("X-User", "alice")
			req.Header.Set("Cookie", "sid=abc123")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ctx, cancel := context.WithCancel(base)
				r := req.WithContext(ctx)
				u, _ := s.GetUpstreams(r)
				if len(u) != 1 {
					b.Fatal("no upstream")
				}
				delete(vars, attemptVar)
				cancel()
			}
		})
	}
}

var sinkRequest *http.Request

// BenchmarkPick: the selection alone (one attempt, no request tracking),
// by policy and cluster size.
func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100} {
		var servers strings.Builder
		for i, a := range addrs(n) {
			fmt.Fprintf(&servers, "server %s weight=%d; ", a, 1+i%3)
		}
		for _, policy := range []string{"round_robin", "least_conn", "random", "ip_hash", "header X-User"} {
			b.Run(fmt.Sprintf("%s/%d", strings.Fields(policy)[0], n), func(b *testing.B) {
				c := testCluster(b, "pool", servers.String()+"lb_policy "+policy+";")
				r, _, cancel := testRequest()
				defer cancel()
				r.RemoteAddr = "192.0.2.7:1234"
				r.Header.Set("X-User", "alice")
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if c.pick(r, nil, time.Now().UnixNano()) == nil {
							b.Fatal("no server")
						}
					}
				})
			})
		}
	}
}
