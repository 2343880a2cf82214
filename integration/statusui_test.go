//go:build linux

package integration

// The status page (/resty/ui, app/ui/status.html) in a real browser:
// headless chromium over the DevTools protocol (cdp_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// suiSnapshotJS summarizes what the page shows, through the test hooks
// (data-cluster, data-server, data-health, data-route, body.dataset.updated).
const suiSnapshotJS = `(() => {
	const clusters = [...document.querySelectorAll("section[data-cluster]")].map(s => ({
		name: s.dataset.cluster,
		title: (s.querySelector("h3") || {}).textContent || "",
		servers: [...s.querySelectorAll("tr[data-server]")].map(r => ({
			address: r.dataset.server, health: r.dataset.health, text: r.textContent})),
		sparks: s.querySelectorAll("svg.sparkline[role=img][aria-label]").length,
	}));
	const routes = [...document.querySelectorAll("tr[data-route]")].map(r => ({
		name: r.dataset.route, text: r.textContent,
		sparks: r.querySelectorAll("svg.sparkline[role=img][aria-label]").length,
		labels: [...r.querySelectorAll("svg.sparkline")].map(s => s.getAttribute("aria-label")),
	}));
	const banner = document.getElementById("banner");
	return {
		updated: document.body.dataset.updated || "",
		clusters, routes,
		dicts: [...document.querySelectorAll("tr[data-dict]")].map(r => ({name: r.dataset.dict, text: r.textContent})),
		banner: banner && !banner.hidden ? banner.textContent : "",
		scrollWidth: document.documentElement.scrollWidth,
		innerWidth: window.innerWidth,
		inlineHandlers: [...document.querySelectorAll("*")].filter(e =>
			[...e.attributes].some(a => a.name.startsWith("on"))).length,
	};
})()`

// suiSnapshot is suiSnapshotJS's value.
type suiSnapshot struct {
	Updated  string `json:"updated"`
	Clusters []struct {
		Name    string `json:"name"`
		Title   string `json:"title"`
		Servers []struct {
			Address string `json:"address"`
			Health  string `json:"health"`
			Text    string `json:"text"`
		} `json:"servers"`
		Sparks int `json:"sparks"`
	} `json:"clusters"`
	Routes []struct {
		Name   string   `json:"name"`
		Text   string   `json:"text"`
		Sparks int      `json:"sparks"`
		Labels []string `json:"labels"`
	} `json:"routes"`
	Dicts          []suiDict `json:"dicts"`
	Banner         string    `json:"banner"`
	ScrollWidth    int       `json:"scrollWidth"`
	InnerWidth     int       `json:"innerWidth"`
	InlineHandlers int       `json:"inlineHandlers"`
}

// suiDict is a shared dict's row.
type suiDict struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// server returns the row of address in cluster, and whether there is one.
func (s suiSnapshot) server(cluster, address string) (health, text string, ok bool) {
	for _, c := range s.Clusters {
		if c.Name != cluster {
			continue
		}
		for _, sv := range c.Servers {
			if sv.Address == address {
				return sv.Health, sv.Text, true
			}
		}
	}
	return "", "", false
}

// route returns the row of the route name.
func (s suiSnapshot) route(name string) (text string, sparks int, ok bool) {
	for _, r := range s.Routes {
		if r.Name == name {
			return r.Text, r.Sparks, true
		}
	}
	return "", 0, false
}

func (s suiSnapshot) String() string {
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b)
}

// suiTake reads the page's snapshot.
func suiTake(t *testing.T, p *cdpPage) suiSnapshot {
	t.Helper()
	var s suiSnapshot
	if err := p.eval(suiSnapshotJS, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// suiWait polls the page's snapshot every 200 ms until cond holds and
// returns that snapshot; it fails the test (with the last snapshot and
// cond's last complaint) after timeout.
func suiWait(t *testing.T, p *cdpPage, what string, timeout time.Duration, cond func(s suiSnapshot) string) suiSnapshot {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := suiTake(t, p)
		why := cond(s)
		if why == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s\npage:\n%s\nconsole errors: %q", what, timeout, why, s, p.consoleErrors())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// suiOpen opens the page as a user does, typing its address (no
// Referer), and checks that the browser got the page, not an error.
func suiOpen(t *testing.T, p *cdpPage, u string) {
	t.Helper()
	if err := p.navigate(u); err != nil {
		t.Fatal(err)
	}
	var got struct {
		ContentType string `json:"contentType"`
		Page        bool   `json:"page"`
		Text        string `json:"text"`
	}
	js := `({contentType: document.contentType, page: !!document.getElementById("banner"),
		text: (document.body ? document.body.innerText : "").slice(0, 400)})`
	if err := p.eval(js, &got); err != nil {
		t.Fatal(err)
	}
	if got.ContentType != "text/html" || !got.Page {
		hint := ""
		if strings.Contains(got.Text, "not allowed to access from origin") {
			// Caddy's admin handler checks the origin of every request
			// with a Sec-Fetch-Mode header (all browsers send one), before
			// any admin route; an address typed in the address bar has
			// neither Origin nor Referer.
			hint = "\nCaddy's admin endpoint refuses a browser's navigation: it has Sec-Fetch-Mode but neither Origin nor Referer"
		}
		t.Fatalf("the browser did not get the status page at %s: %s %q\nconsole: %q%s", u, got.ContentType, got.Text, p.consoleErrors(), hint)
	}
}

// suiNextRender waits for a render after the one the page shows now
// (body.dataset.updated changes).
func suiNextRender(t *testing.T, p *cdpPage, what string) suiSnapshot {
	t.Helper()
	before := suiTake(t, p).Updated
	return suiWait(t, p, what, 8*time.Second, func(s suiSnapshot) string {
		if s.Updated == "" || s.Updated == before {
			return "no new render after " + before
		}
		return ""
	})
}

// suiNoConsoleErrors fails the test if the page logged an error.
func suiNoConsoleErrors(t *testing.T, p *cdpPage) {
	t.Helper()
	if errs := p.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// suiCheckNarrow emulates a 390 px wide phone, waits for a render and
// checks that nothing scrolls sideways.
func suiCheckNarrow(t *testing.T, p *cdpPage) {
	t.Helper()
	if err := p.viewport(390, 844, true); err != nil {
		t.Fatal(err)
	}
	s := suiNextRender(t, p, "render at 390 px")
	if s.InnerWidth != 390 || s.ScrollWidth > s.InnerWidth {
		t.Fatalf("at 390 px: innerWidth %d, scrollWidth %d (horizontal scrolling)", s.InnerWidth, s.ScrollWidth)
	}
}

// suiScreenshot takes a 1280×900 screenshot, checks that it is a PNG of
// that size and writes it to docs/status-ui.png with RESTY_UPDATE_DOCS=1
// (else to a temporary directory).
func suiScreenshot(t *testing.T, p *cdpPage, docs bool) {
	t.Helper()
	if err := p.viewport(1280, 900, false); err != nil {
		t.Fatal(err)
	}
	suiNextRender(t, p, "render at 1280 px")
	shot, err := p.screenshot()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Fatalf("screenshot of %v, want 1280×900", b)
	}
	path := filepath.Join(t.TempDir(), "status-ui.png")
	if docs && os.Getenv("RESTY_UPDATE_DOCS") == "1" {
		path = filepath.Join("..", "docs", "status-ui.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatalf("writing the screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// suiFake is a stand-in for the admin endpoint: /resty/ui serves the page
// from the source tree, /resty/status a status document (shape of
// /resty/status) the test changes.
type suiFake struct {
	mu     sync.Mutex
	status map[string]any
	fail   int // answer /resty/status with this status code when not 0
	srv    *httptest.Server
}

// suiStartFake serves the page and the fake status.
func suiStartFake(t *testing.T, status map[string]any) *suiFake {
	t.Helper()
	page, err := os.ReadFile(filepath.Join("..", "app", "ui", "status.html"))
	if err != nil {
		t.Fatal(err)
	}
	f := &suiFake{status: status}
	mux := http.NewServeMux()
	mux.HandleFunc("/resty/ui", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("/resty/status", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fail != 0 {
			http.Error(w, "backend says no", f.fail)
			return
		}
		f.status["now"] = time.Now().UTC().Format(time.RFC3339Nano)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.status)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// change runs edit on the status document under the lock.
func (f *suiFake) change(edit func(st map[string]any)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f.status)
}

// suiWindow is a status window of n requests, e errors.
func suiWindow(n, e int, seconds float64) map[string]any {
	w := map[string]any{"requests": n, "rate": float64(n) / seconds, "errors": e,
		"error_rate": 0.0, "client_errors": 0, "p50_ms": 0.0, "p99_ms": 0.0}
	if n > 0 {
		w["error_rate"] = float64(e) / float64(n)
		w["p50_ms"], w["p99_ms"] = 1.25, 18.5
	}
	return w
}

// suiSeries is a 60-slot series with a bump.
func suiSeries(scale int) map[string]any {
	req, errs := make([]int, 60), make([]int, 60)
	for i := range req {
		req[i] = scale * (i % 7)
		if i%13 == 0 {
			errs[i] = scale
		}
	}
	return map[string]any{"requests": req, "errors": errs}
}

// suiFakeStatus is a status document with hostile names: cluster and
// route names are user input and must show as text.
func suiFakeStatus() map[string]any {
	server := func(addr, health string) map[string]any {
		return map[string]any{"address": addr, "weight": 1, "backup": false, "down": false, "drain": false,
			"max_fails": 1, "fail_timeout": "10s", "health": health, "available": health == "up",
			"active_requests": 0, "requests": 10, "fails": 0, "failures": 0}
	}
	cluster := func(name string, servers ...map[string]any) map[string]any {
		return map[string]any{"name": name, "lb_policy": map[string]any{"policy": "round_robin"},
			"available": len(servers), "1m": suiWindow(60, 2, 60), "5m": suiWindow(300, 3, 300),
			"series": suiSeries(2), "servers": servers}
	}
	route := func(name, cl string) map[string]any {
		return map[string]any{"name": name, "cluster": cl, "1m": suiWindow(60, 2, 60),
			"5m": suiWindow(300, 3, 300), "series": suiSeries(1)}
	}
	return map[string]any{
		"started": "2026-12-06T22:00:00Z", "uptime_seconds": 1800.5, "slot_seconds": 5,
		"routes": []any{
			route("", ""),
			route(`"><img src=x id=xss-route>`, "be"),
			route(strings.Repeat("a-very-long-route-name-", 6), ""),
			route("api", "be"),
		},
		"clusters": []any{
			cluster(`<img src=x id=xss-cluster>`, server("10.0.0.1:80", "down")),
			cluster("be", server("127.0.0.1:9001", "up"), server("127.0.0.1:9002", "up")),
		},
		"dicts": []any{map[string]any{"name": "cache", "capacity": 10485760, "used": 2345678,
			"items": 10, "evictions": 1, "expirations": 0}},
		"lua": map[string]any{"states": 4, "created": 4, "discarded": 0, "timeouts": 0,
			"pending_timers": 0, "running_timers": 0, "log_dropped": 0, "memory_stops": 0},
	}
}

// TestStatusUIPage checks the page alone against a fake status endpoint:
// names from the JSON shown as text (never markup), a health change shown
// at the next refresh, the "status unavailable" banner that keeps the
// last data, and no sideways scrolling on a phone.
func TestStatusUIPage(t *testing.T) {
	b := cdpStartBrowser(t)
	f := suiStartFake(t, suiFakeStatus())
	p := b.page(t)
	suiOpen(t, p, f.srv.URL+"/resty/ui")
	s := suiWait(t, p, "first render", 8*time.Second, func(s suiSnapshot) string {
		if s.Updated == "" {
			return "body.dataset.updated not set"
		}
		if len(s.Clusters) != 2 || len(s.Routes) != 4 {
			return fmt.Sprintf("%d clusters, %d routes", len(s.Clusters), len(s.Routes))
		}
		return ""
	})
	hostile := `<img src=x id=xss-cluster>`
	if s.Clusters[0].Name != hostile || s.Clusters[0].Title != hostile {
		t.Fatalf("hostile cluster name not shown as text: %q / %q", s.Clusters[0].Name, s.Clusters[0].Title)
	}
	var injected int
	if err := p.eval(`document.querySelectorAll("#xss-cluster, #xss-route, img").length`, &injected); err != nil {
		t.Fatal(err)
	}
	if injected != 0 {
		t.Fatalf("%d elements injected from names in the JSON", injected)
	}
	if text, _, ok := s.route(`"><img src=x id=xss-route>`); !ok || !strings.Contains(text, `"><img src=x id=xss-route>`) {
		t.Fatalf("hostile route name not shown as text: %q", text)
	}
	if text, _, ok := s.route(""); !ok || !strings.Contains(text, "(no route)") {
		t.Fatalf(`route "" not shown as "(no route)": %q`, text)
	}
	for _, r := range s.Routes {
		if r.Sparks != 2 {
			t.Fatalf("route %q has %d labelled sparklines, want 2: %q", r.Name, r.Sparks, r.Labels)
		}
	}
	if text, _, _ := s.route("api"); !strings.Contains(text, "1.00/s") || !strings.Contains(text, "3.3%") {
		t.Fatalf("route api does not show its 1m rate and error rate: %q", text)
	}
	if len(s.Dicts) != 1 || s.Dicts[0].Name != "cache" || !strings.Contains(s.Dicts[0].Text, "2.2 MiB of 10.0 MiB") {
		t.Fatalf("dicts: %q", s.Dicts)
	}
	if s.InlineHandlers != 0 {
		t.Fatalf("%d elements with inline event handler attributes", s.InlineHandlers)
	}
	if h, text, _ := s.server("be", "127.0.0.1:9002"); h != "up" || !strings.Contains(text, "up") {
		t.Fatalf("server 9002: health %q, text %q", h, text)
	}

	// a health change shows at the next refresh
	f.change(func(st map[string]any) {
		be := st["clusters"].([]any)[1].(map[string]any)
		be["servers"].([]map[string]any)[1]["health"] = "unhealthy"
		be["servers"].([]map[string]any)[1]["check"] = map[string]any{"healthy": false, "last_problem": "dial tcp: connection refused"}
		be["available"] = 1
	})
	suiWait(t, p, "server 9002 unhealthy", 5*time.Second, func(s suiSnapshot) string {
		if h, text, _ := s.server("be", "127.0.0.1:9002"); h != "unhealthy" || !strings.Contains(text, "unhealthy") {
			return fmt.Sprintf("health %q, text %q", h, text)
		}
		return ""
	})
	suiCheckNarrow(t, p)
	suiNoConsoleErrors(t, p)

	// a failed fetch: a banner, the last data kept, retried
	f.change(func(map[string]any) { f.fail = http.StatusServiceUnavailable })
	s = suiWait(t, p, "banner", 5*time.Second, func(s suiSnapshot) string {
		if !strings.Contains(s.Banner, "status unavailable: HTTP 503") {
			return fmt.Sprintf("banner %q", s.Banner)
		}
		return ""
	})
	if len(s.Clusters) != 2 || len(s.Routes) != 4 {
		t.Fatalf("the last data is gone with the error: %s", s)
	}
	f.change(func(map[string]any) { f.fail = 0 })
	suiWait(t, p, "banner gone", 5*time.Second, func(s suiSnapshot) string {
		if s.Banner != "" {
			return fmt.Sprintf("banner %q", s.Banner)
		}
		return ""
	})
	// The only errors: the browser's own lines for the failed fetches.
	for _, e := range p.consoleErrors() {
		if !strings.Contains(e, "503") {
			t.Fatalf("console error: %s", e)
		}
	}
	suiScreenshot(t, p, false)
}

// suiBackendHandler answers the health check and the proxied requests:
// 500 for paths ending in /fail, an echo otherwise.
func suiBackendHandler(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	case strings.HasSuffix(r.URL.Path, "/fail"):
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
	default:
		plEchoHandler(w, r)
	}
}

// TestStatusUI is the browser acceptance test of the status page: a real
// Caddy with an upstream cluster of two backends under an active health
// check and routes proxying to it; the page at the admin listener's
// /resty/ui in headless chromium shows the cluster, both servers up, the
// routes with their traffic, then one server down within two refreshes
// after its backend stops; no console errors (the backend's CSP
// included), no sideways scrolling at 390 px, and a 1280×900 screenshot
// (docs/status-ui.png with RESTY_UPDATE_DOCS=1).
func TestStatusUI(t *testing.T) {
	b := cdpStartBrowser(t)
	be1 := ppNewBackend(t, suiBackendHandler)
	be2 := ppNewBackend(t, suiBackendHandler)
	global := fmt.Sprintf(`		upstream be {
			server %s
			server %s
			health_check /healthz interval=200ms timeout=100ms fails=1 passes=1
		}
		route api {
			path /api/*
			proxy be
		}
		route hello {
			path /hello
			respond 200 "hello"
		}`, be1.addr, be2.addr)
	// The page goes on the site through the resty_status handler: Caddy's
	// admin listener refuses a browser's typed navigation (no Origin, no
	// Referer), so that is where browsers open it.
	site := "\thandle /resty/* {\n\t\tresty_status\n\t}\n" +
		"\thandle {\n\t\tresty {\n\t\t\troutes\n\t\t}\n\t\trespond \"no route\" 404\n\t}\n"
	c := startCaddy(t, hopts{global: global, site: site})

	// traffic: 30 answered and 5 failing through the cluster, 10 without
	// it, 3 that no route matches
	send := func(path string, n, status int) {
		t.Helper()
		for i := range n {
			r := plDo("GET", c.base+path, nil, "")
			if r.err != nil || r.status != status {
				t.Fatalf("GET %s #%d: want %d, got %s", path, i, status, r)
			}
		}
	}
	send("/api/x", 30, 200)
	send("/api/fail", 5, 500)
	send("/hello", 10, 200)
	send("/nowhere", 3, 404)

	p := b.page(t)
	suiOpen(t, p, c.base+"/resty/ui")
	s := suiWait(t, p, "cluster be with both servers up and the routes", 8*time.Second, func(s suiSnapshot) string {
		if s.Updated == "" {
			return "body.dataset.updated not set"
		}
		for _, addr := range []string{be1.addr, be2.addr} {
			h, text, ok := s.server("be", addr)
			if !ok {
				return "no row of server " + addr + " in cluster be"
			}
			if h != "up" || !strings.Contains(text, "up") {
				return fmt.Sprintf("server %s: health %q, text %q", addr, h, text)
			}
		}
		for _, name := range []string{"api", "hello", ""} {
			if _, _, ok := s.route(name); !ok {
				return fmt.Sprintf("no row of route %q", name)
			}
		}
		return ""
	})
	if _, err := time.Parse(time.RFC3339Nano, s.Updated); err != nil {
		t.Fatalf("body.dataset.updated %q is not the status time: %v", s.Updated, err)
	}
	for _, r := range s.Routes {
		if r.Sparks != 2 {
			t.Fatalf("route %q: %d labelled sparklines, want 2 (requests, errors): %q", r.Name, r.Sparks, r.Labels)
		}
	}
	for _, cl := range s.Clusters {
		if cl.Sparks != 2 {
			t.Fatalf("cluster %q: %d labelled sparklines, want 2", cl.Name, cl.Sparks)
		}
	}
	// the charts' labels carry the numbers: 35 requests, 5 of them 5xx
	wantLabels := map[string][2]string{"api": {"total 35,", "total 5,"}, "hello": {"total 10,", "total 0,"}, "": {"total 3,", "total 0,"}}
	for _, r := range s.Routes {
		want, ok := wantLabels[r.Name]
		if !ok {
			continue
		}
		if len(r.Labels) != 2 || !strings.Contains(r.Labels[0], want[0]) || !strings.Contains(r.Labels[1], want[1]) {
			t.Fatalf("route %q: chart labels %q, want requests %q and errors %q", r.Name, r.Labels, want[0], want[1])
		}
	}
	if text, _, _ := s.route(""); !strings.Contains(text, "(no route)") {
		t.Fatalf(`route "" not shown as "(no route)": %q`, text)
	}
	if text, _, _ := s.route("api"); !strings.Contains(text, "be") || strings.Contains(text, "–1") {
		t.Fatalf("route api does not name its cluster: %q", text)
	}
	if !slices.ContainsFunc(s.Dicts, func(d suiDict) bool { return d.Name == "d" && strings.Contains(d.Text, "of 1.0 MiB") }) {
		t.Fatalf("dicts: %+v, want the harness's dict d of 1 MiB", s.Dicts)
	}
	if s.InlineHandlers != 0 {
		t.Fatalf("%d elements with inline event handler attributes", s.InlineHandlers)
	}
	suiNoConsoleErrors(t, p)

	// light traffic from now on, for the charts
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			plDo("GET", c.base+"/api/y", nil, "")
			plDo("GET", c.base+"/hello", nil, "")
		}
	})
	defer wg.Wait()
	defer close(stop)

	// one backend stops: the health check takes it out and the page
	// shows it at a following refresh
	be2.srv.Close()
	stopped := time.Now()
	s = suiWait(t, p, "server "+be2.addr+" shown not up", 8*time.Second, func(s suiSnapshot) string {
		h, text, ok := s.server("be", be2.addr)
		if !ok {
			return "no row of server " + be2.addr
		}
		if h == "up" || h == "" || !strings.Contains(text, h) {
			return fmt.Sprintf("health %q, text %q", h, text)
		}
		if h1, _, _ := s.server("be", be1.addr); h1 != "up" {
			return fmt.Sprintf("the other server %s: health %q", be1.addr, h1)
		}
		return ""
	})
	h2, _, _ := s.server("be", be2.addr)
	t.Logf("server %s shown %q %s after its backend stopped", be2.addr, h2, time.Since(stopped).Round(10*time.Millisecond))

	suiCheckNarrow(t, p)
	suiScreenshot(t, p, true)
	suiNoConsoleErrors(t, p)
}
