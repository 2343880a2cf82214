package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// BenchmarkUpstreamConfigChange: the time from a /config change call to
// its effect (the call, which reloads the config, and the first request
// after it, which must reach the new server), with 10, 100 and 1,000
// clusters in the config.
func BenchmarkUpstreamConfigChange(b *testing.B) {
	x, y := newServer(b, "x"), newServer(b, "y")
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			var global strings.Builder
			for i := 0; i < n; i++ {
				fmt.Fprintf(&global, "upstream c%d {\n\tserver %s\n\tserver 10.255.%d.%d:8080 backup\n}\n", i, x.addr, i/250, i%250+1)
			}
			resetCaddy()
			tester := caddytest.NewTester(b)
			tester.InitServer(cfg{global: global.String(), site: proxyTo()}.render(filepath.Join(b.TempDir(), "caddy.log")), "caddyfile")
			if r := hit(b, "c0"); r.Body != "x" {
				b.Fatalf("before: %d %q", r.Status, r.Body)
			}
			target := []*server{y, x}
			var call time.Duration
			retries := connRetries.Load()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				to := target[i%2]
				start := time.Now()
				mustAdmin(b, "PATCH", "/config/apps/resty/upstreams/c0/servers/0/address", "application/json", fmt.Sprintf("%q", to.addr))
				call += time.Since(start)
				if r := hit(b, "c0"); r.Body != to.name {
					b.Fatalf("first request after the change: %d %q %v, want %s", r.Status, r.Body, r.Err, to.name)
				}
			}
			b.ReportMetric(float64(call.Microseconds())/float64(b.N)/1000, "call-ms/op")
			b.ReportMetric(float64(connRetries.Load()-retries), "conn-retries")
		})
	}
}
