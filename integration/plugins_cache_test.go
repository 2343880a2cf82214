package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pcBackend answers what the query asks for, with a body naming the
// request's number (n=N) so that a cached answer is told from a fresh
// one: cc (Cache-Control), expires (seconds from now), cookie, vary,
// status, size (body bytes before the marker).
func pcBackend() http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		c := n.Add(1)
		q := r.URL.Query()
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("X-Backend", "yes")
		h.Add("X-Multi", "a")
		h.Add("X-Multi", "b")
		if v := q.Get("cc"); v != "" {
			h.Set("Cache-Control", v)
		}
		if v := q.Get("expires"); v != "" {
			s, _ := strconv.Atoi(v)
			h.Set("Expires", time.Now().Add(time.Duration(s)*time.Second).UTC().Format(http.TimeFormat))
		}
		if q.Get("cookie") != "" {
			h.Set("Set-Cookie", "sid=1")
		}
		if v := q.Get("vary"); v != "" {
			h.Set("Vary", v)
		}
		status := 200
		if v := q.Get("status"); v != "" {
			status, _ = strconv.Atoi(v)
		}
		body := fmt.Sprintf("n=%d method=%s accept=%s", c, r.Method, r.Header.Get("Accept"))
		if v := q.Get("size"); v != "" {
			s, _ := strconv.Atoi(v)
			body = strings.Repeat("x", s) + body
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const pcRoutes = `
		route c {
			path /c/*
			plugin proxy-cache
			proxy be
		}
		route short {
			path /short/*
			plugin proxy-cache {
				cache_ttl 2
			}
			proxy be
		}
		route opts {
			path /o/*
			plugin proxy-cache ` + "`" + `{"cache_bypass": ["$arg_bypass"], "no_cache": ["$http_x_no_store"], "max_entry_size": 1000, "hide_cache_headers": true, "cache_http_status": [200], "cache_method": ["GET", "POST"], "cache_key": ["$request_uri", "-", "$http_x_tenant"]}` + "`" + `
			proxy be
		}
		route ownzone {
			path /ownzone/*
			plugin proxy-cache {
				cache_zone pc-own
			}
			proxy be
		}
		route ctl {
			path /ctl/*
			plugin proxy-cache {
				cache_control true
			}
			proxy be
		}`

// pcTTL reads the remaining ttl of an entry of the default key (route,
// host 127.0.0.1, uri) from the cache dict.
const pcSite = "\thandle /_pcttl {\n\t\tresty {\n\t\t\tcontent_by_lua \"local d = ngx.shared['plugin-proxy-cache']; ngx.print(tostring(d:ttl(ngx.req.get_uri_args().key)))\"\n\t\t}\n\t}\n"

func pcStart(t *testing.T) *plGateway {
	return plStartGateway(t, plOptions{routes: pcRoutes, backend: pcBackend(), site: pcSite, global: "\t\tshared_dict pc-own 1m"})
}

// pcTTL is the ttl the dict has for the entry of route's uri.
func (g *plGateway) pcTTL(t *testing.T, route, uri string) float64 {
	t.Helper()
	r := g.do("GET", "/_pcttl?key="+url.QueryEscape("pc|route:"+route+"|127.0.0.1"+uri), nil, "")
	plExpect(t, "ttl read", r, 200)
	f, err := strconv.ParseFloat(r.body, 64)
	if err != nil {
		t.Fatalf("ttl of %s: %s", uri, r)
	}
	return f
}

// pcStatus checks the cache status header and the backend's request count.
func pcCheck(t *testing.T, g *plGateway, what string, r plReply, status int, cache string, reqs int64) {
	t.Helper()
	plExpect(t, what, r, status)
	if got := r.header.Get("Resty-Cache-Status"); got != cache {
		t.Fatalf("%s: Resty-Cache-Status %q, want %q: %s", what, got, cache, r)
	}
	if got := g.backend.reqs.Load(); got != reqs {
		t.Fatalf("%s: backend saw %d requests, want %d: %s", what, got, reqs, r)
	}
}

// TestPluginProxyCacheHit: MISS then HIT with the same status, headers
// (repeated ones too) and body, Age, the backend not touched; the
// default ttl (300 s), HEAD served from the entry, only cacheable
// methods and statuses stored, 404 stored by default.
func TestPluginProxyCacheHit(t *testing.T) {
	g := pcStart(t)
	r := g.do("GET", "/c/a?x=1", nil, "")
	pcCheck(t, g, "first", r, 200, "MISS", 1)
	first := r.body
	if !strings.HasPrefix(first, "n=1 ") || r.header.Get("Age") != "" {
		t.Fatalf("first: %s", r)
	}
	for i := 0; i < 3; i++ {
		r = g.do("GET", "/c/a?x=1", nil, "")
		pcCheck(t, g, "hit", r, 200, "HIT", 1)
		if r.body != first {
			t.Fatalf("hit body %q, want %q", r.body, first)
		}
		if r.header.Get("X-Backend") != "yes" || r.header.Get("Content-Type") != "text/plain" ||
			strings.Join(r.header.Values("X-Multi"), ",") != "a,b" {
			t.Fatalf("hit headers: %s", r)
		}
		if age, err := strconv.Atoi(r.header.Get("Age")); err != nil || age < 0 || age > 30 {
			t.Fatalf("hit Age: %s", r)
		}
	}
	if ttl := g.pcTTL(t, "c", "/c/a?x=1"); ttl < 250 || ttl > 300 {
		t.Fatalf("default ttl %v, want about 300", ttl)
	}
	// Another query string is another key.
	r = g.do("GET", "/c/a?x=2", nil, "")
	pcCheck(t, g, "other key", r, 200, "MISS", 2)

	// HEAD: served from the GET entry, no body.
	r = g.do("HEAD", "/c/a?x=1", nil, "")
	pcCheck(t, g, "HEAD hit", r, 200, "HIT", 2)
	if r.body != "" {
		t.Fatalf("HEAD hit has a body: %s", r)
	}
	// On the wire: a HEAD hit then a GET on one connection, so that a body
	// sent after HEAD's headers would break the second response.
	conn, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "HEAD /c/a?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /c/a?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(conn)
	for _, m := range []string{"HEAD", "GET"} {
		resp, err := http.ReadResponse(br, &http.Request{Method: m})
		if err != nil {
			t.Fatalf("raw %s: %v", m, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Resty-Cache-Status") != "HIT" ||
			(m == "GET" && string(b) != first) || (m == "HEAD" && len(b) != 0) {
			t.Fatalf("raw %s: %v %d %v %q", m, err, resp.StatusCode, resp.Header, b)
		}
	}
	// A HEAD miss goes to the backend and stores nothing (no body).
	r = g.do("HEAD", "/c/head", nil, "")
	pcCheck(t, g, "HEAD miss", r, 200, "MISS", 3)
	r = g.do("GET", "/c/head", nil, "")
	pcCheck(t, g, "GET after HEAD miss", r, 200, "MISS", 4)
	if !strings.HasPrefix(r.body, "n=4 method=GET") {
		t.Fatalf("GET after HEAD: %s", r)
	}
	r = g.do("GET", "/c/head", nil, "")
	pcCheck(t, g, "GET after GET", r, 200, "HIT", 4)

	// POST is not a cache_method by default: never stored nor served.
	r = g.do("POST", "/c/post", nil, "b")
	pcCheck(t, g, "POST", r, 200, "MISS", 5)
	r = g.do("POST", "/c/post", nil, "b")
	pcCheck(t, g, "POST again", r, 200, "MISS", 6)
	r = g.do("GET", "/c/a?x=1", nil, "") // a POST does not serve or purge GET's entry
	pcCheck(t, g, "GET after POST", r, 200, "HIT", 6)

	// Statuses: 404 is cached by default, 500 and 201 are not.
	r = g.do("GET", "/c/nf?status=404", nil, "")
	pcCheck(t, g, "404", r, 404, "MISS", 7)
	r = g.do("GET", "/c/nf?status=404", nil, "")
	pcCheck(t, g, "404 hit", r, 404, "HIT", 7)
	if !strings.HasPrefix(r.body, "n=7 ") {
		t.Fatalf("404 hit body: %s", r)
	}
	for _, st := range []int{500, 201} {
		u := fmt.Sprintf("/c/st?status=%d", st)
		r = g.do("GET", u, nil, "")
		pcCheck(t, g, u, r, st, "MISS", g.backend.reqs.Load())
		before := g.backend.reqs.Load()
		r = g.do("GET", u, nil, "")
		pcCheck(t, g, u+" again", r, st, "MISS", before+1)
	}
}

// TestPluginProxyCacheTTL: the ttl comes from s-maxage/max-age, then
// Expires, then cache_ttl; an entry past it is EXPIRED, fetched and
// stored again; max-age=0 and a past Expires are not stored.
func TestPluginProxyCacheTTL(t *testing.T) {
	g := pcStart(t)
	// max-age=1: stored with ttl 1, EXPIRED after it, then HIT again.
	r := g.do("GET", "/c/m?cc=max-age%3D1", nil, "")
	pcCheck(t, g, "max-age", r, 200, "MISS", 1)
	if ttl := g.pcTTL(t, "c", "/c/m?cc=max-age%3D1"); ttl <= 0 || ttl > 1 {
		t.Fatalf("max-age=1 ttl %v", ttl)
	}
	// s-maxage wins over max-age.
	g.do("GET", "/c/s?cc=max-age%3D1,s-maxage%3D100", nil, "")
	if ttl := g.pcTTL(t, "c", "/c/s?cc=max-age%3D1,s-maxage%3D100"); ttl < 50 || ttl > 100 {
		t.Fatalf("s-maxage=100 ttl %v", ttl)
	}
	// Expires.
	g.do("GET", "/c/e?expires=120", nil, "")
	if ttl := g.pcTTL(t, "c", "/c/e?expires=120"); ttl < 60 || ttl > 120 {
		t.Fatalf("Expires +120s ttl %v", ttl)
	}
	n := g.backend.reqs.Load()
	r = g.do("GET", "/c/e?expires=120", nil, "")
	pcCheck(t, g, "Expires hit", r, 200, "HIT", n)

	time.Sleep(2500 * time.Millisecond)
	r = g.do("GET", "/c/m?cc=max-age%3D1", nil, "")
	pcCheck(t, g, "expired", r, 200, "EXPIRED", n+1)
	r = g.do("GET", "/c/m?cc=max-age%3D1", nil, "")
	pcCheck(t, g, "stored again", r, 200, "HIT", n+1)

	// cache_ttl 2 (no header): a hit, then EXPIRED after it.
	r = g.do("GET", "/short/d", nil, "")
	pcCheck(t, g, "default ttl", r, 200, "MISS", n+2)
	if ttl := g.pcTTL(t, "short", "/short/d"); ttl <= 0 || ttl > 2 {
		t.Fatalf("cache_ttl 2: ttl %v", ttl)
	}
	r = g.do("GET", "/short/d", nil, "")
	pcCheck(t, g, "default ttl hit", r, 200, "HIT", n+2)
	time.Sleep(3 * time.Second)
	r = g.do("GET", "/short/d", nil, "")
	pcCheck(t, g, "default ttl expired", r, 200, "EXPIRED", n+3)

	// Not stored: max-age=0, an Expires in the past.
	n = g.backend.reqs.Load()
	for i, u := range []string{"/c/z?cc=max-age%3D0", "/c/p?expires=-10"} {
		g.do("GET", u, nil, "")
		r = g.do("GET", u, nil, "")
		pcCheck(t, g, u, r, 200, "MISS", n+int64(2*(i+1)))
	}
}

// TestPluginProxyCacheNotStored: the response's Cache-Control private,
// no-store, no-cache, a Set-Cookie and Vary: * keep it out of the cache;
// cache_bypass and no_cache variables; max_entry_size; other statuses;
// hide_cache_headers; a POST stored when it is a cache_method; a key from
// a request header.
func TestPluginProxyCacheNotStored(t *testing.T) {
	g := pcStart(t)
	for _, u := range []string{"/c/1?cc=private", "/c/2?cc=no-store", "/c/3?cc=no-cache,max-age%3D60",
		"/c/4?cookie=1", "/c/5?vary=*", "/c/6?vary=Accept,*"} {
		n := g.backend.reqs.Load()
		r := g.do("GET", u, nil, "")
		pcCheck(t, g, u, r, 200, "MISS", n+1)
		r = g.do("GET", u, nil, "")
		pcCheck(t, g, u+" again", r, 200, "MISS", n+2)
	}
	// cache_bypass: a non-empty, non-"0" value skips the cache (neither
	// served nor stored); "0" does not.
	hdr := map[string]string{"X-Tenant": "t1"}
	r := g.do("GET", "/o/b", hdr, "")
	n := g.backend.reqs.Load()
	pcCheck(t, g, "opts miss", r, 200, "MISS", n)
	r = g.do("GET", "/o/b", hdr, "")
	pcCheck(t, g, "opts hit", r, 200, "HIT", n)
	if r.header.Get("Cache-Control") != "" || r.header.Get("Expires") != "" {
		t.Fatalf("hide_cache_headers on a hit: %s", r)
	}
	// cache_key has $http_x_tenant: another tenant is another entry.
	r = g.do("GET", "/o/b", map[string]string{"X-Tenant": "t2"}, "")
	pcCheck(t, g, "other tenant", r, 200, "MISS", n+1)

	r = g.do("GET", "/o/c?bypass=1&cc=max-age%3D60", hdr, "")
	pcCheck(t, g, "bypass", r, 200, "BYPASS", n+2)
	if r.header.Get("Cache-Control") != "" {
		t.Fatalf("hide_cache_headers on a bypass: %s", r)
	}
	r = g.do("GET", "/o/c?bypass=1&cc=max-age%3D60", hdr, "")
	pcCheck(t, g, "bypass again", r, 200, "BYPASS", n+3)
	r = g.do("GET", "/o/c?bypass=0", hdr, "")
	pcCheck(t, g, "bypass=0", r, 200, "MISS", n+4)
	r = g.do("GET", "/o/c?bypass=0", hdr, "")
	pcCheck(t, g, "bypass=0 hit", r, 200, "HIT", n+4)

	// no_cache: looked up, not stored.
	ns := map[string]string{"X-Tenant": "t1", "X-No-Store": "yes"}
	r = g.do("GET", "/o/n", ns, "")
	pcCheck(t, g, "no_cache", r, 200, "MISS", n+5)
	r = g.do("GET", "/o/n", hdr, "")
	pcCheck(t, g, "after no_cache", r, 200, "MISS", n+6)
	r = g.do("GET", "/o/n", ns, "") // a stored entry is still served
	pcCheck(t, g, "no_cache served", r, 200, "HIT", n+6)

	// cache_http_status [200]: a 404 is not stored here.
	g.do("GET", "/o/nf?status=404", hdr, "")
	r = g.do("GET", "/o/nf?status=404", hdr, "")
	pcCheck(t, g, "404 not a cache status", r, 404, "MISS", n+8)

	// POST is a cache_method here.
	r = g.do("POST", "/o/post", hdr, "x")
	pcCheck(t, g, "POST miss", r, 200, "MISS", n+9)
	r = g.do("POST", "/o/post", hdr, "x")
	pcCheck(t, g, "POST hit", r, 200, "HIT", n+9)

	// max_entry_size 1000: a larger body passes through intact, unstored.
	r = g.do("GET", "/o/big?size=5000", hdr, "")
	pcCheck(t, g, "big", r, 200, "MISS", n+10)
	if len(r.body) < 5000 || strings.Trim(r.body[:5000], "x") != "" || !strings.HasPrefix(r.body[5000:], "n=") {
		t.Fatalf("big body not intact: %d bytes", len(r.body))
	}
	r = g.do("GET", "/o/big?size=5000", hdr, "")
	pcCheck(t, g, "big again", r, 200, "MISS", n+11)
	// A body just under the cap is stored.
	r = g.do("GET", "/o/small?size=900", hdr, "")
	pcCheck(t, g, "small", r, 200, "MISS", n+12)
	r = g.do("GET", "/o/small?size=900", hdr, "")
	pcCheck(t, g, "small hit", r, 200, "HIT", n+12)
}

// TestPluginProxyCacheVary: a response with Vary is stored per value of
// the named request fields; each variant is served to its own requests.
func TestPluginProxyCacheVary(t *testing.T) {
	g := pcStart(t)
	u := "/c/v?vary=Accept"
	js := map[string]string{"Accept": "application/json"}
	xml := map[string]string{"Accept": "text/xml"}
	r := g.do("GET", u, js, "")
	pcCheck(t, g, "json miss", r, 200, "MISS", 1)
	r = g.do("GET", u, xml, "")
	pcCheck(t, g, "xml miss", r, 200, "MISS", 2)
	for i := 0; i < 2; i++ {
		r = g.do("GET", u, js, "")
		pcCheck(t, g, "json hit", r, 200, "HIT", 2)
		if !strings.HasPrefix(r.body, "n=1 ") || !strings.Contains(r.body, "accept=application/json") {
			t.Fatalf("json variant: %s", r)
		}
		r = g.do("GET", u, xml, "")
		pcCheck(t, g, "xml hit", r, 200, "HIT", 2)
		if !strings.HasPrefix(r.body, "n=2 ") || !strings.Contains(r.body, "accept=text/xml") {
			t.Fatalf("xml variant: %s", r)
		}
	}
	// No Accept is a third variant.
	r = g.do("GET", u, nil, "")
	pcCheck(t, g, "no Accept", r, 200, "MISS", 3)
	r = g.do("GET", u, nil, "")
	pcCheck(t, g, "no Accept hit", r, 200, "HIT", 3)

	// Two fields, listed in any order and case.
	u2 := "/c/v2?vary=accept-encoding,%20Accept"
	g.do("GET", u2, map[string]string{"Accept": "a", "Accept-Encoding": "gzip"}, "")
	g.do("GET", u2, map[string]string{"Accept": "a", "Accept-Encoding": "br"}, "")
	r = g.do("GET", u2, map[string]string{"Accept": "a", "Accept-Encoding": "gzip"}, "")
	pcCheck(t, g, "two fields hit", r, 200, "HIT", 5)
	if !strings.HasPrefix(r.body, "n=4 ") {
		t.Fatalf("gzip variant: %s", r)
	}

	// PURGE removes every variant.
	r = g.do("PURGE", u, nil, "")
	plExpect(t, "purge vary", r, 200)
	r = g.do("GET", u, js, "")
	pcCheck(t, g, "json after purge", r, 200, "MISS", 6)
	r = g.do("GET", u, xml, "")
	pcCheck(t, g, "xml after purge", r, 200, "MISS", 7)
	r = g.do("GET", u, xml, "")
	pcCheck(t, g, "xml stored again", r, 200, "HIT", 7)
}

// TestPluginProxyCachePurge: PURGE deletes the entry (200), 404 when
// nothing is cached; the next request goes to the backend.
func TestPluginProxyCachePurge(t *testing.T) {
	g := pcStart(t)
	r := g.do("PURGE", "/c/p", nil, "")
	plExpect(t, "purge nothing", r, 404)
	if g.backend.reqs.Load() != 0 {
		t.Fatalf("PURGE reached the backend")
	}
	g.do("GET", "/c/p", nil, "")
	r = g.do("GET", "/c/p", nil, "")
	pcCheck(t, g, "hit", r, 200, "HIT", 1)
	r = g.do("PURGE", "/c/p", nil, "")
	plExpect(t, "purge", r, 200)
	if g.backend.reqs.Load() != 1 {
		t.Fatalf("PURGE reached the backend")
	}
	r = g.do("PURGE", "/c/p", nil, "")
	plExpect(t, "purge again", r, 404)
	r = g.do("GET", "/c/p", nil, "")
	pcCheck(t, g, "after purge", r, 200, "MISS", 2)
	if !strings.HasPrefix(r.body, "n=2 ") {
		t.Fatalf("after purge: %s", r)
	}
	// An expired entry can be purged too.
	g.do("GET", "/short/x", nil, "")
	time.Sleep(2500 * time.Millisecond)
	r = g.do("PURGE", "/short/x", nil, "")
	plExpect(t, "purge expired", r, 200)
}

// TestPluginProxyCacheControl: with cache_control, the request's
// no-cache/no-store bypass the cache, max-age/min-fresh refuse an entry
// too old (STALE, fetched and stored again), only-if-cached gives 504 on
// a miss. Without it, the request's Cache-Control is ignored.
func TestPluginProxyCacheControl(t *testing.T) {
	g := pcStart(t)
	g.do("GET", "/ctl/a?cc=max-age%3D100", nil, "")
	r := g.do("GET", "/ctl/a?cc=max-age%3D100", nil, "")
	pcCheck(t, g, "hit", r, 200, "HIT", 1)
	for i, v := range []string{"no-cache", "no-store"} {
		r = g.do("GET", "/ctl/a?cc=max-age%3D100", map[string]string{"Cache-Control": v}, "")
		pcCheck(t, g, v, r, 200, "BYPASS", int64(2+i))
	}
	time.Sleep(1100 * time.Millisecond)
	r = g.do("GET", "/ctl/a?cc=max-age%3D100", map[string]string{"Cache-Control": "max-age=0"}, "")
	pcCheck(t, g, "max-age=0", r, 200, "STALE", 4)
	r = g.do("GET", "/ctl/a?cc=max-age%3D100", map[string]string{"Cache-Control": "min-fresh=1000"}, "")
	pcCheck(t, g, "min-fresh", r, 200, "STALE", 5)
	r = g.do("GET", "/ctl/a?cc=max-age%3D100", map[string]string{"Cache-Control": "max-age=60"}, "")
	pcCheck(t, g, "max-age=60", r, 200, "HIT", 5)
	if !strings.HasPrefix(r.body, "n=5 ") {
		t.Fatalf("the STALE fetch was not stored: %s", r)
	}
	r = g.do("GET", "/ctl/none", map[string]string{"Cache-Control": "only-if-cached"}, "")
	pcCheck(t, g, "only-if-cached", r, 504, "MISS", 5)

	// The default route ignores the request's Cache-Control.
	g.do("GET", "/c/i", nil, "")
	r = g.do("GET", "/c/i", map[string]string{"Cache-Control": "no-cache"}, "")
	pcCheck(t, g, "ignored no-cache", r, 200, "HIT", 6)
}

// TestPluginProxyCacheConfig: a cache_zone declared with shared_dict
// caches; bad configs are refused naming the route, the plugin and the
// field, a cache_zone that is no shared dict too (check_schema).
func TestPluginProxyCacheConfig(t *testing.T) {
	g := pcStart(t)
	pcCheck(t, g, "own zone", g.do("GET", "/ownzone/a", nil, ""), 200, "MISS", 1)
	pcCheck(t, g, "own zone again", g.do("GET", "/ownzone/a", nil, ""), 200, "HIT", 1)
	plRefused(t, `
		route nozone {
			path /x
			plugin proxy-cache {
				cache_zone nope
			}
			proxy be
		}`, "route nozone", "proxy-cache", "cache_zone: nope is not a shared dict")
	for _, c := range []struct{ conf, field string }{
		{`{"cache_http_status": [100]}`, "cache_http_status"},
		{`{"cache_http_status": []}`, "cache_http_status"},
		{`{"cache_http_status": ["200"]}`, "cache_http_status"},
		{`{"cache_method": ["DELETE"]}`, "cache_method"},
		{`{"cache_method": ["GET", "GET"]}`, "cache_method"},
		{`{"cache_ttl": 0}`, "cache_ttl"},
		{`{"cache_key": ["$request_method"]}`, "cache_key"},
		{`{"cache_key": ["$bad-name"]}`, "cache_key"},
		{`{"cache_bypass": []}`, "cache_bypass"},
		{`{"max_entry_size": 0}`, "max_entry_size"},
		{`{"cache_strategy": "disk"}`, "cache_strategy"},
		{`{"cache_zone": ""}`, "cache_zone"},
		{`{"cache_tll": 5}`, "cache_tll"},
	} {
		plRefused(t, `
		route bad {
			path /x
			plugin proxy-cache `+"`"+c.conf+"`"+`
			proxy be
		}`, "bad", "proxy-cache", c.field)
	}
}

// TestPluginProxyCacheRange: a partial answer (206, listed in
// cache_http_status) is never stored under the key a full request reads;
// a Range request on a cached entry gets correct bytes.
func TestPluginProxyCacheRange(t *testing.T) {
	const content = "0123456789abcdefghij"
	var calls atomic.Int64
	g := plStartGateway(t, plOptions{backend: func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.ServeContent(w, r, "f.txt", time.Unix(1700000000, 0), strings.NewReader(content))
	}, routes: `
		route rng {
			path /rng/*
			plugin proxy-cache ` + bq(`{"cache_http_status": [200, 206]}`) + `
			proxy be
		}`})
	r := g.do("GET", "/rng/a", map[string]string{"Range": "bytes=0-3"}, "")
	if r.err != nil || (r.status == 206 && r.body != "0123") || (r.status == 200 && r.body != content) {
		t.Fatalf("range request: %s", r)
	}
	for i := 0; i < 2; i++ {
		r = g.do("GET", "/rng/a", nil, "")
		plExpect(t, fmt.Sprintf("full request #%d after a range request", i), r, 200)
		if r.body != content {
			t.Fatalf("full request got %q (a stored partial answer?): %s", r.body, r)
		}
	}
	// a range request now: the cached full answer, or a correct part
	r = g.do("GET", "/rng/a", map[string]string{"Range": "bytes=4-5"}, "")
	if r.err != nil || !((r.status == 206 && r.body == "45") || (r.status == 200 && r.body == content)) {
		t.Fatalf("range request on a cached entry: %s", r)
	}
}

// TestPluginProxyCacheHostile: an upstream that breaks off a chunked body
// leaves nothing stored; a response fetched with Host: evil (or an
// X-Forwarded-Host) is never served to another host.
func TestPluginProxyCacheHostile(t *testing.T) {
	var calls atomic.Int64
	g := plStartGateway(t, plOptions{backend: func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path == "/hc/cut" && n == 1 {
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "from "+r.Host+" xfh "+r.Header.Get("X-Forwarded-Host"))
	}, routes: `
		route hc {
			path /hc/*
			plugin proxy-cache
			proxy be
		}`})
	r := g.do("GET", "/hc/cut", nil, "")
	if r.err == nil && r.body == "partial" {
		t.Logf("cut body reached the client as %s", r)
	}
	r = g.do("GET", "/hc/cut", nil, "")
	plExpect(t, "after a cut body", r, 200)
	if r.header.Get("Resty-Cache-Status") == "HIT" || strings.HasPrefix(r.body, "partial") {
		t.Fatalf("a broken-off body was stored: %s", r)
	}
	plExpect(t, "evil", g.do("GET", "/hc/p", map[string]string{"Host": "evil.test", "X-Forwarded-Host": "good.test"}, ""), 200)
	r = g.do("GET", "/hc/p", map[string]string{"Host": "good.test"}, "")
	plExpect(t, "good", r, 200)
	if strings.Contains(r.body, "evil") || r.header.Get("Resty-Cache-Status") == "HIT" {
		t.Fatalf("good.test got evil.test's entry: %s", r)
	}
}
