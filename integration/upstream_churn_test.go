package integration

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// membership is a change of a cluster's servers as the test made it:
// the server joined (or left) the cluster during [start, end] (the change
// call).
type membership struct {
	cluster, server string
	join            bool
	start, end      time.Time
}

// churnResult is one request of the load.
type churnResult struct {
	cluster   string
	sent, got time.Time
	status    int
	server    string
	err       error
}

// churnState mirrors the clusters the test manages.
type churnState struct {
	t       *testing.T
	servers map[string]*server
	// stable: servers s1..s4 added, removed and reweighted through
	// /config; dyn: s5..s7 replaced in place through the dyups route;
	// repl: s8 or s9, the whole cluster replaced through /config; doomed:
	// s10, deleted and created again in place. The changes in place
	// survive the reloads of the /config changes.
	stable  []string // current servers of stable, in config order
	dyn     []string
	repl    string
	doomed  bool
	mu      sync.Mutex
	history []membership
}

func (cs *churnState) record(cluster string, before, after []string, start, end time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, s := range before {
		if !slices.Contains(after, s) {
			cs.history = append(cs.history, membership{cluster, s, false, start, end})
		}
	}
	for _, s := range after {
		if !slices.Contains(before, s) {
			cs.history = append(cs.history, membership{cluster, s, true, start, end})
		}
	}
}

// change makes one change and records what it did to the memberships.
func (cs *churnState) change(i int, rng *rand.Rand) {
	t := cs.t
	addr := func(name string) string { return cs.servers[name].addr }
	start := time.Now()
	switch i % 8 {
	case 0, 1, 2: // stable through /config
		before := slices.Clone(cs.stable)
		op := i % 8
		if op == 0 && len(cs.stable) == 4 || op == 1 && len(cs.stable) == 1 {
			op = 2
		}
		switch op {
		case 0:
			var free []string
			for _, s := range []string{"s1", "s2", "s3", "s4"} {
				if !slices.Contains(cs.stable, s) {
					free = append(free, s)
				}
			}
			s := free[rng.IntN(len(free))]
			mustAdmin(t, "POST", "/config/apps/resty/upstreams/stable/servers", "application/json",
				fmt.Sprintf(`{"address":%q,"weight":%d}`, addr(s), 1+rng.IntN(5)))
			cs.stable = append(cs.stable, s)
		case 1:
			idx := rng.IntN(len(cs.stable))
			mustAdmin(t, "DELETE", fmt.Sprintf("/config/apps/resty/upstreams/stable/servers/%d", idx), "", "")
			cs.stable = slices.Delete(cs.stable, idx, idx+1)
		case 2:
			idx := rng.IntN(len(cs.stable))
			mustAdmin(t, "POST", fmt.Sprintf("/config/apps/resty/upstreams/stable/servers/%d/weight", idx),
				"application/json", fmt.Sprint(1+rng.IntN(9)))
		}
		cs.record("stable", before, cs.stable, start, time.Now())
	case 3, 4: // dyn through the dyups route, text or JSON
		before := cs.dyn
		var after []string
		for _, s := range []string{"s5", "s6", "s7"} {
			if rng.IntN(2) == 0 {
				after = append(after, s)
			}
		}
		if len(after) == 0 {
			after = []string{"s6"}
		}
		if i%8 == 3 {
			var body strings.Builder
			for _, s := range after {
				fmt.Fprintf(&body, "server %s weight=%d;\n", addr(s), 1+rng.IntN(4))
			}
			mustAdmin(t, "POST", "/resty/upstreams/dyn", "", body.String())
		} else {
			var servers []map[string]any
			for _, s := range after {
				servers = append(servers, map[string]any{"address": addr(s), "weight": 1 + rng.IntN(4)})
			}
			js, _ := json.Marshal(map[string]any{"servers": servers, "lb_policy": map[string]string{"policy": "least_conn"}})
			mustAdmin(t, "POST", "/resty/upstreams/dyn", "application/json", string(js))
		}
		cs.dyn = after
		cs.record("dyn", before, after, start, time.Now())
	case 5: // repl: the whole cluster replaced through /config
		next := "s8"
		if cs.repl == "s8" {
			next = "s9"
		}
		mustAdmin(t, "POST", "/config/apps/resty/upstreams/repl", "application/json",
			fmt.Sprintf(`{"servers":[{"address":%q}],"health_check":{"path":"/healthz","interval":"200ms"}}`, addr(next)))
		cs.record("repl", []string{cs.repl}, []string{next}, start, time.Now())
		cs.repl = next
	case 6, 7: // doomed: deleted and created in place (text or JSON)
		if cs.doomed {
			mustAdmin(t, "DELETE", "/resty/upstreams/doomed", "", "")
			cs.record("doomed", []string{"s10"}, nil, start, time.Now())
		} else {
			if i%8 == 6 {
				mustAdmin(t, "POST", "/resty/upstreams/doomed", "",
					"server "+addr("s10")+"; health_check /healthz interval=200ms;")
			} else {
				mustAdmin(t, "POST", "/resty/upstreams/doomed", "application/json",
					fmt.Sprintf(`{"servers":[{"address":%q}]}`, addr("s10")))
			}
			cs.record("doomed", nil, []string{"s10"}, start, time.Now())
		}
		cs.doomed = !cs.doomed
	}
}

// check verifies one successful request against the memberships: the
// server answering it must not have left the cluster (change call
// returned) before the request was sent, unless it joined again
// (change call started) before the answer came.
func (cs *churnState) check(r churnResult) error {
	var leftAt *membership
	for i := range cs.history {
		m := &cs.history[i]
		if m.cluster != r.cluster || m.server != r.server {
			continue
		}
		if !m.join && m.end.Before(r.sent) {
			leftAt = m
		}
		if m.join && leftAt != nil && m.start.After(leftAt.end) && m.start.Before(r.got) {
			leftAt = nil
		}
	}
	if leftAt != nil {
		return fmt.Errorf("request to %s sent %s after %s left (change returned at %s) was answered by it",
			r.cluster, r.sent.Format("15:04:05.000000"), r.server, leftAt.end.Format("15:04:05.000000"))
	}
	return nil
}

// counts returns the number of goroutines and of open file descriptors.
func counts() (int, int) {
	fds, _ := os.ReadDir("/proc/self/fd")
	return runtime.NumGoroutine(), len(fds)
}

// TestUpstreamChurn: a bounded load runs while 200 changes go through
// /config and the dyups routes. No request fails but those sent to the
// cluster the test deletes; no request sent after a change returned goes
// to a server it removed; goroutines and file descriptors come back to
// where they were.
func TestUpstreamChurn(t *testing.T) {
	cs := &churnState{t: t, servers: map[string]*server{}}
	owner := map[string]string{}
	for i := 1; i <= 10; i++ {
		name := fmt.Sprintf("s%d", i)
		cs.servers[name] = newServer(t, name)
		switch {
		case i <= 4:
			owner[name] = "stable"
		case i <= 7:
			owner[name] = "dyn"
		case i <= 9:
			owner[name] = "repl"
		default:
			owner[name] = "doomed"
		}
	}
	addr := func(name string) string { return cs.servers[name].addr }
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf(`upstream stable {
	server %s
	server %s
}
upstream dyn {
	server %s
}
upstream repl {
	server %s
	health_check /healthz interval=200ms
}
upstream doomed {
	server %s
}`, addr("s1"), addr("s2"), addr("s5"), addr("s8"), addr("s10")),
		site: proxyTo(),
	})
	cs.stable, cs.dyn, cs.repl, cs.doomed = []string{"s1", "s2"}, []string{"s5"}, "s8", true

	// Warm up (connections, Caddy's lazily started goroutines), then
	// take the baseline.
	for _, c := range []string{"stable", "dyn", "repl", "doomed"} {
		spread(t, c, 3)
	}
	client.CloseIdleConnections()
	time.Sleep(300 * time.Millisecond)
	baseG, baseFD := counts()

	const clients, changes, minRequests = 6, 200, 3000
	var (
		mu      sync.Mutex
		results []churnResult
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := 0; w < clients; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				cluster := []string{"stable", "stable", "stable", "dyn", "dyn", "repl", "repl", "doomed"}[rng.IntN(8)]
				res := churnResult{cluster: cluster, sent: time.Now()}
				r := hit(t, cluster)
				res.got, res.status, res.server, res.err = time.Now(), r.Status, r.Body, r.Err
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
				time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
			}
		})
	}
	retriesBefore := connRetries.Load()
	rng := rand.New(rand.NewPCG(42, 42))
	start := time.Now()
	for i := 0; i < changes; i++ {
		cs.change(i, rng)
		time.Sleep(10 * time.Millisecond) // spread the changes over the load
	}
	elapsed := time.Since(start)
	for {
		mu.Lock()
		n := len(results)
		mu.Unlock()
		if n >= minRequests {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d changes in %s (%s per change), %d requests", changes, elapsed.Round(time.Millisecond),
		(elapsed / changes).Round(time.Microsecond), len(results))

	failed := map[string]int{}
	doomedFailed := 0
	for _, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			if r.cluster == "doomed" && r.err == nil && r.status == http.StatusBadGateway {
				doomedFailed++
				continue
			}
			failed[r.cluster]++
			if failed[r.cluster] <= 3 {
				t.Errorf("request to %s failed: status %d, err %v, body %q", r.cluster, r.status, r.err, r.server)
			}
			continue
		}
		if owner[r.server] != r.cluster {
			t.Errorf("request to %s answered by %q", r.cluster, r.server)
			continue
		}
		if err := cs.check(r); err != nil {
			t.Error(err)
		}
	}
	if len(failed) > 0 {
		t.Errorf("failed requests by cluster: %v", failed)
	}
	t.Logf("requests to the deleted cluster that got 502: %d; connection-level failures retried: %d", doomedFailed, connRetries.Load()-retriesBefore)

	// Goroutines and file descriptors settle back.
	client.CloseIdleConnections()
	var nowG, nowFD int
	deadline := time.Now().Add(20 * time.Second)
	for {
		nowG, nowFD = counts()
		if nowG <= baseG+3 && nowFD <= baseFD+3 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines %d -> %d, fds %d -> %d after the churn\n%s", baseG, nowG, baseFD, nowFD, buf[:n])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("goroutines %d -> %d, fds %d -> %d", baseG, nowG, baseFD, nowFD)
}
