// Package celrules is the route table of caddy-resty (`apps.resty.routes`):
// its configuration, validation, compilation, index and matcher. It has no
// HTTP handler; the `resty` handler (package phases) calls it.
//
// # Model
//
// A table is an ordered list of routes. Each Route has a Name, a Match
// (hosts, paths, methods), an optional condition (When, a CEL expression, or
// Lua, a Lua chunk evaluated by the caller), a Priority, Plugins and exactly
// one Action (proxy, respond or redirect). For a request, the candidate
// routes are those whose hosts, paths and methods match; among them the route
// with the lowest Priority, then the earliest in the table, whose condition
// holds wins. When none does, the request goes on unchanged.
//
// The caller may attach a value to each route when the table is compiled
// (Options.Prepare: the route's plugins made ready, for instance); the match
// reports it with the route (Result.Data) and gives it to the Lua evaluator.
//
// # Patterns
//
// Hosts are exact (`api.example.com`), wildcards (`*.example.com`: any name
// ending in `.example.com`, at any depth, not `example.com` itself) or `*`
// (any host; also what an empty list means). They are compared lower case and
// without the port.
//
// Paths are exact (`/a/b`, which does not match `/a/b/`), prefixes (`/api/*`:
// `/api/` and everything below it, not `/api`; `/*` is every path) or have
// named segments (`/user/{id}`, `/user/{id}/posts/*`): `{name}` matches one
// non-empty segment. A `*` inside a segment (`/api*`) is refused. Paths are
// compared case-sensitively.
//
// Captured segments are reported in Result.Captures under their names
// (`id`); the remainder after a prefix is captured as `*` (`a/b` for
// `/api/*` and `/api/a/b`). Actions refer to them as `{path.id}` and
// `{path.*}`.
//
// # Index
//
// A table keeps, per host key, a segment tree of the path patterns: exact
// hosts and `*.suffix` wildcards (keyed `.suffix`) in two maps, plus one tree
// for any host. A tree node has its static children in a map, its
// named-segment children in a list sorted by name, and the lists of the
// routes whose pattern ends there (exact, and prefix for `/*`). Each route
// has a method bitset (the nine standard methods have fixed bits, other
// methods take free bits, at most 64 methods at a time).
//
// Route lists are sorted by an order key: the priority, then a sequence
// number that follows table order. Compile numbers the routes 0, 1, 2...;
// With keeps the number of a route it replaces and gives an appended route
// the next number, so no other route is renumbered. A match looks the host
// up in the exact map, then each of its dot suffixes in the wildcard map
// (longest first), then walks the any-host tree, each along the path's
// segments, and merges the route lists it reaches by order key. Its cost
// depends on the host's labels, the path's segments and the routes sharing
// that host and path, not on the size of the table, and matching without a
// condition does not allocate when a Result is reused (MatchInto).
//
// # Changes
//
// A Table is immutable. Table.With makes a new table with one route
// replaced, deleted or appended, sharing everything else with the previous
// table, which stays valid for the matches running on it. The maps (route
// names, hosts, static children) are persistent hash tries of 32-way nodes:
// changing a key copies the few nodes on its path. With copies the tree
// nodes along the old and the new route's host and path patterns, their
// tries' paths, the route lists it changes (whose length is the number of
// routes sharing that host and pattern) and, when the route names a
// non-standard method, the small method map. So its cost is that of the
// route, not of the table: microseconds at 10,000 routes, where Compile
// takes tens of milliseconds. Table.Routes sorts the routes in table order
// on its first call on a table.
//
// # CEL conditions
//
// A `when` expression must be of type bool. It is type-checked and compiled
// by Compile (once per distinct source with a Cache) and evaluated with a cost
// limit (Options.CostLimit, default DefaultCostLimit); an evaluation error,
// such as the cost limit exceeded, counts as no match and is reported in
// Result.Errors. The environment:
//
//	req.method     string                 GET
//	req.scheme     string                 http or https
//	req.host       string                 host, lower case, without the port
//	req.path       string                 /a/b
//	req.uri        string                 /a/b?x=1
//	req.query      map(string, list(string))
//	req.headers    map(string, string)    lower-case names, repeated values joined with ", "
//	req.cookies    map(string, string)
//	req.remote_ip  string                 client address, without the port
//	vars           map(string, dyn)       Caddy vars
//	now            timestamp
//
// with CEL's standard functions (including `matches`, RE2 regular
// expressions), cel-go's strings extension (`lowerAscii`, `split`, `replace`,
// `indexOf`, ...) and encoders extension (`base64.encode`, `base64.decode`),
// and `ip_in_cidr(ip, cidr)`, true when the address ip is in the prefix cidr
// (`ip_in_cidr(req.remote_ip, "10.0.0.0/8")`).
//
// Variables are resolved lazily: a condition that reads only `req.path`
// never builds the header map, and within one match each map is built once
// whatever the number of conditions reading it.
//
// Examples:
//
//	req.headers["x-tenant"] == "acme"
//	"beta" in req.cookies && req.cookies["beta"] == "1"
//	req.query["v"].exists(v, v == "2")
//	ip_in_cidr(req.remote_ip, "10.0.0.0/8") && req.method != "DELETE"
//	req.path.matches("^/v[0-9]+/") && req.headers["user-agent"].lowerAscii().contains("curl")
package celrules
