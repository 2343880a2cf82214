package integration

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Tests of the traffic control plugins: limit-count (local and Redis),
// limit-req, limit-conn, api-breaker.

// bq wraps a JSON plugin config in the Caddyfile's backquotes.

// quota returns a reply's X-RateLimit-Limit, -Remaining and -Reset.
func quota(r plReply) (limit, remaining, reset string) {
	return r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")
}

// expectQuota checks the quota headers of a reply; reset must be a whole
// number of seconds in [1, maxReset].
func expectQuota(t *testing.T, what string, r plReply, limit, remaining string, maxReset int) {
	t.Helper()
	l, rem, reset := quota(r)
	n, err := strconv.Atoi(reset)
	if l != limit || rem != remaining || err != nil || n < 1 || n > maxReset {
		t.Fatalf("%s: want X-RateLimit-Limit %s, -Remaining %s, -Reset in [1, %d]; got %q %q %q: %s",
			what, limit, remaining, maxReset, l, rem, reset, r)
	}
}

// TestPluginLimitCountLocal: exact counts and quota headers on accepted
// and rejected answers, the rejection's status and body, keys from a
// header and from a combination, groups, a window that resets, and bad
// configs refused naming the field.
func TestPluginLimitCountLocal(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route lc {
			path /lc/*
			plugin limit-count ` + bq(`{"count": 3, "time_window": 60, "key": "http_x_user", "rejected_code": 429, "rejected_msg": "too many requests"}`) + `
			proxy be
		}
		route lcdefault {
			path /lcdefault
			plugin limit-count ` + bq(`{"count": 1, "time_window": 60}`) + `
			proxy be
		}
		route combo {
			path /combo
			plugin limit-count ` + bq(`{"count": 1, "time_window": 60, "key_type": "var_combination", "key": "$http_x_a-$http_x_b", "rejected_code": 429}`) + `
			proxy be
		}
		route noheaders {
			path /noheaders
			plugin limit-count ` + bq(`{"count": 1, "time_window": 60, "key_type": "constant", "key": "all", "show_limit_quota_header": false}`) + `
			proxy be
		}
		route g1 {
			path /g1
			plugin limit-count ` + bq(`{"count": 2, "time_window": 60, "group": "shared", "key_type": "constant", "key": "k"}`) + `
			proxy be
		}
		route g2 {
			path /g2
			plugin limit-count ` + bq(`{"count": 2, "time_window": 60, "group": "shared", "key_type": "constant", "key": "k"}`) + `
			proxy be
		}
		route window {
			path /window
			plugin limit-count ` + bq(`{"count": 1, "time_window": 2, "key_type": "constant", "key": "w"}`) + `
			proxy be
		}`})

	alice := map[string]string{"X-User": "alice"}
	for i := 1; i <= 3; i++ {
		r := g.do("GET", "/lc/x", alice, "")
		plExpect(t, fmt.Sprintf("alice #%d", i), r, 200)
		r.echo(t)
		expectQuota(t, fmt.Sprintf("alice #%d", i), r, "3", strconv.Itoa(3-i), 60)
	}
	for i := 4; i <= 5; i++ {
		r := g.do("GET", "/lc/x", alice, "")
		plExpect(t, fmt.Sprintf("alice #%d", i), r, 429, `{"error_msg":"too many requests"}`)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("rejection Content-Type %q: %s", ct, r)
		}
		expectQuota(t, fmt.Sprintf("alice #%d", i), r, "3", "0", 60)
	}
	g.expectLog(t, "limit-count: rejected")
	// another header value has its own counter
	r := g.do("GET", "/lc/x", map[string]string{"X-User": "bob"}, "")
	plExpect(t, "bob", r, 200)
	expectQuota(t, "bob", r, "3", "2", 60)
	// without the header: limited by the client IP, on its own counter
	r = g.do("GET", "/lc/x", nil, "")
	plExpect(t, "no X-User", r, 200)
	expectQuota(t, "no X-User", r, "3", "2", 60)

	// defaults: key remote_addr, rejected_code 503, no body of ours
	plExpect(t, "default #1", g.do("GET", "/lcdefault", nil, ""), 200)
	r = g.do("GET", "/lcdefault", nil, "")
	plExpect(t, "default #2", r, 503)
	if strings.Contains(r.body, "error_msg") {
		t.Fatalf("a body without rejected_msg: %s", r)
	}
	expectQuota(t, "default #2", r, "1", "0", 60)

	// var_combination: "$http_x_a-$http_x_b"
	ab := map[string]string{"X-A": "1", "X-B": "2"}
	plExpect(t, "combo 1-2", g.do("GET", "/combo", ab, ""), 200)
	plExpect(t, "combo 1-2 again", g.do("GET", "/combo", ab, ""), 429)
	plExpect(t, "combo 1-3", g.do("GET", "/combo", map[string]string{"X-A": "1", "X-B": "3"}, ""), 200)
	plExpect(t, "combo 2-2", g.do("GET", "/combo", map[string]string{"X-A": "2", "X-B": "2"}, ""), 200)

	// show_limit_quota_header false
	r = g.do("GET", "/noheaders", nil, "")
	plExpect(t, "noheaders #1", r, 200)
	if l, rem, reset := quota(r); l+rem+reset != "" {
		t.Fatalf("quota headers with show_limit_quota_header false: %s", r)
	}
	plExpect(t, "noheaders #2", g.do("GET", "/noheaders", nil, ""), 503)

	// a group shares one counter between routes
	plExpect(t, "g1", g.do("GET", "/g1", nil, ""), 200)
	plExpect(t, "g2", g.do("GET", "/g2", nil, ""), 200)
	plExpect(t, "g1 over", g.do("GET", "/g1", nil, ""), 503)
	plExpect(t, "g2 over", g.do("GET", "/g2", nil, ""), 503)

	// the window resets
	r = g.do("GET", "/window", nil, "")
	plExpect(t, "window #1", r, 200)
	expectQuota(t, "window #1", r, "1", "0", 2)
	plExpect(t, "window #2", g.do("GET", "/window", nil, ""), 503)
	time.Sleep(2200 * time.Millisecond)
	r = g.do("GET", "/window", nil, "")
	plExpect(t, "window after reset", r, 200)
	expectQuota(t, "window after reset", r, "1", "0", 2)

	for _, c := range []struct{ conf, field string }{
		{`{"count": 0, "time_window": 60}`, "count"},
		{`{"time_window": 60}`, "count"},
		{`{"count": 1, "time_window": 60, "key_type": "header"}`, "key_type"},
		{`{"count": 1, "time_window": 60, "rejected_code": 600}`, "rejected_code"},
		{`{"count": 1, "time_window": 60, "policy": "redis"}`, "redis_host"},
		{`{"count": 1, "time_window": 60, "policy": "redis", "redis": {}}`, "address"},
		{`{"count": 1, "time_window": 60, "policy": "redis", "redis": {"address": "a:b:c"}}`, "address"},
		{`{"count": 1, "time_window": 60, "windw": 3}`, "windw"},
	} {
		plRefused(t, `
		route badlc {
			path /x
			plugin limit-count `+bq(c.conf)+`
			proxy be
		}`, "badlc", "limit-count", c.field)
	}
}

// TestPluginLimitCountRedis: two Caddy processes share their counters
// through one Redis (both forms of the Redis settings): 100 requests
// spread over both, some at once, against a limit of 60 give exactly 60
// accepted and 40 rejected. With Redis down, allow_degradation lets
// requests through, else they get 500.
func TestPluginLimitCountRedis(t *testing.T) {
	redisAddr := startRedis(t)
	host, port, _ := net.SplitHostPort(redisAddr)
	dead := freePort(t)
	routes := `
		route shared {
			path /shared
			plugin limit-count ` + bq(`{"count": 60, "time_window": 120, "key_type": "constant", "key": "all", "rejected_code": 429, "policy": "redis", "redis": {"address": "`+redisAddr+`", "database": 3}}`) + `
			proxy be
		}
		route flat {
			path /flat
			plugin limit-count ` + bq(`{"count": 3, "time_window": 120, "policy": "redis", "redis_host": "`+host+`", "redis_port": `+port+`, "redis_timeout": 2000}`) + `
			proxy be
		}
		route degrade {
			path /degrade
			plugin limit-count ` + bq(fmt.Sprintf(`{"count": 3, "time_window": 60, "policy": "redis", "redis": {"address": "127.0.0.1:%d"}, "allow_degradation": true}`, dead)) + `
			proxy be
		}
		route down {
			path /down
			plugin limit-count ` + bq(fmt.Sprintf(`{"count": 3, "time_window": 60, "policy": "redis", "redis_host": "127.0.0.1", "redis_port": %d}`, dead)) + `
			proxy be
		}`
	g1 := plStartGateway(t, plOptions{routes: routes})
	g2 := plStartGateway(t, plOptions{routes: routes})
	gws := []*plGateway{g1, g2}

	// 100 requests, alternating between the gateways, 4 at a time
	var ok, rejected, other atomic.Int64
	var bad sync.Once
	var badReply string
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := gws[i%2].do("GET", "/shared", nil, "")
				switch {
				case r.err == nil && r.status == 200:
					ok.Add(1)
				case r.err == nil && r.status == 429:
					rejected.Add(1)
				default:
					other.Add(1)
					bad.Do(func() { badReply = r.String() })
				}
			}
		}()
	}
	for i := 0; i < 100; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if ok.Load() != 60 || rejected.Load() != 40 || other.Load() != 0 {
		t.Fatalf("100 requests over two gateways, limit 60: %d accepted, %d rejected, %d other (%s)",
			ok.Load(), rejected.Load(), other.Load(), badReply)
	}
	// the quota headers come from Redis
	r := g1.do("GET", "/shared", nil, "")
	plExpect(t, "shared after 100", r, 429)
	expectQuota(t, "shared after 100", r, "60", "0", 120)

	// APISIX's flat fields, counted across both gateways
	for i, g := range []*plGateway{g1, g2, g1} {
		r := g.do("GET", "/flat", nil, "")
		plExpect(t, fmt.Sprintf("flat #%d", i+1), r, 200)
		expectQuota(t, fmt.Sprintf("flat #%d", i+1), r, "3", strconv.Itoa(2-i), 120)
	}
	r = g2.do("GET", "/flat", nil, "")
	plExpect(t, "flat #4", r, 503)
	expectQuota(t, "flat #4", r, "3", "0", 120)

	// Redis unreachable
	r = g1.do("GET", "/degrade", nil, "")
	plExpect(t, "degraded", r, 200)
	r.echo(t)
	g1.expectLog(t, "allow_degradation")
	r = g1.do("GET", "/down", nil, "")
	plExpect(t, "redis down", r, 500, `{"error_msg":"failed to limit count"}`)
	g1.expectLog(t, "failed to limit count")
}

// TestPluginLimitReq: the burst passes at once with nodelay and the rest
// is rejected (status, body); without nodelay the burst is delayed to the
// rate; keys from a header; bad configs refused.
func TestPluginLimitReq(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route fast {
			path /fast
			plugin limit-req ` + bq(`{"rate": 0.2, "burst": 2, "key": "http_x_user", "nodelay": true, "rejected_code": 429, "rejected_msg": "slow down"}`) + `
			proxy be
		}
		route strict {
			path /strict
			plugin limit-req ` + bq(`{"rate": 0.2, "burst": 0, "key": "remote_addr"}`) + `
			proxy be
		}
		route delayed {
			path /delayed
			plugin limit-req ` + bq(`{"rate": 2, "burst": 1, "key": "remote_addr"}`) + `
			proxy be
		}`})
	alice := map[string]string{"X-User": "alice"}
	for i := 1; i <= 3; i++ {
		start := time.Now()
		r := g.do("GET", "/fast", alice, "")
		plExpect(t, fmt.Sprintf("alice #%d", i), r, 200)
		r.echo(t)
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Logf("alice #%d took %v with nodelay (a loaded machine?)", i, d)
		}
	}
	for i := 4; i <= 5; i++ {
		r := g.do("GET", "/fast", alice, "")
		plExpect(t, fmt.Sprintf("alice #%d", i), r, 429, `{"error_msg":"slow down"}`)
	}
	g.expectLog(t, "limit-req: rejected")
	plExpect(t, "bob", g.do("GET", "/fast", map[string]string{"X-User": "bob"}, ""), 200)

	plExpect(t, "strict #1", g.do("GET", "/strict", nil, ""), 200)
	r := g.do("GET", "/strict", nil, "")
	plExpect(t, "strict #2", r, 503)
	if strings.Contains(r.body, "error_msg") {
		t.Fatalf("a body without rejected_msg: %s", r)
	}

	// rate 2/s, burst 1: the second request at once is delayed ~0.5s
	plExpect(t, "delayed #1", g.do("GET", "/delayed", nil, ""), 200)
	start := time.Now()
	plExpect(t, "delayed #2", g.do("GET", "/delayed", nil, ""), 200)
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Fatalf("the burst request was not delayed: %v", d)
	}

	for _, c := range []struct{ conf, field string }{
		{`{"rate": 0, "burst": 1, "key": "remote_addr"}`, "rate"},
		{`{"rate": 1, "burst": -1, "key": "remote_addr"}`, "burst"},
		{`{"rate": 1, "burst": 1}`, "key"},
		{`{"rate": 1, "burst": 1, "key": "remote_addr", "key_type": "constant"}`, "key_type"},
		{`{"rate": 1, "burst": 1, "key": "remote_addr", "nodelay": "yes"}`, "nodelay"},
	} {
		plRefused(t, `
		route badlr {
			path /x
			plugin limit-req `+bq(c.conf)+`
			proxy be
		}`, "badlr", "limit-req", c.field)
	}
}

// heldBackend answers /hold/* requests only when released, counting
// those in flight; other requests at once.
type heldBackend struct {
	mu       sync.Mutex
	release  chan struct{}
	inFlight atomic.Int64
	total    atomic.Int64
}

func newHeldBackend() *heldBackend { return &heldBackend{release: make(chan struct{})} }

func (b *heldBackend) handler(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/hold") {
		b.total.Add(1)
		b.inFlight.Add(1)
		defer b.inFlight.Add(-1)
		b.mu.Lock()
		ch := b.release
		b.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
		}
	}
	plEchoHandler(w, r)
}

// open lets the held requests go, and returns a function that holds the
// next ones again.
func (b *heldBackend) open() {
	b.mu.Lock()
	close(b.release)
	b.mu.Unlock()
}

func (b *heldBackend) hold() {
	b.mu.Lock()
	b.release = make(chan struct{})
	b.mu.Unlock()
}

// TestPluginLimitConn: with conn 2 and burst 1, of 6 concurrent slow
// requests 3 reach the upstream (the burst one delayed) and 3 are
// rejected; once they are done the count is back to 0 (also for requests
// a later plugin rejects), so the next burst is accepted in full.
func TestPluginLimitConn(t *testing.T) {
	be := newHeldBackend()
	g := plStartGateway(t, plOptions{backend: be.handler,
		files: map[string]string{"conn.lua": `local v = ngx.shared["plugin-limit-conn"]:get(ngx.req.get_uri_args().key)
ngx.print(tostring(v))`},
		site: "\thandle /_conn {\n\t\tresty {\n\t\t\tcontent_by_lua_file @DIR@/conn.lua\n\t\t}\n\t}\n",
		routes: `
		route conn {
			path /hold/*
			plugin limit-conn ` + bq(`{"conn": 2, "burst": 1, "default_conn_delay": 0.1, "key": "http_x_user", "rejected_code": 429, "rejected_msg": "busy"}`) + `
			proxy be
		}
		route conndefault {
			path /cd
			plugin limit-conn ` + bq(`{"conn": 1, "burst": 0, "default_conn_delay": 0.1, "only_use_default_delay": true, "key_type": "var_combination", "key": "$remote_addr $http_x_user"}`) + `
			plugin limit-count ` + bq(`{"count": 2, "time_window": 60, "key_type": "constant", "key": "cd", "rejected_code": 429}`) + `
			proxy be
		}`})
	user := map[string]string{"X-User": "u1"}
	connCount := func(key string) string {
		r := g.do("GET", "/_conn?key="+url.QueryEscape(key), nil, "")
		return r.body
	}
	burst := func(n int, wantOK, wantRejected int) {
		t.Helper()
		replies := make(chan plReply, n)
		for i := 0; i < n; i++ {
			go func() { replies <- g.do("GET", "/hold/x", user, "") }()
		}
		// the rejected ones answer at once; the others wait at the backend
		var got []plReply
		for i := 0; i < wantRejected; i++ {
			select {
			case r := <-replies:
				plExpect(t, "rejected", r, 429, `{"error_msg":"busy"}`)
				got = append(got, r)
			case <-time.After(15 * time.Second):
				t.Fatalf("no rejection within 15s (%d so far)", len(got))
			}
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("%d requests at the backend", wantOK), func() bool { return be.inFlight.Load() == int64(wantOK) })
		be.open()
		for i := 0; i < wantOK; i++ {
			r := <-replies
			plExpect(t, "accepted", r, 200)
		}
		be.hold()
	}
	burst(6, 3, 3)
	g.expectLog(t, "limit-conn: rejected")
	if be.total.Load() != 3 {
		t.Fatalf("%d requests reached the backend, want 3", be.total.Load())
	}
	// every request counted is taken off in the log phase
	waitFor(t, 10*time.Second, "the count back to 0", func() bool { return connCount("route:conn:u1") == "0" })
	burst(3, 3, 0)
	waitFor(t, 10*time.Second, "the count back to 0", func() bool { return connCount("route:conn:u1") == "0" })

	// limit-count (a later plugin) rejects: the connection is still
	// taken off the count; the default rejection is 503 without a body
	for i := 1; i <= 4; i++ {
		want := 200
		if i > 2 {
			want = 429
		}
		r := g.do("GET", "/cd", user, "")
		plExpect(t, fmt.Sprintf("cd #%d", i), r, want)
		waitFor(t, 10*time.Second, "the count back to 0", func() bool { return connCount("route:conndefault:127.0.0.1 u1") == "0" })
	}

	for _, c := range []struct{ conf, field string }{
		{`{"conn": 0, "burst": 1, "default_conn_delay": 0.1, "key": "remote_addr"}`, "conn"},
		{`{"conn": 1, "burst": 1, "key": "remote_addr"}`, "default_conn_delay"},
		{`{"conn": 1, "burst": 1, "default_conn_delay": 0.1, "key": "remote_addr", "rejected_code": 100}`, "rejected_code"},
	} {
		plRefused(t, `
		route badconn {
			path /x
			plugin limit-conn `+bq(c.conf)+`
			proxy be
		}`, "badconn", "limit-conn", c.field)
	}
}

// TestPluginLimitConnDefault: over the limit without rejected_msg, the
// answer is 503 and no body of ours.
func TestPluginLimitConnDefault(t *testing.T) {
	be := newHeldBackend()
	g := plStartGateway(t, plOptions{backend: be.handler, routes: `
		route c1 {
			path /hold/*
			plugin limit-conn ` + bq(`{"conn": 1, "burst": 0, "default_conn_delay": 0.1, "key": "remote_addr"}`) + `
			proxy be
		}`})
	first := make(chan plReply, 1)
	go func() { first <- g.do("GET", "/hold/1", nil, "") }()
	waitFor(t, 10*time.Second, "the first request at the backend", func() bool { return be.inFlight.Load() == 1 })
	r := g.do("GET", "/hold/2", nil, "")
	plExpect(t, "second", r, 503)
	if strings.Contains(r.body, "error_msg") {
		t.Fatalf("a body without rejected_msg: %s", r)
	}
	be.open()
	plExpect(t, "first", <-first, 200)
}

// TestPluginAPIBreaker: a backend failing opens the breaker after the
// configured failures (the break answer, with its body and headers, is
// served without calling the backend); after the break, with the backend
// healthy again, healthy answers close it.
func TestPluginAPIBreaker(t *testing.T) {
	var failing atomic.Bool
	var calls atomic.Int64
	failing.Store(true)
	g := plStartGateway(t, plOptions{global: fmt.Sprintf("\t\tupstream dead {\n\t\t\tserver 127.0.0.1:%d\n\t\t}\n", freePort(t)), backend: func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if failing.Load() {
			http.Error(w, "backend down", http.StatusInternalServerError)
			return
		}
		plEchoHandler(w, r)
	}, routes: `
		route brk {
			path /brk
			plugin api-breaker ` + bq(`{"break_response_code": 502, "break_response_body": "breaker open", "break_response_headers": [{"key": "X-Breaker", "value": "open $uri"}], "unhealthy": {"http_statuses": [500, 503], "failures": 2}, "healthy": {"successes": 2}}`) + `
			proxy be
		}
		route deadbrk {
			path /deadbrk
			plugin api-breaker ` + bq(`{"break_response_code": 599, "break_response_body": "dead", "unhealthy": {"http_statuses": [502], "failures": 2}}`) + `
			proxy dead
		}
		route plain {
			path /plainbrk
			plugin api-breaker ` + bq(`{"break_response_code": 503, "unhealthy": {"failures": 1}, "max_breaker_sec": 3}`) + `
			proxy be
		}`})

	// two failures from the backend (passed through), then the breaker
	for i := 1; i <= 2; i++ {
		plExpect(t, fmt.Sprintf("failure #%d", i), g.do("GET", "/brk", nil, ""), 500, "backend down")
	}
	before := calls.Load()
	for i := 1; i <= 3; i++ {
		r := g.do("GET", "/brk", nil, "")
		plExpect(t, fmt.Sprintf("open #%d", i), r, 502, "breaker open")
		if h := r.header.Get("X-Breaker"); h != "open /brk" {
			t.Fatalf("X-Breaker %q: %s", h, r)
		}
	}
	if n := calls.Load() - before; n != 0 {
		t.Fatalf("the open breaker called the backend %d times", n)
	}
	g.expectLog(t, "api-breaker: open")

	// the first break lasts 2s; then requests reach the healthy backend
	failing.Store(false)
	time.Sleep(2200 * time.Millisecond)
	for i := 1; i <= 2; i++ {
		r := g.do("GET", "/brk", nil, "")
		plExpect(t, fmt.Sprintf("half open #%d", i), r, 200)
		r.echo(t)
	}
	// closed: a new failure does not open it again on its own
	failing.Store(true)
	plExpect(t, "one failure after closing", g.do("GET", "/brk", nil, ""), 500, "backend down")
	plExpect(t, "still closed", g.do("GET", "/brk", nil, ""), 500, "backend down")
	// that was the second failure: open again
	plExpect(t, "open again", g.do("GET", "/brk", nil, ""), 502, "breaker open")

	// without a body: the code alone, through Caddy's error handling
	plExpect(t, "plain failure", g.do("GET", "/plainbrk", nil, ""), 500)
	r := g.do("GET", "/plainbrk", nil, "")
	plExpect(t, "plain open", r, 503)
	if strings.Contains(r.body, "breaker") || strings.Contains(r.body, "backend down") {
		t.Fatalf("plain breaker body: %s", r)
	}

	// an upstream that does not answer: the gateway's 502 counts
	plExpect(t, "dead #1", g.do("GET", "/deadbrk", nil, ""), 502)
	plExpect(t, "dead #2", g.do("GET", "/deadbrk", nil, ""), 502)
	plExpect(t, "dead open", g.do("GET", "/deadbrk", nil, ""), 599, "dead")

	for _, c := range []struct{ conf, field string }{
		{`{}`, "break_response_code"},
		{`{"break_response_code": 700}`, "break_response_code"},
		{`{"break_response_code": 502, "max_breaker_sec": 2}`, "max_breaker_sec"},
		{`{"break_response_code": 502, "unhealthy": {"http_statuses": [404]}}`, "http_statuses"},
		{`{"break_response_code": 502, "healthy": {"successes": 0}}`, "successes"},
		{`{"break_response_code": 502, "break_response_headers": [{"key": "X-A"}]}`, "value"},
	} {
		plRefused(t, `
		route badbrk {
			path /x
			plugin api-breaker `+bq(c.conf)+`
			proxy be
		}`, "badbrk", "api-breaker", c.field)
	}
}

// TestPluginLimitCountConsumer: key consumer_name counts per consumer (set
// here by a small auth plugin of the test's own, as key-auth would).
func TestPluginLimitCountConsumer(t *testing.T) {
	dir := tempDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "resty", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	auth := `local plugin = require "resty.plugin"
return {
    name = "test-auth", priority = 2500,
    rewrite = function(conf, ctx)
        local who = ngx.var.http_x_who
        if who then plugin.set_consumer(ctx, { name = who }) end
    end,
}`
	if err := os.WriteFile(filepath.Join(dir, "resty", "plugins", "test-auth.lua"), []byte(auth), 0o644); err != nil {
		t.Fatal(err)
	}
	g := plStartGateway(t, plOptions{global: "\t\tlua_package_path " + dir + "/?.lua", routes: `
		route byconsumer {
			path /c
			plugin test-auth
			plugin limit-count ` + bq(`{"count": 1, "time_window": 60, "key": "consumer_name", "rejected_code": 429}`) + `
			proxy be
		}`})
	alice, bob := map[string]string{"X-Who": "alice"}, map[string]string{"X-Who": "bob"}
	plExpect(t, "alice", g.do("GET", "/c", alice, ""), 200)
	plExpect(t, "bob", g.do("GET", "/c", bob, ""), 200)
	plExpect(t, "alice again", g.do("GET", "/c", alice, ""), 429)
	plExpect(t, "bob again", g.do("GET", "/c", bob, ""), 429)
}

// TestPluginAPIBreakerOwnAnswers: answers no upstream gave (a later
// plugin's rejection, here limit-count's 503) are not the upstream's
// health: as in APISIX, only $upstream_status counts. Otherwise a client
// over its rate limit would open the breaker for every client.
func TestPluginAPIBreakerOwnAnswers(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route brklc {
			path /brklc
			plugin api-breaker ` + bq(`{"break_response_code": 502, "break_response_body": "breaker open", "unhealthy": {"http_statuses": [503], "failures": 1}}`) + `
			plugin limit-count ` + bq(`{"count": 1, "time_window": 60, "key": "http_x_user"}`) + `
			proxy be
		}`})
	plExpect(t, "mallory #1", g.do("GET", "/brklc", map[string]string{"X-User": "mallory"}, ""), 200)
	for i := 2; i <= 4; i++ {
		plExpect(t, fmt.Sprintf("mallory #%d (rate limited)", i), g.do("GET", "/brklc", map[string]string{"X-User": "mallory"}, ""), 503)
	}
	r := g.do("GET", "/brklc", map[string]string{"X-User": "alice"}, "")
	plExpect(t, "alice after mallory's rejections", r, 200)
	r.echo(t)
}

// TestPluginLimitCountConcurrent: 50 concurrent requests against count
// 20 (policy local): exactly 20 accepted.
func TestPluginLimitCountConcurrent(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route lcc {
			path /lcc
			plugin limit-count ` + bq(`{"count": 20, "time_window": 60, "key_type": "constant", "key": "c", "rejected_code": 429}`) + `
			proxy be
		}`})
	var ok, rejected atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := g.do("GET", "/lcc", nil, "")
			switch r.status {
			case 200:
				ok.Add(1)
			case 429:
				rejected.Add(1)
			default:
				t.Errorf("unexpected %s", r)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 || rejected.Load() != 30 {
		t.Fatalf("accepted %d, rejected %d; want 20 and 30", ok.Load(), rejected.Load())
	}
}

// TestPluginLimitConnAborted: requests whose client gives up while the
// upstream is slow, and requests whose upstream fails, leave the count
// at 0: nothing leaks.
func TestPluginLimitConnAborted(t *testing.T) {
	g := plStartGateway(t, plOptions{backend: func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/lca/fail" {
			panic(http.ErrAbortHandler) // the upstream cuts the connection
		}
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	},
		files: map[string]string{"conn.lua": `local v = ngx.shared["plugin-limit-conn"]:get(ngx.req.get_uri_args().key)
ngx.print(tostring(v))`},
		site: "\thandle /_conn {\n\t\tresty {\n\t\t\tcontent_by_lua_file @DIR@/conn.lua\n\t\t}\n\t}\n",
		routes: `
		route lca {
			path /lca/*
			plugin limit-conn ` + bq(`{"conn": 5, "burst": 0, "default_conn_delay": 0.1, "key": "http_x_k"}`) + `
			proxy be
		}`})
	client := &http.Client{Timeout: 300 * time.Millisecond}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(g.base + "/lca/slow")
			if err == nil {
				resp.Body.Close()
				t.Errorf("a slow request answered %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		r := g.do("GET", "/lca/fail", nil, "")
		if r.status == 200 {
			t.Fatalf("failing upstream: %s", r)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		v := g.do("GET", "/_conn?key="+url.QueryEscape("route:lca:127.0.0.1"), nil, "").body
		if v == "0" || v == "nil" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("limit-conn count after aborted requests: %s, want 0", v)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// and the full conn is available again
	var accepted atomic.Int64
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := g.do("GET", "/lca/fail", nil, ""); r.status != 503 || r.err != nil {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if accepted.Load() == 0 {
		t.Fatal("no request got through after the aborted ones")
	}
}
