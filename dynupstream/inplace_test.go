package dynupstream

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/internal/livetable"
)

// replace changes a cluster in place to the one of a dyups body.
func replace(t *testing.T, reg *Registry, name, body string) livetable.Result {
	t.Helper()
	cfg, err := ParseDyups(body)
	if err != nil {
		t.Fatal(err)
	}
	res, err := reg.Table().Change(name, livetable.ChangeOptions{}, func(*ClusterConfig) (*ClusterConfig, error) { return cfg, nil })
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// pick sends one request through the source and returns the server
// chosen; the request stays in flight until cancel.
func pick(t *testing.T, s *Source) (string, func()) {
	t.Helper()
	r, repl, cancel := testRequest()
	u, _ := s.GetUpstreams(r)
	if len(u) != 1 {
		cancel()
		return "", func() {}
	}
	attemptTo(repl, u[0].Dial, true)
	return u[0].Dial, cancel
}

func TestInPlaceChangeKeepsServerState(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80; server 10.0.0.2:80;"})
	s := testSource(reg, "pool")
	old := reg.lookup("pool")
	a, b := old.all[0].st, old.all[1].st
	for range 4 {
		_, done := pick(t, s)
		done()
	}
	// A request in flight on b.
	var inflight func()
	for {
		addr, done := pick(t, s)
		if addr == "10.0.0.2:80" {
			inflight = done
			break
		}
		done()
	}
	res := replace(t, reg, "pool", "server 10.0.0.1:80 weight=3; server 10.0.0.3:80;")
	if res.Meta.Version != 1 || !res.Meta.Modified {
		t.Errorf("meta %+v", res.Meta)
	}
	c := reg.lookup("pool")
	if c == old || c.all[0].st != a || c.meta.Version != 1 {
		t.Fatalf("a's state not kept (or nothing swapped)")
	}
	if _, ok := pool.References(serverKey{"pool", "10.0.0.2:80"}); ok {
		t.Errorf("the removed server's state is still referenced")
	}
	// The next requests follow the new weights, never b.
	got := map[string]int{}
	for range 8 {
		addr, done := pick(t, s)
		got[addr]++
		done()
	}
	if got["10.0.0.1:80"] != 6 || got["10.0.0.3:80"] != 2 {
		t.Errorf("after the change: %v", got)
	}
	// The request in flight finishes on b, settling b's state.
	waitUntil(t, func() bool { return b.active.Load() == 1 }) // the others settled
	inflight()
	waitUntil(t, func() bool { return b.active.Load() == 0 })
	st, _ := reg.ClusterStatus("pool")
	if st.Version != 1 || !st.LiveModified || st.Servers[0].Requests < 3 {
		t.Errorf("status %+v", st)
	}
}

func TestDrain(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80; server 10.0.0.2:80;"})
	s := testSource(reg, "pool")
	addr, inflight := pick(t, s)
	if addr != "10.0.0.1:80" {
		t.Fatalf("first pick %s", addr)
	}
	replace(t, reg, "pool", "server 10.0.0.1:80 drain; server 10.0.0.2:80;")
	for range 5 {
		addr, done := pick(t, s)
		if addr != "10.0.0.2:80" {
			t.Errorf("a drained server got a request")
		}
		done()
	}
	st, _ := reg.ClusterStatus("pool")
	if sv := st.Servers[0]; sv.Health != HealthDraining || !sv.Drain || sv.ActiveRequests != 1 || sv.Available || st.Available != 1 {
		t.Errorf("drained server status %+v", sv)
	}
	inflight()
	waitUntil(t, func() bool { st, _ := reg.ClusterStatus("pool"); return st.Servers[0].ActiveRequests == 0 })
	// Undrained: it serves again.
	replace(t, reg, "pool", "server 10.0.0.1:80; server 10.0.0.2:80;")
	got := map[string]int{}
	for range 4 {
		addr, done := pick(t, s)
		got[addr]++
		done()
	}
	if got["10.0.0.1:80"] != 2 {
		t.Errorf("after undrain: %v", got)
	}
}

func TestInPlaceCreateDeleteAndHealthChecker(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80;"})
	s := testSource(reg, "hc")
	if addr, done := pick(t, s); addr != "unknown-resty-upstream:cluster=hc" {
		t.Fatalf("unknown cluster picked %q", addr)
	} else {
		done()
	}
	replace(t, reg, "hc", "server 127.0.0.1:1; health_check /h interval=1s;")
	if n, _ := pool.References(checkerKey{"hc"}); n != 1 {
		t.Errorf("checker references %d", n)
	}
	if addr, done := pick(t, s); addr != "127.0.0.1:1" {
		t.Errorf("created cluster: %q", addr)
	} else {
		done()
	}
	if names := reg.Names(); len(names) != 2 || names[0] != "hc" {
		t.Errorf("names %v", names)
	}
	// Same servers, no health check: the checker goes.
	replace(t, reg, "hc", "server 127.0.0.1:1;")
	if _, ok := pool.References(checkerKey{"hc"}); ok {
		t.Errorf("checker still referenced")
	}
	if _, err := reg.Table().Change("hc", livetable.ChangeOptions{}, func(*ClusterConfig) (*ClusterConfig, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	if reg.Has("hc") || len(reg.Names()) != 1 {
		t.Errorf("deleted cluster still there")
	}
	if _, ok := pool.References(serverKey{"hc", "127.0.0.1:1"}); ok {
		t.Errorf("deleted cluster's server state still referenced")
	}
}

func TestReferrerConflict(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80;"})
	reg.AddReferrer("pool", "reverse_proxy `dynamic resty pool`")
	_, err := reg.Table().Change("pool", livetable.ChangeOptions{}, func(*ClusterConfig) (*ClusterConfig, error) { return nil, nil })
	var conflict *livetable.ConflictError
	if !errors.As(err, &conflict) || len(conflict.Referrers) != 1 {
		t.Fatalf("%v", err)
	}
	if !reg.Has("pool") {
		t.Errorf("deleted anyway")
	}
}

func TestParsePatchAndServerBody(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"weight": 3}`, ""},
		{`{"drain": true, "max_fails": 0, "fail_timeout": "5s"}`, ""},
		{`{}`, "nothing to change"},
		{`{"address": "10.0.0.1:80"}`, "cannot be changed"},
		{`{"wieght": 3}`, `unknown field "wieght"`},
		{`{"weight": "x"}`, "decoding the JSON body"},
		{`weight=3`, "want a JSON object"},
		{`{"weight": 3`, "decoding the JSON body"},
	} {
		_, err := parsePatch([]byte(c.body))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("patch %q: %v, want %q", c.body, err, c.want)
		}
	}
	for _, c := range []struct{ ct, body, addr, want string }{
		{"", `{"address": "10.0.0.1:80", "weight": 2}`, "10.0.0.1:80", ""},
		{"", `server 10.0.0.1:80 weight=2;`, "10.0.0.1:80", ""},
		{"", `10.0.0.1 backup`, "10.0.0.1:80", ""},
		{"", `server 10.0.0.1:80; server 10.0.0.2:80;`, "", "want one"},
		{"", `{"weight": 2}`, "", "missing address"},
		{"application/json", `{"address": "10.0.0.1:80", "x": 1}`, "", `unknown field "x"`},
		{"", ``, "", "empty body"},
		{"", `server 10.0.0.1:80 weight=0;`, "", "must be between 1 and 1000"},
	} {
		s, err := parseServerBody(c.ct, []byte(c.body))
		if c.want == "" && (err != nil || s.Address != c.addr) || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("server body %q: %+v %v, want %q", c.body, s, err, c.want)
		}
	}
}
