package celrules

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Options configure Compile.
type Options struct {
	// CostLimit is the cost limit of one evaluation of a condition
	// (cel.CostLimit). 0 means DefaultCostLimit.
	CostLimit uint64

	// Cache, when not nil, keeps compiled conditions across compilations so
	// that compiling a table again recompiles only what changed.
	Cache *Cache

	// Upstreams, when not nil, reports whether an upstream registry cluster
	// exists; a proxy action naming an unknown cluster is refused.
	Upstreams func(name string) bool
}

// Table is a compiled route table. It is immutable and safe for concurrent
// use; a change to the routes compiles a new Table.
type Table struct {
	routes []Route
	byRank []compiledRoute // routes sorted by (priority, table order)

	exact map[string]*pnode // exact host -> path tree
	wild  map[string]*pnode // ".example.com" -> path tree
	any   *pnode            // routes without hosts (or with "*")

	methodBits map[string]uint64 // non-standard methods -> bit
	hasWild    bool
}

type compiledRoute struct {
	route   *Route
	index   int
	methods uint64 // 0: any method
	cond    *condition
}

// Len returns the number of routes.
func (t *Table) Len() int { return len(t.routes) }

// Routes returns the routes in table order. Do not modify them.
func (t *Table) Routes() []Route { return t.routes }

// Compile validates routes, compiles their conditions and builds the index.
// An error names the place of the first problem found, like
// `routes[3].when: …` or `routes[1].match.paths[0]: …`.
func Compile(routes []Route, opts Options) (*Table, error) {
	if opts.CostLimit == 0 {
		opts.CostLimit = DefaultCostLimit
	}
	t := &Table{
		routes: append([]Route(nil), routes...),
		exact:  make(map[string]*pnode),
		wild:   make(map[string]*pnode),
	}
	names := make(map[string]int, len(routes))
	compiled := make([]compiledRoute, len(t.routes))
	for i := range t.routes {
		r := &t.routes[i]
		place := fmt.Sprintf("routes[%d]", i)
		if err := validateRoute(r, place, opts); err != nil {
			return nil, err
		}
		if j, dup := names[r.Name]; dup {
			return nil, fmt.Errorf("%s.name: duplicate route name %q (also routes[%d])", place, r.Name, j)
		}
		names[r.Name] = i
		cr := compiledRoute{route: r, index: i}
		for k, m := range r.Match.Methods {
			bit, err := t.methodBit(m)
			if err != nil {
				return nil, fmt.Errorf("%s.match.methods[%d]: %v", place, k, err)
			}
			cr.methods |= bit
		}
		if r.When != "" {
			c, err := compileCEL(r.When, opts.CostLimit, opts.Cache)
			if err != nil {
				return nil, fmt.Errorf("%s.when: %v", place, err)
			}
			cr.cond = c
		}
		compiled[i] = cr
	}

	// Rank: lowest priority first, then table order.
	order := make([]int, len(compiled))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return compiled[order[a]].route.Priority < compiled[order[b]].route.Priority
	})
	t.byRank = make([]compiledRoute, len(order))
	for rank, i := range order {
		t.byRank[rank] = compiled[i]
	}

	// Index, inserting in rank order so every list is sorted.
	for rank := range t.byRank {
		r := t.byRank[rank].route
		hosts := r.Match.Hosts
		if len(hosts) == 0 {
			hosts = []string{"*"}
		}
		paths := r.Match.Paths
		if len(paths) == 0 {
			paths = []string{"/*"}
		}
		for _, h := range hosts {
			root := t.hostRoot(strings.ToLower(h))
			for _, p := range paths {
				root.insert(p, int32(rank))
			}
		}
	}
	t.hasWild = len(t.wild) > 0
	return t, nil
}

func (t *Table) hostRoot(h string) *pnode {
	var m map[string]*pnode
	switch {
	case h == "*":
		if t.any == nil {
			t.any = newPnode()
		}
		return t.any
	case strings.HasPrefix(h, "*."):
		m, h = t.wild, h[1:]
	default:
		m = t.exact
	}
	n := m[h]
	if n == nil {
		n = newPnode()
		m[h] = n
	}
	return n
}

var standardMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func standardMethodBit(m string) uint64 {
	switch m {
	case "GET":
		return 1 << 0
	case "HEAD":
		return 1 << 1
	case "POST":
		return 1 << 2
	case "PUT":
		return 1 << 3
	case "DELETE":
		return 1 << 4
	case "CONNECT":
		return 1 << 5
	case "OPTIONS":
		return 1 << 6
	case "TRACE":
		return 1 << 7
	case "PATCH":
		return 1 << 8
	}
	return 0
}

func (t *Table) methodBit(m string) (uint64, error) {
	if m == "" {
		return 0, fmt.Errorf("empty method")
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return 0, fmt.Errorf("bad method %q", m)
		}
	}
	m = strings.ToUpper(m)
	if b := standardMethodBit(m); b != 0 {
		return b, nil
	}
	if b, ok := t.methodBits[m]; ok {
		return b, nil
	}
	n := len(standardMethods) + len(t.methodBits)
	if n >= 64 {
		return 0, fmt.Errorf("too many distinct methods (at most 64)")
	}
	if t.methodBits == nil {
		t.methodBits = make(map[string]uint64)
	}
	b := uint64(1) << n
	t.methodBits[m] = b
	return b, nil
}

func (t *Table) requestMethodBit(m string) uint64 {
	if b := standardMethodBit(m); b != 0 {
		return b
	}
	return t.methodBits[m] // 0 when unknown: only any-method routes match
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func validateRoute(r *Route, place string, opts Options) error {
	if r.Name == "" {
		return fmt.Errorf("%s.name: a route needs a name", place)
	}
	if strings.ContainsAny(r.Name, "/ \t\r\n") {
		return fmt.Errorf("%s.name: %q: a route name may not contain '/' or white space", place, r.Name)
	}
	for k, h := range r.Match.Hosts {
		if err := validateHost(h); err != nil {
			return fmt.Errorf("%s.match.hosts[%d]: %v", place, k, err)
		}
	}
	for k, p := range r.Match.Paths {
		if _, err := parsePattern(p); err != nil {
			return fmt.Errorf("%s.match.paths[%d]: %v", place, k, err)
		}
	}
	if r.When != "" && r.Lua != "" {
		return fmt.Errorf("%s: at most one of when and lua may be set", place)
	}
	a := r.Action
	n := 0
	if a.Proxy != nil {
		n++
	}
	if a.Respond != nil {
		n++
	}
	if a.Redirect != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("%s.action: exactly one of proxy, respond and redirect must be set (%d are)", place, n)
	}
	switch {
	case a.Proxy != nil:
		if a.Proxy.Upstream == "" {
			return fmt.Errorf("%s.action.proxy.upstream: an upstream is required", place)
		}
		if opts.Upstreams != nil && !opts.Upstreams(a.Proxy.Upstream) {
			return fmt.Errorf("%s.action.proxy.upstream: unknown upstream %q", place, a.Proxy.Upstream)
		}
		if err := validateHeaders(a.Proxy.Headers); err != nil {
			return fmt.Errorf("%s.action.proxy.headers: %v", place, err)
		}
	case a.Respond != nil:
		if s := a.Respond.Status; s != 0 && (s < 100 || s > 599) {
			return fmt.Errorf("%s.action.respond.status: %d is not a status code (100 to 599)", place, s)
		}
		if err := validateHeaders(a.Respond.Headers); err != nil {
			return fmt.Errorf("%s.action.respond.headers: %v", place, err)
		}
	case a.Redirect != nil:
		if s := a.Redirect.Status; s != 0 && (s < 300 || s > 399) {
			return fmt.Errorf("%s.action.redirect.status: %d is not a redirection status (300 to 399)", place, s)
		}
		if a.Redirect.Location == "" {
			return fmt.Errorf("%s.action.redirect.location: a location is required", place)
		}
	}
	return nil
}

func validateHeaders(h map[string]string) error {
	for k := range h {
		if k == "" {
			return fmt.Errorf("empty header name")
		}
		for i := 0; i < len(k); i++ {
			if !isTokenChar(k[i]) {
				return fmt.Errorf("bad header name %q", k)
			}
		}
	}
	return nil
}

func validateHost(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("empty host")
	case h == "*":
		return nil
	case strings.ContainsAny(h, "/ \t\r\n"):
		return fmt.Errorf("%q: a host may not contain '/' or white space", h)
	}
	name := h
	if strings.HasPrefix(h, "*.") {
		name = h[2:]
		if name == "" || strings.HasPrefix(name, ".") {
			return fmt.Errorf("%q: a wildcard needs a domain after '*.'", h)
		}
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("%q: '*' is allowed only as the first label ('*.example.com') or alone", h)
	}
	if strings.Contains(name, ":") {
		if _, err := netip.ParseAddr(name); err != nil || name != h {
			return fmt.Errorf("%q: a host is matched without its port", h)
		}
	}
	if strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("%q: empty label", h)
	}
	return nil
}
