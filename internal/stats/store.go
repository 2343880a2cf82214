package stats

import (
	"sync"
	"sync/atomic"
	"time"
)

// The label values of the request counters. Methods outside the standard
// ones count as OTHER and statuses outside 100-599 as "other", so a
// client cannot grow the number of series.
var (
	MethodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"}
	ClassNames  = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
)

const (
	numMethods = len(MethodNames)
	numClasses = len(ClassNames)
)

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return 9
}

func classIndex(code int) int {
	if code < 100 || code > 599 {
		return numClasses - 1
	}
	return code/100 - 1
}

// MaxPhases is the number of phase indexes the Lua counters have.
const MaxPhases = 16

// MaxTraffic bounds the number of (route, cluster) pairs kept; requests
// of pairs beyond it count under OverflowLabel.
const MaxTraffic = 4096

// OverflowLabel is the route and cluster of the requests counted after
// MaxTraffic pairs exist.
const OverflowLabel = "_overflow"

// Traffic is the statistics of the requests of one route to one
// upstream cluster (either "" when there is none).
type Traffic struct {
	Route, Cluster string

	requests [numMethods][numClasses]atomic.Uint64
	latency  Histogram
	upstream Histogram
	ring     ring
}

// Observe counts one request: its method, final status and duration.
// nowNs is the time it ended (unix nanoseconds).
func (t *Traffic) Observe(method string, code int, d time.Duration, nowNs int64) {
	t.requests[methodIndex(method)][classIndex(code)].Add(1)
	t.latency.Observe(d)
	t.ring.add(nowNs, code, d)
}

// ObserveUpstream counts one attempt's time with the upstream.
func (t *Traffic) ObserveUpstream(d time.Duration) { t.upstream.Observe(d) }

// Requests returns the request count by method and status class (indexes
// of MethodNames and ClassNames).
func (t *Traffic) Requests(method, class int) uint64 { return t.requests[method][class].Load() }

// Latency returns the request latency histogram.
func (t *Traffic) Latency() *Histogram { return &t.latency }

// Upstream returns the upstream latency histogram.
func (t *Traffic) Upstream() *Histogram { return &t.upstream }

type key struct{ route, cluster string }

// LuaCounters counts one route's Lua errors by phase index.
type LuaCounters [MaxPhases]atomic.Uint64

// Store holds the statistics of the process's resty handlers.
type Store struct {
	started time.Time

	mu sync.Mutex // serializes additions to the maps below
	// The maps are copied on write: readers load them without a lock.
	traffic   atomic.Pointer[map[key]*Traffic]
	luaErrors atomic.Pointer[map[string]*LuaCounters]

	luaRun [MaxPhases]Histogram
}

// NewStore returns an empty store.
func NewStore() *Store {
	s := &Store{started: time.Now()}
	s.traffic.Store(&map[key]*Traffic{})
	s.luaErrors.Store(&map[string]*LuaCounters{})
	for i := range s.luaRun {
		s.luaRun[i].Init(LuaBounds)
	}
	return s
}

// Destruct implements caddy.Destructor (nothing to release).
func (s *Store) Destruct() error { return nil }

// Started is when the store was made.
func (s *Store) Started() time.Time { return s.started }

// Traffic returns the statistics of route's requests to cluster, made on
// first use. Callers bound the names: route names of the route table,
// clusters of the registry.
func (s *Store) Traffic(route, cluster string) *Traffic {
	k := key{route, cluster}
	if t := (*s.traffic.Load())[k]; t != nil {
		return t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.traffic.Load()
	if t := old[k]; t != nil {
		return t
	}
	if len(old) >= MaxTraffic {
		k = key{OverflowLabel, OverflowLabel}
		if t := old[k]; t != nil {
			return t
		}
	}
	t := &Traffic{Route: k.route, Cluster: k.cluster}
	t.latency.Init(RequestBounds)
	t.upstream.Init(RequestBounds)
	m := make(map[key]*Traffic, len(old)+1)
	for kk, v := range old {
		m[kk] = v
	}
	m[k] = t
	s.traffic.Store(&m)
	return t
}

// AllTraffic returns every (route, cluster) pair's statistics.
func (s *Store) AllTraffic() []*Traffic {
	m := *s.traffic.Load()
	out := make([]*Traffic, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	return out
}

// Prune drops the pairs keep rejects and that saw no request in the last
// five minutes (a route or cluster deleted at runtime).
func (s *Store) Prune(keep func(route, cluster string) bool, now time.Time) {
	n := now.UnixNano() / slotNanos
	old := *s.traffic.Load()
	var drop []key
	for k, t := range old {
		if !keep(k.route, k.cluster) && !t.ring.activeSince(n-Slots) {
			drop = append(drop, k)
		}
	}
	if len(drop) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.traffic.Load()
	m := make(map[key]*Traffic, len(cur))
	for k, v := range cur {
		m[k] = v
	}
	for _, k := range drop {
		delete(m, k)
	}
	s.traffic.Store(&m)
}

// LuaError counts a Lua error of route's request in phase (an index below
// MaxPhases).
func (s *Store) LuaError(route string, phase int) {
	c := (*s.luaErrors.Load())[route]
	if c == nil {
		c = s.luaCounters(route)
	}
	c[phase].Add(1)
}

func (s *Store) luaCounters(route string) *LuaCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.luaErrors.Load()
	if c := old[route]; c != nil {
		return c
	}
	if len(old) >= MaxTraffic {
		route = OverflowLabel
		if c := old[route]; c != nil {
			return c
		}
	}
	c := new(LuaCounters)
	m := make(map[string]*LuaCounters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[route] = c
	s.luaErrors.Store(&m)
	return c
}

// LuaErrors returns the Lua error counters by route.
func (s *Store) LuaErrors() map[string]*LuaCounters { return *s.luaErrors.Load() }

// LuaRun counts the time of one Lua run in phase (an index below
// MaxPhases).
func (s *Store) LuaRun(phase int, d time.Duration) { s.luaRun[phase].Observe(d) }

// LuaRunHistogram returns the Lua run time histogram of phase.
func (s *Store) LuaRunHistogram(phase int) *Histogram { return &s.luaRun[phase] }

// Summarize sums the ring buffers of the traffic pairs over the last
// minute and five minutes, grouped by group (the route or the cluster of
// a pair; pairs for which it returns "", false are left out).
func (s *Store) Summarize(now time.Time, group func(t *Traffic) (string, bool)) map[string]Summary {
	rings := map[string][]*ring{}
	for _, t := range *s.traffic.Load() {
		if g, ok := group(t); ok {
			rings[g] = append(rings[g], &t.ring)
		}
	}
	out := make(map[string]Summary, len(rings))
	for _, g := range sortedKeys(rings) {
		out[g] = summarize(rings[g], now, s.started)
	}
	return out
}

// EmptySummary is the summary of a group with no traffic yet.
func EmptySummary() Summary {
	return Summary{History: History{Requests: make([]uint32, Slots), Errors: make([]uint32, Slots)}}
}

// activeSince reports whether the ring counted a request in a slot after n.
func (r *ring) activeSince(n int64) bool {
	for i := range r.slots {
		if e := r.slots[i].epoch.Load(); e > n && r.slots[i].requests.Load() > 0 {
			return true
		}
	}
	return false
}
