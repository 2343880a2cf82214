package dynupstream

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestActiveHealthCheck(t *testing.T) {
	var sick atomic.Bool
	var hosts atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.Host + " " + r.URL.RequestURI())
		if sick.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close()
	addr := srv.Listener.Addr().String()

	core, logs := observer.New(zap.InfoLevel)
	goroutines := runtime.NumGoroutine()
	cfg, err := ParseDyups("server " + addr + "; server " + deadAddr + "; health_check /hc?x=1 interval=100ms timeout=200ms host=svc.local fails=2;")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := testProvision(map[string]*ClusterConfig{"hc": cfg}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	status := func() ClusterStatus { st, _ := reg.ClusterStatus("hc"); return st }
	waitUntil(t, func() bool { return status().Servers[1].Health == HealthUnhealthy })
	if st := status(); st.Servers[0].Health != HealthUp || st.Available != 1 ||
		!strings.Contains(st.Servers[1].Check.LastProblem, "connection refused") {
		t.Errorf("status %+v", st)
	}
	if h, _ := hosts.Load().(string); h != "svc.local /hc?x=1" {
		t.Errorf("check request %q", h)
	}
	sick.Store(true)
	waitUntil(t, func() bool { return status().Servers[0].Health == HealthUnhealthy })
	if p := status().Servers[0].Check.LastProblem; p != "status 500, want 2xx" {
		t.Errorf("problem %q", p)
	}
	sick.Store(false)
	waitUntil(t, func() bool { return status().Servers[0].Health == HealthUp })
	if n := logs.FilterMessage("upstream server unhealthy").Len(); n != 2 {
		t.Errorf("%d unhealthy transitions logged, want 2: %v", n, logs.All())
	}
	if n := logs.FilterMessage("upstream server healthy").Len(); n != 1 {
		t.Errorf("%d healthy transitions logged, want 1", n)
	}

	// A second config with the same cluster shares the checker and the
	// state; the checker stops when the last config goes.
	reg2, err := testProvision(map[string]*ClusterConfig{"hc": cfg}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := pool.References(checkerKey{"hc"}); n != 2 {
		t.Errorf("checker references %d", n)
	}
	if st, _ := reg2.ClusterStatus("hc"); st.Servers[1].Health != HealthUnhealthy {
		t.Errorf("the new config lost the health state: %+v", st.Servers[1])
	}
	reg.Cleanup()
	reg.Cleanup() // idempotent
	if n, _ := pool.References(checkerKey{"hc"}); n != 1 {
		t.Errorf("checker references %d", n)
	}
	reg2.Cleanup()
	if _, ok := pool.References(checkerKey{"hc"}); ok {
		t.Errorf("checker still in the pool")
	}
	if _, ok := pool.References(serverKey{"hc", addr}); ok {
		t.Errorf("server state still in the pool")
	}
	waitUntil(t, func() bool { return runtime.NumGoroutine() <= goroutines })
}
