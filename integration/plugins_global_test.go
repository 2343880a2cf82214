package integration

import (
	"testing"
)

// TestPluginGlobal: bundled plugins as global_plugins run for every
// request of a `resty { routes }` handler, before the route's own, with
// state of their own: a global limit-count counts across routes, a route's
// limit-count separately; a global key-auth guards every route and names
// the consumer the route's limit counts by; a request no route matches
// still runs them (as APISIX's global rules).
func TestPluginGlobal(t *testing.T) {
	g := plStartGateway(t, plOptions{
		global: `
		global_plugin request-id
		global_plugin key-auth ` + bq(`{"header": "X-Api-Key", "consumers": [{"name": "alice", "key": "k-alice"}, {"name": "bob", "key": "k-bob"}]}`) + `
		global_plugin limit-count ` + bq(`{"count": 5, "time_window": 60, "key": "consumer_name", "rejected_code": 429}`),
		routes: `
		route a {
			path /a/*
			plugin limit-count ` + bq(`{"count": 2, "time_window": 60, "key": "consumer_name", "rejected_code": 403}`) + `
			proxy be
		}
		route b {
			path /b/*
			proxy be
		}`})
	alice := map[string]string{"X-Api-Key": "k-alice"}
	bob := map[string]string{"X-Api-Key": "k-bob"}

	// Every route needs a key; the id comes first (priority 12015).
	r := g.do("GET", "/b/x", nil, "")
	plExpect(t, "no key", r, 401, "Missing API key")
	if r.header.Get("X-Request-Id") == "" {
		t.Fatalf("a denied request has no id: %s", r)
	}
	// Route a: its own limit of 2 per consumer, inside the global 5.
	for i := 1; i <= 2; i++ {
		r = g.do("GET", "/a/x", alice, "")
		plExpect(t, "alice on a", r, 200)
		if e := r.echo(t); e.Header["X-Consumer-Username"][0] != "alice" || len(e.Header["X-Api-Key"]) != 0 {
			t.Fatalf("upstream of a: %+v", e.Header)
		}
	}
	plExpect(t, "alice over a's limit", g.do("GET", "/a/x", alice, ""), 403)
	// The global count went on: 3 so far (the route's rejection came after
	// the global plugin counted it), 2 more on b, then the global limit.
	plExpect(t, "alice on b", g.do("GET", "/b/x", alice, ""), 200)
	r = g.do("GET", "/b/x", alice, "")
	plExpect(t, "alice on b", r, 200)
	if r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Limit") != "5" {
		t.Fatalf("global quota headers: %s", r)
	}
	plExpect(t, "alice over the global limit", g.do("GET", "/b/x", alice, ""), 429)
	// Another consumer has counters of its own.
	plExpect(t, "bob on a", g.do("GET", "/a/x", bob, ""), 200)
	plExpect(t, "bob on b", g.do("GET", "/b/x", bob, ""), 200)
	// No route: the global plugins still run (as APISIX's global rules),
	// then the request goes on to the site's next handler.
	plExpect(t, "no route, no key", g.do("GET", "/elsewhere", nil, ""), 401)
	r = g.do("GET", "/elsewhere", bob, "")
	plExpect(t, "no route", r, 404, "no route")
	if r.header.Get("X-Request-Id") == "" || r.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("global plugins on a request no route matched: %s", r)
	}
}
