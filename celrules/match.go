package celrules

import (
	"errors"
	"fmt"
	"strings"
)

// Result is the outcome of a match. Reuse one Result for many matches
// (MatchInto) to match without allocating.
type Result struct {
	// Route is the matched route, nil when no route matched.
	Route *Route
	// Data is the matched route's prepared value (Options.Prepare), nil
	// when none matched or without Prepare.
	Data any
	// Captures are the path segments captured by the matched pattern, in
	// pattern order; the remainder of a prefix pattern comes last, named `*`.
	Captures []Capture
	// Errors are the conditions that failed to evaluate during the match
	// (a cost limit exceeded, a Lua error...): each counts as no match.
	Errors []*RouteError

	cands []cand
	caps  []Capture
	stack []Capture
	act   activation
}

// Capture returns the value of the captured segment name.
func (res *Result) Capture(name string) (string, bool) {
	for _, c := range res.Captures {
		if c.Name == name {
			return c.Value, true
		}
	}
	return "", false
}

// RouteError is a condition that could not be evaluated.
type RouteError struct {
	Name  string // the route's name
	Field string // "when" or "lua"
	Err   error
}

// Error implements error: `routes/NAME.when: …`.
func (e *RouteError) Error() string {
	return fmt.Sprintf("routes/%s.%s: %v", e.Name, e.Field, e.Err)
}

// Unwrap returns the evaluation error.
func (e *RouteError) Unwrap() error { return e.Err }

// Match returns the route that req matches, or nil. err reports the
// conditions that failed to evaluate (they count as no match), and may be
// non-nil when a route matched after them. Match allocates its Result; use
// MatchInto on a reused Result to match without allocating.
func (t *Table) Match(req Request) (*Result, error) {
	res := new(Result)
	ok := t.MatchInto(req, res)
	var err error
	if len(res.Errors) > 0 {
		errs := make([]error, len(res.Errors))
		for i, e := range res.Errors {
			errs[i] = e
		}
		err = errors.Join(errs...)
	}
	if !ok {
		return nil, err
	}
	return res, err
}

// MatchInto matches req and fills res (its previous content is dropped). It
// reports whether a route matched. The candidates come from the index:
// exact host, then the `*.suffix` wildcards from the longest suffix, then the
// routes for any host, each through the path tree; among them, the route of
// lowest (priority, table order) whose method and condition hold wins.
func (t *Table) MatchInto(req Request, res *Result) bool {
	res.Route, res.Data, res.Captures = nil, nil, nil
	res.cands, res.caps, res.Errors = res.cands[:0], res.caps[:0], res.Errors[:0]
	if t.names.len() == 0 {
		return false
	}
	host, path := req.Host(), req.Path()
	if n, _ := t.exact.get(host); n != nil {
		res.collect(n, path)
	}
	if t.wild.len() > 0 {
		for i := strings.IndexByte(host, '.'); i >= 0; {
			if n, _ := t.wild.get(host[i:]); n != nil {
				res.collect(n, path)
			}
			j := strings.IndexByte(host[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	res.collect(t.any, path)
	if len(res.cands) == 0 {
		return false
	}
	mbit := t.requestMethodBit(req.Method())
	actReady := false
	for {
		// The smallest key at the head of the candidate lists.
		var best *entry
		bi := -1
		for i := range res.cands {
			c := &res.cands[i]
			if c.pos < len(c.list) {
				if e := &c.list[c.pos]; bi < 0 || e.key.less(best.key) {
					best, bi = e, i
				}
			}
		}
		if bi < 0 {
			res.act.req = nil
			return false
		}
		seq := best.key.seq
		for i := range res.cands { // the same route through several lists
			c := &res.cands[i]
			if c.pos < len(c.list) && c.list[c.pos].key.seq == seq {
				c.pos++
			}
		}
		cr := best.cr
		if cr.methods != 0 && cr.methods&mbit == 0 {
			continue
		}
		if cr.cond != nil {
			if !actReady {
				res.act.reset(req)
				actReady = true
			}
			ok, err := cr.cond.eval(&res.act)
			if err != nil {
				res.Errors = append(res.Errors, &RouteError{Name: cr.route.Name, Field: "when", Err: err})
				continue
			}
			if !ok {
				continue
			}
		} else if cr.route.Lua != "" {
			le, ok := req.(LuaEvaluator)
			if !ok {
				res.Errors = append(res.Errors, &RouteError{Name: cr.route.Name, Field: "lua", Err: errors.New("no Lua evaluator for this request")})
				continue
			}
			ok, err := le.EvalLua(&cr.route, cr.data)
			if err != nil {
				res.Errors = append(res.Errors, &RouteError{Name: cr.route.Name, Field: "lua", Err: err})
				continue
			}
			if !ok {
				continue
			}
		}
		c := &res.cands[bi]
		res.Route, res.Data = &cr.route, cr.data
		if c.capHi > c.capLo {
			res.Captures = res.caps[c.capLo:c.capHi:c.capHi]
		}
		res.act.req = nil
		return true
	}
}
