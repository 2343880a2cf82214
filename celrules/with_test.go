package celrules

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
)

func mustWith(t testing.TB, tb *Table, name string, r *Route, opts Options) *Table {
	t.Helper()
	nt, err := tb.With(name, r, opts)
	if err != nil {
		t.Fatalf("With(%q): %v", name, err)
	}
	checkTable(t, nt)
	return nt
}

func routeNames(tb *Table) string {
	var names []string
	for _, r := range tb.Routes() {
		names = append(names, r.Name)
	}
	return strings.Join(names, " ")
}

// checkTable checks the invariants of a table's index: no empty node, every
// list sorted by key without duplicates, every entry a route of the table,
// params sorted by name, and the method map's use counts.
func checkTable(t testing.TB, tb *Table) {
	t.Helper()
	if len(tb.Routes()) != tb.Len() {
		t.Fatalf("Routes() has %d routes, Len() %d", len(tb.Routes()), tb.Len())
	}
	var walk func(where string, n *pnode)
	walk = func(where string, n *pnode) {
		if n.empty() {
			t.Fatalf("%s: empty node", where)
		}
		for _, l := range [][]entry{n.exact, n.prefix} {
			for i, e := range l {
				if i > 0 && !l[i-1].key.less(e.key) {
					t.Fatalf("%s: list not sorted: %v", where, l)
				}
				if cr, _ := tb.names.get(e.cr.route.Name); cr != e.cr || e.key != e.cr.key {
					t.Fatalf("%s: entry %q is not the table's route", where, e.cr.route.Name)
				}
			}
		}
		n.static.all(func(k string, c *pnode) bool {
			walk(where+"/"+k, c)
			return true
		})
		for i, pc := range n.params {
			if i > 0 && n.params[i-1].name >= pc.name {
				t.Fatalf("%s: params not sorted", where)
			}
			walk(where+"/{"+pc.name+"}", pc.node)
		}
	}
	tb.exact.all(func(h string, n *pnode) bool {
		walk(h, n)
		return true
	})
	tb.wild.all(func(h string, n *pnode) bool {
		walk("*"+h, n)
		return true
	})
	if tb.any != nil {
		walk("*", tb.any)
	}
	refs := map[string]int{}
	tb.names.all(func(_ string, cr *compiledRoute) bool {
		for _, m := range cr.route.Match.Methods {
			if m = strings.ToUpper(m); standardMethodBit(m) == 0 {
				refs[m]++
			}
		}
		return true
	})
	if len(refs) != len(tb.methods) {
		t.Fatalf("methods %v, uses %v", tb.methods, refs)
	}
	var bits uint64
	for m, mb := range tb.methods {
		if refs[m] != mb.refs || bits&mb.bit != 0 || mb.bit < 1<<len(standardMethods) {
			t.Fatalf("methods %v, uses %v", tb.methods, refs)
		}
		bits |= mb.bit
	}
}

func TestWithReplaceDeleteAppend(t *testing.T) {
	s := func(v ...string) []string { return v }
	t0 := mustCompile(t, []Route{
		rt("a", nil, s("/p"), nil),
		rt("b", nil, s("/p", "/q"), nil),
		rt("c", nil, s("/p", "/r"), nil),
	}, Options{})
	check := func(tb *Table, names string, want map[string]string) {
		t.Helper()
		checkTable(t, tb)
		if got := routeNames(tb); got != names {
			t.Fatalf("routes %q, want %q", got, names)
		}
		for path, w := range want {
			got, res := matchName(t, tb, get("h", path))
			if got != w {
				t.Errorf("%s: got %q, want %q", path, got, w)
			}
			if res != nil && res.Route.Action.Respond.Body == "" {
				t.Errorf("%s: no body", path)
			}
		}
	}
	want0 := map[string]string{"/p": "a", "/q": "b", "/r": "c", "/s": ""}
	check(t0, "a b c", want0)

	// Replace keeps the position: a' still wins /p before b and c.
	a2 := rt("a", nil, s("/p", "/s"), nil)
	a2.Action = resp("a2")
	t1 := mustWith(t, t0, "a", &a2, Options{})
	check(t1, "a b c", map[string]string{"/p": "a", "/q": "b", "/r": "c", "/s": "a"})
	if r, _ := t1.Lookup("a"); r.Action.Respond.Body != "a2" {
		t.Fatalf("Lookup(a) = %+v", r)
	}
	res, _ := t1.Match(get("h", "/p"))
	if res.Route.Action.Respond.Body != "a2" {
		t.Fatalf("matched the old a")
	}

	// A replaced route in the middle keeps its place too.
	b2 := rt("b", nil, s("/r"), nil)
	t2 := mustWith(t, t1, "b", &b2, Options{})
	check(t2, "a b c", map[string]string{"/p": "a", "/q": "", "/r": "b"})

	// Delete.
	t3 := mustWith(t, t2, "a", nil, Options{})
	check(t3, "b c", map[string]string{"/p": "c", "/s": "", "/r": "b"})
	if _, ok := t3.Lookup("a"); ok || t3.Len() != 2 {
		t.Fatalf("a still there, len %d", t3.Len())
	}
	if _, err := t3.With("a", nil, Options{}); !errors.Is(err, ErrNoRoute) || !strings.HasPrefix(err.Error(), "routes/a: ") {
		t.Fatalf("deleting a missing route: %v", err)
	}

	// Append goes at the end of the table order.
	a3 := rt("a", nil, s("/p", "/r", "/t"), nil)
	t4 := mustWith(t, t3, "a", &a3, Options{})
	check(t4, "b c a", map[string]string{"/p": "c", "/r": "b", "/t": "a"})

	// Delete everything, then append to the empty table.
	t5 := mustWith(t, mustWith(t, mustWith(t, t4, "a", nil, Options{}), "b", nil, Options{}), "c", nil, Options{})
	check(t5, "", map[string]string{"/p": ""})
	if t5.any != nil || t5.exact.len() != 0 || t5.exact.root != nil {
		t.Fatalf("empty table keeps nodes: %+v", t5)
	}
	t6 := mustWith(t, t5, "z", &Route{Name: "z", Action: resp("z")}, Options{})
	check(t6, "z", map[string]string{"/p": "z", "/": "z"})

	// The old tables have not changed.
	check(t0, "a b c", want0)
	res, _ = t0.Match(get("h", "/p"))
	if res.Route.Action.Respond.Body != "a" {
		t.Fatalf("t0 matches the new a")
	}
	check(t2, "a b c", map[string]string{"/p": "a", "/q": "", "/r": "b"})

	// With on an empty compiled table.
	e := mustCompile(t, nil, Options{})
	e1 := mustWith(t, e, "x", &Route{Name: "x", Match: Match{Hosts: s("*.x.com")}, Action: resp("x")}, Options{})
	check(e1, "x", nil)
	if got, _ := matchName(t, e1, get("a.x.com", "/")); got != "x" {
		t.Fatalf("got %q", got)
	}
}

func TestWithPriority(t *testing.T) {
	s := func(v ...string) []string { return v }
	tb := mustCompile(t, []Route{
		{Name: "a", Priority: 1, Match: Match{Paths: s("/p")}, Action: resp("a")},
		{Name: "b", Match: Match{Paths: s("/p")}, Action: resp("b")},
	}, Options{})
	if got, _ := matchName(t, tb, get("h", "/p")); got != "b" {
		t.Fatalf("got %q", got)
	}
	// An appended route of equal priority comes after b, of lower priority
	// before it.
	tb = mustWith(t, tb, "c", &Route{Name: "c", Match: Match{Paths: s("/p")}, Action: resp("c")}, Options{})
	if got, _ := matchName(t, tb, get("h", "/p")); got != "b" {
		t.Fatalf("got %q", got)
	}
	tb = mustWith(t, tb, "d", &Route{Name: "d", Priority: -1, Match: Match{Paths: s("/p")}, Action: resp("d")}, Options{})
	if got, _ := matchName(t, tb, get("h", "/p")); got != "d" {
		t.Fatalf("got %q", got)
	}
	// Demote d below everything, then b: the order is c (0, appended
	// after b), then a (1, first in the table), then b (1, second), then d.
	tb = mustWith(t, tb, "d", &Route{Name: "d", Priority: 5, Match: Match{Paths: s("/p")}, Action: resp("d")}, Options{})
	tb = mustWith(t, tb, "b", &Route{Name: "b", Priority: 1, Match: Match{Paths: s("/p")}, Action: resp("b")}, Options{})
	var order []string
	for _, req := range []string{"c", "a", "b", "d"} {
		got, _ := matchName(t, tb, get("h", "/p"))
		order = append(order, got)
		tb = mustWith(t, tb, req, nil, Options{})
	}
	if fmt.Sprint(order) != "[c a b d]" {
		t.Fatalf("order %v", order)
	}
}

func TestWithHostsPathsMethods(t *testing.T) {
	s := func(v ...string) []string { return v }
	t0 := mustCompile(t, []Route{
		rt("keep", s("a.com"), s("/k"), nil),
		rt("mover", s("a.com", "*.w.com"), s("/m/{id}"), s("PROPFIND")),
		rt("dav", s("d.com"), s("/dav"), s("PROPFIND", "MKCOL")),
	}, Options{})
	req := func(method, host, path string) *testReq {
		r := get(host, path)
		r.method = method
		return r
	}
	if got, res := matchName(t, t0, req("PROPFIND", "x.w.com", "/m/7")); got != "mover" || res.Captures[0] != (Capture{"id", "7"}) {
		t.Fatalf("got %q %v", got, res)
	}

	// Move mover to b.com and *.v.com, another path and method.
	m2 := rt("mover", s("B.com", "*.v.com"), s("/n/{uid}/*"), s("mkcol", "REPORT"))
	t1 := mustWith(t, t0, "mover", &m2, Options{})
	for _, c := range []struct {
		method, host, path, want string
		caps                     []Capture
	}{
		{"PROPFIND", "a.com", "/m/7", "", nil},
		{"PROPFIND", "x.w.com", "/m/7", "", nil},
		{"MKCOL", "b.com", "/n/7/x/y", "mover", []Capture{{"uid", "7"}, {"*", "x/y"}}},
		{"REPORT", "y.x.v.com", "/n/8/", "mover", []Capture{{"uid", "8"}, {"*", ""}}},
		{"GET", "b.com", "/n/7/x", "", nil},
		{"PROPFIND", "d.com", "/dav", "dav", nil},
		{"MKCOL", "d.com", "/dav", "dav", nil},
		{"GET", "a.com", "/k", "keep", nil},
	} {
		got, res := matchName(t, t1, req(c.method, c.host, c.path))
		if got != c.want || res != nil && !slices.Equal(res.Captures, c.caps) {
			t.Errorf("%s %s%s: got %q %v, want %q %v", c.method, c.host, c.path, got, res, c.want, c.caps)
		}
	}
	// The host entries it left are gone, those it did not touch shared.
	if _, ok := t1.wild.get(".w.com"); ok {
		t.Errorf("*.w.com still indexed")
	}
	d1, _ := t1.exact.get("d.com")
	d0, _ := t0.exact.get("d.com")
	a1, _ := t1.exact.get("a.com")
	a0, _ := t0.exact.get("a.com")
	k1, _ := a1.static.get("k")
	k0, _ := a0.static.get("k")
	if d1 != d0 || d1 == nil {
		t.Errorf("d.com's tree was copied")
	}
	if a1 == a0 || k1 != k0 || k1 == nil {
		t.Errorf("a.com: the root should be copied, its /k child shared")
	}
	if _, ok := t1.methods["PROPFIND"]; !ok || t1.methods["PROPFIND"].refs != 1 || t1.methods["REPORT"].refs != 1 {
		t.Errorf("methods %v", t1.methods)
	}
	// The old table is unchanged.
	checkTable(t, t0)
	if got, _ := matchName(t, t0, req("PROPFIND", "a.com", "/m/7")); got != "mover" {
		t.Errorf("t0 changed: got %q", got)
	}
	if got, _ := matchName(t, t0, req("REPORT", "b.com", "/n/7/x")); got != "" {
		t.Errorf("t0 changed: got %q", got)
	}
	if _, ok := t0.methods["REPORT"]; ok {
		t.Errorf("t0 methods changed: %v", t0.methods)
	}

	// Deleting dav frees PROPFIND's bit; a new method may take it.
	t2 := mustWith(t, t1, "dav", nil, Options{})
	if _, ok := t2.methods["PROPFIND"]; ok {
		t.Errorf("PROPFIND still has a bit: %v", t2.methods)
	}
	if got, _ := matchName(t, t2, req("PROPFIND", "d.com", "/dav")); got != "" {
		t.Errorf("got %q", got)
	}
	t3 := mustWith(t, t2, "lock", &Route{Name: "lock", Match: Match{Methods: s("LOCK")}, Action: resp("l")}, Options{})
	if got, _ := matchName(t, t3, req("LOCK", "z", "/")); got != "lock" {
		t.Errorf("got %q", got)
	}
	if got, _ := matchName(t, t3, req("PROPFIND", "z", "/")); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestWithManyMethods(t *testing.T) {
	// At most 64 methods at a time, but the bits of deleted ones are reused.
	tb := mustCompile(t, nil, Options{})
	for i := 0; i < 55; i++ {
		name := fmt.Sprint("m", i)
		tb = mustWith(t, tb, name, &Route{Name: name, Match: Match{Methods: []string{name}}, Action: resp(name)}, Options{})
	}
	over := &Route{Name: "over", Match: Match{Methods: []string{"OVER"}}, Action: resp("o")}
	if _, err := tb.With("over", over, Options{}); err == nil || err.Error() != "routes/over.match.methods[0]: too many distinct methods (at most 64)" {
		t.Fatalf("got %v", err)
	}
	tb = mustWith(t, tb, "m7", nil, Options{})
	tb = mustWith(t, tb, "over", over, Options{})
	req := get("h", "/")
	for _, m := range []string{"OVER", "M8", "M54"} {
		req.method = m
		if got, _ := matchName(t, tb, req); got != strings.ToLower(m) {
			t.Errorf("%s: got %q", m, got)
		}
	}
	req.method = "M7"
	if got, _ := matchName(t, tb, req); got != "" {
		t.Errorf("M7: got %q", got)
	}
	// Replacing a route by one with the same sole method at the limit.
	tb = mustWith(t, tb, "m8", &Route{Name: "m8", Priority: 1, Match: Match{Methods: []string{"m8"}}, Action: resp("m8")}, Options{})
	req.method = "M8"
	if got, _ := matchName(t, tb, req); got != "m8" {
		t.Errorf("M8: got %q", got)
	}
}

func TestWithErrors(t *testing.T) {
	var prepared []string
	opts := Options{
		Upstreams: func(n string) bool { return n == "up" },
		Prepare: func(place string, r *Route) (any, error) {
			prepared = append(prepared, place)
			if _, bad := r.Plugins["bad"]; bad {
				return nil, fmt.Errorf("%s.plugins.bad: refused", place)
			}
			return nil, nil
		},
	}
	tb := mustCompile(t, []Route{{Name: "a", Action: resp("a")}}, opts)
	ok := func(f func(r *Route)) *Route {
		r := &Route{Name: "a", Action: resp("a")}
		f(r)
		return r
	}
	for _, c := range []struct {
		name string
		r    *Route
		want string
	}{
		{"a", ok(func(r *Route) { r.Name = "b" }), `routes/a.name: the route is named "b", not "a"`},
		{"a/b", ok(func(r *Route) { r.Name = "a/b" }), `routes/a/b.name: "a/b": a route name may not contain`},
		{"", ok(func(r *Route) { r.Name = "" }), `routes/.name: a route needs a name`},
		{"a", ok(func(r *Route) { r.When = `req.path ==` }), "routes/a.when: ERROR"},
		{"a", ok(func(r *Route) { r.When = `req.path` }), "routes/a.when: the expression must be of type bool"},
		{"a", ok(func(r *Route) { r.Match.Paths = []string{"/ok", "x"} }), `routes/a.match.paths[1]: "x": a path pattern starts with '/'`},
		{"a", ok(func(r *Route) { r.Match.Hosts = []string{"a.*.com"} }), `routes/a.match.hosts[0]: "a.*.com"`},
		{"a", ok(func(r *Route) { r.Match.Methods = []string{"G T"} }), `routes/a.match.methods[0]: bad method`},
		{"a", ok(func(r *Route) { r.Action = Action{} }), "routes/a.action: exactly one"},
		{"n", ok(func(r *Route) { r.Name = "n"; r.Action = Action{Proxy: &ProxyAction{Upstream: "down"}} }), `routes/n.action.proxy.upstream: unknown upstream "down"`},
		{"a", ok(func(r *Route) { r.Plugins = map[string]json.RawMessage{"bad": nil} }), "routes/a.plugins.bad: refused"},
	} {
		nt, err := tb.With(c.name, c.r, opts)
		if nt != nil || err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("With(%q): %v\nwant prefix %q", c.name, err, c.want)
		}
	}
	// Prepare was called for the route that passed the other checks only.
	if fmt.Sprint(prepared) != "[routes[0] routes/a]" {
		t.Errorf("Prepare calls %v", prepared)
	}
	if got, _ := matchName(t, tb, get("h", "/")); got != "a" || tb.Len() != 1 {
		t.Errorf("the table changed")
	}
}

func TestPrepare(t *testing.T) {
	type prepared struct{ place, name string }
	var calls []string
	opts := Options{Prepare: func(place string, r *Route) (any, error) {
		calls = append(calls, place)
		if r.Plugins != nil {
			return nil, fmt.Errorf("%s.plugins.key-auth: missing key", place)
		}
		return &prepared{place, r.Name}, nil
	}}
	tb := mustCompile(t, []Route{
		{Name: "a", Match: Match{Paths: []string{"/a"}}, Action: resp("a")},
		{Name: "b", Lua: "return true", Match: Match{Paths: []string{"/b"}}, Action: resp("b")},
	}, opts)
	if fmt.Sprint(calls) != "[routes[0] routes[1]]" {
		t.Fatalf("calls %v", calls)
	}
	res, _ := tb.Match(get("h", "/a"))
	if d, ok := res.Data.(*prepared); !ok || *d != (prepared{"routes[0]", "a"}) {
		t.Fatalf("Data %#v", res.Data)
	}
	// The Lua evaluator gets the route's prepared value.
	req := luaReq{get("h", "/b")}
	var luaData any
	req.lua = func(r *Route, data any) (bool, error) { luaData = data; return true, nil }
	res, _ = tb.Match(req)
	if d, ok := luaData.(*prepared); !ok || *d != (prepared{"routes[1]", "b"}) || res.Data != luaData {
		t.Fatalf("Lua data %#v, Data %#v", luaData, res.Data)
	}
	var r Result
	if tb.MatchInto(get("h", "/none"), &r) || r.Data != nil {
		t.Fatalf("no match: Data %#v", r.Data)
	}

	// With calls Prepare for the route it changes only.
	calls = nil
	t2 := mustWith(t, tb, "c", &Route{Name: "c", Match: Match{Paths: []string{"/c"}}, Action: resp("c")}, opts)
	t2 = mustWith(t, t2, "a", &Route{Name: "a", Match: Match{Paths: []string{"/a"}}, Action: resp("a2")}, opts)
	t2 = mustWith(t, t2, "b", nil, opts)
	if fmt.Sprint(calls) != "[routes/c routes/a]" {
		t.Fatalf("calls %v", calls)
	}
	for path, want := range map[string]prepared{"/a": {"routes/a", "a"}, "/c": {"routes/c", "c"}} {
		res, _ := t2.Match(get("h", path))
		if d, ok := res.Data.(*prepared); !ok || *d != want {
			t.Errorf("%s: Data %#v", path, res.Data)
		}
	}
	res, _ = tb.Match(get("h", "/a"))
	if d := res.Data.(*prepared); d.place != "routes[0]" {
		t.Errorf("the old table's data changed: %v", d)
	}

	// A Prepare error refuses the table or the change, as is.
	_, err := Compile([]Route{{Name: "a", Action: resp("a")}, {Name: "k", Plugins: map[string]json.RawMessage{"key-auth": nil}, Action: resp("k")}}, opts)
	if err == nil || err.Error() != "routes[1].plugins.key-auth: missing key" {
		t.Fatalf("Compile: %v", err)
	}
	_, err = t2.With("k", &Route{Name: "k", Plugins: map[string]json.RawMessage{"key-auth": nil}, Action: resp("k")}, opts)
	if err == nil || err.Error() != "routes/k.plugins.key-auth: missing key" {
		t.Fatalf("With: %v", err)
	}
}

func TestWithWhenAndCache(t *testing.T) {
	var c Cache
	opts := Options{Cache: &c}
	tb := mustCompile(t, []Route{
		{Name: "t", When: `req.headers["x"] == "1"`, Action: resp("t")},
		{Name: "f", Action: resp("f")},
	}, opts)
	tb2 := mustWith(t, tb, "t", &Route{Name: "t", When: `req.headers["x"] == "2"`, Action: resp("t")}, opts)
	tb3 := mustWith(t, tb2, "u", &Route{Name: "u", When: `req.headers["x"] == "1"`, Action: resp("u")}, opts)
	if h, m := c.Stats(); h != 1 || m != 2 {
		t.Fatalf("cache hits %d misses %d", h, m)
	}
	req := get("h", "/")
	req.headers = map[string]string{"x": "2"}
	for _, c := range []struct {
		tb      *Table
		x, want string
	}{
		{tb, "1", "t"}, {tb, "2", "f"}, {tb2, "1", "f"}, {tb2, "2", "t"}, {tb3, "1", "f"},
	} {
		req.headers["x"] = c.x
		if got, _ := matchName(t, c.tb, req); got != c.want {
			t.Errorf("x=%s: got %q, want %q", c.x, got, c.want)
		}
	}
	// u comes after f: f always matches first.
	tb4 := mustWith(t, tb3, "f", nil, opts)
	req.headers["x"] = "1"
	if got, _ := matchName(t, tb4, req); got != "u" {
		t.Errorf("got %q", got)
	}
}

// TestWithConcurrent: matches on a table go on while tables are derived from
// it on other goroutines (run with -race).
func TestWithConcurrent(t *testing.T) {
	routes := make([]Route, 200)
	for i := range routes {
		routes[i] = rt(fmt.Sprint("r", i), []string{fmt.Sprintf("h%d.com", i%10)}, []string{fmt.Sprintf("/p%d/{id}", i%20), "/all/*"}, nil)
	}
	base := mustCompile(t, routes, Options{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() { // readers of base
			defer wg.Done()
			var res Result
			for j := 0; j < 500; j++ {
				i := j % 200
				if !base.MatchInto(get(fmt.Sprintf("h%d.com", i%10), "/all/x"), &res) || res.Route.Name != fmt.Sprint("r", i%10) {
					t.Errorf("base: got %v", res.Route)
					return
				}
			}
		}()
		go func() { // writers deriving from base and from their own tables
			defer wg.Done()
			tb := base
			for j := 0; j < 50; j++ {
				name := fmt.Sprint("r", (g*50+j)%200)
				r := rt(name, []string{"new.com"}, []string{"/all/*"}, nil)
				nt, err := tb.With(name, &r, Options{})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := base.With(name, nil, Options{}); err != nil {
					t.Error(err)
					return
				}
				tb = nt
			}
		}()
	}
	wg.Wait()
	checkTable(t, base)
}

// TestWithProperty: a random sequence of With calls gives a table that
// matches like Compile of the same routes, and leaves the tables it started
// from as they were.
func TestWithProperty(t *testing.T) {
	hosts := [][]string{nil, {"a.com"}, {"b.com"}, {"*.a.com"}, {"*.com"}, {"*"}, {"a.com", "*.b.a.com"}, {"X.A.com", "a.com"}, {"c.com", "*.c.com"}}
	paths := []string{"/", "/a", "/a/b", "/a/*", "/*", "/a/{x}", "/a/{y}/c", "/{p}/b", "/a/{x}/*", "/b/{x}/{y}", "/b/c/*", "/a/b/"}
	methods := []string{"GET", "POST", "PROPFIND", "MKCOL", "REPORT"}
	whens := []string{"", "", "", `req.headers["x"] == "1"`, `req.path.size() > 3`}
	reqHosts := []string{"a.com", "b.com", "x.a.com", "y.b.a.com", "c.com", "z.c.com", "other.org", ""}
	reqPaths := []string{"/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/a/z/c", "/q/b", "/b/1/2", "/b/c/d", "/b/1", "/zz", "*", "", "/a/b/c/d"}
	reqMethods := []string{"GET", "POST", "PROPFIND", "MKCOL", "REPORT", "DELETE", "LOCK"}

	seed := int64(1)
	rng := rand.New(rand.NewSource(seed))
	version := 0
	randRoute := func(name string) Route {
		version++
		r := Route{Name: name, Priority: rng.Intn(5) - 2, When: whens[rng.Intn(len(whens))], Action: resp(fmt.Sprint(name, "@", version))}
		r.Match.Hosts = hosts[rng.Intn(len(hosts))]
		for k := rng.Intn(3); k > 0; k-- {
			r.Match.Paths = append(r.Match.Paths, paths[rng.Intn(len(paths))])
		}
		for k := rng.Intn(3) - 1; k > 0; k-- {
			r.Match.Methods = append(r.Match.Methods, methods[rng.Intn(len(methods))])
		}
		return r
	}
	opts := Options{Prepare: func(place string, r *Route) (any, error) { return r.Action.Respond.Body, nil }}
	same := func(step int, got, want *Table) {
		t.Helper()
		if a, b := routeNames(got), routeNames(want); a != b {
			t.Fatalf("step %d: routes %q, want %q", step, a, b)
		}
		var rg, rw Result
		for i := 0; i < 300; i++ {
			req := get(reqHosts[rng.Intn(len(reqHosts))], reqPaths[rng.Intn(len(reqPaths))])
			req.method = reqMethods[rng.Intn(len(reqMethods))]
			req.headers = map[string]string{"x": fmt.Sprint(rng.Intn(2))}
			okg, okw := got.MatchInto(req, &rg), want.MatchInto(req, &rw)
			if okg != okw || okg && (rg.Route.Action.Respond.Body != rw.Route.Action.Respond.Body ||
				!slices.Equal(rg.Captures, rw.Captures) || rg.Data != rw.Data || rg.Data != rg.Route.Action.Respond.Body) {
				t.Fatalf("step %d: %s %s%s: With's table: %v %v %v; Compile's: %v %v %v", step, req.method, req.host, req.path,
					okg, rg.Route, rg.Captures, okw, rw.Route, rw.Captures)
			}
		}
	}

	type snapshot struct {
		tb     *Table
		routes []Route
	}
	var snaps []snapshot
	names := make([]string, 16)
	for i := range names {
		names[i] = fmt.Sprint("r", i)
	}
	var list []Route
	for i := 0; i < 8; i++ {
		list = append(list, randRoute(names[i]))
	}
	tb := mustCompile(t, list, opts)
	for step := 0; step < 600; step++ {
		name := names[rng.Intn(len(names))]
		i := slices.IndexFunc(list, func(r Route) bool { return r.Name == name })
		switch {
		case i >= 0 && rng.Intn(3) == 0:
			tb = mustWith(t, tb, name, nil, opts)
			list = slices.Delete(slices.Clone(list), i, i+1)
		case i >= 0:
			r := randRoute(name)
			tb = mustWith(t, tb, name, &r, opts)
			list = slices.Clone(list)
			list[i] = r
		default:
			r := randRoute(name)
			tb = mustWith(t, tb, name, &r, opts)
			list = append(slices.Clone(list), r)
		}
		if tb.Len() != len(list) {
			t.Fatalf("step %d: Len %d, want %d", step, tb.Len(), len(list))
		}
		if step%10 == 0 {
			same(step, tb, mustCompile(t, list, opts))
			snaps = append(snaps, snapshot{tb, list})
		}
	}
	for i, s := range snaps {
		checkTable(t, s.tb)
		same(-i, s.tb, mustCompile(t, s.routes, opts))
	}
}
