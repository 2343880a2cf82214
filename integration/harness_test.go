package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"

	_ "github.com/caddy-resty/caddy-resty"
)

const (
	adminURL = "http://localhost:2999"
	gwAddr   = "127.0.0.1:9080"
	gwURL    = "http://" + gwAddr
)

// client talks to the gateway. It does not follow redirects.
var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// tmpRoot holds the files the configs name (logs, Lua files). t.TempDir
// is not used for them: its names derive from test names, and braces there
// would read as Caddyfile placeholders.
var tmpRoot string

// tempDir returns a new directory under tmpRoot, removed after the test.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(tmpRoot, "t-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "caddy-resty-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tmpRoot = dir
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	os.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	// Caddy's default storage (where the live upstream state is kept)
	// took its path from the environment at init.
	caddy.DefaultStorage.Path = caddy.AppDataDir()
	code := m.Run()
	// Stop the HTTP app (listeners, Lua pools, timers) of the in-process
	// Caddy; the admin endpoint stays until the process exits.
	if inProcessUsed {
		resetCaddy()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	portsOnce     sync.Once
	inProcessUsed bool
)

// waitForPorts waits until the fixed ports of the in-process Caddy are
// free: caddytest talks to whatever answers on the admin port, so with
// another test process on them the two would load each other's configs.
// Tests that run a Caddy process of their own (hostile_*) never wait.
func waitForPorts() {
	inProcessUsed = true
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		busy := busyPort()
		if busy == "" {
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "%s is in use by another process; these tests need ports 2999 and 9080\n", busy)
			os.Exit(2)
		}
	}
}

// busyPort returns the first of the fixed ports something listens on.
func busyPort() string {
	for _, addr := range []string{"localhost:2999", "127.0.0.1:9080", "127.0.0.1:9443"} {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
	}
	return ""
}

// cfg is one Caddy config: the global resty option and one site on :9080.
// "@BACKEND@" in site is replaced by backend.
type cfg struct {
	// global holds the lines of the global `resty { }` option.
	global string
	// site holds the handlers of the site; they go in a `handle` block.
	site string
	// errors, if set, is the body of the site's handle_errors block.
	errors string
	// backend is the host:port that replaces @BACKEND@ in site.
	backend string
}

// dictReader serves GET /_dict?dict=D&key=K: the value of K in shared dict
// D, "<nil>" when absent. Tests read shared dicts through it.
const dictReader = `content_by_lua <<LUA
local args = ngx.req.get_uri_args()
local d = ngx.shared[args.dict]
if not d then return ngx.exit(404) end
local v = d:get(args.key)
if v == nil then ngx.print("<nil>") else ngx.print(tostring(v)) end
LUA`

const caddyfileTemplate = `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	auto_https off
	persist_config off
	skip_install_trust
	grace_period 10s
	log {
		output file %s
		format json
		level INFO
	}
	resty {
%s
	}
}

:9080 {
	handle /_dict {
		resty {
%s
		}
	}
	handle {
%s
	}
%s
}
`

func (c cfg) render(logFile string) string {
	errs := ""
	if c.errors != "" {
		errs = "handle_errors {\n" + c.errors + "\n}"
	}
	site := strings.ReplaceAll(c.site, "@BACKEND@", c.backend)
	return fmt.Sprintf(caddyfileTemplate, logFile, c.global, dictReader, site, errs)
}

// gateway is the in-process Caddy of one test.
type gateway struct {
	t       *testing.T
	tester  *caddytest.Tester
	logFile string
	loads   int
}

// newGateway returns the gateway for t. If Caddy already runs, its config
// is first replaced by an empty one, so that no shared dict or Lua state
// of an earlier test survives into this one.
func newGateway(t *testing.T) *gateway {
	t.Helper()
	portsOnce.Do(waitForPorts)
	resetCaddy()
	return &gateway{t: t, tester: caddytest.NewTester(t)}
}

// resetCaddy loads a config with no apps (if Caddy runs) and forgets the
// live state an earlier test kept in Caddy's storage.
func resetCaddy() {
	resp, err := http.Post(adminURL+"/load", "application/json",
		strings.NewReader(`{"admin":{"listen":"localhost:2999"}}`))
	if err == nil {
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	os.RemoveAll(liveStateDir())
}

// liveStateDir is where the in-process Caddy keeps the live state of the
// resty app's tables.
func liveStateDir() string {
	return filepath.Join(caddy.DefaultStorage.Path, "resty")
}

// load makes c the running config (a reload if one runs); each load logs
// to a new file.
func (g *gateway) load(c cfg) {
	g.t.Helper()
	g.loads++
	g.logFile = filepath.Join(tempDir(g.t), fmt.Sprintf("caddy-%d.log", g.loads))
	g.tester.InitServer(c.render(g.logFile), "caddyfile")
	if g.t.Failed() {
		g.t.FailNow()
	}
}

// tryLoad POSTs a config to /load without going through the tester, for
// configs that must be refused.
func (g *gateway) tryLoad(c cfg) (int, string) {
	g.t.Helper()
	text := c.render(filepath.Join(tempDir(g.t), "refused.log"))
	resp, err := http.Post(adminURL+"/load", "text/caddyfile", strings.NewReader(text))
	if err != nil {
		g.t.Fatalf("POST /load: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// logEntries returns the JSON log entries written so far by the running
// config.
func (g *gateway) logEntries() []map[string]any {
	data, _ := os.ReadFile(g.logFile)
	var out []map[string]any
	for _, line := range bytes.Split(data, []byte("\n")) {
		var e map[string]any
		if len(line) > 0 && json.Unmarshal(line, &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits until an error-level log entry whose text contains every
// one of subs appears, and returns it (nil, with the test failed, if none
// does within 5s).
func (g *gateway) waitLog(subs ...string) map[string]any {
	g.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, e := range g.logEntries() {
			if e["level"] != "error" {
				continue
			}
			raw, _ := json.Marshal(e)
			text := string(raw)
			ok := true
			for _, s := range subs {
				// Compare on the JSON text, so quotes and newlines in
				// subs must be escaped as JSON escapes them.
				js, _ := json.Marshal(s)
				if !strings.Contains(text, string(js[1:len(js)-1])) {
					ok = false
					break
				}
			}
			if ok {
				return e
			}
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(g.logFile)
			g.t.Errorf("no error log entry containing %q; log:\n%s", subs, data)
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dict reads a shared dict entry through /_dict.
func dict(t *testing.T, name, key string) string {
	t.Helper()
	r := get(t, "/_dict?dict="+url.QueryEscape(name)+"&key="+url.QueryEscape(key))
	if r.Err != nil || r.Status != 200 {
		t.Fatalf("reading ngx.shared.%s[%q]: status %d, err %v, body %q", name, key, r.Status, r.Err, r.Body)
	}
	return r.Body
}

// waitDict waits until a shared dict entry has the value want (the log
// phase and timers write off the request path).
func waitDict(t *testing.T, name, key, want string) {
	t.Helper()
	waitDictFunc(t, name, key, fmt.Sprintf("%q", want), func(v string) bool { return v == want })
}

// waitDictFunc waits until ok accepts a shared dict entry; desc says what
// ok wants.
func waitDictFunc(t *testing.T, name, key, desc string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := dict(t, name, key)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Errorf("ngx.shared.%s[%q] = %q, want %s", name, key, got, desc)
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reply is what the client got for one request.
type reply struct {
	Status int
	Header http.Header
	Body   string
	// Err is a transport error or an error reading the body (an aborted
	// response).
	Err error
}

// request sends a request to the gateway; hdr are name/value pairs
// ("Host" sets the Host header).
func request(t *testing.T, method, path, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, gwURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if http.CanonicalHeaderKey(hdr[i]) == "Host" {
			req.Host = hdr[i+1]
		} else {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	}
	return doRequest(req)
}

func doRequest(req *http.Request) reply {
	resp, err := client.Do(req)
	if err != nil {
		return reply{Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Err: err}
}

func get(t *testing.T, path string, hdr ...string) reply {
	t.Helper()
	return request(t, "GET", path, "", hdr...)
}

// expect checks status and body of a reply.
func (r reply) expect(t *testing.T, status int, body string) {
	t.Helper()
	if r.Err != nil {
		t.Errorf("request failed: %v (status %d, body %q)", r.Err, r.Status, r.Body)
		return
	}
	if r.Status != status || r.Body != body {
		t.Errorf("got %d %q, want %d %q", r.Status, r.Body, status, body)
	}
}

// seenReq is a request as a backend received it.
type seenReq struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         string
	ContentLength                int64
	TransferEncoding             []string
}

// backend is a real HTTP server that records what it receives.
type backend struct {
	*httptest.Server
	addr string
	mu   sync.Mutex
	seen []seenReq
}

// upstreamBody is what the default backend handler answers.
const upstreamBody = "upstream body"

// newBackend starts a backend that records each request, then runs h (by
// default: 200, X-Upstream: yes, text/plain upstreamBody). With record
// false the request body is left for h to read.
func newBackend(t *testing.T, record bool, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Upstream", "yes")
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, upstreamBody)
		}
	}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seenReq{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding}
		if record {
			body, _ := io.ReadAll(r.Body)
			s.Body = string(body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		b.mu.Lock()
		b.seen = append(b.seen, s)
		b.mu.Unlock()
		h(w, r)
	}))
	b.addr = b.Listener.Addr().String()
	t.Cleanup(b.Close)
	return b
}

func (b *backend) requests() []seenReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seenReq(nil), b.seen...)
}

func (b *backend) calls() int { return len(b.requests()) }

// last returns the last request the backend received; the test fails if
// there was none.
func (b *backend) last(t *testing.T) seenReq {
	t.Helper()
	reqs := b.requests()
	if len(reqs) == 0 {
		t.Fatal("the backend was not called")
	}
	return reqs[len(reqs)-1]
}

// lua returns a `<phase>_by_lua` heredoc line for a resty block.
func lua(phase, code string) string {
	return phase + "_by_lua <<LUA\n" + code + "\nLUA\n"
}

// luaFile returns a `<phase>_by_lua_file` line for a resty block.
func luaFile(phase, path string) string {
	return phase + "_by_lua_file " + path + "\n"
}

// resty returns a resty handler block made of the given pieces.
func resty(pieces ...string) string {
	return "resty {\n" + strings.Join(pieces, "") + "}\n"
}

// proxied is a resty block in front of reverse_proxy to the backend (the
// directive order puts resty first).
func proxied(pieces ...string) string {
	return resty(pieces...) + "reverse_proxy @BACKEND@\n"
}

// anyBody in httpCase.body skips the body check.
const anyBody = "\x00any"

// httpCase is one request against one config.
type httpCase struct {
	name string
	// global adds lines to the global resty option; runCases always
	// declares `shared_dict seen 1m`.
	global string
	// site is the site's handlers; @BACKEND@ is the case's backend and
	// @DIR@ the directory holding files.
	site   string
	errors string
	files  map[string]string
	// backend handles the proxied requests (default: upstreamBody).
	backend http.HandlerFunc

	method, path, reqBody string
	hdr                   []string

	// status and body expected (body anyBody: not checked); with aborted,
	// the response must not arrive complete: body is then the complete
	// body it must not be.
	status  int
	body    string
	aborted bool
	// header lists expected response headers; "" means absent.
	header map[string]string
	// calls is how many requests the backend must get.
	calls int
	check func(t *testing.T, g *gateway, r reply, be *backend)
}

// runCases runs each case in a subtest with its own config and backend.
func runCases(t *testing.T, cases []httpCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := newBackend(t, true, c.backend)
			dir := tempDir(t)
			for name, content := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			g := newGateway(t)
			g.load(cfg{
				global:  "shared_dict seen 1m\n" + c.global,
				site:    strings.ReplaceAll(c.site, "@DIR@", dir),
				errors:  c.errors,
				backend: be.addr,
			})
			method := c.method
			if method == "" {
				method = "GET"
			}
			r := request(t, method, c.path, c.reqBody, c.hdr...)
			t.Logf("reply: %d %q, headers %v, err %v", r.Status, r.Body, r.Header, r.Err)
			switch {
			case c.aborted:
				if r.Err == nil && r.Status == c.status && r.Body == c.body {
					t.Errorf("the response arrived complete (%d %q); it must be aborted", r.Status, r.Body)
				}
			case r.Err != nil:
				t.Errorf("request failed: %v", r.Err)
			case r.Status != c.status:
				t.Errorf("status %d, want %d (body %q)", r.Status, c.status, r.Body)
			case c.body != anyBody && r.Body != c.body:
				t.Errorf("body %q, want %q", r.Body, c.body)
			}
			for k, want := range c.header {
				if got := r.Header.Get(k); got != want {
					t.Errorf("response header %s = %q, want %q", k, got, want)
				}
			}
			if n := be.calls(); n != c.calls {
				t.Errorf("backend called %d times, want %d", n, c.calls)
			}
			if c.check != nil {
				c.check(t, g, r, be)
			}
		})
	}
}

// checks combines case checks.
func checks(fns ...func(*testing.T, *gateway, reply, *backend)) func(*testing.T, *gateway, reply, *backend) {
	return func(t *testing.T, g *gateway, r reply, be *backend) {
		t.Helper()
		for _, f := range fns {
			f(t, g, r, be)
		}
	}
}

// gate holds backend requests until it opens: a handler calls hold, the
// test waits until n requests arrived, then opens the gate.
type gate struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

// newGate returns a gate for up to n held requests; it opens when the test
// ends at the latest.
func newGate(t *testing.T, n int) *gate {
	g := &gate{arrived: make(chan struct{}, n), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

// hold signals arrival and waits for the gate to open (at most max).
func (g *gate) hold(max time.Duration) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-time.After(max):
	}
}

// waitArrived waits until n requests are held; it returns how many arrived
// before timeout ran out.
func (g *gate) waitArrived(n int, timeout time.Duration) int {
	for i := 0; i < n; i++ {
		select {
		case <-g.arrived:
		case <-time.After(timeout):
			return i
		}
	}
	return n
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }
