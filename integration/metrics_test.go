package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The caddy_resty_* metrics and /resty/status through a real Caddy:
// traffic of known shape, then the exact series scraped from the admin
// listener's /metrics.

// mtSeries is a scrape: "name{l1="v1",…}" (labels sorted) → value; a
// histogram gives name_count and name_sum.
type mtSeries map[string]float64

func mtKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// mtScrape reads the admin listener's /metrics (Prometheus text format).
func mtScrape(t *testing.T, admin string) mtSeries {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape: parsing: %v", err)
	}
	out := mtSeries{}
	for name, f := range families {
		if !strings.HasPrefix(name, "caddy_resty_") {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[mtKey(name, labels)] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[mtKey(name, labels)] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				out[mtKey(name+"_count", labels)] = float64(h.GetSampleCount())
				out[mtKey(name+"_sum", labels)] = h.GetSampleSum()
			}
		}
	}
	return out
}

// expect checks exact values; a missing series reads as absent.
func (s mtSeries) expect(t *testing.T, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		got, ok := s[k]
		if !ok {
			t.Errorf("series %s missing; have:\n%s", k, s.names("caddy_resty_"+strings.SplitN(strings.TrimPrefix(k, "caddy_resty_"), "{", 2)[0]))
			continue
		}
		if got != v {
			t.Errorf("%s = %g, want %g", k, got, v)
		}
	}
}

func (s mtSeries) names(prefix string) string {
	var out []string
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out = append(out, fmt.Sprintf("  %s %g", k, v))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// mtClosedAddr is an address nothing listens on.
func mtClosedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

const mtDictScript = `
local d = ngx.shared.small
local n = tonumber(ngx.var.arg_n)
local forcible = 0
for i = 1, n do
	local ok, err, f = d:set(ngx.var.arg_prefix .. i, string.rep("x", 1000))
	if not ok then ngx.say("set failed: ", err) return end
	if f then forcible = forcible + 1 end
end
ngx.say(forcible, " ", #d:get_keys(0))
`

func mtGateway(t *testing.T, extraGlobal string) (*plGateway, string) {
	t.Helper()
	// Two servers: nginx ignores max_fails for a cluster of one.
	bad, bad2 := mtClosedAddr(t), mtClosedAddr(t)
	routes := fmt.Sprintf(`		upstream bad {
			server %s max_fails=1 fail_timeout=60s
			server %s max_fails=1 fail_timeout=60s
		}
		shared_dict small 32k
%s
		route api {
			path /api/*
			proxy be
		}
		route broken {
			path /broken/*
			proxy bad
		}`, bad, bad2, extraGlobal)
	site := `	handle /boom {
		resty {
			access_by_lua "error('boom')"
		}
	}
	handle /fill {
		resty {
			content_by_lua_file @DIR@/fill.lua
		}
	}
	handle /timer {
		resty {
			content_by_lua "ngx.timer.at(0, function() error('timer boom') end) ngx.say('ok')"
		}
	}
`
	g := plStartGateway(t, plOptions{routes: routes, site: site, files: map[string]string{"fill.lua": mtDictScript}})
	return g, bad
}

func TestMetrics(t *testing.T) {
	g, bad := mtGateway(t, "")
	for i := 0; i < 5; i++ {
		plExpect(t, "GET /api", g.do("GET", "/api/x", nil, ""), 200)
	}
	for i := 0; i < 2; i++ {
		plExpect(t, "POST /api", g.do("POST", "/api/y", nil, "body"), 200)
	}
	plExpect(t, "BREW /api", g.do("BREW", "/api/z", nil, ""), 200)
	for i := 0; i < 3; i++ {
		r := g.do("GET", "/broken/z", nil, "")
		if r.err != nil || r.status < 500 {
			t.Fatalf("GET /broken: want a 5xx, got %s", r)
		}
	}
	plExpect(t, "GET /boom", g.do("GET", "/boom", nil, ""), 500)
	plExpect(t, "GET /nowhere", g.do("GET", "/nowhere", nil, ""), 404, "no route")

	s := mtScrape(t, g.admin)
	s.expect(t, map[string]float64{
		`caddy_resty_requests_total{cluster="be",code_class="2xx",method="GET",route="api"}`:   5,
		`caddy_resty_requests_total{cluster="be",code_class="2xx",method="POST",route="api"}`:  2,
		`caddy_resty_requests_total{cluster="be",code_class="2xx",method="OTHER",route="api"}`: 1,
		`caddy_resty_requests_total{cluster="",code_class="5xx",method="GET",route=""}`:        1,
		`caddy_resty_requests_total{cluster="",code_class="4xx",method="GET",route=""}`:        1,
		`caddy_resty_request_duration_seconds_count{cluster="be",route="api"}`:                 8,
		`caddy_resty_upstream_duration_seconds_count{cluster="be",route="api"}`:                8,
		`caddy_resty_lua_errors_total{phase="access",route=""}`:                                1,
		`caddy_resty_routes`: 2,
		`caddy_resty_upstream_server_up{cluster="be",server="` + g.backend.addr + `"}`:                1,
		`caddy_resty_upstream_server_health{cluster="be",server="` + g.backend.addr + `",state="up"}`: 1,
		`caddy_resty_upstream_server_requests_total{cluster="be",server="` + g.backend.addr + `"}`:    8,
		`caddy_resty_upstream_server_up{cluster="bad",server="` + bad + `"}`:                          0,
		`caddy_resty_upstream_server_health{cluster="bad",server="` + bad + `",state="failed"}`:       1,
		`caddy_resty_upstream_server_health{cluster="bad",server="` + bad + `",state="up"}`:           0,
		`caddy_resty_upstream_available_servers{cluster="bad"}`:                                       0,
		`caddy_resty_upstream_available_servers{cluster="be"}`:                                        1,
		`caddy_resty_config_changes_total{table="upstreams"}`:                                         0,
		`caddy_resty_config_changes_total{table="routes"}`:                                            0,
		`caddy_resty_shdict_capacity_bytes{dict="small"}`:                                             32768,
		`caddy_resty_shdict_items{dict="small"}`:                                                      0,
		`caddy_resty_shdict_evictions_total{dict="small"}`:                                            0,
		`caddy_resty_lua_states_discarded_total`:                                                      0,
		`caddy_resty_lua_budget_overruns_total`:                                                       0,
	})
	// The broken route's requests: the first attempt failed (connection
	// refused: 502), the passive check then took the only server out
	// (503 for the next ones).
	fivexx := s[`caddy_resty_requests_total{cluster="bad",code_class="5xx",method="GET",route="broken"}`]
	if fivexx != 3 {
		t.Errorf("broken route: %g 5xx, want 3:\n%s", fivexx, s.names("caddy_resty_requests_total"))
	}
	if f := s[`caddy_resty_upstream_server_failures_total{cluster="bad",server="`+bad+`"}`]; f < 1 {
		t.Errorf("bad server: %g failures, want at least 1", f)
	}
	if n := s[`caddy_resty_lua_run_duration_seconds_count{phase="access"}`]; n != 1 {
		t.Errorf("Lua access runs: %g, want 1", n)
	}
	if n := s[`caddy_resty_lua_states`]; n < 1 {
		t.Errorf("Lua states: %g", n)
	}

	// A timer callback's error counts under phase "timer", no route.
	plExpect(t, "GET /timer", g.do("GET", "/timer", nil, ""), 200, "ok")
	timerErr := `caddy_resty_lua_errors_total{phase="timer",route=""}`
	deadline := time.Now().Add(5 * time.Second)
	for s = mtScrape(t, g.admin); s[timerErr] != 1 && time.Now().Before(deadline); s = mtScrape(t, g.admin) {
		time.Sleep(50 * time.Millisecond)
	}
	if s[timerErr] != 1 || s[`caddy_resty_lua_run_duration_seconds_count{phase="timer"}`] != 1 {
		t.Errorf("timer error not counted:\n%s", s.names("caddy_resty_lua_"))
	}

	// Dict gauges follow sets and evictions: 5 items of ~1 KB fit in 32k (5 pages after the dict's header);
	// 40 more do not, and the dict evicts.
	r := g.do("GET", "/fill?n=5&prefix=a", nil, "")
	plExpect(t, "fill 5", r, 200, "0 5")
	s = mtScrape(t, g.admin)
	if s[`caddy_resty_shdict_items{dict="small"}`] != 5 || s[`caddy_resty_shdict_used_bytes{dict="small"}`] < 5000 {
		t.Errorf("after 5 sets:\n%s", s.names("caddy_resty_shdict"))
	}
	r = g.do("GET", "/fill?n=40&prefix=b", nil, "")
	plExpect(t, "fill 40", r, 200)
	var forcible, keys int
	if _, err := fmt.Sscan(r.body, &forcible, &keys); err != nil || forcible == 0 {
		t.Fatalf("fill 40: %q: want forcible sets", r.body)
	}
	s = mtScrape(t, g.admin)
	if ev := s[`caddy_resty_shdict_evictions_total{dict="small"}`]; ev < float64(forcible) {
		t.Errorf("evictions %g, want at least the %d forcible sets", ev, forcible)
	}
	if it := s[`caddy_resty_shdict_items{dict="small"}`]; it != float64(keys) {
		t.Errorf("items gauge %g, want %d (get_keys)", it, keys)
	}
	if u := s[`caddy_resty_shdict_used_bytes{dict="small"}`]; u <= 0 || u > 32768 {
		t.Errorf("used bytes %g", u)
	}

	// A change in place counts, without a reload.
	req, _ := http.NewRequest("PATCH", g.admin+"/resty/upstreams/be/servers/"+g.backend.addr, strings.NewReader(`{"weight":3}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PATCH server: %v %v", err, resp)
	}
	resp.Body.Close()
	mtScrape(t, g.admin).expect(t, map[string]float64{`caddy_resty_config_changes_total{table="upstreams"}`: 1})

	// A config reload keeps the counts (a new route, the same traffic
	// figures), and new traffic adds to them.
	newCfg := strings.Replace(g.config, "route api {", "route extra {\n\t\t\tpath /extra/*\n\t\t\trespond 204\n\t\t}\n\t\troute api {", 1)
	resp, err = http.Post(g.admin+"/load", "text/caddyfile", strings.NewReader(newCfg))
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, b)
	}
	plExpect(t, "GET /extra after reload", g.do("GET", "/extra/1", nil, ""), 204)
	plExpect(t, "GET /api after reload", g.do("GET", "/api/x", nil, ""), 200)
	s = mtScrape(t, g.admin)
	s.expect(t, map[string]float64{
		`caddy_resty_requests_total{cluster="be",code_class="2xx",method="GET",route="api"}`:  6,
		`caddy_resty_requests_total{cluster="be",code_class="2xx",method="POST",route="api"}`: 2,
		`caddy_resty_requests_total{cluster="",code_class="2xx",method="GET",route="extra"}`:  1,
		`caddy_resty_lua_errors_total{phase="access",route=""}`:                               1,
		`caddy_resty_routes`: 3,
		`caddy_resty_config_changes_total{table="upstreams"}`: 1,
	})

	// /resty/status summarizes the same traffic.
	st := mtStatus(t, g.admin)
	api := st.route("api")
	if api == nil || api.Last1m.Requests != 9 || api.Last5m.Requests != 9 || api.Cluster != "be" || api.Last1m.P99 <= 0 {
		t.Errorf("status of route api: %+v", api)
	}
	if len(api.Series.Requests) != 60 {
		t.Errorf("route api history: %d slots", len(api.Series.Requests))
	}
	badc := st.cluster("bad")
	if badc == nil || badc.Last1m.Errors != 3 || badc.Last1m.ErrorRate != 1 || badc.Available != 0 ||
		len(badc.Servers) != 2 || badc.Servers[0].Health != "failed" || badc.Servers[1].Health != "failed" {
		t.Errorf("status of cluster bad: %+v", badc)
	}
	if d := st.dict("small"); d == nil || d.Capacity != 32768 || d.Items != keys {
		t.Errorf("status of dict small: %+v", d)
	}
	if st.Lua.States < 1 || !st.Metrics || st.Uptime <= 0 {
		t.Errorf("status: lua %+v metrics %v uptime %g", st.Lua, st.Metrics, st.Uptime)
	}
}

// mtStatusDoc is the part of /resty/status the tests read.
type mtStatusDoc struct {
	Uptime  float64 `json:"uptime_seconds"`
	Metrics bool    `json:"metrics"`
	Routes  []struct {
		Name    string    `json:"name"`
		Cluster string    `json:"cluster"`
		Last1m  mtWindow  `json:"1m"`
		Last5m  mtWindow  `json:"5m"`
		Series  mtHistory `json:"series"`
	} `json:"routes"`
	Clusters []mtCluster `json:"clusters"`
	Dicts    []struct {
		Name     string `json:"name"`
		Capacity int64  `json:"capacity"`
		Items    int    `json:"items"`
	} `json:"dicts"`
	Lua struct {
		States int `json:"states"`
	} `json:"lua"`
}

type mtWindow struct {
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	P99       float64 `json:"p99_ms"`
}

type mtHistory struct {
	Requests []int `json:"requests"`
	Errors   []int `json:"errors"`
}

type mtCluster struct {
	Name      string   `json:"name"`
	Available int      `json:"available"`
	Last1m    mtWindow `json:"1m"`
	Servers   []struct {
		Address string `json:"address"`
		Health  string `json:"health"`
	} `json:"servers"`
}

func mtStatus(t *testing.T, admin string) *mtStatusDoc {
	t.Helper()
	resp, err := http.Get(admin + "/resty/status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	defer resp.Body.Close()
	var doc mtStatusDoc
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("status: %v: %s", err, b)
	}
	return &doc
}

func (d *mtStatusDoc) route(name string) *struct {
	Name    string    `json:"name"`
	Cluster string    `json:"cluster"`
	Last1m  mtWindow  `json:"1m"`
	Last5m  mtWindow  `json:"5m"`
	Series  mtHistory `json:"series"`
} {
	for i := range d.Routes {
		if d.Routes[i].Name == name {
			return &d.Routes[i]
		}
	}
	return nil
}

func (d *mtStatusDoc) cluster(name string) *mtCluster {
	for i := range d.Clusters {
		if d.Clusters[i].Name == name {
			return &d.Clusters[i]
		}
	}
	return nil
}

func (d *mtStatusDoc) dict(name string) *struct {
	Name     string `json:"name"`
	Capacity int64  `json:"capacity"`
	Items    int    `json:"items"`
} {
	for i := range d.Dicts {
		if d.Dicts[i].Name == name {
			return &d.Dicts[i]
		}
	}
	return nil
}

// TestStatusEndpointsAdminOnly: /resty/status and /resty/ui answer GET on
// the admin listener only.
func TestStatusEndpointsAdminOnly(t *testing.T) {
	g, _ := mtGateway(t, "")
	for _, path := range []string{"/resty/status", "/resty/ui"} {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			r := plDo(m, g.admin+path, nil, "")
			if r.err != nil || r.status != 405 || r.header.Get("Allow") != "GET" {
				t.Errorf("%s %s on the admin listener: want 405 with Allow: GET, got %s", m, path, r)
			}
		}
		// The site knows nothing of them: the route table has no route
		// for the path.
		plExpect(t, "site GET "+path, g.do("GET", path, nil, ""), 404, "no route")
	}
	r := plDo("GET", g.admin+"/resty/ui", nil, "")
	plExpect(t, "GET /resty/ui", r, 200, "<html")
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("ui Content-Type %q", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("ui CSP %q", csp)
	}
	// The admin listener's own access control applies: a Host it does not
	// serve is refused.
	r = plDo("GET", g.admin+"/resty/status", map[string]string{"Host": "evil.example"}, "")
	if r.err != nil || r.status != 403 {
		t.Errorf("status with a foreign Host: want 403, got %s", r)
	}
}

// TestMetricsOff: `metrics off` keeps the gauges and drops the per-request
// figures.
func TestMetricsOff(t *testing.T) {
	g, _ := mtGateway(t, "\t\tmetrics off")
	plExpect(t, "GET /api", g.do("GET", "/api/x", nil, ""), 200)
	plExpect(t, "GET /boom", g.do("GET", "/boom", nil, ""), 500)
	s := mtScrape(t, g.admin)
	for k := range s {
		if strings.HasPrefix(k, "caddy_resty_requests_total") || strings.HasPrefix(k, "caddy_resty_lua_errors_total") ||
			strings.HasPrefix(k, "caddy_resty_request_duration") || strings.HasPrefix(k, "caddy_resty_lua_run_duration") {
			t.Errorf("metrics off, yet %s", k)
		}
	}
	s.expect(t, map[string]float64{
		`caddy_resty_routes`: 2,
		`caddy_resty_upstream_server_up{cluster="be",server="` + g.backend.addr + `"}`:             1,
		`caddy_resty_upstream_server_requests_total{cluster="be",server="` + g.backend.addr + `"}`: 1,
	})
	st := mtStatus(t, g.admin)
	if st.Metrics || st.route("api") == nil || st.route("api").Last1m.Requests != 0 {
		t.Errorf("status with metrics off: %+v", st)
	}
}

// TestStatusHandlerOnSite: the resty_status handler serves the page and
// the JSON where a config mounts it, under any prefix.
func TestStatusHandlerOnSite(t *testing.T) {
	g := plStartGateway(t, plOptions{site: "\thandle /ops/* {\n\t\tresty_status\n\t}\n"})
	r := g.do("GET", "/ops/status", nil, "")
	plExpect(t, "GET /ops/status", r, 200, `"clusters":[{"name":"be"`)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("status Content-Type %q", ct)
	}
	r = g.do("GET", "/ops/ui", nil, "")
	plExpect(t, "GET /ops/ui", r, 200, "<html", `STATUS_URL = "status"`)
	r = g.do("POST", "/ops/status", nil, "")
	if r.err != nil || r.status != 405 || r.header.Get("Allow") != "GET" {
		t.Errorf("POST /ops/status: want 405 with Allow: GET, got %s", r)
	}
}
