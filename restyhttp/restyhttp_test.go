package restyhttp

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// countingServer is an httptest server that counts the connections it
// accepted, and those still open.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
	open  atomic.Int64
}

func newCountingServer(t *testing.T, h http.Handler) *countingServer {
	t.Helper()
	s := &countingServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// waitConns waits (up to 2 s) until the server accepted conns connections
// in all and open of them are still open.
func (s *countingServer) waitConns(t *testing.T, conns, open int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for s.conns.Load() != conns || s.open.Load() != open {
		if time.Now().After(deadline) {
			t.Fatalf("server: %d connections accepted, %d open; want %d, %d",
				s.conns.Load(), s.open.Load(), conns, open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stayConns checks that the server's counts stay conns and open for a
// while (a connection that must not be closed is not closed late).
func (s *countingServer) stayConns(t *testing.T, conns, open int64) {
	t.Helper()
	s.waitConns(t, conns, open)
	time.Sleep(100 * time.Millisecond)
	if s.conns.Load() != conns || s.open.Load() != open {
		t.Fatalf("server: %d connections accepted, %d open; want %d, %d",
			s.conns.Load(), s.open.Load(), conns, open)
	}
}

// hostPort returns the host and port of a test server.
func hostPort(t *testing.T, s *httptest.Server) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("X-Echo-Header", r.Header.Get("X-Test"))
		w.WriteHeader(201)
		fmt.Fprintf(w, "%s %s?%s host=%s ua=%s cl=%d body=%s", r.Method, r.URL.Path, r.URL.RawQuery,
			r.Host, r.UserAgent(), r.ContentLength, body)
	})
}

func TestRestyHTTPRequestURI(t *testing.T) {
	s := newCountingServer(t, echoHandler())
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local http = require "resty.http"
		local httpc = http.new()
		local res, err = httpc:request_uri("`+s.URL+`/get/this?ignored=1", {
			query = { b = "x y", a = 1 },
			headers = { ["X-Test"] = "hello", x_other = "u" },
		})
		assert(res, err)
		ngx.say(res.status, " ", res.reason)
		ngx.say(res.body)
		ngx.say(res.headers["content-type"], " ", res.headers.Content_Type, " ", res.headers["X-Echo-Header"])
		ngx.say(type(res.headers["x-multi"]), " ", table.concat(res.headers["x-multi"], ","))
		ngx.say(tostring(res.has_body))

		res, err = http.new():request_uri("`+s.URL+`/post", { method = "post", body = "a=1&b=2",
			headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } })
		assert(res, err)
		ngx.say(res.body)
		res, err = http.new():request_uri("`+s.URL+`/t", { method = "PUT", body = { "ab", "cd", 5 } })
		ngx.say(res.body)
		local parts = { "x", "y", "z" }
		local i = 0
		res, err = http.new():request_uri("`+s.URL+`/f", { method = "POST", body = function()
			i = i + 1
			return parts[i]
		end })
		ngx.say(res.body)
		res, err = http.new():request_uri("`+s.URL+`/h", { method = "HEAD" })
		ngx.say(res.status, " [", res.body, "] ", tostring(res.has_body))
	`)
	host, port := hostPort(t, s.Server)
	hostHdr := host + ":" + strconv.Itoa(port)
	want := "201 Created\n" +
		"GET /get/this?a=1&b=x%20y host=" + hostHdr + " ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10025 cl=0 body=\n" +
		"text/plain text/plain hello\n" +
		"table a,b\n" +
		"true\n" +
		"POST /post? host=" + hostHdr + " ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10025 cl=7 body=a=1&b=2\n" +
		"PUT /t? host=" + hostHdr + " ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10025 cl=5 body=abcd5\n" +
		"POST /f? host=" + hostHdr + " ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10025 cl=3 body=xyz\n" +
		"201 [] false\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestRestyHTTPQueryStringAndHostHeader(t *testing.T) {
	var gotHost, gotURI string
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotHost, gotURI = r.Host, r.RequestURI
	}))
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, `
		local httpc = require("resty.http").new()
		local res, err = httpc:request_uri("`+s.URL+`/p", { query = "?x=1&y=2", headers = { Host = "example.org" } })
		assert(res, err)
	`)
	if gotHost != "example.org" || gotURI != "/p?x=1&y=2" {
		t.Fatalf("host %q uri %q", gotHost, gotURI)
	}
}

func TestRestyHTTPStreamingBodyReader(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for i := 1; i <= 3; i++ {
			fmt.Fprintf(w, "chunk%d;", i)
			f.Flush()
			time.Sleep(30 * time.Millisecond)
		}
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	code := fmt.Sprintf(`
		local httpc = require("resty.http").new()
		local ok, err = httpc:connect({ scheme = "http", host = %q, port = %d })
		assert(ok, err)
		ngx.say("reused ", httpc:get_reused_times())
		local res, err = httpc:request({ path = "/stream" })
		assert(res, err)
		ngx.say(res.status, " ", res.headers["Transfer-Encoding"])
		local chunks = {}
		repeat
			local chunk, err = res.body_reader()
			assert(not err, err)
			if chunk then chunks[#chunks + 1] = chunk end
		until not chunk
		ngx.say(#chunks, " ", table.concat(chunks))
		ngx.say(httpc:set_keepalive())

		-- the same connection again, with a size given to the reader
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		ngx.say("reused ", httpc:get_reused_times())
		res = assert(httpc:request({ path = "/again" }))
		ngx.say("reused ", httpc:get_reused_times())
		local total, max = 0, 0
		repeat
			local chunk = res.body_reader(4)
			if chunk then
				total = total + #chunk
				if #chunk > max then max = #chunk end
			end
		until not chunk
		ngx.say(total, " ", max)
		ngx.say(httpc:set_keepalive())
		ngx.say(httpc:get_reused_times())
	`, host, port, host, port)
	out := luatest.RunOK(t, p, code)
	want := "reused 0\n200 chunked\n3 chunk1;chunk2;chunk3;\n1\n" +
		"reused 1\nreused 1\n21 4\n1\nnilclosed\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("server saw %d connections, want 1", n)
	}
}

func TestRestyHTTPKeepaliveReuseCountedByServer(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local http = require "resty.http"
		for i = 1, 10 do
			local res, err = http.new():request_uri("`+s.URL+`/")
			assert(res and res.body == "ok", err)
		end
		ngx.print("done")
	`)
	if out != "done" {
		t.Fatal(out)
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("keepalive: server saw %d connections, want 1", n)
	}

	s2 := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	luatest.RunOK(t, p, `
		local http = require "resty.http"
		for i = 1, 10 do
			local res, err = http.new():request_uri("`+s2.URL+`/", { keepalive = false })
			assert(res and res.body == "ok", err)
		end
	`)
	if n := s2.conns.Load(); n != 10 {
		t.Fatalf("keepalive=false: server saw %d connections, want 10", n)
	}
}

func TestRestyHTTPCloseDoesNotPool(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body")
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		for i = 1, 3 do
			local httpc = http.new()
			assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
			local res = assert(httpc:request({ path = "/" }))
			ngx.say(res:read_body())
			ngx.say(httpc:close())
		end
		ngx.say(http.new():close())
	`, host, port))
	if out != "body\n1\nbody\n1\nbody\n1\nnilclosed\n" {
		t.Fatalf("got %q", out)
	}
	if n := s.conns.Load(); n != 3 {
		t.Fatalf("server saw %d connections, want 3", n)
	}
}

func TestRestyHTTPSetKeepaliveResults(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local httpc = require("resty.http").new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		local res = assert(httpc:request({ path = "/close" }))
		assert(res:read_body())
		ngx.say(httpc:set_keepalive())

		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		res = assert(httpc:request({ path = "/unread" }))
		ngx.say(res.body_reader(10))
		ngx.say(httpc:set_keepalive())
	`, host, port, host, port))
	want := "2connection must be closed\nxxxxxxxxxx\nnilunread data in buffer\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
}

func TestRestyHTTPTimeouts(t *testing.T) {
	release := make(chan struct{})
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "12345")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	defer close(release)
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local httpc = http.new()
		httpc:set_timeout(200)
		local res, err = httpc:request_uri("%s/slow")
		ngx.say(tostring(res), " ", err)

		httpc = http.new()
		httpc:set_timeouts(1000, 1000, 200)
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		res, err = httpc:request({ path = "/slow-body" })
		assert(res, err)
		local body, err, partial = res:read_body()
		ngx.say(tostring(body), " ", err, " ", partial)
	`, s.URL, host, port))
	if out != "nil timeout\nnil timeout 12345\n" {
		t.Fatalf("got %q", out)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("two 200 ms timeouts took %s", d)
	}
}

func TestRestyHTTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	p := luatest.NewPool(t, luaplugin.Config{})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local res, err = http.new():request_uri("http://127.0.0.1:%d/")
		ngx.say(tostring(res), " ", err)
		local httpc = http.new()
		local ok, err = httpc:connect({ scheme = "http", host = "127.0.0.1", port = %d })
		ngx.say(tostring(ok), " ", err)
		ok, err = httpc:connect("127.0.0.1", %d)
		ngx.say(tostring(ok), " ", err)
		ngx.say(httpc:request({ path = "/" }))
	`, addr.Port, addr.Port, addr.Port))
	want := "nil connection refused\nnil connection refused\nnil connection refused\nnilclosed\n"
	if out != want {
		t.Fatalf("got %q", out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestRestyHTTPConnectTimeout(t *testing.T) {
	host, port := luatest.BlackholeAddr(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local httpc = http.new()
		httpc:set_timeouts(150, 1000, 1000)
		local ok, err = httpc:connect({ scheme = "http", host = %q, port = %d })
		ngx.say(tostring(ok), " ", err)
		httpc = http.new()
		httpc:set_timeout(150)
		local res, err = httpc:request_uri("http://%s:%d/")
		ngx.say(tostring(res), " ", err)
	`, host, port, host, port))
	d := time.Since(start)
	if out != "nil timeout\nnil timeout\n" {
		t.Fatalf("got %q", out)
	}
	if d < 300*time.Millisecond || d > 2*time.Second {
		t.Fatalf("two 150 ms connect timeouts took %s", d)
	}
}

func TestRestyHTTPBodyTooLarge(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		if r.URL.Path == "/declared" {
			w.Header().Set("Content-Length", strconv.Itoa(httpMaxBodySize+1))
		}
		for i := 0; i <= httpMaxBodySize>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 30 * time.Second}) // 64 MiB read: see below
	out := luatest.RunOK(t, p, `
		local http = require "resty.http"
		local res, err = http.new():request_uri("`+s.URL+`/declared")
		ngx.say(tostring(res), " ", err)
		res, err = http.new():request_uri("`+s.URL+`/chunked")
		ngx.say(tostring(res), " ", err)
	`)
	if out != "nil response body too large\nnil response body too large\n" {
		t.Fatalf("got %q", out)
	}
}

func TestRestyHTTPBodyReaderStreamsPastTheCap(t *testing.T) {
	const size = httpMaxBodySize + 5<<20
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := make([]byte, 1<<20)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk[:min(len(chunk), size-n)]); err != nil {
				return
			}
		}
	}))
	host, port := hostPort(t, s.Server)
	// Reading 69 MiB through Lua is CPU work the run budget counts: under
	// -race on a loaded 2-core machine it can pass the 1 s default.
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 30 * time.Second})
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local httpc = require("resty.http").new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		local res = assert(httpc:request({ path = "/" }))
		local total, calls = 0, 0
		repeat
			local chunk, err = res.body_reader()
			assert(not err, err)
			if chunk then total, calls = total + #chunk, calls + 1 end
		until not chunk
		ngx.say(total, " ", calls > 1)
		ngx.say(httpc:set_keepalive())
		ngx.say(httpc:request_uri("%s/"))
	`, host, port, s.URL))
	if want := strconv.Itoa(size) + " true\n1\nnilresponse body too large\n"; out != want {
		t.Fatalf("got %q want %q", out, want)
	}
}

func TestRestyHTTPPhases(t *testing.T) {
	s := newCountingServer(t, echoHandler())
	p := luatest.NewPool(t, luaplugin.Config{})
	for _, phase := range []luaplugin.Phase{luaplugin.PhaseLog, luaplugin.PhaseHeaderFilter, luaplugin.PhaseBodyFilter} {
		res, _ := luatest.Run(t, p, phase, `require("resty.http").new()`)
		want := "API disabled in the context of " + phase.Context()
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Fatalf("%s: got %v", phase, res.Err)
		}
	}
	// an object made in content cannot be used in log
	res, _ := luatest.Run(t, p, luaplugin.PhaseContent, `HTTPC = require("resty.http").new()`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	res, _ = luatest.Run(t, p, luaplugin.PhaseLog, `HTTPC:request_uri("`+s.URL+`/")`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "API disabled in the context of log_by_lua*") {
		t.Fatalf("got %v", res.Err)
	}
	// timers may use it
	res, _ = luatest.Run(t, p, luaplugin.PhaseTimer, `
		local res, err = require("resty.http").new():request_uri("`+s.URL+`/x")
		assert(res and res.status == 201, err)
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
}

func TestRestyHTTPWaitDoesNotCountAgainstBudget(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "late")
	}))
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 100 * time.Millisecond})
	out := luatest.RunOK(t, p, `
		local res, err = require("resty.http").new():request_uri("`+s.URL+`/")
		ngx.print(res and res.body or err)
	`)
	if out != "late" {
		t.Fatalf("got %q", out)
	}
}

func TestRestyHTTPParseURI(t *testing.T) {
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local httpc = require("resty.http").new()
		local function show(...)
			local t, err = httpc:parse_uri(...)
			if not t then return ngx.say("err: ", err) end
			ngx.say(t[1], " ", t[2], " ", t[3], " ", t[4], " ", tostring(t[5]))
		end
		show("http://example.com")
		show("https://example.com:8443/a/b?c=d")
		show("https://example.com/a?c=d", false)
		show("http://[::1]:81/x")
		show("//example.com/rel")
		show("ftp://example.com/")
		show("http:/x")
	`)
	want := "http example.com 80 / nil\n" +
		"https example.com 8443 /a/b?c=d nil\n" +
		"https example.com 443 /a c=d\n" +
		"http [::1] 81 /x nil\n" +
		"http example.com 80 /rel nil\n" + // the test request is http
		"err: bad uri: ftp://example.com/\n" +
		"err: bad uri: http:/x\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestRestyHTTPS(t *testing.T) {
	var mu sync.Mutex
	var sni []string
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure")
	}))
	s.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		sni = append(sni, h.ServerName)
		mu.Unlock()
		return nil, nil
	}}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed verifications
	s.StartTLS()
	t.Cleanup(s.Close)
	_, port := hostPort(t, s)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local res, err = http.new():request_uri("https://127.0.0.1:%d/")
		ngx.say(tostring(res), " ", err)
		res, err = http.new():request_uri("https://localhost:%d/")
		ngx.say(tostring(res), " ", err)
		res, err = http.new():request_uri("https://localhost:%d/", { ssl_verify = false })
		ngx.say(res.status, " ", res.body)
		res, err = http.new():request_uri("https://127.0.0.1:%d/", { ssl_verify = false, ssl_server_name = "sni.test" })
		ngx.say(res.status, " ", res.body)
		local httpc = http.new()
		ok, err = httpc:connect({ scheme = "https", host = "localhost", port = %d, ssl_verify = false })
		assert(ok, err)
		res = assert(httpc:request({ path = "/", headers = { Host = "localhost" } }))
		ngx.say(res:read_body())
		assert(httpc:set_keepalive())
	`, port, port, port, port, port))
	want := "nil 20: unable to get local issuer certificate\nnil certificate host mismatch\n200 secure\n200 secure\nsecure\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sni) < 4 || sni[0] != "" || sni[1] != "localhost" || sni[3] != "sni.test" {
		t.Fatalf("SNI seen: %q", sni)
	}
}

func TestRestyHTTPUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(echoHandler())
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local httpc = require("resty.http").new()
		assert(httpc:connect("unix:`+path+`"))
		local res, err = httpc:request({ path = "/u" })
		ngx.say(tostring(res), " ", err)
		assert(httpc:connect({ host = "unix:`+path+`" }))
		res = assert(httpc:request({ path = "/u", headers = { Host = "sock.local" } }))
		ngx.say(res:read_body())
	`)
	want := "nil Unable to generate a useful Host header for a unix domain socket. Please provide one.\n" +
		"GET /u? host=sock.local ua=lua-resty-http/0.17.2 (Lua) ngx_lua/10025 cl=0 body=\n"
	if out != want {
		t.Fatalf("got %q", out)
	}
}

func TestRestyHTTPProxy(t *testing.T) {
	target := newCountingServer(t, echoHandler())
	var seen atomic.Value
	proxy := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.RequestURI + " auth=" + r.Header.Get("Proxy-Authorization"))
		io.WriteString(w, "via proxy")
	}))
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local httpc = require("resty.http").new()
		httpc:set_proxy_options({ http_proxy = "`+proxy.URL+`", http_proxy_authorization = "Basic eA==" })
		local res = assert(httpc:request_uri("`+target.URL+`/p?q=1"))
		ngx.say(res.body)
		httpc:set_proxy_options({ http_proxy = "`+proxy.URL+`", no_proxy = "127.0.0.1" })
		res = assert(httpc:request_uri("`+target.URL+`/direct"))
		ngx.say(res.status)
	`)
	if out != "via proxy\n201\n" {
		t.Fatalf("got %q", out)
	}
	if got := seen.Load(); got != target.URL+"/p?q=1 auth=Basic eA==" {
		t.Fatalf("proxy saw %v", got)
	}
}

func TestRestyHTTPSThroughConnectProxy(t *testing.T) {
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tunnelled "+r.Host)
	}))
	t.Cleanup(target.Close)
	var connects atomic.Int64
	stuck := make(chan struct{})
	proxy := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", 405)
			return
		}
		connects.Add(1)
		if r.Header.Get("Proxy-Authorization") == "stuck" {
			<-stuck
			return
		}
		up, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		w.WriteHeader(200)
		down, buffered, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		// what the client sent after the CONNECT may be buffered already
		go func() { io.Copy(up, buffered); up.Close() }()
		go func() { io.Copy(down, up); down.Close() }()
	}))
	t.Cleanup(func() { close(stuck) }) // before the proxy's Close, which waits for it
	_, port := hostPort(t, target)
	p := luatest.NewPool(t, luaplugin.Config{})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		for i = 1, 3 do
			local httpc = http.new()
			httpc:set_proxy_options({ https_proxy = "%s" })
			local res, err = httpc:request_uri("https://127.0.0.1:%d/x", { ssl_verify = false })
			ngx.say(res and res.body or err)
		end
		local httpc = http.new()
		httpc:set_timeout(200)
		httpc:set_proxy_options({ https_proxy = "%s", https_proxy_authorization = "stuck" })
		local res, err = httpc:request_uri("https://127.0.0.1:%d/x", { ssl_verify = false })
		ngx.say(tostring(res), " ", err)
	`, proxy.URL, port, proxy.URL, port))
	host := "127.0.0.1:" + strconv.Itoa(port)
	want := strings.Repeat("tunnelled "+host+"\n", 3) + "nil timeout\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	// the tunnel is kept alive: one CONNECT for the three requests, one
	// for the stuck one
	if n := connects.Load(); n != 2 {
		t.Fatalf("%d CONNECTs", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

// OpenResty closes a cosocket its handler left open when the handler ends:
// so does resty.http at the end of the run, without waiting for the GC.
func TestRestyHTTPRunEndClosesUnclosedConnections(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	connect := fmt.Sprintf(`
		local http = require "resty.http"
		local httpc = http.new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
	`, host, port)
	var conns int64
	for _, c := range []struct{ name, code string }{
		{"connected only", ``},
		{"body read", `
			local res = assert(httpc:request({ path = "/" }))
			assert(#res:read_body() == 100)`},
		{"body unread", `
			local res = assert(httpc:request({ path = "/" }))
			assert(res.body_reader(10) == "xxxxxxxxxx")`},
		{"error after request", `
			assert(httpc:request({ path = "/" }))
			error("boom")`},
		{"ngx.exit in a coroutine", `
			coroutine.wrap(function()
				assert(httpc:request({ path = "/" }))
				ngx.exit(200)
			end)()`},
		{"reconnected", fmt.Sprintf(`
			assert(httpc:request({ path = "/" }))
			assert(httpc:connect({ scheme = "http", host = %q, port = %d }))`, host, port)},
	} {
		res, _ := luatest.Run(t, p, luaplugin.PhaseContent, connect+c.code)
		if res.Err != nil && !strings.Contains(res.Err.Error(), "boom") {
			t.Fatalf("%s: %v", c.name, res.Err)
		}
		conns++
		if c.name == "reconnected" {
			conns++ // the first connection was closed by the second connect
		}
		s.waitConns(t, conns, 0)
	}
}

func TestRestyHTTPRunEndLeavesKeptAliveConnections(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	code := fmt.Sprintf(`
		local httpc = require("resty.http").new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		local res = assert(httpc:request({ path = "/" }))
		assert(res:read_body() == "ok")
		ngx.print(httpc:get_reused_times())
		assert(httpc:set_keepalive() == 1)
	`, host, port)
	if out := luatest.RunOK(t, p, code); out != "0" {
		t.Fatalf("first run: reused %s times", out)
	}
	s.stayConns(t, 1, 1)
	for i := 0; i < 3; i++ {
		if out := luatest.RunOK(t, p, code); out != strconv.Itoa(i+1) {
			t.Fatalf("run %d: reused %s times", i+2, out)
		}
		s.stayConns(t, 1, 1)
	}
	// The pooled connection used and closed, then a new one kept alive in
	// the same run.
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local httpc = require("resty.http").new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		assert(httpc:request({ path = "/" })):read_body()
		assert(httpc:close() == 1)
	`, host, port)+code)
	if out != "0" {
		t.Fatalf("after close: reused %s times", out)
	}
	s.stayConns(t, 2, 1)

	// request_uri keeps its connection alive across runs, or closes it
	// with keepalive = false.
	s2 := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	for i := 0; i < 3; i++ {
		luatest.RunOK(t, p, `
			local res, err = require("resty.http").new():request_uri("`+s2.URL+`/")
			assert(res and res.body == "ok", err)
		`)
		s2.stayConns(t, 1, 1)
	}
	for i := 0; i < 3; i++ {
		luatest.RunOK(t, p, `
			local res, err = require("resty.http").new():request_uri("`+s2.URL+`/", { keepalive = false })
			assert(res and res.body == "ok", err)
		`)
	}
	// the pooled connection served the first request; each of the others
	// had its own, closed after the response
	s2.stayConns(t, 3, 0)
}

// An object kept in a module-level table outlives the run that connected
// it, but not its connection: further use reports "closed".
func TestRestyHTTPObjectKeptAcrossRuns(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, fmt.Sprintf(`
		local keep = {}
		package.loaded.keep_httpc = keep
		keep.httpc = require("resty.http").new()
		assert(keep.httpc:connect({ scheme = "http", host = %q, port = %d }))
		keep.res = assert(keep.httpc:request({ path = "/" }))
		assert(keep.res.body_reader(10) == "xxxxxxxxxx")
	`, host, port))
	s.waitConns(t, 1, 0)
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local keep = assert(package.loaded.keep_httpc)
		local httpc = keep.httpc
		ngx.say(keep.res.body_reader(10))
		ngx.say(keep.res:read_body())
		ngx.say(httpc:request({ path = "/" }))
		ngx.say(httpc:request_pipeline({ { path = "/" } }))
		ngx.say(httpc:get_reused_times())
		ngx.say(httpc:set_keepalive())
		ngx.say(httpc:close())
		-- the object can connect again
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		local res = assert(httpc:request({ path = "/" }))
		ngx.say(#res:read_body())
	`, host, port))
	want := "nilclosed\nnilclosed\nnilclosed\nnilclosed\nnilclosed\nnilclosed\nnilclosed\n100\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	s.waitConns(t, 2, 0)
}

func TestRestyHTTPRunEndInTimer(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, fmt.Sprintf(`
		assert(ngx.timer.at(0, function()
			local httpc = require("resty.http").new()
			assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
			local res = assert(httpc:request({ path = "/" }))
			ngx.shared.d:set("timer_body", res:read_body())
		end))
	`, host, port))
	deadline := time.Now().Add(2 * time.Second)
	for {
		if v, _, _ := p.Dict("d").Get("timer_body"); !v.IsNil() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timer did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.waitConns(t, 1, 0)
}

func TestRestyHTTPConcurrent(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("n"))
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{MaxStates: 4})
	luatest.RunConcurrently(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local n = tostring(math.random(1000))
		local res, err = http.new():request_uri("%s/?n=" .. n)
		assert(res and res.body == n, err)
		local httpc = http.new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		res = assert(httpc:request({ path = "/", query = { n = n } }))
		assert(res:read_body() == n)
		assert(httpc:set_keepalive())
	`, s.URL, host, port), 8, 25)
	if n := s.conns.Load(); n > 16 {
		t.Fatalf("%d connections for 8 concurrent clients", n)
	}
}

func BenchmarkRestyHTTPRequestURI(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer s.Close()
	p := luatest.NewPool(b, luaplugin.Config{})
	c := luatest.Compile(b, `
		local res, err = require("resty.http").new():request_uri("`+s.URL+`/bench")
		if not res or res.body ~= "hello" then error(err) end
	`)
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	req, _ := luatest.NewRequest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// A body read whole is capped at the pool's MaxStringSize when that is
// under httpMaxBodySize; body_reader streams past it in pieces no longer.
func TestRestyHTTPBodyCapFollowsMaxString(t *testing.T) {
	const limit = 1 << 20
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := 2 * limit
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Content-Length", strconv.Itoa(size))
		case "/small":
			size = limit
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		chunk := make([]byte, 64<<10)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	host, port := hostPort(t, s.Server)
	p := luatest.NewPool(t, luaplugin.Config{MaxStringSize: limit})
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local http = require "resty.http"
		local url = %q
		local res, err = http.new():request_uri(url .. "/declared")
		ngx.say(tostring(res), " ", err)
		res, err = http.new():request_uri(url .. "/chunked")
		ngx.say(tostring(res), " ", err)
		res = assert(http.new():request_uri(url .. "/small"))
		ngx.say(#res.body)

		local httpc = http.new()
		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		res = assert(httpc:request({ path = "/chunked" }))
		local body, err = res:read_body()
		ngx.say(tostring(body), " ", err)

		assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
		res = assert(httpc:request({ path = "/declared" }))
		local total, max = 0, 0
		repeat
			local chunk = res.body_reader(4 * 1024 * 1024)
			if chunk then
				total = total + #chunk
				if #chunk > max then max = #chunk end
			end
		until not chunk
		ngx.say(total, " ", max)

		local big = {}
		for i = 1, 3 do big[i] = string.rep("x", 512 * 1024) end
		ngx.say(http.new():request_uri(url .. "/small", { method = "POST", body = big }))
	`, s.URL, host, port, host, port))
	luatest.ExpectLines(t, out,
		"nil response body too large",
		"nil response body too large",
		strconv.Itoa(limit),
		"nil response body too large",
		strconv.Itoa(2*limit)+" "+strconv.Itoa(limit),
		"nilrequest body too large",
	)
}

// slowListener delays every accepted connection, so that the client's TLS
// handshake waits.
type slowListener struct {
	net.Listener
	delay time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		time.Sleep(l.delay)
	}
	return c, err
}

// Every network wait is off the budget: the TLS handshake of connect, the
// response head, a body read whole and a body read in pieces.
func TestRestyHTTPEveryWaitIsOffTheBudget(t *testing.T) {
	const wait = 300 * time.Millisecond
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/head":
			time.Sleep(wait)
			io.WriteString(w, "head")
		case "/body":
			w.Header().Set("Content-Length", "8")
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			time.Sleep(wait)
			io.WriteString(w, "body")
		case "/chunks":
			io.WriteString(w, "one")
			w.(http.Flusher).Flush()
			time.Sleep(wait)
			io.WriteString(w, "two")
		}
	}))
	s.Listener = slowListener{Listener: s.Listener, delay: wait}
	s.StartTLS()
	t.Cleanup(s.Close)
	_, port := hostPort(t, s)
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local httpc = require("resty.http").new()
		assert(httpc:connect({ scheme = "https", host = "127.0.0.1", port = %d, ssl_verify = false }))
		local res = assert(httpc:request({ path = "/head" }))
		ngx.say(res:read_body())
		res = assert(httpc:request({ path = "/body" }))
		ngx.say(res:read_body())
		res = assert(httpc:request({ path = "/chunks" }))
		repeat
			local chunk, err = res.body_reader()
			assert(not err, err)
			if chunk then ngx.say(chunk) end
		until not chunk
		assert(httpc:set_keepalive())
	`, port))
	luatest.ExpectLines(t, out, "head", "bodybody", "one", "two")
	if d := time.Since(start); d < 4*wait {
		t.Fatalf("the four waits took %s", d)
	}
}

// The close at the end of the run is registered once per object and run,
// however often the object connects.
func TestRestyHTTPRunEndHookOncePerObject(t *testing.T) {
	s := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	host, port := hostPort(t, s.Server)
	// 100 requests in one run: its Go-side work counts against the budget
	// under -race on a loaded machine.
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 20 * time.Second})
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The pool has one state: the runs below get it.
	vm.L.SetGlobal("run_end_hooks", vm.L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(vm.RunEndPending()))
		return 1
	}))
	p.Release(vm)
	code := fmt.Sprintf(`
		local http = require "resty.http"
		local httpc = http.new()
		for i = 1, 50 do
			assert(httpc:connect({ scheme = "http", host = %q, port = %d }))
			assert(httpc:request({ path = "/" })):read_body()
			assert(httpc:set_keepalive())
		end
		local other = http.new()
		assert(other:connect({ scheme = "http", host = %q, port = %d }))
		for i = 1, 50 do
			assert(http.new():request_uri("http://%s:%d/"))
		end
		ngx.print(run_end_hooks())
	`, host, port, host, port, host, port)
	for i := 0; i < 2; i++ {
		if out := luatest.RunOK(t, p, code); out != "2" {
			t.Fatalf("run %d: %s functions registered for the end of the run, want 2", i+1, out)
		}
	}
	s.waitConns(t, 1, 1)
}
