package app

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/internal/stats"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	caddy.RegisterModule(StatusAdmin{})
}

// StatusAdmin is the admin API module of the status endpoints
// (admin.api.resty_status), on the admin listener only and under its
// access control:
//
//	GET /resty/status   JSON: uptime; per route and per upstream cluster the
//	                    request rate, error rate and p50/p99 latency over the
//	                    last minute and five minutes, with a per-5s history;
//	                    the clusters' servers with health and failures;
//	                    shared-dict usage; Lua pool figures
//	GET /resty/ui       a self-contained page showing the same, refreshed
//	                    every 2 s
//
// Other methods get 405.
type StatusAdmin struct{}

// CaddyModule returns the Caddy module information.
func (StatusAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.resty_status",
		New: func() caddy.Module { return new(StatusAdmin) },
	}
}

// Routes returns the admin routes.
func (StatusAdmin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/resty/status", Handler: caddy.AdminHandlerFunc(handleStatus)},
		{Pattern: "/resty/ui", Handler: caddy.AdminHandlerFunc(handleUI)},
	}
}

//go:embed ui/status.html
var statusPage []byte

// statusPageCSP is the page's Content-Security-Policy: its own inline
// script (by hash) and styles, requests to its own origin only.
var statusPageCSP = pageCSP(statusPage)

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

func pageCSP(page []byte) string {
	var hashes []string
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	if len(hashes) == 0 {
		hashes = []string{"'none'"}
	}
	return "default-src 'none'; script-src " + strings.Join(hashes, " ") +
		"; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

func onlyGet(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodGet {
		return nil
	}
	w.Header().Set("Allow", http.MethodGet)
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
}

func handleUI(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGet(w, r); err != nil {
		return err
	}
	return WriteStatusPage(w)
}

// WriteStatusPage writes the status page (the resty_status handler serves
// it on a site too). It fetches `status` relative to its own URL.
func WriteStatusPage(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", statusPageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// The page's requests to the admin listener carry a same-origin
	// Referer: Caddy's admin checks the origin of browser requests.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	_, err := w.Write(statusPage)
	return err
}

// WriteStatus writes a's status as JSON.
func WriteStatus(w http.ResponseWriter, a *App) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(a.Status(time.Now()))
}

func handleStatus(w http.ResponseWriter, r *http.Request) error {
	if err := onlyGet(w, r); err != nil {
		return err
	}
	app, err := caddy.ActiveContext().AppIfConfigured("resty")
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no resty app in the running config")}
	}
	a, ok := app.(*App)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no resty app in the running config")}
	}
	return WriteStatus(w, a)
}

// Status is what GET /resty/status answers.
type Status struct {
	// Now is when the status was taken.
	Now time.Time `json:"now"`
	// Started is when the process's resty statistics began.
	Started time.Time `json:"started"`
	// Uptime is Now - Started, in seconds.
	Uptime float64 `json:"uptime_seconds"`
	// Metrics is false when the request statistics are disabled: the
	// windows and histories are then empty.
	Metrics bool `json:"metrics"`
	// SlotSeconds is the width of one history slot.
	SlotSeconds int `json:"slot_seconds"`
	// Routes are the route table's routes, then the route names that had
	// traffic and are not in it ("": requests no route matched).
	Routes []RouteStatus `json:"routes"`
	// Clusters are the upstream clusters.
	Clusters []ClusterStatus `json:"clusters"`
	// Dicts are the shared dicts.
	Dicts []DictStatus `json:"dicts"`
	// Lua is the Lua runtime's figures.
	Lua luaplugin.Stats `json:"lua"`
}

// RouteStatus is one route's traffic.
type RouteStatus struct {
	// Name is the route's name ("": no route matched).
	Name string `json:"name"`
	// Cluster is the cluster the route proxies to, if any.
	Cluster string `json:"cluster"`
	stats.Summary
}

// ClusterStatus is one upstream cluster: its servers and traffic (the
// requests resty handlers sent to it).
type ClusterStatus struct {
	Name      string                     `json:"name"`
	LBPolicy  dynupstream.LBPolicy       `json:"lb_policy"`
	Available int                        `json:"available"`
	Servers   []dynupstream.ServerStatus `json:"servers"`
	stats.Summary
}

// DictStatus is one shared dict's usage.
type DictStatus struct {
	Name        string `json:"name"`
	Capacity    int64  `json:"capacity"`
	Used        int64  `json:"used"`
	Items       int    `json:"items"`
	Evictions   uint64 `json:"evictions"`
	Expirations uint64 `json:"expirations"`
}

// processStart stands for the statistics' start when they are disabled.
var processStart = time.Now()

// Status returns the status of the running config at now.
func (a *App) Status(now time.Time) Status {
	s := Status{Now: now, Started: processStart, SlotSeconds: stats.SlotSeconds, Metrics: a.stats != nil}
	byRoute := map[string]stats.Summary{}
	byCluster := map[string]stats.Summary{}
	if a.stats != nil {
		a.pruneStats(now)
		s.Started = a.stats.Started()
		byRoute = a.stats.Summarize(now, func(t *stats.Traffic) (string, bool) { return t.Route, true })
		byCluster = a.stats.Summarize(now, func(t *stats.Traffic) (string, bool) { return t.Cluster, t.Cluster != "" })
	}
	s.Uptime = now.Sub(s.Started).Round(time.Millisecond).Seconds()
	summary := func(m map[string]stats.Summary, name string) stats.Summary {
		if v, ok := m[name]; ok {
			delete(m, name)
			return v
		}
		return stats.EmptySummary()
	}

	s.Routes = []RouteStatus{}
	if a.routes != nil {
		routes := a.routes.Table().Routes()
		sort.Slice(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
		for _, r := range routes {
			rs := RouteStatus{Name: r.Name, Summary: summary(byRoute, r.Name)}
			if r.Action.Proxy != nil {
				rs.Cluster = r.Action.Proxy.Upstream
			}
			s.Routes = append(s.Routes, rs)
		}
	}
	for _, name := range sortedNames(byRoute) {
		s.Routes = append(s.Routes, RouteStatus{Name: name, Summary: byRoute[name]})
	}

	s.Clusters = []ClusterStatus{}
	if a.registry != nil {
		status := a.registry.Status()
		for _, name := range sortedNames(status) {
			cs := status[name]
			s.Clusters = append(s.Clusters, ClusterStatus{
				Name: name, LBPolicy: cs.LBPolicy, Available: cs.Available, Servers: cs.Servers,
				Summary: summary(byCluster, name),
			})
		}
	}

	s.Dicts = []DictStatus{}
	for _, name := range sortedNames(a.dicts) {
		ds := a.dicts[name].Stats()
		s.Dicts = append(s.Dicts, DictStatus{Name: name, Capacity: ds.Capacity, Used: ds.Used,
			Items: ds.Items, Evictions: ds.Evictions, Expirations: ds.Expirations})
	}
	if a.pool != nil {
		s.Lua = a.pool.Stats()
	}
	return s
}

// Interface guards.
var _ caddy.AdminRouter = (*StatusAdmin)(nil)
