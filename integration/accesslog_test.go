package integration

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccessLogFields: the access log entries of a server with `log` carry
// the resty handler's fields: the matched route, the upstream cluster,
// server, status and latency of the proxied try, the consumer an auth
// plugin matched, and the count of Lua errors; a request the handler did
// nothing for carries none of them.
func TestAccessLogFields(t *testing.T) {
	g := plStartGateway(t, plOptions{
		site: "\tlog {\n\t\toutput file @DIR@/access.log\n\t\tformat json\n\t}\n" +
			"\thandle /err {\n\t\tresty {\n\t\t\taccess_by_lua \"error('boom')\"\n\t\t}\n\t}\n",
		routes: `
		route api {
			path /api/*
			plugin key-auth ` + bq(`{"header": "X-Api-Key", "consumers": [{"name": "alice", "key": "k-alice"}]}`) + `
			proxy be
		}`})
	plExpect(t, "api", g.do("GET", "/api/one", map[string]string{"X-Api-Key": "k-alice"}, ""), 200)
	plExpect(t, "denied", g.do("GET", "/api/two", nil, ""), 401)
	plExpect(t, "lua error", g.do("GET", "/err", nil, ""), 500)
	plExpect(t, "plain", g.do("GET", "/plain", nil, ""), 200)

	entries := accessEntries(t, filepath.Join(g.dir, "access.log"), 4)
	api := entries["/api/one"]
	if api["resty_route"] != "api" || api["resty_upstream"] != "be" || api["resty_upstream_addr"] != g.backend.addr ||
		api["resty_upstream_status"] != 200.0 || api["resty_consumer"] != "alice" {
		t.Fatalf("proxied request: %v", api)
	}
	if l, ok := api["resty_upstream_latency"].(float64); !ok || l <= 0 || l > 5 {
		t.Fatalf("upstream latency %v", api["resty_upstream_latency"])
	}
	if _, ok := api["resty_lua_errors"]; ok {
		t.Fatalf("errors on a clean request: %v", api)
	}
	denied := entries["/api/two"]
	if denied["resty_route"] != "api" || denied["resty_upstream"] != nil || denied["resty_consumer"] != nil {
		t.Fatalf("denied request: %v", denied)
	}
	if e := entries["/err"]; e["resty_lua_errors"] != 1.0 || e["resty_route"] != nil {
		t.Fatalf("Lua error: %v", e)
	}
	for k := range entries["/plain"] {
		if strings.HasPrefix(k, "resty_") {
			t.Fatalf("a request without resty has %s: %v", k, entries["/plain"])
		}
	}
}

// accessEntries reads the JSON access log until it has n entries (5 s at
// most) and returns them by request URI.
func accessEntries(t *testing.T, path string, n int) map[string]map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := map[string]map[string]any{}
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var e map[string]any
				if json.Unmarshal(sc.Bytes(), &e) != nil {
					continue
				}
				req, _ := e["request"].(map[string]any)
				if uri, _ := req["uri"].(string); uri != "" {
					out[uri] = e
				}
			}
			f.Close()
		}
		if len(out) >= n || time.Now().After(deadline) {
			if len(out) < n {
				t.Fatalf("access log has %d entries, want %d", len(out), n)
			}
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}
