package dynupstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Helpers of the unit tests.

// testCluster builds a live cluster from a dyups body; its server states
// are released when the test ends.
func testCluster(t testing.TB, name, body string) *cluster {
	t.Helper()
	cfg, err := ParseDyups(body)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(name, cfg, nil)
	t.Cleanup(c.release)
	return c
}

// testRequest returns a request with what Caddy gives a request: a
// replacer and a vars map; cancel ends it.
func testRequest() (r *http.Request, repl *caddy.Replacer, cancel context.CancelFunc) {
	repl = caddy.NewReplacer()
	ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	ctx, cancel = context.WithCancel(ctx)
	return httptest.NewRequest("GET", "/", nil).WithContext(ctx), repl, cancel
}

// addrs returns n test addresses.
func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.0.%d:80", i+1)
	}
	return out
}

// testTables numbers the live tables of the registries the tests build.
var testTables atomic.Int64

// testProvision builds and starts a registry with its own live table
// kept in memory.
func testProvision(clusters map[string]*ClusterConfig, logger *zap.Logger) (*Registry, error) {
	r, err := provision(clusters, logger, nil, fmt.Sprintf("test-%d", testTables.Add(1)), Options{})
	if err == nil {
		r.Start()
	}
	return r, err
}
