package celrules

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
)

// DefaultCostLimit is the cost limit of one evaluation of a condition when
// Options.CostLimit is 0. A comparison or a map lookup costs about 1; string
// functions and `matches` cost in proportion to the length of the strings.
const DefaultCostLimit = 10000

// The CEL variables. Each `req.*` member is declared as its own qualified
// variable, so it is typed and resolved (built) only when a condition reads it.
const (
	varMethod   = "req.method"
	varScheme   = "req.scheme"
	varHost     = "req.host"
	varPath     = "req.path"
	varURI      = "req.uri"
	varQuery    = "req.query"
	varHeaders  = "req.headers"
	varCookies  = "req.cookies"
	varRemoteIP = "req.remote_ip"
	varVars     = "vars"
	varNow      = "now"
)

var (
	envOnce sync.Once
	envVal  *cel.Env
	envErr  error
)

// Env returns the CEL environment conditions are checked in. It is built once
// and shared.
func Env() (*cel.Env, error) {
	envOnce.Do(func() {
		envVal, envErr = cel.NewEnv(
			cel.Variable(varMethod, cel.StringType),
			cel.Variable(varScheme, cel.StringType),
			cel.Variable(varHost, cel.StringType),
			cel.Variable(varPath, cel.StringType),
			cel.Variable(varURI, cel.StringType),
			cel.Variable(varQuery, cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
			cel.Variable(varHeaders, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(varCookies, cel.MapType(cel.StringType, cel.StringType)),
			cel.Variable(varRemoteIP, cel.StringType),
			cel.Variable(varVars, cel.MapType(cel.StringType, cel.DynType)),
			cel.Variable(varNow, cel.TimestampType),
			ext.Strings(),
			ext.Encoders(),
			cel.Function("ip_in_cidr",
				cel.Overload("ip_in_cidr_string_string",
					[]*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
					cel.BinaryBinding(ipInCIDR))),
		)
	})
	return envVal, envErr
}

// ipInCIDR implements ip_in_cidr(ip, cidr): whether the address ip is in the
// prefix cidr. A malformed cidr is an error; a malformed ip is simply not in
// any prefix.
func ipInCIDR(ipv, cidrv ref.Val) ref.Val {
	ips, ok1 := ipv.(types.String)
	cidrs, ok2 := cidrv.(types.String)
	if !ok1 || !ok2 {
		return types.NoSuchOverloadErr()
	}
	prefix, err := netip.ParsePrefix(string(cidrs))
	if err != nil {
		// A bare address is a one-address prefix.
		a, err2 := netip.ParseAddr(string(cidrs))
		if err2 != nil {
			return types.NewErr("ip_in_cidr: bad CIDR %q: %v", string(cidrs), err)
		}
		prefix = netip.PrefixFrom(a, a.BitLen())
	}
	addr, err := netip.ParseAddr(string(ips))
	if err != nil {
		return types.False
	}
	return types.Bool(prefix.Contains(addr.Unmap()))
}

// condition is a compiled `when`.
type condition struct {
	src string
	prg cel.Program
}

// compileCEL type-checks src and returns its program, from cache when it has it.
func compileCEL(src string, costLimit uint64, cache *Cache) (*condition, error) {
	key := cacheKey{src: src, costLimit: costLimit}
	if c := cache.get(key); c != nil {
		return c, nil
	}
	env, err := Env()
	if err != nil {
		return nil, err
	}
	checked, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if checked.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("the expression must be of type bool, not %s", checked.OutputType())
	}
	prg, err := env.Program(checked,
		cel.EvalOptions(cel.OptOptimize),
		cel.CostLimit(costLimit))
	if err != nil {
		return nil, err
	}
	c := &condition{src: src, prg: prg}
	cache.put(key, c)
	return c, nil
}

// eval evaluates the condition on req.
func (c *condition) eval(act *activation) (bool, error) {
	out, _, err := c.prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition returned %s, not bool", out.Type())
	}
	return bool(b), nil
}

// activation resolves the CEL variables from a Request on demand and keeps
// what it built for the rest of the match (one request), so a condition
// reading only req.path never builds the header map, and several conditions
// reading req.headers build it once.
type activation struct {
	req                          Request
	query, headers, cookies, vrs ref.Val
	now                          ref.Val
	hdr                          headerMap
}

var _ interpreter.Activation = (*activation)(nil)

func (a *activation) reset(req Request) { *a = activation{req: req} }

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varMethod:
		return types.String(a.req.Method()), true
	case varScheme:
		return types.String(a.req.Scheme()), true
	case varHost:
		return types.String(a.req.Host()), true
	case varPath:
		return types.String(a.req.Path()), true
	case varURI:
		return types.String(a.req.URI()), true
	case varRemoteIP:
		return types.String(a.req.RemoteIP()), true
	case varHeaders:
		if a.headers == nil {
			if hg, ok := a.req.(HeaderGetter); ok {
				a.hdr = headerMap{req: a.req, hg: hg}
				a.headers = &a.hdr
			} else {
				a.headers = types.NewStringStringMap(types.DefaultTypeAdapter, nonNilSS(a.req.Headers()))
			}
		}
		return a.headers, true
	case varCookies:
		if a.cookies == nil {
			a.cookies = types.NewStringStringMap(types.DefaultTypeAdapter, nonNilSS(a.req.Cookies()))
		}
		return a.cookies, true
	case varQuery:
		if a.query == nil {
			q := a.req.Query()
			if q == nil {
				q = map[string][]string{}
			}
			a.query = types.NewDynamicMap(types.DefaultTypeAdapter, q)
		}
		return a.query, true
	case varVars:
		if a.vrs == nil {
			v := a.req.Vars()
			if v == nil {
				v = map[string]any{}
			}
			a.vrs = types.NewStringInterfaceMap(types.DefaultTypeAdapter, v)
		}
		return a.vrs, true
	case varNow:
		if a.now == nil {
			a.now = types.Timestamp{Time: time.Now()}
		}
		return a.now, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func nonNilSS(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// Cache keeps compiled conditions keyed by their source (and cost limit), so
// compiling a table again after a change recompiles only the conditions that
// changed. It is safe for concurrent use; the zero value is ready. Entries
// not used by any Compile since the previous Sweep are dropped by Sweep.
type Cache struct {
	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	gen     uint64
	hits    uint64
	misses  uint64
}

type cacheKey struct {
	src       string
	costLimit uint64
}

type cacheEntry struct {
	c   *condition
	gen uint64
}

func (c *Cache) get(k cacheKey) *condition {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		c.misses++
		return nil
	}
	c.hits++
	e.gen = c.gen
	return e.c
}

func (c *Cache) put(k cacheKey, cond *condition) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[cacheKey]*cacheEntry)
	}
	c.entries[k] = &cacheEntry{c: cond, gen: c.gen}
}

// Sweep drops the entries no Compile used since the previous Sweep. Call it
// after a table has replaced the previous one, so the cache holds what the
// live table (and the one it replaced) use.
func (c *Cache) Sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.gen < c.gen {
			delete(c.entries, k)
		}
	}
	c.gen++
}

// Len returns the number of compiled conditions the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Stats returns how many lookups found a compiled condition, and how many
// did not, since the cache was created.
func (c *Cache) Stats() (hits, misses uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
