package celrules

import (
	"fmt"
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
// ending at a node are kept as lists of ranks, sorted (routes are inserted in
// rank order).
type pnode struct {
	static map[string]*pnode
	params []paramChild
	exact  []int32 // patterns ending here
	prefix []int32 // patterns ending here with /*
}

type paramChild struct {
	name string
	node *pnode
}

func newPnode() *pnode { return &pnode{} }

func (n *pnode) insert(p string, rank int32) {
	pt, err := parsePattern(p)
	if err != nil {
		panic(err) // validated before
	}
	for _, s := range pt.segs {
		if s.param == "" {
			if n.static == nil {
				n.static = make(map[string]*pnode)
			}
			c := n.static[s.lit]
			if c == nil {
				c = newPnode()
				n.static[s.lit] = c
			}
			n = c
			continue
		}
		var c *pnode
		for _, pc := range n.params {
			if pc.name == s.param {
				c = pc.node
				break
			}
		}
		if c == nil {
			c = newPnode()
			n.params = append(n.params, paramChild{name: s.param, node: c})
		}
		n = c
	}
	if pt.prefix {
		n.prefix = appendRank(n.prefix, rank)
	} else {
		n.exact = appendRank(n.exact, rank)
	}
}

func appendRank(l []int32, r int32) []int32 {
	if len(l) > 0 && l[len(l)-1] == r {
		return l // the same route twice through the same pattern
	}
	return append(l, r)
}

// Capture is a captured path segment: Name is the segment name of the
// pattern (`id` for `/user/{id}`), or `*` for the remainder of a prefix
// pattern (`a/b` for `/api/*` and `/api/a/b`).
type Capture struct {
	Name, Value string
}

// cand is a candidate list found by the index, with its captures.
type cand struct {
	ranks        []int32
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
	if c := n.static[seg]; c != nil {
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

func (res *Result) addCand(ranks []int32, restName, rest string) {
	lo := len(res.caps)
	res.caps = append(res.caps, res.stack...)
	if restName != "" {
		res.caps = append(res.caps, Capture{Name: restName, Value: rest})
	}
	res.cands = append(res.cands, cand{ranks: ranks, capLo: lo, capHi: len(res.caps)})
}
