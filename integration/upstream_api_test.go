package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/dynupstream"
)

// configJSON reads a path of the running config.
func configJSON(t *testing.T, path string) string {
	t.Helper()
	code, out := admin(t, "GET", "/config/"+strings.TrimPrefix(path, "/"), "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /config/%s: %d %s", path, code, out)
	}
	return strings.TrimSpace(out)
}

// TestUpstreamConfigAPI: the contract's /config examples take effect for
// the next request after the call returns.
func TestUpstreamConfigAPI(t *testing.T) {
	a, b, c, n := newServer(t, "a"), newServer(t, "b"), newServer(t, "c"), newServer(t, "n")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf("upstream user_backend {\n\tserver %s\n\tserver %s\n}", a.addr, b.addr),
		site:   proxyTo(),
	})
	if got := spread(t, "user_backend", 10); got["a"] != 5 || got["b"] != 5 {
		t.Fatalf("before: %v", got)
	}

	mustAdmin(t, "POST", "/config/apps/resty/upstreams/user_backend/servers", "application/json",
		fmt.Sprintf(`{"address":%q}`, c.addr))
	if got := spread(t, "user_backend", 30); got["a"] != 10 || got["b"] != 10 || got["c"] != 10 {
		t.Errorf("after adding c: %v", got)
	}

	mustAdmin(t, "DELETE", "/config/apps/resty/upstreams/user_backend/servers/0", "", "")
	before := a.hits.Load()
	if got := spread(t, "user_backend", 20); got["b"] != 10 || got["c"] != 10 {
		t.Errorf("after removing a: %v", got)
	}
	if a.hits.Load() != before {
		t.Errorf("the removed server got requests")
	}

	mustAdmin(t, "PUT", "/config/apps/resty/upstreams/user_backend/servers/1/weight", "application/json", "3")
	if got := spread(t, "user_backend", 40); got["b"] != 10 || got["c"] != 30 {
		t.Errorf("after reweighting c to 3: %v", got)
	}

	mustAdmin(t, "PUT", "/config/apps/resty/upstreams/new_pool", "application/json",
		fmt.Sprintf(`{"servers":[{"address":%q}]}`, n.addr))
	if got := spread(t, "new_pool", 5); got["n"] != 5 {
		t.Errorf("new_pool: %v", got)
	}

	mustAdmin(t, "DELETE", "/config/apps/resty/upstreams/new_pool", "", "")
	if r := hit(t, "new_pool"); r.Status != http.StatusBadGateway {
		t.Errorf("deleted new_pool: %d %q, want 502", r.Status, r.Body)
	}
	g.waitLogged("unknown upstream cluster", map[string]string{"upstream": "new_pool", "level": "error"})
}

// TestUpstreamAdminAPI: the dyups-style routes list the clusters with
// their live health and change them in place: the config stays as it was.
func TestUpstreamAdminAPI(t *testing.T) {
	a, b, c := newServer(t, "a"), newServer(t, "b"), newServer(t, "c")
	g := newGateway(t)
	// No upstreams at first: POST creates the cluster in the live state.
	g.load(cfg{global: "shared_dict x 1m", site: proxyTo()})
	if out := mustAdmin(t, "GET", "/resty/upstreams", "", ""); strings.TrimSpace(out) != "{}" {
		t.Errorf("GET /resty/upstreams with no clusters: %s", out)
	}
	config := configJSON(t, "")

	body := fmt.Sprintf("server %s weight=2; server %s backup;\n# comment\nserver %s down;", a.addr, b.addr, c.addr)
	out := mustAdmin(t, "POST", "/resty/upstreams/dy", "", body)
	var st dynupstream.ClusterStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Name != "dy" || len(st.Servers) != 3 ||
		st.Version != 1 || !st.LiveModified || st.Updated == nil {
		t.Fatalf("POST answer %s (%v)", out, err)
	}
	if got := spread(t, "dy", 6); got["a"] != 6 {
		t.Errorf("dy: %v (the backup and the down server must get nothing)", got)
	}

	// JSON body; replaces the cluster.
	out = mustAdmin(t, "POST", "/resty/upstreams/dy", "application/json",
		fmt.Sprintf(`{"servers":[{"address":%q},{"address":%q}],"lb_policy":{"policy":"least_conn"}}`, b.addr, c.addr))
	if !strings.Contains(out, `"least_conn"`) || !strings.Contains(out, `"version":2`) {
		t.Errorf("POST JSON answer: %s", out)
	}
	if got := spread(t, "dy", 6); got["b"]+got["c"] != 6 || got["b"] == 0 || got["c"] == 0 {
		t.Errorf("dy after JSON update: %v", got)
	}

	// Listing and one cluster.
	var all map[string]dynupstream.ClusterStatus
	if err := json.Unmarshal([]byte(mustAdmin(t, "GET", "/resty/upstreams", "", "")), &all); err != nil {
		t.Fatal(err)
	}
	if s, ok := all["dy"]; !ok || len(s.Servers) != 2 || s.Available != 2 || s.Servers[0].Requests == 0 || s.Version != 2 {
		t.Errorf("GET /resty/upstreams: %+v", all)
	}
	if code, out := admin(t, "GET", "/resty/upstreams/nope", "", ""); code != http.StatusNotFound {
		t.Errorf("GET unknown cluster: %d %s", code, out)
	}

	// Malformed bodies: 400 with the reason, nothing changed.
	before := mustAdmin(t, "GET", "/resty/upstreams/dy", "", "")
	for _, bad := range []struct{ ct, body, reason string }{
		{"", "server 10.0.0.1:80 weight=abc;", `weight: invalid number \"abc\"`},
		{"", "server 10.0.0.1:80 weight=0;", "weight: must be between 1 and 1000"},
		{"", "server 10.0.0.1:80 bogus;", `unknown parameter \"bogus\"`},
		{"", "server 10.0.0.1:80; server 10.0.0.1:80;", "servers[1].address"},
		{"", "server ;", "server: missing address"},
		{"", "server 10.0.0.1:80;;", "unexpected ';'"},
		{"", "server 10.0.0.1:80 { }", "no blocks"},
		{"", "upstream x { server 10.0.0.1:80; }", "no blocks"},
		{"", "server 10.0.0.1:80 fail_timeout=soon;", `invalid duration \"soon\"`},
		{"", "", "empty body"},
		{"", "health_check /h;", "no server"},
		{"application/json", `{"servers":[{"address":"10.0.0.1:80","weight":-1}]}`, "upstreams.dy.servers[0].weight: must be between 1 and 1000, got -1"},
		{"application/json", `{"servers":[{"adress":"10.0.0.1:80"}]}`, `unknown field \"adress\"`},
		{"application/json", `{"servers":[`, "decoding the JSON body"},
		{"application/json", `{"servers":[{"address":"10.0.0.1"}]}`, "missing port"},
	} {
		code, out := admin(t, "POST", "/resty/upstreams/dy", bad.ct, bad.body)
		if code != http.StatusBadRequest || !strings.Contains(out, bad.reason) {
			t.Errorf("POST %q: %d %s, want 400 with %q", bad.body, code, out, bad.reason)
		}
	}
	if code, out := admin(t, "POST", "/resty/upstreams/bad%20name", "", "server 10.0.0.1:80;"); code != http.StatusBadRequest {
		t.Errorf("POST to a bad name: %d %s", code, out)
	}
	if code, _ := admin(t, "PUT", "/resty/upstreams/dy", "", "server 10.0.0.1:80;"); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", code)
	}
	if after := mustAdmin(t, "GET", "/resty/upstreams/dy", "", ""); !sameServers(t, after, before) {
		t.Errorf("a refused change changed the cluster:\nbefore %s\nafter  %s", before, after)
	}

	// Delete.
	if out := mustAdmin(t, "DELETE", "/resty/upstreams/dy", "", ""); !strings.Contains(out, `"deleted":"dy"`) || !strings.Contains(out, `"version":3`) {
		t.Errorf("DELETE answer: %s", out)
	}
	if r := hit(t, "dy"); r.Status != http.StatusBadGateway {
		t.Errorf("deleted cluster: %d, want 502", r.Status)
	}
	if code, _ := admin(t, "DELETE", "/resty/upstreams/dy", "", ""); code != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", code)
	}
	// None of it touched the config.
	if after := configJSON(t, ""); after != config {
		t.Errorf("in-place changes changed the config:\nbefore %s\nafter  %s", config, after)
	}
}

// sameServers compares two cluster statuses on their settings (not their
// counters).
func sameServers(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y dynupstream.ClusterStatus
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		t.Fatalf("bad status %s / %s", a, b)
	}
	if x.Version != y.Version || len(x.Servers) != len(y.Servers) || x.LBPolicy != y.LBPolicy {
		return false
	}
	for i := range x.Servers {
		p, q := x.Servers[i], y.Servers[i]
		if p.Address != q.Address || p.Weight != q.Weight || p.Backup != q.Backup || p.Down != q.Down ||
			p.Drain != q.Drain || p.MaxFails != q.MaxFails || p.FailTimeout != q.FailTimeout {
			return false
		}
	}
	return true
}
