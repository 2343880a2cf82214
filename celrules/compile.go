package celrules

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
)

// Options configure Compile and Table.With.
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

	// Prepare, when not nil, is called for each route Compile compiles, and
	// for the route a With adds or replaces, after the route was validated
	// and its condition compiled. place is where the route is (`routes[3]`
	// for Compile, `routes/NAME` for With); r is the table's own copy of the
	// route, not to be modified. The value returned is kept with the route,
	// reported in Result.Data when the route matches and given to
	// LuaEvaluator.EvalLua. An error refuses the table or the change and is
	// returned as is, so it should name its place
	// (`routes[3].plugins.key-auth: …`).
	Prepare func(place string, r *Route) (any, error)
}

func (o Options) withDefaults() Options {
	if o.CostLimit == 0 {
		o.CostLimit = DefaultCostLimit
	}
	return o
}

// Table is a compiled route table. It is immutable and safe for concurrent
// use; a change to the routes makes a new Table (Compile, or With for one
// route), which shares what did not change with the previous one.
type Table struct {
	names pmap[*compiledRoute] // route name -> route

	exact pmap[*pnode] // exact host -> path tree
	wild  pmap[*pnode] // ".example.com" -> path tree
	any   *pnode       // routes without hosts (or with "*")

	methods map[string]methodBit // non-standard methods -> bit
	nextSeq uint64               // sequence number of the next appended route
	seed    uint64               // of the pmaps, shared by the tables derived by With

	order struct { // what Routes returns, computed on first use
		once   sync.Once
		routes []Route
	}
}

// compiledRoute is a route of a table with what Compile or With computed for
// it. It is immutable once in a table, and shared by the tables derived from
// that one that did not change it.
type compiledRoute struct {
	route   Route
	key     orderKey
	methods uint64 // 0: any method
	cond    *condition
	data    any // Options.Prepare's value
}

// orderKey orders the routes of a table: lowest priority first, then table
// order. seq grows with the position in the table order but is not the
// position: Compile numbers the routes 0, 1, 2..., With keeps the number of
// a route it replaces and gives an appended route the next number.
type orderKey struct {
	prio int
	seq  uint64
}

func (a orderKey) less(b orderKey) bool {
	return a.prio < b.prio || a.prio == b.prio && a.seq < b.seq
}

// methodBit is the bit of a non-standard method and how many times the
// routes of the table name that method (the bit is freed at 0).
type methodBit struct {
	bit  uint64
	refs int
}

// Len returns the number of routes.
func (t *Table) Len() int { return t.names.len() }

// Routes returns the routes in table order. The slice is computed on the
// first call and shared by later ones: do not modify it or the routes.
func (t *Table) Routes() []Route {
	t.order.once.Do(func() {
		crs := make([]*compiledRoute, 0, t.names.len())
		t.names.all(func(_ string, cr *compiledRoute) bool {
			crs = append(crs, cr)
			return true
		})
		sort.Slice(crs, func(i, j int) bool { return crs[i].key.seq < crs[j].key.seq })
		routes := make([]Route, len(crs))
		for i, cr := range crs {
			routes[i] = cr.route
		}
		t.order.routes = routes
	})
	return t.order.routes
}

// Lookup returns the route named name. Do not modify it.
func (t *Table) Lookup(name string) (*Route, bool) {
	cr, ok := t.names.get(name)
	if !ok {
		return nil, false
	}
	return &cr.route, true
}

// Compile validates routes, compiles their conditions and builds the index.
// An error names the place of the first problem found, like
// `routes[3].when: …` or `routes[1].match.paths[0]: …`.
func Compile(routes []Route, opts Options) (*Table, error) {
	opts = opts.withDefaults()
	t := &Table{nextSeq: uint64(len(routes)), seed: newSeed()}
	b := newBuilder(t, true)
	crs := make([]compiledRoute, len(routes))
	for i := range routes {
		cr := &crs[i]
		cr.route = routes[i]
		r := &cr.route
		place := fmt.Sprintf("routes[%d]", i)
		if err := validateRoute(r, place, opts); err != nil {
			return nil, err
		}
		if prev, dup := t.names.get(r.Name); dup {
			return nil, fmt.Errorf("%s.name: duplicate route name %q (also routes[%d])", place, r.Name, prev.key.seq)
		}
		cr.key = orderKey{prio: r.Priority, seq: uint64(i)}
		if err := b.prepare(cr, place, opts); err != nil {
			return nil, err
		}
		t.names = t.names.set(b.id, t.seed, r.Name, cr)
	}

	// Index, inserting in (priority, table order) so that every list grows
	// at its end.
	order := make([]*compiledRoute, len(crs))
	for i := range crs {
		order[i] = &crs[i]
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].route.Priority < order[j].route.Priority })
	for _, cr := range order {
		b.index(cr, true)
	}
	b.done()
	return t, nil
}

// ErrNoRoute is returned (wrapped) by With when asked to delete a route the
// table does not have.
var ErrNoRoute = errors.New("no such route")

// With returns a new Table in which the route named name is replaced by *r
// (keeping its place in table order), deleted when r is nil, or appended at
// the end of the table order when the table has no route of that name.
// r.Name must be name. The route is validated and compiled as Compile does,
// and Options.Prepare is called for it alone; errors name its place as
// `routes/NAME` (`routes/user-api.when: …`). Deleting a route the table does
// not have is an error wrapping ErrNoRoute.
//
// t is not changed and stays valid: matches running on it on other
// goroutines are not disturbed. The new table shares with t everything the
// change does not touch. With does not recompile the table: it copies the
// index nodes along the route's host and path patterns (old and new), with
// their lists, and the paths to the keys it changes in the persistent maps
// of names, hosts and static segments (see the package documentation).
func (t *Table) With(name string, r *Route, opts Options) (*Table, error) {
	place := "routes/" + name
	old, _ := t.names.get(name)
	if r == nil && old == nil {
		return nil, fmt.Errorf("%s: %w", place, ErrNoRoute)
	}
	if r != nil && r.Name != name {
		return nil, fmt.Errorf("%s.name: the route is named %q, not %q", place, r.Name, name)
	}
	opts = opts.withDefaults()
	nt := &Table{
		names:   t.names,
		exact:   t.exact,
		wild:    t.wild,
		any:     t.any,
		methods: t.methods,
		nextSeq: t.nextSeq,
		seed:    t.seed,
	}
	b := newBuilder(nt, false)
	var cr *compiledRoute
	if r != nil {
		cr = &compiledRoute{route: *r}
		if err := validateRoute(&cr.route, place, opts); err != nil {
			return nil, err
		}
		if old != nil {
			cr.key = orderKey{prio: cr.route.Priority, seq: old.key.seq}
		} else {
			cr.key = orderKey{prio: cr.route.Priority, seq: nt.nextSeq}
			nt.nextSeq++
		}
	}
	if old != nil {
		b.releaseMethods(old) // first, so that cr may reuse their bits
	}
	if cr != nil {
		if err := b.prepare(cr, place, opts); err != nil {
			return nil, err
		}
	}
	if old != nil {
		b.index(old, false)
	}
	if cr != nil {
		b.index(cr, true)
		nt.names = nt.names.set(b.id, nt.seed, name, cr)
	} else {
		nt.names = nt.names.del(b.id, name)
	}
	b.done()
	return nt, nil
}

// prepare computes cr's method bits, compiles its condition and calls
// opts.Prepare, in that order. cr has been validated.
func (b *builder) prepare(cr *compiledRoute, place string, opts Options) error {
	r := &cr.route
	for k, m := range r.Match.Methods {
		bit, err := b.methodBit(m)
		if err != nil {
			return fmt.Errorf("%s.match.methods[%d]: %v", place, k, err)
		}
		cr.methods |= bit
	}
	if r.When != "" {
		c, err := compileCEL(r.When, opts.CostLimit, opts.Cache)
		if err != nil {
			return fmt.Errorf("%s.when: %v", place, err)
		}
		cr.cond = c
	}
	if opts.Prepare != nil {
		data, err := opts.Prepare(place, r)
		if err != nil {
			return err
		}
		cr.data = data
	}
	return nil
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

// methodBit returns the bit of method m, allocating one (in the builder's
// copy of the method map) for a non-standard method the table does not have
// yet, and counts the use.
func (b *builder) methodBit(m string) (uint64, error) {
	if m == "" {
		return 0, fmt.Errorf("empty method")
	}
	for i := 0; i < len(m); i++ {
		if !isTokenChar(m[i]) {
			return 0, fmt.Errorf("bad method %q", m)
		}
	}
	m = strings.ToUpper(m)
	if bit := standardMethodBit(m); bit != 0 {
		return bit, nil
	}
	mb, ok := b.t.methods[m]
	if !ok {
		used := uint64(1)<<len(standardMethods) - 1
		for _, o := range b.t.methods {
			used |= o.bit
		}
		if used == ^uint64(0) {
			return 0, fmt.Errorf("too many distinct methods (at most 64)")
		}
		mb.bit = (used + 1) &^ used // the lowest free bit
	}
	mb.refs++
	b.ownMethods()
	b.t.methods[m] = mb
	return mb.bit, nil
}

// releaseMethods drops cr's uses of non-standard methods, freeing the bits
// no route uses any more.
func (b *builder) releaseMethods(cr *compiledRoute) {
	for _, m := range cr.route.Match.Methods {
		m = strings.ToUpper(m)
		if standardMethodBit(m) != 0 {
			continue
		}
		b.ownMethods()
		mb := b.t.methods[m]
		if mb.refs--; mb.refs <= 0 {
			delete(b.t.methods, m)
		} else {
			b.t.methods[m] = mb
		}
	}
}

func (t *Table) requestMethodBit(m string) uint64 {
	if b := standardMethodBit(m); b != 0 {
		return b
	}
	return t.methods[m].bit // 0 when unknown: only any-method routes match
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
