package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitReqSnippet is lua-resty-limit-traffic's documented usage, unmodified
// but for the numbers: rate 10 r/s, burst 5.
const limitReqSnippet = `
local limit_req = require "resty.limit.req"
local lim, err = limit_req.new("my_limit_req_store", 10, 5)
if not lim then
    ngx.log(ngx.ERR, "failed to instantiate a resty.limit.req object: ", err)
    return ngx.exit(500)
end
local key = ngx.var.binary_remote_addr
local delay, err = lim:incoming(key, true)
if not delay then
    if err == "rejected" then
        return ngx.exit(503)
    end
    ngx.log(ngx.ERR, "failed to limit req: ", err)
    return ngx.exit(500)
end
if delay >= 0.001 then
    ngx.sleep(delay)
end`

// TestLimitReqSnippet runs the snippet in front of a real backend: of 20
// requests sent at once, 1 + burst pass (more only if the burst took longer
// than a leak interval to arrive), the passing ones are delayed by the
// leaky bucket (0, 0.1, … 0.5 s), the rest get 503.
func TestLimitReqSnippet(t *testing.T) {
	g := newGateway(t)
	be := newBackend(t, false, nil)
	g.load(cfg{global: "shared_dict my_limit_req_store 1m", site: proxied(lua("access", limitReqSnippet)), backend: be.addr})

	const n = 20
	type result struct {
		status  int
		latency time.Duration
		sent    time.Time
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			r := get(t, "/limited")
			results[i] = result{status: r.Status, latency: time.Since(t0), sent: t0}
		}(i)
	}
	close(start)
	wg.Wait()

	var passed []time.Duration
	rejected := 0
	first, last := results[0].sent, results[0].sent
	for _, r := range results {
		switch r.status {
		case 200:
			passed = append(passed, r.latency)
		case 503:
			rejected++
		default:
			t.Fatalf("unexpected status %d", r.status)
		}
		if r.sent.Before(first) {
			first = r.sent
		}
		if r.sent.After(last) {
			last = r.sent
		}
	}
	// Each 100 ms of spread in arrival lets one more request leak through.
	extra := int(last.Sub(first) / (100 * time.Millisecond))
	if len(passed) < 6 || len(passed) > 6+extra {
		t.Fatalf("%d passed, want 6 (+%d for an arrival spread of %s); %d rejected", len(passed), extra, last.Sub(first), rejected)
	}
	if len(passed)+rejected != n {
		t.Fatalf("passed %d + rejected %d != %d", len(passed), rejected, n)
	}
	if be.calls() != len(passed) {
		t.Fatalf("backend saw %d requests, %d passed", be.calls(), len(passed))
	}
	// The k-th passing request waited about k*100 ms (minus its own
	// arrival offset); check the slowest ones were really delayed.
	sort.Slice(passed, func(i, j int) bool { return passed[i] < passed[j] })
	if slowest := passed[len(passed)-1]; slowest < 400*time.Millisecond {
		t.Fatalf("the last admitted request was not delayed: latencies %v", passed)
	}
	if passed[0] > 300*time.Millisecond {
		t.Fatalf("the first admitted request was delayed: latencies %v", passed)
	}
	// After the bucket drains, requests pass again.
	time.Sleep(700 * time.Millisecond)
	get(t, "/again").expect(t, 200, upstreamBody)
}

// startRedis runs a private redis-server on a free port for the test.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is needed for this test: apt-get install -y redis-server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := tempDir(t)
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("redis-server did not start")
	return ""
}

// TestRedisAndHTTPFromAccess uses resty.redis (a per-client counter with
// keepalive) and resty.http (a call to an auth service) in the access phase
// of a real gateway, and checks what a user sees when Redis goes away.
func TestRedisAndHTTPFromAccess(t *testing.T) {
	redisAddr := startRedis(t)
	host, port, _ := net.SplitHostPort(redisAddr)
	auth := newBackend(t, false, nil)
	be := newBackend(t, false, nil)
	dir := tempDir(t)
	script := filepath.Join(dir, "access.lua")
	code := fmt.Sprintf(`
local redis = require "resty.redis"
local http = require "resty.http"

local red = redis:new()
red:set_timeouts(200, 200, 200)
local ok, err = red:connect(%q, %s)
if not ok then
    ngx.log(ngx.ERR, "redis connect: ", err)
    return ngx.exit(503)
end
local n, err = red:incr("hits:" .. (ngx.var.http_x_client or "anon"))
if not n then return ngx.exit(500) end
local ok, err = red:set_keepalive(10000, 10)
ngx.req.set_header("X-Hits", n)

local httpc = http.new()
httpc:set_timeout(500)
local res, err = httpc:request_uri("http://%s/check", {headers = {["X-Client"] = ngx.var.http_x_client}})
if not res then
    ngx.log(ngx.ERR, "auth call: ", err)
    return ngx.exit(502)
end
if res.body ~= %q then return ngx.exit(403) end
`, host, port, auth.addr, upstreamBody)
	if err := os.WriteFile(script, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	g := newGateway(t)
	g.load(cfg{site: proxied(luaFile("access", script)), backend: be.addr})

	for i := 1; i <= 3; i++ {
		get(t, "/x", "X-Client", "c1").expect(t, 200, upstreamBody)
		if got := be.last(t).Header.Get("X-Hits"); got != fmt.Sprint(i) {
			t.Fatalf("request %d: backend saw X-Hits %q", i, got)
		}
	}
	if got := auth.last(t).Header.Get("X-Client"); got != "c1" {
		t.Fatalf("auth service saw X-Client %q", got)
	}

	// Auth service down: the script's own 502 within its timeout.
	auth.Close()
	t0 := time.Now()
	if r := get(t, "/x", "X-Client", "c1"); r.Status != 502 {
		t.Fatalf("auth service down: got %d, want the script's 502", r.Status)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("unreachable auth service took %s", d)
	}
	if e := g.waitLog("auth call"); !strings.Contains(fmt.Sprint(e), "auth call") {
		t.Fatalf("no log line for the failed call: %v", e)
	}
}
