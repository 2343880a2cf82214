package app

import (
	"fmt"
	"sort"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/internal/stats"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// The caddy_resty_* metrics. Request counts, latencies and Lua figures
// live in the process's stats.Store (kept across config reloads); the
// rest is read from the running config at scrape time. Labels hold only
// names from the config (routes, clusters, servers, dicts) and fixed
// sets (method, status class, phase): never a raw path, host or client
// address.
const metricsNS = "caddy_resty"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(metricsNS+"_"+name, help, labels, nil)
}

var (
	descRequests = desc("requests_total",
		"Requests through resty handlers, by route, upstream cluster, method and status class.",
		"route", "cluster", "method", "code_class")
	descRequestDuration = desc("request_duration_seconds",
		"Time from the request reaching a resty handler to the end of its response, by route and cluster.",
		"route", "cluster")
	descUpstreamDuration = desc("upstream_duration_seconds",
		"Time of each proxy_pass attempt with an upstream server, by route and cluster.",
		"route", "cluster")
	descLuaErrors = desc("lua_errors_total",
		"Lua errors (scripts, plugins, timer callbacks; budget overruns included), by phase and route.",
		"phase", "route")
	descLuaRun = desc("lua_run_duration_seconds",
		"Wall time of each Lua run (one phase of one request or a timer callback, waits included), by phase.",
		"phase")
	descLuaStates = desc("lua_states",
		"Lua states serving requests now.")
	descLuaCreated = desc("lua_states_created_total",
		"Lua states created (at start, on demand, and to replace discarded ones).")
	descLuaDiscarded = desc("lua_states_discarded_total",
		"Lua states discarded (after a budget overrun left them unusable, or on a reload of Lua files).")
	descLuaTimeouts = desc("lua_budget_overruns_total",
		"Lua runs stopped for going over their time budget (lua_timeout).")
	descLuaMemoryStops = desc("lua_memory_stops_total",
		"Lua runs stopped because the process went over lua_max_memory.")
	descLogDropped = desc("lua_log_dropped_total",
		"Log phases dropped because the log queue was full.")
	descTimersPending = desc("timers_pending",
		"ngx.timer.at timers waiting to fire.")
	descTimersRunning = desc("timers_running",
		"Timers running now.")
	descDictCapacity = desc("shdict_capacity_bytes",
		"Configured size of a shared dict.", "dict")
	descDictUsed = desc("shdict_used_bytes",
		"Bytes charged to the items a shared dict holds.", "dict")
	descDictItems = desc("shdict_items",
		"Keys a shared dict holds (expired ones not yet removed included).", "dict")
	descDictEvictions = desc("shdict_evictions_total",
		"Unexpired items a shared dict evicted to make room.", "dict")
	descDictExpirations = desc("shdict_expirations_total",
		"Expired items a shared dict removed.", "dict")
	descRoutes = desc("routes",
		"Routes in the route table.")
	descChanges = desc("config_changes_total",
		"Changes applied in place through the admin API (no config reload), by table.",
		"table")
	descServerUp = desc("upstream_server_up",
		"1 when an upstream server can take requests now, 0 otherwise.",
		"cluster", "server")
	descServerHealth = desc("upstream_server_health",
		"1 for an upstream server's current health state: up, down (config), draining, unhealthy (active check) or failed (passive check).",
		"cluster", "server", "state")
	descServerActive = desc("upstream_server_active_requests",
		"Requests being proxied to an upstream server now.",
		"cluster", "server")
	descServerRequests = desc("upstream_server_requests_total",
		"Requests an upstream server was chosen for (proxy_pass and reverse_proxy).",
		"cluster", "server")
	descServerFailures = desc("upstream_server_failures_total",
		"Failed attempts with an upstream server, as its passive health check counts them.",
		"cluster", "server")
	descClusterAvailable = desc("upstream_available_servers",
		"Servers of a cluster that can take requests now.",
		"cluster")
)

var healthStates = []string{
	dynupstream.HealthUp, dynupstream.HealthDown, dynupstream.HealthDraining,
	dynupstream.HealthUnhealthy, dynupstream.HealthFailed,
}

// collector exposes one config's view of the resty state.
type collector struct{ a *App }

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descRequests, descRequestDuration, descUpstreamDuration, descLuaErrors, descLuaRun,
		descLuaStates, descLuaCreated, descLuaDiscarded, descLuaTimeouts, descLuaMemoryStops,
		descLogDropped, descTimersPending, descTimersRunning,
		descDictCapacity, descDictUsed, descDictItems, descDictEvictions, descDictExpirations,
		descRoutes, descChanges,
		descServerUp, descServerHealth, descServerActive, descServerRequests, descServerFailures,
		descClusterAvailable,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	if st := a.stats; st != nil {
		a.pruneStats(time.Now())
		collectTraffic(ch, st)
		collectLua(ch, st)
	}
	if a.pool != nil {
		ps := a.pool.Stats()
		gauge(ch, descLuaStates, float64(ps.States))
		counter(ch, descLuaCreated, float64(ps.Created))
		counter(ch, descLuaDiscarded, float64(ps.Discarded))
		counter(ch, descLuaTimeouts, float64(ps.Timeouts))
		counter(ch, descLuaMemoryStops, float64(ps.MemoryStops))
		counter(ch, descLogDropped, float64(ps.LogsDropped))
		gauge(ch, descTimersPending, float64(ps.Timers))
		gauge(ch, descTimersRunning, float64(ps.Running))
	}
	for _, name := range sortedNames(a.dicts) {
		ds := a.dicts[name].Stats()
		gauge(ch, descDictCapacity, float64(ds.Capacity), name)
		gauge(ch, descDictUsed, float64(ds.Used), name)
		gauge(ch, descDictItems, float64(ds.Items), name)
		counter(ch, descDictEvictions, float64(ds.Evictions), name)
		counter(ch, descDictExpirations, float64(ds.Expirations), name)
	}
	if a.routes != nil {
		gauge(ch, descRoutes, float64(a.routes.Table().Len()))
		if a.routes.view != nil {
			counter(ch, descChanges, float64(a.routes.Live().Changes()), "routes")
		}
	}
	if a.registry != nil {
		counter(ch, descChanges, float64(a.registry.Table().Changes()), "upstreams")
		collectUpstreams(ch, a.registry)
	}
}

func collectTraffic(ch chan<- prometheus.Metric, st *stats.Store) {
	for _, t := range st.AllTraffic() {
		for m, method := range stats.MethodNames {
			for k, class := range stats.ClassNames {
				if n := t.Requests(m, k); n > 0 {
					counter(ch, descRequests, float64(n), t.Route, t.Cluster, method, class)
				}
			}
		}
		histogram(ch, descRequestDuration, t.Latency(), t.Route, t.Cluster)
		histogram(ch, descUpstreamDuration, t.Upstream(), t.Route, t.Cluster)
	}
}

func collectLua(ch chan<- prometheus.Metric, st *stats.Store) {
	for route, cs := range st.LuaErrors() {
		for i := range cs {
			if n := cs[i].Load(); n > 0 {
				counter(ch, descLuaErrors, float64(n), phaseName(i), route)
			}
		}
	}
	for i := 0; i < stats.MaxPhases; i++ {
		histogram(ch, descLuaRun, st.LuaRunHistogram(i), phaseName(i))
	}
}

func collectUpstreams(ch chan<- prometheus.Metric, reg *dynupstream.Registry) {
	status := reg.Status()
	for _, name := range sortedNames(status) {
		cs := status[name]
		gauge(ch, descClusterAvailable, float64(cs.Available), name)
		for _, s := range cs.Servers {
			up := 0.0
			if s.Available {
				up = 1
			}
			gauge(ch, descServerUp, up, name, s.Address)
			for _, h := range healthStates {
				v := 0.0
				if s.Health == h {
					v = 1
				}
				gauge(ch, descServerHealth, v, name, s.Address, h)
			}
			gauge(ch, descServerActive, float64(s.ActiveRequests), name, s.Address)
			counter(ch, descServerRequests, float64(s.Requests), name, s.Address)
			counter(ch, descServerFailures, float64(s.Failures), name, s.Address)
		}
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

// histogram exposes h unless it is empty.
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h *stats.Histogram, labels ...string) {
	s := h.Snapshot()
	if s.Count == 0 {
		return
	}
	ch <- prometheus.MustNewConstHistogram(d, s.Count, s.Sum, s.Buckets, labels...)
}

// phaseName is the phase of a stats index.
func phaseName(i int) string { return luaplugin.Phase(1 << i).String() }

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// provisionMetrics takes the process's stats store (unless metrics are
// disabled) and registers this config's collector on its metrics
// registry (new for every config load: no duplicate registration).
func (a *App) provisionMetrics(ctx caddy.Context) error {
	if a.Metrics == nil || !a.Metrics.Disabled {
		val, _, err := statsPool.LoadOrNew(statsKey, func() (caddy.Destructor, error) {
			return stats.NewStore(), nil
		})
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		a.statsHeld = true
		a.stats = val.(*stats.Store)
		st := a.stats
		a.pool.SetRunObserver(func(p luaplugin.Phase, d time.Duration, failed bool) {
			st.LuaRun(p.Index(), d)
			if failed && p == luaplugin.PhaseTimer {
				// Request phases' errors are counted by the handler,
				// with their route.
				st.LuaError("", p.Index())
			}
		})
	} else {
		a.pool.SetRunObserver(nil)
	}
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(collector{a}); err != nil {
			return fmt.Errorf("metrics: registering the resty collector: %w", err)
		}
	}
	return nil
}

// Stats returns the process's request statistics, nil when metrics are
// disabled: the resty handlers record each request there.
func (a *App) Stats() *stats.Store { return a.stats }

// pruneStats drops the statistics of routes and clusters gone from the
// config for five minutes.
func (a *App) pruneStats(now time.Time) {
	a.stats.Prune(func(route, cluster string) bool {
		if route != "" && route != stats.OverflowLabel {
			if a.routes == nil {
				return false
			}
			if _, ok := a.routes.Table().Lookup(route); !ok {
				return false
			}
		}
		return cluster == "" || cluster == stats.OverflowLabel || (a.registry != nil && a.registry.Has(cluster))
	}, now)
}
