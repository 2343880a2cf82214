package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/dynupstream"
)

// TestUpstreamActiveHealth: the active check takes out a server that
// fails it (503 on its health URI, or killed), logs the transitions,
// shows them in the admin API, keeps them across a reload, and brings
// the server back when it passes again.
func TestUpstreamActiveHealth(t *testing.T) {
	a, b, c := newServer(t, "a"), newServer(t, "b"), newServer(t, "c")
	global := fmt.Sprintf(`upstream pool {
	server %s
	server %s
	server %s
	health_check /healthz interval=100ms timeout=500ms passes=2 fails=2
}`, a.addr, b.addr, c.addr)
	g := newGateway(t)
	g.load(cfg{global: global, site: proxyTo()})
	waitFor(t, 5*time.Second, "first checks", func() bool {
		for _, s := range clusterStatus(t, "pool").Servers {
			if s.Check == nil || s.Check.LastChecked == nil {
				return false
			}
		}
		return true
	})

	b.sick.Store(true)
	c.kill()
	waitFor(t, 5*time.Second, "b and c unhealthy", func() bool {
		st := clusterStatus(t, "pool")
		return st.Available == 1 &&
			serverStatus(t, st, b.addr).Health == dynupstream.HealthUnhealthy &&
			serverStatus(t, st, c.addr).Health == dynupstream.HealthUnhealthy
	})
	st := serverStatus(t, clusterStatus(t, "pool"), b.addr)
	if st.Check.Healthy || st.Check.Fails < 2 || st.Check.LastProblem != "status 503, want 2xx" {
		t.Errorf("b's check status: %+v", st.Check)
	}
	g.waitLogged("upstream server unhealthy", map[string]string{
		"logger": "resty.upstreams", "upstream": "pool", "server": b.addr, "problem": "status 503, want 2xx"})
	g.waitLogged("upstream server unhealthy", map[string]string{"upstream": "pool", "server": c.addr})
	if got := spread(t, "pool", 20); got["a"] != 20 {
		t.Errorf("with b and c unhealthy: %v", got)
	}

	// A reload keeps the health state (no request goes to b or c while
	// the new config's first checks run) and the counters.
	reqsBefore := serverStatus(t, clusterStatus(t, "pool"), a.addr).Requests
	g.load(cfg{global: global + "\nshared_dict other 1m", site: proxyTo()})
	if got := spread(t, "pool", 10); got["a"] != 10 {
		t.Errorf("right after a reload: %v", got)
	}
	after := clusterStatus(t, "pool")
	if s := serverStatus(t, after, a.addr); s.Requests != reqsBefore+10 {
		t.Errorf("a's request count after the reload: %d, want %d", s.Requests, reqsBefore+10)
	}
	if s := serverStatus(t, after, b.addr); s.Health != dynupstream.HealthUnhealthy {
		t.Errorf("b after the reload: %+v", s)
	}

	// Recovery.
	b.sick.Store(false)
	waitFor(t, 5*time.Second, "b healthy", func() bool {
		return serverStatus(t, clusterStatus(t, "pool"), b.addr).Health == dynupstream.HealthUp
	})
	g.waitLogged("upstream server healthy", map[string]string{"upstream": "pool", "server": b.addr})
	if got := spread(t, "pool", 20); got["a"] != 10 || got["b"] != 10 {
		t.Errorf("after b recovered: %v", got)
	}
}

// TestUpstreamBackup: backups serve only when no primary is available,
// and hand back when a primary recovers (active check); with the passive
// check and retries, killed primaries fail over to the backup with no
// failed request.
func TestUpstreamBackup(t *testing.T) {
	p1, p2, bk := newServer(t, "p1"), newServer(t, "p2"), newServer(t, "bk")
	q1, q2 := newServer(t, "q1"), newServer(t, "q2")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf(`upstream active {
	server %s
	server %s
	server %s backup
	health_check /healthz interval=100ms
}
upstream passive {
	server %s fail_timeout=1m
	server %s backup
}`, p1.addr, p2.addr, bk.addr, q1.addr, q2.addr),
		site: proxyTo("lb_retries 1"),
	})
	if got := spread(t, "active", 10); got["p1"] != 5 || got["p2"] != 5 {
		t.Errorf("primaries up: %v", got)
	}
	p1.sick.Store(true)
	waitFor(t, 5*time.Second, "p1 unhealthy", func() bool {
		return serverStatus(t, clusterStatus(t, "active"), p1.addr).Health == dynupstream.HealthUnhealthy
	})
	if got := spread(t, "active", 10); got["p2"] != 10 {
		t.Errorf("one primary up: %v (the backup must wait)", got)
	}
	p2.sick.Store(true)
	waitFor(t, 5*time.Second, "p2 unhealthy", func() bool {
		return serverStatus(t, clusterStatus(t, "active"), p2.addr).Health == dynupstream.HealthUnhealthy
	})
	if got := spread(t, "active", 10); got["bk"] != 10 {
		t.Errorf("primaries down: %v", got)
	}
	p2.sick.Store(false)
	waitFor(t, 5*time.Second, "p2 healthy", func() bool {
		return serverStatus(t, clusterStatus(t, "active"), p2.addr).Health == dynupstream.HealthUp
	})
	if got := spread(t, "active", 10); got["p2"] != 10 {
		t.Errorf("a primary back: %v (the backup must hand back)", got)
	}

	if got := spread(t, "passive", 4); got["q1"] != 4 {
		t.Errorf("passive, primary up: %v", got)
	}
	q1.kill()
	if got := spread(t, "passive", 10); got["q2"] != 10 {
		t.Errorf("passive, primary killed: %v (want the backup, no failure)", got)
	}
	if s := serverStatus(t, settledStatus(t, "passive"), q1.addr); s.Health != dynupstream.HealthFailed || s.Failures != 1 {
		t.Errorf("killed primary: %+v", s)
	}
}
