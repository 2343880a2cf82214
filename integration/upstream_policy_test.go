package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUpstreamPolicies: least_conn, ip_hash, header and cookie hashing
// (consistent: removing a server moves only its keys) and random.
func TestUpstreamPolicies(t *testing.T) {
	a, b, c := newServer(t, "a"), newServer(t, "b"), newServer(t, "c")
	servers := fmt.Sprintf("\tserver %s\n\tserver %s\n\tserver %s\n", a.addr, b.addr, c.addr)
	g := newGateway(t)
	g.load(cfg{
		global: "upstream lc {\n" + servers + "\tlb_policy least_conn\n}\n" +
			"upstream iph {\n" + servers + "\tlb_policy ip_hash\n}\n" +
			"upstream hdr {\n" + servers + "\tlb_policy header X-User\n}\n" +
			"upstream ck {\n" + servers + "\thash $cookie_sid consistent\n}\n" +
			"upstream rnd {\n" + servers + "\tlb_policy random\n}\n",
		site: proxyTo(),
	})

	t.Run("least_conn", func(t *testing.T) {
		a.delay.Store(int64(400 * time.Millisecond))
		defer a.delay.Store(0)
		before := a.hits.Load()
		var wg sync.WaitGroup
		// Staggered requests: once a holds one, every later request
		// finds b or c with fewer active requests.
		for i := 0; i < 12; i++ {
			wg.Go(func() {
				if r := hit(t, "lc"); r.Status != 200 {
					t.Errorf("least_conn: %d", r.Status)
				}
			})
			time.Sleep(15 * time.Millisecond)
		}
		wg.Wait()
		if n := a.hits.Load() - before; n > 1 {
			t.Errorf("the slow server got %d of 12 requests, want at most 1", n)
		}
	})

	t.Run("ip_hash", func(t *testing.T) {
		got := spread(t, "iph", 30)
		if len(got) != 1 {
			t.Errorf("one client went to several servers: %v", got)
		}
	})

	sticky := func(t *testing.T, cluster string, key func(i int) []string) map[int]string {
		owner := make(map[int]string)
		for i := 0; i < 150; i++ {
			r := hit(t, cluster, key(i)...)
			if r.Status != 200 {
				t.Fatalf("%s: %d", cluster, r.Status)
			}
			owner[i] = r.Body
			if again := hit(t, cluster, key(i)...); again.Body != r.Body {
				t.Errorf("%s: key %d went to %s then %s", cluster, i, r.Body, again.Body)
			}
		}
		count := map[string]int{}
		for _, s := range owner {
			count[s]++
		}
		for _, s := range []string{"a", "b", "c"} {
			if count[s] < 20 {
				t.Errorf("%s: keys per server %v, want each server used", cluster, count)
			}
		}
		return owner
	}
	headerKey := func(i int) []string { return []string{"X-User", fmt.Sprintf("user-%d", i)} }
	cookieKey := func(i int) []string { return []string{"Cookie", fmt.Sprintf("theme=x; sid=s%d", i)} }

	t.Run("header", func(t *testing.T) {
		owner := sticky(t, "hdr", headerKey)
		// Without the header: round robin.
		if got := spread(t, "hdr", 9); got["a"] != 3 || got["b"] != 3 || got["c"] != 3 {
			t.Errorf("no header: %v", got)
		}
		// Consistent: without c, the keys of a and b stay put.
		mustAdmin(t, "DELETE", "/config/apps/resty/upstreams/hdr/servers/2", "", "")
		for i, s := range owner {
			r := hit(t, "hdr", headerKey(i)...)
			if s != "c" && r.Body != s {
				t.Errorf("key %d moved from %s to %s when c left", i, s, r.Body)
			}
			if r.Body == "c" {
				t.Errorf("key %d still goes to the removed server", i)
			}
		}
	})

	t.Run("cookie", func(t *testing.T) {
		sticky(t, "ck", cookieKey)
	})

	t.Run("random", func(t *testing.T) {
		got := spread(t, "rnd", 300)
		for _, s := range []string{"a", "b", "c"} {
			if got[s] < 50 {
				t.Errorf("random: %v", got)
			}
		}
	})
}

// TestUpstreamLuaVar: with no upstream named, the cluster is the one Lua
// (ngx.var.resty_upstream) or a route chose; a request that chose none
// gets 502 with a log line.
func TestUpstreamLuaVar(t *testing.T) {
	a := newServer(t, "a")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf("upstream lua_pool {\n\tserver %s\n}", a.addr),
		site: resty(lua("access", `if ngx.var.http_x_pick then ngx.var.resty_upstream = ngx.var.http_x_pick end`)) +
			"reverse_proxy {\n\tdynamic resty\n}\n",
	})
	if r := get(t, "/x", "X-Pick", "lua_pool"); r.Status != 200 || r.Body != "a" {
		t.Errorf("Lua-chosen cluster: %d %q", r.Status, r.Body)
	}
	if r := get(t, "/x"); r.Status != http.StatusBadGateway {
		t.Errorf("no cluster chosen: %d %q, want 502", r.Status, r.Body)
	}
	e := g.waitLogged("no upstream cluster named for this request (set {http.vars.resty_upstream} from a route or Lua, or name one: dynamic resty NAME)", nil)
	if e["level"] != "error" {
		t.Errorf("log entry %v", e)
	}
}

// TestUpstreamBadInput: unknown cluster 502, empty or all-down cluster
// 503, each with a log line; bad values refused at load naming the
// place, the running config serving on.
func TestUpstreamBadInput(t *testing.T) {
	a, b := newServer(t, "a"), newServer(t, "b")
	global := fmt.Sprintf(`upstream user_backend {
	server %s
	server %s
}
upstream empty {
}
upstream alldown {
	server %s down
}`, a.addr, b.addr, a.addr)
	g := newGateway(t)
	g.load(cfg{global: global, site: proxyTo()})

	if r := hit(t, "nope"); r.Status != http.StatusBadGateway {
		t.Errorf("unknown cluster: %d %q", r.Status, r.Body)
	}
	g.waitLogged("unknown upstream cluster", map[string]string{"level": "error", "upstream": "nope",
		"logger": "http.reverse_proxy.upstreams.resty"})
	for _, name := range []string{"empty", "alldown"} {
		if r := hit(t, name); r.Status != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %q, want 503", name, r.Status, r.Body)
		}
		g.waitLogged("no available server in upstream cluster", map[string]string{"level": "error", "upstream": name})
	}

	// Bad values through /config: refused, naming the place. (Caddy's
	// /config answers a config that fails to load with 500.)
	before := configJSON(t, "")
	for _, bad := range []struct{ method, path, body, want string }{
		{"PUT", "apps/resty/upstreams/user_backend/servers/1/weight", `-3`,
			"upstreams.user_backend.servers[1].weight: must be between 1 and 1000, got -3"},
		{"PUT", "apps/resty/upstreams/user_backend/servers/1/weight", `1001`,
			"upstreams.user_backend.servers[1].weight: must be between 1 and 1000, got 1001"},
		{"PATCH", "apps/resty/upstreams/user_backend/servers/0/address", `"nohost"`,
			`upstreams.user_backend.servers[0].address: invalid address \"nohost\": missing port`},
		{"PATCH", "apps/resty/upstreams/user_backend/servers/0/address", `"http://10.0.0.1:80"`,
			"upstreams.user_backend.servers[0].address: invalid address"},
		{"PATCH", "apps/resty/upstreams/user_backend/servers/0/address", `"10.0.0.1:80-81"`,
			"upstreams.user_backend.servers[0].address: invalid address"},
		{"PUT", "apps/resty/upstreams/user_backend/servers/1/fail_timeout", `"soon"`,
			`upstreams.user_backend.servers[1].fail_timeout: invalid duration \"soon\"`},
		{"PUT", "apps/resty/upstreams/user_backend/servers/0/max_fails", `-1`,
			"upstreams.user_backend.servers[0].max_fails: must be between 0 and 1000, got -1"},
		{"PUT", "apps/resty/upstreams/user_backend/health_check", `{"path":"/h","interval":"often"}`,
			`upstreams.user_backend.health_check.interval: invalid duration \"often\"`},
		{"PUT", "apps/resty/upstreams/user_backend/health_check", `{"path":"h"}`,
			"upstreams.user_backend.health_check.path: must begin with '/'"},
		{"PUT", "apps/resty/upstreams/user_backend/lb_policy", `{"policy":"fastest"}`,
			`upstreams.user_backend.lb_policy.policy: unknown policy \"fastest\"`},
		{"PUT", "apps/resty/upstreams/bad name", `{}`, `upstreams: invalid cluster name \"bad name\"`},
		{"POST", "apps/resty/upstreams/user_backend/servers", fmt.Sprintf(`{"address":%q}`, a.addr),
			"upstreams.user_backend.servers[2].address: " + a.addr + " is already servers[0]"},
	} {
		path := "/config/" + strings.ReplaceAll(bad.path, " ", "%20")
		code, out := admin(t, bad.method, path, "application/json", bad.body)
		if code < 400 || !strings.Contains(out, bad.want) {
			t.Errorf("%s %s %s: %d %s\nwant an error with %s", bad.method, bad.path, bad.body, code, out, bad.want)
		}
	}
	if after := configJSON(t, ""); after != before {
		t.Errorf("a refused change changed the config")
	}
	if got := spread(t, "user_backend", 4); got["a"] != 2 || got["b"] != 2 {
		t.Errorf("the running config after refused changes: %v", got)
	}

	// The Caddyfile parser names the file and line.
	for _, bad := range []struct{ line, want string }{
		{"server 10.0.0.1:80 weight=0", "weight: must be between 1 and 1000, got 0"},
		{"server 10.0.0.1:80 max_fails=x", `max_fails: invalid number \"x\"`},
		{"server 10.0.0.1:80 fail_timeout=1y", `fail_timeout: invalid duration \"1y\"`},
		{"server 10.0.0.1:99999", "invalid address"},
		{"server 10.0.0.1:80 sticky", `unknown parameter \"sticky\"`},
		{"health_check /h interval=0s", "interval: must be positive"},
		{"lb_policy header", "lb_policy header: want one header name"},
		{"weight 3", `unknown directive \"weight\"`},
	} {
		code, out := g.tryLoad(cfg{global: "upstream x {\n" + bad.line + "\n}", site: proxyTo()})
		if code != http.StatusBadRequest || !strings.Contains(out, bad.want) || !strings.Contains(out, "Caddyfile:") {
			t.Errorf("%q: %d %s\nwant 400 with %s", bad.line, code, out, bad.want)
		}
	}
	if got := spread(t, "user_backend", 4); got["a"] != 2 || got["b"] != 2 {
		t.Errorf("the running config after refused loads: %v", got)
	}
}

// TestUpstreamInFlight: a request in flight when its server is removed
// finishes on that server; requests sent after the change returned go
// to the new set.
func TestUpstreamInFlight(t *testing.T) {
	old, fresh := newServer(t, "old"), newServer(t, "fresh")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n}", old.addr), site: proxyTo()})
	old.delay.Store(int64(time.Second))
	done := make(chan reply)
	go func() { done <- hit(t, "pool") }()
	waitFor(t, 5*time.Second, "the slow request to reach its server", func() bool { return old.hits.Load() == 1 })
	if st := serverStatus(t, clusterStatus(t, "pool"), old.addr); st.ActiveRequests != 1 {
		t.Errorf("active requests on the slow server: %d", st.ActiveRequests)
	}
	mustAdmin(t, "PATCH", "/config/apps/resty/upstreams/pool/servers", "application/json",
		fmt.Sprintf(`[{"address":%q}]`, fresh.addr))
	if got := spread(t, "pool", 5); got["fresh"] != 5 {
		t.Errorf("after the change: %v", got)
	}
	if r := <-done; r.Err != nil || r.Status != 200 || r.Body != "old" {
		t.Errorf("the request in flight: %d %q %v", r.Status, r.Body, r.Err)
	}
	if n := old.hits.Load(); n != 1 {
		t.Errorf("the removed server got %d requests", n)
	}
}
