package integration

import (
	"net"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// BenchmarkPlugins measures the bundled plugins' cost per request in one
// Caddy process, as BenchmarkProxy does for the proxies: plain
// reverse_proxy; the route table proxying (proxy_pass) with no plugin;
// then the same route with key-auth, limit-count (local policy, a limit
// never reached), both, and a proxy-cache hit (the backend is not
// reached). Each case is a route of its own path behind one `resty {
// routes }` site; reverse_proxy has a site of its own. It reports the
// process's CPU per request and heap allocations per request.
func BenchmarkPlugins(b *testing.B) {
	backend := rawBackend(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	_, rpPort, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	config := `{
	admin localhost:2999
	http_port 9080
	https_port 9443
	auto_https off
	persist_config off
	skip_install_trust
	log {
		output file ` + filepath.Join(b.TempDir(), "caddy.log") + `
		format json
		level INFO
	}
	resty {
		upstream be {
			server ` + backend + `
		}
		route none {
			path /none
			proxy be
		}
		route key {
			path /key
			plugin key-auth ` + benchKeyAuth + `
			proxy be
		}
		route limit {
			path /limit
			plugin limit-count ` + benchLimitCount + `
			proxy be
		}
		route both {
			path /both
			plugin key-auth ` + benchKeyAuth + `
			plugin limit-count ` + benchLimitCount + `
			proxy be
		}
		route cache {
			path /cache
			plugin proxy-cache
			proxy be
		}
	}
}
:9080 {
	resty {
		routes
	}
}
:` + rpPort + ` {
	reverse_proxy ` + backend + `
}
`
	resetCaddy()
	tester := caddytest.NewTester(b)
	tester.InitServer(config, "caddyfile")
	for _, c := range []struct{ name, port, path string }{
		{"reverse_proxy", rpPort, "/bench"},
		{"route", "9080", "/none"},
		{"key-auth", "9080", "/key"},
		{"limit-count", "9080", "/limit"},
		{"key-auth+limit-count", "9080", "/both"},
		{"proxy-cache-hit", "9080", "/cache"},
	} {
		b.Run(c.name, func(b *testing.B) { benchRaw(b, "127.0.0.1:"+c.port, c.path) })
	}
}

const (
	benchKeyAuth    = "`{\"header\": \"X-Api-Key\", \"consumers\": [{\"name\": \"bench\", \"key\": \"secret\"}]}`"
	benchLimitCount = "`{\"count\": 1000000000, \"time_window\": 60, \"key\": \"remote_addr\", \"rejected_code\": 429}`"
)
