package phases

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// proxyHandler builds a handler with proxy_pass to url on pool.
func proxyHandler(tb testing.TB, pool *luaplugin.Pool, h Handler, p ProxyPass) *Handler {
	tb.Helper()
	h.ProxyPass = &p
	hh := newHandler(tb, pool, h)
	px, err := newProxier(hh.ProxyPass, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { px.tr.Close() })
	hh.proxy = px
	hh.any = true
	return hh
}

// echoUpstream answers with what it saw: method, URI, Host and the
// fields named by the request's X-Show field.
func echoUpstream(tb testing.TB) *httptest.Server {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(r.Method + " " + r.RequestURI + " host=" + r.Host)
		for _, n := range strings.Split(r.Header.Get("X-Show"), ",") {
			if n = strings.TrimSpace(n); n != "" {
				b.WriteString(" " + n + "=" + strings.Join(r.Header.Values(n), "|"))
			}
		}
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			b.WriteString(" body=" + string(body))
		}
		w.Header().Set("Server", "echo")
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, b.String())
	}))
	tb.Cleanup(ts.Close)
	return ts
}

func TestProxyPassFields(t *testing.T) {
	up := echoUpstream(t)
	pool := testPool(t)
	h := proxyHandler(t, pool, Handler{}, ProxyPass{
		URL:         up.URL,
		SetHeaders:  []HeaderField{{Name: "x-added", Value: "{http.request.method}"}, {Name: "X-Gone", Value: ""}},
		HideHeaders: []string{"x-internal"},
	})
	for _, tc := range []struct {
		name    string
		trusted bool
		hdr     map[string]string
		want    string
	}{
		{"untrusted client", false, map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"},
			"GET /a/b?c=1 host=gw.example X-Forwarded-For=192.0.2.1 X-Forwarded-Proto=http X-Forwarded-Host=gw.example X-Added=GET X-Gone= X-Secret= Connection="},
		{"trusted proxy", true, map[string]string{"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"},
			"GET /a/b?c=1 host=gw.example X-Forwarded-For=1.2.3.4, 192.0.2.1 X-Forwarded-Proto=https X-Forwarded-Host=gw.example X-Added=GET X-Gone= X-Secret= Connection="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := caddyRequest("GET", "http://gw.example/a/b?c=1", nil)
			caddyhttp.SetVar(r.Context(), caddyhttp.TrustedProxyVarKey, tc.trusted)
			r.Header.Set("X-Show", "X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Added, X-Gone, X-Secret, Connection")
			r.Header.Set("X-Gone", "client")
			r.Header.Set("Connection", "X-Secret")
			r.Header.Set("X-Secret", "hop")
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r, &backend{body: "next"}); err != nil {
				t.Fatal(err)
			}
			if w.Code != 200 || w.Body.String() != tc.want {
				t.Errorf("got %d %q\nwant %q", w.Code, w.Body.String(), tc.want)
			}
			if got := w.Header(); got.Get("Server") != "echo" || got.Get("Via") != "1.1 Caddy" ||
				got.Get("X-Internal") != "" || got.Get("X-Hop") != "" || got.Get("Connection") != "" {
				t.Errorf("response fields: %v", got)
			}
		})
	}
}

func TestProxyPassPhases(t *testing.T) {
	up := echoUpstream(t)
	pool := testPool(t)
	h := proxyHandler(t, pool, Handler{
		Access:       scripts(`ngx.req.set_header("X-Show", "X-From-Lua") ngx.req.set_header("X-From-Lua", "yes")`),
		HeaderFilter: scripts(`ngx.header["X-Status"] = ngx.status ngx.header.content_length = nil`),
		BodyFilter:   scripts(`ngx.arg[1] = string.upper(ngx.arg[1])`),
		Log:          scripts(`ngx.shared.d:set("vars", ngx.var.upstream_addr .. " " .. ngx.var.upstream_status .. " " .. ngx.var.upstream_response_time)`),
	}, ProxyPass{URL: up.URL + "/v2{http.request.uri.path}"})
	r := caddyRequest("POST", "http://gw.example/x?q=1", strings.NewReader("hello"))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, &backend{body: "next"}); err != nil {
		t.Fatal(err)
	}
	want := "POST /V2/X?Q=1 HOST=GW.EXAMPLE X-FROM-LUA=YES BODY=HELLO"
	if w.Code != 200 || w.Body.String() != want || w.Header().Get("X-Status") != "200" {
		t.Errorf("got %d %q %v, want %q", w.Code, w.Body.String(), w.Header(), want)
	}
	addr := strings.TrimPrefix(up.URL, "http://")
	deadline := time.Now().Add(2 * time.Second)
	for {
		v, _, _ := pool.Dict("d").Get("vars")
		s := v.Str()
		if strings.HasPrefix(s, addr+" 200 0.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log phase vars %q, want %q…", s, addr+" 200 0.0")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProxyPassURLTemplate: a URL path with placeholders is split into
// path and query once expanded; {uri} brings the request's query once.
func TestProxyPassURLTemplate(t *testing.T) {
	up := echoUpstream(t)
	pool := testPool(t)
	for _, tc := range []struct{ url, target, want string }{
		{"/v2{http.request.uri}", "/a/b?x=1", "GET /v2/a/b?x=1 host=gw.example"},
		{"/v2{http.request.uri}", "/a/b", "GET /v2/a/b host=gw.example"},
		{"/v2{http.request.uri.path}", "/a%20b?x=1", "GET /v2/a%20b?x=1 host=gw.example"},
		{"/v2{http.request.uri.path}?y=2", "/a?x=1", "GET /v2/a?y=2 host=gw.example"},
	} {
		h := proxyHandler(t, pool, Handler{}, ProxyPass{URL: up.URL + tc.url})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, caddyRequest("GET", "http://gw.example"+tc.target, nil), &backend{body: "next"}); err != nil {
			t.Fatal(err)
		}
		if w.Code != 200 || w.Body.String() != tc.want {
			t.Errorf("%s for %s: got %d %q, want %q", tc.url, tc.target, w.Code, w.Body.String(), tc.want)
		}
	}
}

func TestProxyPassErrors(t *testing.T) {
	pool := testPool(t)
	l := httptest.NewServer(http.NotFoundHandler())
	dead := strings.TrimPrefix(l.URL, "http://")
	l.Close()
	h := proxyHandler(t, pool, Handler{}, ProxyPass{URL: "http://" + dead})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, caddyRequest("GET", "/", nil), &backend{body: "next"}); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusBadGateway {
		t.Errorf("refused: %d, want 502", w.Code)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
	}))
	defer slow.Close()
	h = proxyHandler(t, pool, Handler{}, ProxyPass{URL: slow.URL, ReadTimeout: 100 * 1e6})
	w = httptest.NewRecorder()
	if err := h.ServeHTTP(w, caddyRequest("GET", "/", nil), &backend{body: "next"}); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusGatewayTimeout {
		t.Errorf("read timeout: %d, want 504", w.Code)
	}
}

func TestProxyPassHelpers(t *testing.T) {
	r := httptest.NewRequest("GET", "/a%2Fb/c?x=1", nil)
	for _, tc := range []struct {
		path, query       string
		hasPath, hasQuery bool
		want              string
	}{
		{want: "/a%2Fb/c?x=1"},
		{path: "/v2", hasPath: true, want: "/v2?x=1"},
		{path: "/v2", query: "y=2", hasPath: true, hasQuery: true, want: "/v2?y=2"},
		{path: "/v2/a b/é\"#", hasPath: true, want: "/v2/a%20b/%C3%A9%22%23?x=1"},
		{path: "/v2/a%20b;p=1:@!", hasPath: true, want: "/v2/a%20b;p=1:@!?x=1"},
	} {
		if got := outURI(r, tc.path, tc.query, tc.hasPath, tc.hasQuery); got != tc.want {
			t.Errorf("outURI(%+v) = %q, want %q", tc, got, tc.want)
		}
	}
	for _, tc := range []struct {
		conn, upgrade, want string
	}{
		{"Upgrade", "websocket", "websocket"},
		{"keep-alive, upgrade", "websocket", "websocket"},
		{"keep-alive", "websocket", ""},
		{"", "", ""},
	} {
		h := http.Header{}
		if tc.conn != "" {
			h.Set("Connection", tc.conn)
		}
		if tc.upgrade != "" {
			h.Set("Upgrade", tc.upgrade)
		}
		if got := upgradeType(h); got != tc.want {
			t.Errorf("upgradeType(%q, %q) = %q", tc.conn, tc.upgrade, got)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{-1, "-"}, {0, "0.000"}, {1500 * time.Microsecond, "0.001"}, {12345 * time.Millisecond, "12.345"}, {2 * time.Second, "2.000"}} {
		var b strings.Builder
		writeSeconds(&b, tc.d)
		if b.String() != tc.want {
			t.Errorf("writeSeconds(%v) = %q, want %q", tc.d, b.String(), tc.want)
		}
	}
}

// BenchmarkProxyPass is a proxied GET through the handler and the
// transport to a local upstream (net/http's server), allocations
// included; the client side is a recorder.
func BenchmarkProxyPass(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, benchBody)
	}))
	defer up.Close()
	pool := testPool(b)
	for _, c := range []struct {
		name string
		h    Handler
	}{{"plain", Handler{}}, {"access", Handler{Access: scripts(benchAccess)}}} {
		b.Run(c.name, func(b *testing.B) {
			h := proxyHandler(b, pool, c.h, ProxyPass{URL: up.URL})
			r := caddyRequest("GET", "/bench", nil)
			r.Header.Set("X-Api-Key", "secret")
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, r, nil); err != nil || w.Code != 200 {
					b.Fatal(w.Code, err)
				}
			}
		})
	}
}
