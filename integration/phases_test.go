package integration

import (
	"net/http"
	"reflect"
	"strconv"
	"testing"
)

// sawRequest checks the last request the backend received.
func sawRequest(f func(t *testing.T, s seenReq)) func(*testing.T, *gateway, reply, *backend) {
	return func(t *testing.T, _ *gateway, _ reply, be *backend) {
		t.Helper()
		f(t, be.last(t))
	}
}

// sawHeaders checks request headers the backend received; "" means
// absent.
func sawHeaders(want map[string]string) func(*testing.T, *gateway, reply, *backend) {
	return sawRequest(func(t *testing.T, s seenReq) {
		t.Helper()
		for k, v := range want {
			if got := s.Header.Get(k); got != v {
				t.Errorf("backend saw %s: %q, want %q", k, got, v)
			}
		}
	})
}

// sawURI checks the path and query the backend received.
func sawURI(path, query string) func(*testing.T, *gateway, reply, *backend) {
	return sawRequest(func(t *testing.T, s seenReq) {
		t.Helper()
		if s.Path != path || s.RawQuery != query {
			t.Errorf("backend saw %s?%s, want %s?%s", s.Path, s.RawQuery, path, query)
		}
	})
}

// sawBody checks the body and its framing as the backend received them.
func sawBody(body string) func(*testing.T, *gateway, reply, *backend) {
	return sawRequest(func(t *testing.T, s seenReq) {
		t.Helper()
		if s.Body != body {
			t.Errorf("backend body %q, want %q", s.Body, body)
		}
		if s.ContentLength != int64(len(body)) || len(s.TransferEncoding) != 0 {
			t.Errorf("backend saw Content-Length %d, Transfer-Encoding %v; want Content-Length %d",
				s.ContentLength, s.TransferEncoding, len(body))
		}
		if cl := s.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
			t.Errorf("backend Content-Length header %q, want %d", cl, len(body))
		}
	})
}

// TestPhases: each phase does something observable on a proxied request
// or makes the response itself.
func TestPhases(t *testing.T) {
	runCases(t, []httpCase{
		{
			name:   "rewrite set_uri reaches the backend",
			site:   proxied(lua("rewrite", `ngx.req.set_uri("/rewritten/" .. ngx.var.arg_id)`)),
			path:   "/orig/path?id=7",
			status: 200, body: upstreamBody, calls: 1,
			check: sawURI("/rewritten/7", "id=7"),
		},
		{
			name:   "rewrite set_uri_args string",
			site:   proxied(lua("rewrite", `ngx.req.set_uri_args("a=1&b=two")`)),
			path:   "/p?old=1",
			status: 200, body: upstreamBody, calls: 1,
			check: sawURI("/p", "a=1&b=two"),
		},
		{
			name:   "rewrite set_uri_args table",
			site:   proxied(lua("rewrite", `ngx.req.set_uri_args({page = 3})`)),
			path:   "/p?old=1",
			status: 200, body: upstreamBody, calls: 1,
			check: sawURI("/p", "page=3"),
		},
		{
			name:   "rewrite ngx.var.args assignment",
			site:   proxied(lua("rewrite", `ngx.var.args = "x=" .. ngx.var.arg_y .. "&z=1"`)),
			path:   "/p?y=5",
			status: 200, body: upstreamBody, calls: 1,
			check: sawURI("/p", "x=5&z=1"),
		},
		{
			name: "rewrite set_header and clear_header",
			site: proxied(lua("rewrite", `ngx.req.set_header("X-Added", "v1")
ngx.req.clear_header("X-Remove")
ngx.req.set_header("X-Replace", "new")`)),
			path: "/h", hdr: []string{"X-Remove", "1", "X-Replace", "old", "X-Keep", "k"},
			status: 200, body: upstreamBody, calls: 1,
			check: checks(
				sawHeaders(map[string]string{"X-Added": "v1", "X-Remove": "", "X-Replace": "new", "X-Keep": "k"}),
				sawRequest(func(t *testing.T, s seenReq) {
					if got := s.Header.Values("X-Replace"); len(got) != 1 {
						t.Errorf("backend saw X-Replace %q, want one value", got)
					}
				})),
		},
		{
			name: "rewrite set_header with a table sends every value",
			site: proxied(lua("rewrite", `ngx.req.set_header("X-Multi", {"a", "b"})`)),
			path: "/h", status: 200, body: upstreamBody, calls: 1,
			check: sawRequest(func(t *testing.T, s seenReq) {
				if got := s.Header.Values("X-Multi"); !reflect.DeepEqual(got, []string{"a", "b"}) {
					t.Errorf("backend saw X-Multi %q, want [a b]", got)
				}
			}),
		},
		{
			name: "rewrite set_body_data reaches the backend with its length",
			site: proxied(lua("rewrite", `ngx.req.read_body()
ngx.req.set_body_data("replaced body: " .. ngx.req.get_body_data())`)),
			method: "POST", path: "/b", reqBody: "original",
			status: 200, body: upstreamBody, calls: 1,
			check: sawBody("replaced body: original"),
		},
		{
			// OpenResty: "request body not read yet" (t/044-req-body.t TEST 13).
			name:   "access set_body_data without reading the body first",
			site:   proxied(lua("access", `ngx.req.set_body_data("{}")`)),
			method: "POST", path: "/b", reqBody: "a much longer original body",
			status: 500, body: anyBody, calls: 0,
		},
		{
			name: "access rejects a request without the API key",
			site: proxied(lua("access", `if ngx.var.http_x_api_key ~= "secret" then
	return ngx.exit(ngx.HTTP_FORBIDDEN)
end
ngx.req.clear_header("X-Api-Key")`)),
			path: "/api", hdr: []string{"X-Api-Key", "wrong"},
			status: 403, body: anyBody, calls: 0,
		},
		{
			name: "access passes a request with the API key",
			site: proxied(lua("access", `if ngx.var.http_x_api_key ~= "secret" then
	return ngx.exit(ngx.HTTP_FORBIDDEN)
end
ngx.req.clear_header("X-Api-Key")`)),
			path: "/api", hdr: []string{"X-Api-Key", "secret"},
			status: 200, body: upstreamBody, calls: 1,
			check: sawHeaders(map[string]string{"X-Api-Key": ""}),
		},
		{
			name: "content produces the response",
			site: proxied(lua("content", `ngx.header["X-Content"] = "lua"
ngx.say("hello ", ngx.var.arg_name)`)),
			path:   "/c?name=bob",
			status: 200, body: "hello bob\n", calls: 0,
			header: map[string]string{"X-Content": "lua", "Content-Type": "text/plain"},
		},
		{
			name:   "content sets ngx.status",
			site:   resty(lua("content", `ngx.status = 418; ngx.header.content_type = "application/json"; ngx.print('{"tea":true}')`)),
			path:   "/c",
			status: 418, body: `{"tea":true}`,
			header: map[string]string{"Content-Type": "application/json"},
		},
		{
			name: "header_filter changes headers and status of a proxied response",
			site: proxied(lua("header_filter", `ngx.header["X-Gateway"] = "caddy-resty"
ngx.header["X-Upstream"] = nil
ngx.header["X-Upstream-Status"] = ngx.status
ngx.status = 202`)),
			path:   "/hf",
			status: 202, body: upstreamBody, calls: 1,
			header: map[string]string{"X-Gateway": "caddy-resty", "X-Upstream": "", "X-Upstream-Status": "200"},
		},
		{
			name:   "header_filter sees the upstream's error status",
			site:   proxied(lua("header_filter", `ngx.header["X-Seen"] = ngx.status`)),
			path:   "/missing",
			status: 404, body: "nope\n", calls: 1,
			backend: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "nope", 404)
			},
			header: map[string]string{"X-Seen": "404"},
		},
		{
			name:   "body_filter rewrites a proxied body",
			site:   proxied(lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`)),
			path:   "/bf",
			status: 200, body: "UPSTREAM BODY", calls: 1,
		},
		{
			name: "body_filter changes the length and appends at eof",
			site: proxied(
				lua("header_filter", `ngx.header.content_length = nil`),
				lua("body_filter", `local chunk = ngx.arg[1]:gsub("body", "payload, rewritten")
if ngx.arg[2] then chunk = chunk .. " [end]" end
ngx.arg[1] = chunk`)),
			path:   "/bf",
			status: 200, body: "upstream payload, rewritten [end]", calls: 1,
			check: func(t *testing.T, _ *gateway, r reply, _ *backend) {
				if cl := r.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(r.Body)) {
					t.Errorf("Content-Length %s for a %d-byte body", cl, len(r.Body))
				}
			},
		},
		{
			name: "ngx.ctx is shared by every phase",
			site: proxied(
				lua("rewrite", `ngx.ctx.trail = "rewrite"`),
				lua("access", `ngx.ctx.trail = ngx.ctx.trail .. ",access"`),
				lua("header_filter", `ngx.ctx.trail = ngx.ctx.trail .. ",header_filter"
ngx.header["X-Trail"] = ngx.ctx.trail
ngx.header.content_length = nil`),
				lua("body_filter", `if ngx.arg[2] then
	ngx.ctx.trail = ngx.ctx.trail .. ",body_filter"
	ngx.arg[1] = ngx.arg[1] .. "|" .. ngx.ctx.trail
end`),
				lua("log", `ngx.shared.seen:set("trail", ngx.ctx.trail .. ",log")`)),
			path:   "/ctx",
			status: 200, body: upstreamBody + "|rewrite,access,header_filter,body_filter", calls: 1,
			header: map[string]string{"X-Trail": "rewrite,access,header_filter"},
			check: func(t *testing.T, _ *gateway, _ reply, _ *backend) {
				waitDict(t, "seen", "trail", "rewrite,access,header_filter,body_filter,log")
			},
		},
	})
}

// TestLogPhaseWritesSharedDict: the log phase runs after the response,
// sees the final status and ngx.ctx, and what it writes to a shared dict is
// read by later requests.
func TestLogPhaseWritesSharedDict(t *testing.T) {
	be := newBackend(t, false, nil)
	g := newGateway(t)
	g.load(cfg{
		global:  "shared_dict stats 1m",
		backend: be.addr,
		site: proxied(
			lua("access", `ngx.ctx.tag = ngx.var.arg_tag`),
			lua("header_filter", `if ngx.var.arg_status then ngx.status = tonumber(ngx.var.arg_status) end`),
			lua("log", `local d = ngx.shared.stats
d:incr("hits", 1, 0)
d:set("last", table.concat({ngx.var.request_method, ngx.var.uri, ngx.status, tostring(ngx.ctx.tag)}, " "))`)),
	})
	get(t, "/first?tag=a").expect(t, 200, upstreamBody)
	waitDict(t, "stats", "hits", "1")
	waitDict(t, "stats", "last", "GET /first 200 a")
	get(t, "/second?tag=b&status=299").expect(t, 299, upstreamBody)
	waitDict(t, "stats", "hits", "2")
	waitDict(t, "stats", "last", "GET /second 299 b")
	request(t, "DELETE", "/third", "").expect(t, 200, upstreamBody)
	waitDict(t, "stats", "hits", "3")
	waitDict(t, "stats", "last", "DELETE /third 200 nil")
}
