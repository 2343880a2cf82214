package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/dynupstream"
)

// Helpers of the upstream registry tests.

// server is a named backend of the registry tests: it answers its name,
// records how many requests it got, and its health endpoint (/healthz)
// answers 200 or 503 as set.
type server struct {
	name string
	srv  *httptest.Server
	addr string
	hits atomic.Int64
	// sick makes /healthz answer 503.
	sick atomic.Bool
	// delay holds every proxied request that long.
	delay atomic.Int64
	// checks counts the health checks received.
	checks atomic.Int64

	mu   sync.Mutex
	seen []time.Time // arrival times of proxied requests
}

func newServer(t testing.TB, name string) *server {
	t.Helper()
	s := &server{name: name}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Every config reload gives reverse_proxy a new transport, and the old
	// one keeps its idle connections (some never used) for its keepalive
	// time (2m): close them from this side soon, so that the tests can
	// count goroutines and file descriptors.
	s.srv.Config.IdleTimeout = time.Second
	s.srv.Config.ReadHeaderTimeout = time.Second
	s.srv.Start()
	s.addr = s.srv.Listener.Addr().String()
	t.Cleanup(s.close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		s.checks.Add(1)
		if s.sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
		return
	}
	s.hits.Add(1)
	s.mu.Lock()
	s.seen = append(s.seen, time.Now())
	s.mu.Unlock()
	if d := time.Duration(s.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	w.Header().Set("X-Server", s.name)
	io.WriteString(w, s.name)
}

// kill stops the server: its port refuses connections.
func (s *server) kill() {
	s.srv.Listener.Close()
	s.srv.CloseClientConnections()
}

// revive listens again on the server's address.
func (s *server) revive(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("relisten on %s: %v", s.addr, err)
	}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{
		Handler: http.HandlerFunc(s.serve), IdleTimeout: time.Second, ReadHeaderTimeout: time.Second}}
	s.srv.Start()
}

func (s *server) close() {
	defer func() { _ = recover() }()
	s.srv.Close()
}

// proxyTo is a site that proxies to the cluster named by the X-Upstream
// request header, with extra reverse_proxy lines.
func proxyTo(extra ...string) string {
	return "reverse_proxy {\n\tdynamic resty {http.request.header.X-Upstream}\n" + strings.Join(extra, "\n") + "\n}\n"
}

// hit sends one request to a cluster and returns the reply. A request
// that fails at the connection level is sent again, once (see connLevel),
// and counted in connRetries.
func hit(t testing.TB, cluster string, hdr ...string) reply {
	t.Helper()
	for try := 0; ; try++ {
		req, err := http.NewRequest("GET", gwURL+"/work", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Upstream", cluster)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		r := doRequest(req)
		if r.Err != nil && try == 0 && connLevel(r.Err) {
			connRetries.Add(1)
			continue
		}
		return r
	}
}

// connRetries counts the requests hit sent again.
var connRetries atomic.Int64

// connLevel reports whether a request failed at the connection level,
// with no response: the connection was reset while being set up, or
// closed before the response began. Each Caddy config load on Linux opens
// a new SO_REUSEPORT listening socket for :9080 (and for the admin
// listener) and closes the old one, after the /config call may have
// returned; connections the kernel had queued on the old socket are reset
// (https://lwn.net/Articles/542629/), and Go's Server.Shutdown closes the
// old server's idle keep-alive connections. The same happens with
// reloads that do not touch the registry. Such a request never reached a
// handler, so an HTTP client sends it again (net/http's Transport does so
// itself in some of these cases); the tests do the same, once, and the
// churn test reports how often.
func connLevel(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// spread sends n requests to a cluster and counts the answers by body;
// failed requests count under "status NNN" or "error".
func spread(t testing.TB, cluster string, n int, hdr ...string) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for i := 0; i < n; i++ {
		r := hit(t, cluster, hdr...)
		switch {
		case r.Err != nil:
			out["error"]++
		case r.Status != 200:
			out[fmt.Sprintf("status %d", r.Status)]++
		default:
			out[r.Body]++
		}
	}
	return out
}

// admin sends a request to Caddy's admin API.
func admin(t testing.TB, method, path, contentType, body string) (int, string) {
	t.Helper()
	for try := 0; ; try++ {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, adminURL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := adminClient.Do(req)
		if err != nil {
			// Each config load also replaces the admin listener's
			// socket: a connection queued on the old one is reset (see
			// connLevel). It never reached the admin handler; a retry
			// that repeated a change would show as a failed check.
			if try == 0 && connLevel(err) {
				continue
			}
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// adminClient talks to the admin API; the admin server is replaced at
// each config change, so it keeps no idle connections.
var adminClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// mustAdmin is admin that fails the test unless the status is 200.
func mustAdmin(t testing.TB, method, path, contentType, body string) string {
	t.Helper()
	code, out := admin(t, method, path, contentType, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

// clusterStatus reads GET /resty/upstreams/NAME.
func clusterStatus(t testing.TB, name string) dynupstream.ClusterStatus {
	t.Helper()
	code, out := admin(t, "GET", "/resty/upstreams/"+name, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /resty/upstreams/%s: %d %s", name, code, out)
	}
	var st dynupstream.ClusterStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	return st
}

// settledStatus reads a cluster's status once no request is active on
// it: the last attempt of a request is settled (its failure counted)
// when the request's context ends, just after the client got the
// response.
func settledStatus(t testing.TB, name string) dynupstream.ClusterStatus {
	t.Helper()
	var st dynupstream.ClusterStatus
	waitFor(t, 5*time.Second, "requests to "+name+" to settle", func() bool {
		st = clusterStatus(t, name)
		for _, s := range st.Servers {
			if s.ActiveRequests != 0 {
				return false
			}
		}
		return true
	})
	return st
}

// serverStatus finds a server in a cluster's status.
func serverStatus(t testing.TB, st dynupstream.ClusterStatus, addr string) dynupstream.ServerStatus {
	t.Helper()
	for _, s := range st.Servers {
		if s.Address == addr {
			return s
		}
	}
	t.Fatalf("server %s not in %+v", addr, st)
	return dynupstream.ServerStatus{}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logged returns the log entries of the running config whose message is
// msg and whose fields include the given ones.
func (g *gateway) logged(msg string, fields map[string]string) []map[string]any {
	var out []map[string]any
	for _, e := range g.logEntries() {
		if e["msg"] != msg {
			continue
		}
		ok := true
		for k, v := range fields {
			if fmt.Sprint(e[k]) != v {
				ok = false
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

// waitLogged waits for a log entry (any level) like logged finds.
func (g *gateway) waitLogged(msg string, fields map[string]string) map[string]any {
	g.t.Helper()
	var found map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for found == nil {
		if l := g.logged(msg, fields); len(l) > 0 {
			found = l[0]
			break
		}
		if time.Now().After(deadline) {
			data := new(bytes.Buffer)
			for _, e := range g.logEntries() {
				b, _ := json.Marshal(e)
				data.Write(append(b, '\n'))
			}
			g.t.Fatalf("no log entry %q with %v; log:\n%s", msg, fields, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return found
}

// TestUpstreamWeights: smooth weighted round robin gives 5:1 to weights
// 5 and 1, exactly over every 6 requests; a server marked down gets
// nothing.
func TestUpstreamWeights(t *testing.T) {
	a, b, c := newServer(t, "a"), newServer(t, "b"), newServer(t, "c")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf(`upstream pool {
	server %s weight=5
	server %s weight=1
	server %s weight=9 down
}`, a.addr, b.addr, c.addr),
		site: proxyTo(),
	})
	got := spread(t, "pool", 6000)
	if got["a"]+got["b"] != 6000 {
		t.Fatalf("answers: %v", got)
	}
	ratio := float64(got["a"]) / float64(got["b"])
	if ratio < 5*0.98 || ratio > 5*1.02 {
		t.Errorf("a:b = %d:%d = %.3f, want 5 within 2%%", got["a"], got["b"], ratio)
	}
	if n := c.hits.Load(); n != 0 {
		t.Errorf("the down server got %d requests", n)
	}
	st := settledStatus(t, "pool")
	if s := serverStatus(t, st, c.addr); s.Health != dynupstream.HealthDown || s.Requests != 0 {
		t.Errorf("down server status %+v", s)
	}
	if s := serverStatus(t, st, a.addr); s.Requests != uint64(got["a"]) || s.Weight != 5 || s.Health != "up" {
		t.Errorf("server a status %+v (got %d)", s, got["a"])
	}
}

// TestUpstreamPassiveHealth: a killed server is taken out by the passive
// check after max_fails failed attempts; with lb_retries the clients see
// no failure (the retry goes to another server); after fail_timeout one
// request probes it and, once it is back, it is back in rotation.
func TestUpstreamPassiveHealth(t *testing.T) {
	a, b := newServer(t, "a"), newServer(t, "b")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf(`upstream pool {
	server %s
	server %s max_fails=1 fail_timeout=1s
}`, a.addr, b.addr),
		site: proxyTo("lb_retries 2"),
	})
	if got := spread(t, "pool", 10); got["a"] != 5 || got["b"] != 5 {
		t.Fatalf("before: %v", got)
	}
	b.kill()
	start := time.Now()
	got := spread(t, "pool", 20)
	if got["a"] != 20 {
		t.Errorf("with b killed: %v, want every request answered by a", got)
	}
	st := serverStatus(t, settledStatus(t, "pool"), b.addr)
	if time.Since(start) < 900*time.Millisecond {
		if st.Health != dynupstream.HealthFailed || st.Available || st.Failures != 1 || st.FailedUntil == nil {
			t.Errorf("killed server: %+v; want failed after exactly one failed attempt", st)
		}
	}
	g.waitLogged("upstream server failed; taken out", map[string]string{"upstream": "pool", "server": b.addr})

	// Back after fail_timeout: the probe request succeeds.
	b.revive(t)
	time.Sleep(1100 * time.Millisecond)
	got = spread(t, "pool", 20)
	if got["b"] < 8 || got["a"]+got["b"] != 20 {
		t.Errorf("after revival: %v, want b back in rotation", got)
	}
	if st := serverStatus(t, settledStatus(t, "pool"), b.addr); st.Health != "up" || st.Fails != 0 {
		t.Errorf("revived server: %+v", st)
	}
	g.waitLogged("upstream server recovered", map[string]string{"upstream": "pool", "server": b.addr})
}

// TestUpstreamRetryGoesElsewhere: each retry of a request goes to a
// server the request has not tried; without retries a failed attempt
// still counts for the passive check.
func TestUpstreamRetryGoesElsewhere(t *testing.T) {
	d1, d2, d3 := newServer(t, "d1"), newServer(t, "d2"), newServer(t, "d3")
	d1.kill()
	d2.kill()
	d3.kill()
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf(`upstream dead {
	server %s max_fails=5
	server %s max_fails=5
	server %s max_fails=5
}
upstream noretry {
	server %s max_fails=2
	server %s
}`, d1.addr, d2.addr, d3.addr, d1.addr, d2.addr),
		site: `@retry header X-Upstream dead
reverse_proxy @retry {
	dynamic resty dead
	lb_retries 2
}
reverse_proxy {
	dynamic resty noretry
}
`,
	})
	if r := hit(t, "dead"); r.Status != http.StatusBadGateway {
		t.Errorf("all dead: %d %q, want 502", r.Status, r.Body)
	}
	for _, s := range settledStatus(t, "dead").Servers {
		if s.Failures != 1 || s.Fails != 1 || s.ActiveRequests != 0 {
			t.Errorf("server %s: %+v; want one failed attempt each (the retries went elsewhere)", s.Address, s)
		}
	}
	// Round robin: d1, d2 (taken out after its first failure: max_fails
	// defaults to 1), d1 (taken out after its second).
	for i := 0; i < 3; i++ {
		if r := hit(t, "noretry"); r.Status != http.StatusBadGateway {
			t.Errorf("no retries: %d %q, want 502", r.Status, r.Body)
		}
		settledStatus(t, "noretry")
	}
	st := clusterStatus(t, "noretry")
	if s := serverStatus(t, st, d1.addr); s.Failures != 2 || s.Health != dynupstream.HealthFailed {
		t.Errorf("d1 without retries: %+v", s)
	}
	if s := serverStatus(t, st, d2.addr); s.Failures != 1 || s.Health != dynupstream.HealthFailed {
		t.Errorf("d2 without retries: %+v", s)
	}
	if st.Available != 0 {
		t.Errorf("available = %d", st.Available)
	}
	if r := hit(t, "noretry"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("all failed: %d %q, want 503", r.Status, r.Body)
	}
}
