package integration

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGatewayAPI covers ngx.var and ngx.req details a gateway relies on.
func TestGatewayAPI(t *testing.T) {
	const setTenant = `ngx.var.tenant = ngx.var.http_x_tenant .. "-checked"`
	cases := []httpCase{
		{
			name: "ngx.var.NAME is {http.vars.NAME} for a later respond",
			site: `route {
` + resty(lua("access", setTenant)) + `respond "tenant={http.vars.tenant}"
}`,
			path: "/t", hdr: []string{"X-Tenant", "acme"},
			status: 200, body: "tenant=acme-checked",
		},
		{
			name: "ngx.var.NAME is {http.vars.NAME} for reverse_proxy header_up",
			site: `route {
` + resty(lua("rewrite", setTenant)) + `reverse_proxy @BACKEND@ {
	header_up X-Tenant-Checked {http.vars.tenant}
}
}`,
			path: "/t", hdr: []string{"X-Tenant", "acme"},
			status: 200, body: upstreamBody, calls: 1,
			check: sawHeaders(map[string]string{"X-Tenant-Checked": "acme-checked"}),
		},
		{
			name: "ngx.req.get_headers includes host",
			site: resty(lua("content", `local h = ngx.req.get_headers()
ngx.say(h.host, "|", h["x-custom"], "|", h["X-Custom"], "|", ngx.var.host, "|", ngx.var.http_host)`)),
			path: "/h", hdr: []string{"Host", "api.example.test", "X-Custom", "v"},
			status: 200, body: "api.example.test|v|v|api.example.test|api.example.test\n",
		},
		{
			name: "request variables",
			site: resty(lua("content", `ngx.say(ngx.var.request_method, " ", ngx.var.request_uri, " ", ngx.var.uri, " ",
	ngx.var.args, " ", ngx.var.arg_a, " ", ngx.var.scheme, " ", ngx.var.remote_addr, " ", ngx.var.server_port)`)),
			path:   "/v/x?a=1&b=2",
			status: 200, body: "GET /v/x?a=1&b=2 /v/x a=1&b=2 1 http 127.0.0.1 9080\n",
		},
		{
			name:   "ngx.redirect in access",
			site:   proxied(lua("access", `return ngx.redirect("https://login.example.test/?next=" .. ngx.escape_uri(ngx.var.request_uri))`)),
			path:   "/private?x=1",
			status: 302, body: anyBody, calls: 0,
			header: map[string]string{"Location": "https://login.example.test/?next=%2Fprivate%3Fx%3D1"},
		},
	}
	readBody := lua("access", `ngx.req.read_body()
local b = ngx.req.get_body_data()
local f = ngx.req.get_body_file()
ngx.req.set_header("X-Body-Len", b and #b or "nil")
ngx.req.set_header("X-Body-File", f and "yes" or "no")`)
	for _, bc := range []struct {
		name, global      string
		size              int
		status, calls     int
		bodyLen, bodyFile string
	}{
		{"in memory", "", 200 << 10, 200, 1, strconv.Itoa(200 << 10), "no"},
		{"over lua_max_body_size (default 1m): 413", "", 17 << 20, 413, 0, "", ""},
		{"spooled to a temp file", "lua_max_body_size 32m\nlua_body_buffer_size 1m", 17 << 20, 200, 1, "nil", "yes"},
	} {
		body := strings.Repeat("0123456789abcdef", bc.size/16)
		c := httpCase{
			name:   fmt.Sprintf("read_body of a %d KiB POST: %s", bc.size>>10, bc.name),
			global: bc.global,
			site:   proxied(readBody),
			method: "POST", path: "/upload", reqBody: body,
			status: bc.status, body: anyBody, calls: bc.calls,
		}
		if bc.calls > 0 {
			c.body = upstreamBody
			c.check = checks(sawBody(body), sawHeaders(map[string]string{"X-Body-Len": bc.bodyLen, "X-Body-File": bc.bodyFile}))
		}
		cases = append(cases, c)
	}
	for _, delay := range []string{"0", "0.05"} {
		key := "timer-" + delay
		cases = append(cases, httpCase{
			name: "ngx.timer.at(" + delay + ") runs off the request and writes a shared dict",
			site: resty(lua("content", fmt.Sprintf(`local ok, err = ngx.timer.at(%s, function(premature, who)
	ngx.shared.seen:set(%q, who .. " in " .. ngx.get_phase() .. ", premature=" .. tostring(premature))
end, ngx.var.arg_who)
ngx.say("scheduled ", tostring(ok), " ", tostring(err))`, delay, key))),
			path:   "/timer?who=bob",
			status: 200, body: "scheduled 1 nil\n", // lua-nginx-module returns 1
			check: func(t *testing.T, _ *gateway, _ reply, _ *backend) {
				waitDict(t, "seen", key, "bob in timer, premature=false")
			},
		})
	}
	runCases(t, cases)
}

// TestConcurrentFiltersAreIsolated: concurrent requests through the same
// filters each get their own body and ngx.ctx.
func TestConcurrentFiltersAreIsolated(t *testing.T) {
	be := newBackend(t, false, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat(r.URL.Query().Get("id")+",", 2000))
	})
	g := newGateway(t)
	g.load(cfg{backend: be.addr, site: proxied(
		lua("access", `ngx.ctx.id = ngx.var.arg_id`),
		lua("header_filter", `ngx.header["X-Id"] = ngx.ctx.id
ngx.header.content_length = nil`),
		lua("body_filter", `ngx.ctx.n = (ngx.ctx.n or 0) + #ngx.arg[1]
if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "|" .. ngx.ctx.id .. ":" .. ngx.ctx.n end`))})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				id := string(rune('a'+w)) + string(rune('a'+i))
				req, _ := http.NewRequest("GET", gwURL+"/iso?id="+id, nil)
				r := doRequest(req)
				body := strings.Repeat(id+",", 2000)
				want := body + "|" + id + ":" + strconv.Itoa(len(body))
				if r.Err != nil || r.Status != 200 || r.Body != want || r.Header.Get("X-Id") != id {
					if bad.Add(1) <= 3 {
						t.Errorf("request %s: %d, X-Id %q, err %v, body tail %q", id, r.Status, r.Header.Get("X-Id"), r.Err, tail(r.Body))
					}
				}
			}
		}()
	}
	wg.Wait()
}

// tail is the end of a long body, for messages.
func tail(s string) string {
	if len(s) > 40 {
		return s[len(s)-40:]
	}
	return s
}

// TestStateNotHeldDuringUpstreamWait: with a single Lua state, requests
// whose every phase runs Lua still reach the backend concurrently: no
// state is held while a request waits on the upstream.
func TestStateNotHeldDuringUpstreamWait(t *testing.T) {
	const n = 8
	gt := newGate(t, n)
	be := newBackend(t, false, func(w http.ResponseWriter, r *http.Request) {
		gt.hold(10 * time.Second)
		io.WriteString(w, "slow "+r.URL.Query().Get("i"))
	})
	g := newGateway(t)
	g.load(cfg{global: "shared_dict seen 1m\nlua_max_states 1", backend: be.addr, site: proxied(
		lua("rewrite", `ngx.ctx.i = ngx.var.arg_i`),
		lua("access", `ngx.req.set_header("X-I", ngx.ctx.i)`),
		lua("header_filter", `ngx.header.content_length = nil`),
		lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`),
		lua("log", `ngx.shared.seen:incr("logged", 1, 0)`))})

	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/wait?i=%d", gwURL, i), nil)
			replies[i] = doRequest(req)
		}()
	}
	if got := gt.waitArrived(n, 5*time.Second); got < n {
		t.Errorf("only %d of %d requests reached the backend: a Lua state is held while waiting on the upstream", got, n)
	}
	gt.open()
	wg.Wait()
	for i, r := range replies {
		r.expect(t, 200, fmt.Sprintf("SLOW %d", i))
	}
	waitDict(t, "seen", "logged", strconv.Itoa(n))
}
