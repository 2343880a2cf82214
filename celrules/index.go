package celrules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// A path pattern is parsed into segments: literal, named ({id}), and an
// optional final catch-all (*).
type segment struct {
	lit   string
	param string // non-empty for {name}
}

type pattern struct {
	segs   []segment
	prefix bool // ends with /*
}

func parsePattern(p string) (pattern, error) {
	var pt pattern
	if p == "" {
		return pt, fmt.Errorf("empty path pattern")
	}
	if p[0] != '/' {
		return pt, fmt.Errorf("%q: a path pattern starts with '/'", p)
	}
	parts := strings.Split(p[1:], "/")
	seen := map[string]bool{}
	for i, s := range parts {
		last := i == len(parts)-1
		switch {
		case s == "*":
			if !last {
				return pt, fmt.Errorf("%q: '*' is allowed only as the last segment ('/api/*')", p)
			}
			pt.prefix = true
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !validParamName(name) {
				return pt, fmt.Errorf("%q: bad segment name %q (letters, digits and '_')", p, name)
			}
			if seen[name] {
				return pt, fmt.Errorf("%q: segment name %q used twice", p, name)
			}
			seen[name] = true
			pt.segs = append(pt.segs, segment{param: name})
		case strings.ContainsAny(s, "{}"):
			return pt, fmt.Errorf("%q: a named segment is a whole segment ('/user/{id}')", p)
		case strings.Contains(s, "*"):
			return pt, fmt.Errorf("%q: '*' is allowed only as a whole last segment ('/api/*')", p)
		default:
			pt.segs = append(pt.segs, segment{lit: s})
		}
	}
	return pt, nil
}

func validParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// pnode is a node of the path segment tree of one host entry. The routes
// whose pattern ends at a node are kept in lists sorted by their orderKey.
//
// Nodes are copy-on-write: a node in a Table is never modified. A builder
// (Compile, With) modifies only the nodes it created or copied, which are
// marked with its buildID, and of those only the lists it owns (owned): a
// copied node shares its lists with the original until the builder changes
// one of them. static is a persistent map, copied along the changed key's
// path only.
type pnode struct {
	static pmap[*pnode]
	params []paramChild // sorted by name
	exact  []entry      // patterns ending here
	prefix []entry      // patterns ending here with /*

	owner *buildID
	owned uint8 // ownParams | ownExact | ownPrefix, for owner
}

const (
	ownParams uint8 = 1 << iota
	ownExact
	ownPrefix
	ownAll = ownParams | ownExact | ownPrefix
)

type paramChild struct {
	name string
	node *pnode
}

// entry is a route in a node's list, with its order key alongside so that
// the merge of candidate lists does not chase the pointer.
type entry struct {
	key orderKey
	cr  *compiledRoute
}

func (n *pnode) empty() bool {
	return n.static.len() == 0 && len(n.params) == 0 && len(n.exact) == 0 && len(n.prefix) == 0
}

// buildID identifies a builder in the nodes it may modify. It is not empty
// so that each new(buildID) is a distinct pointer; it holds nothing, so
// nodes do not keep their builder's table alive.
type buildID struct{ _ byte }

// builder makes a table: Compile's from nothing, With's from a shallow copy
// of the previous table, copying what it changes the first time it does.
type builder struct {
	t  *Table
	id *buildID

	ownMeth bool // t.methods is b's copy
}

// newBuilder returns a builder of t. fresh tells that t's maps are t's own
// (Compile), not shared with another table (With).
func newBuilder(t *Table, fresh bool) *builder {
	return &builder{t: t, id: new(buildID), ownMeth: fresh}
}

// done ends the build: t is complete and may be shared.
func (b *builder) done() { b.t = nil }

// ownMethods makes the table's method map b's own copy.
func (b *builder) ownMethods() {
	if !b.ownMeth {
		b.t.methods = maps.Clone(b.t.methods)
		b.ownMeth = true
	}
	if b.t.methods == nil {
		b.t.methods = make(map[string]methodBit)
	}
}

// index adds cr to the index (add) or removes it, for each of its hosts and
// path patterns. cr has been validated.
func (b *builder) index(cr *compiledRoute, add bool) {
	paths := cr.route.Match.Paths
	if len(paths) == 0 {
		paths = []string{"/*"}
	}
	pts := make([]pattern, len(paths))
	for i, p := range paths {
		pt, err := parsePattern(p)
		if err != nil {
			panic(fmt.Sprintf("celrules: route %q: %v (validated before)", cr.route.Name, err))
		}
		pts[i] = pt
	}
	hosts := cr.route.Match.Hosts
	if len(hosts) == 0 {
		hosts = []string{"*"}
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		for _, pt := range pts {
			b.indexHost(h, pt, cr, add)
		}
	}
}

// indexHost adds cr to (or removes it from) the tree of host pattern h, at
// the node of pt.
func (b *builder) indexHost(h string, pt pattern, cr *compiledRoute, add bool) {
	if h == "*" {
		b.t.any = b.edit(b.t.any, pt.segs, pt.prefix, cr, add)
		return
	}
	m := &b.t.exact
	if strings.HasPrefix(h, "*.") {
		m, h = &b.t.wild, h[1:]
	}
	n, _ := m.get(h)
	switch nn := b.edit(n, pt.segs, pt.prefix, cr, add); {
	case nn == n:
	case nn == nil:
		*m = m.del(b.id, h)
	default:
		*m = m.set(b.id, b.t.seed, h, nn)
	}
}

// edit adds cr to (or removes it from) the list of the node at segs below n
// (its prefix list when prefix is set, its exact list otherwise), and
// returns n, a copy of it owned by b, or nil when the node has become empty.
// n may be nil (no node yet).
func (b *builder) edit(n *pnode, segs []segment, prefix bool, cr *compiledRoute, add bool) *pnode {
	switch {
	case n == nil && !add:
		return nil
	case n == nil:
		n = &pnode{owner: b.id, owned: ownAll}
	case n.owner != b.id:
		c := *n
		c.owner, c.owned = b.id, 0
		n = &c
	}
	switch {
	case len(segs) == 0 && prefix:
		n.prefix = b.editList(n, ownPrefix, n.prefix, cr, add)
	case len(segs) == 0:
		n.exact = b.editList(n, ownExact, n.exact, cr, add)
	case segs[0].param == "":
		lit := segs[0].lit
		c, _ := n.static.get(lit)
		switch nc := b.edit(c, segs[1:], prefix, cr, add); {
		case nc == c:
		case nc == nil:
			n.static = n.static.del(b.id, lit)
		default:
			n.static = n.static.set(b.id, b.t.seed, lit, nc)
		}
	default:
		name := segs[0].param
		i, found := slices.BinarySearchFunc(n.params, name, func(pc paramChild, name string) int {
			return strings.Compare(pc.name, name)
		})
		var c *pnode
		if found {
			c = n.params[i].node
		}
		nc := b.edit(c, segs[1:], prefix, cr, add)
		if nc == c {
			break
		}
		if n.owned&ownParams == 0 {
			n.params = slices.Clone(n.params)
			n.owned |= ownParams
		}
		switch {
		case c == nil:
			n.params = slices.Insert(n.params, i, paramChild{name: name, node: nc})
		case nc == nil:
			n.params = slices.Delete(n.params, i, i+1)
		default:
			n.params[i].node = nc
		}
	}
	if n.empty() {
		return nil
	}
	return n
}

// editList returns l, the list of n marked by bit, with cr added (once) or
// removed, copying it unless n owns it.
func (b *builder) editList(n *pnode, bit uint8, l []entry, cr *compiledRoute, add bool) []entry {
	i := len(l)
	if i > 0 && !l[i-1].key.less(cr.key) { // not at the end (Compile's case)
		i, _ = slices.BinarySearchFunc(l, cr.key, func(e entry, k orderKey) int {
			switch {
			case e.key.less(k):
				return -1
			case e.key == k:
				return 0
			}
			return 1
		})
	}
	found := i < len(l) && l[i].key == cr.key
	if found == add {
		return l // the same route twice through the same pattern, or not there
	}
	if n.owned&bit == 0 {
		c := make([]entry, len(l), len(l)+1)
		copy(c, l)
		l = c
		n.owned |= bit
	}
	if add {
		return slices.Insert(l, i, entry{key: cr.key, cr: cr})
	}
	return slices.Delete(l, i, i+1)
}

// Capture is a captured path segment: Name is the segment name of the
// pattern (`id` for `/user/{id}`), or `*` for the remainder of a prefix
// pattern (`a/b` for `/api/*` and `/api/a/b`).
type Capture struct {
	Name, Value string
}

// cand is a candidate list found by the index, with its captures.
type cand struct {
	list         []entry
	pos          int
	capLo, capHi int
}

// collect walks the tree for path and adds the lists of routes whose pattern
// matches it to res.cands.
func (res *Result) collect(root *pnode, path string) {
	if root == nil {
		return
	}
	if len(path) == 0 || path[0] != '/' {
		// Not an origin-form path: only "any path" patterns apply.
		if len(root.prefix) > 0 {
			res.addCand(root.prefix, "*", path)
		}
		return
	}
	res.stack = res.stack[:0]
	res.walk(root, path, 0)
}

// walk: path[pos] == '/'; n is the node of the segments before pos.
func (res *Result) walk(n *pnode, path string, pos int) {
	if len(n.prefix) > 0 {
		res.addCand(n.prefix, "*", path[pos+1:])
	}
	end := strings.IndexByte(path[pos+1:], '/')
	last := end < 0
	if last {
		end = len(path)
	} else {
		end += pos + 1
	}
	seg := path[pos+1 : end]
	if c, _ := n.static.get(seg); c != nil {
		if last {
			if len(c.exact) > 0 {
				res.addCand(c.exact, "", "")
			}
		} else {
			res.walk(c, path, end)
		}
	}
	if seg == "" {
		return
	}
	for i := range n.params {
		pc := &n.params[i]
		res.stack = append(res.stack, Capture{Name: pc.name, Value: seg})
		if last {
			if len(pc.node.exact) > 0 {
				res.addCand(pc.node.exact, "", "")
			}
		} else {
			res.walk(pc.node, path, end)
		}
		res.stack = res.stack[:len(res.stack)-1]
	}
}

func (res *Result) addCand(list []entry, restName, rest string) {
	lo := len(res.caps)
	res.caps = append(res.caps, res.stack...)
	if restName != "" {
		res.caps = append(res.caps, Capture{Name: restName, Value: rest})
	}
	res.cands = append(res.cands, cand{list: list, capLo: lo, capHi: len(res.caps)})
}
