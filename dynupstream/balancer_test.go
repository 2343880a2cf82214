package dynupstream

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// picks runs n picks of a cluster and returns the chosen addresses.
func picks(c *cluster, n int, tried ...*serverState) []string {
	out := make([]string, n)
	r := httptest.NewRequest("GET", "/", nil)
	for i := range out {
		if p := c.pick(r, tried, time.Now().UnixNano()); p != nil {
			out[i] = p.address
		}
	}
	return out
}

func TestSmoothWRRSequence(t *testing.T) {
	// nginx's example: weights 5, 1, 1 give a a b a c a a.
	c := testCluster(t, "swrr", "server a:1 weight=5; server b:1; server c:1;")
	got := strings.Join(picks(c, 14), " ")
	want := "a:1 a:1 b:1 a:1 c:1 a:1 a:1 a:1 a:1 b:1 a:1 c:1 a:1 a:1"
	if got != want {
		t.Errorf("sequence %s\nwant     %s", got, want)
	}
}

func TestSmoothWRRShares(t *testing.T) {
	c := testCluster(t, "shares", "server a:1 weight=7; server b:1 weight=2; server c:1 weight=1; server d:1 weight=9 down;")
	count := map[string]int{}
	for _, a := range picks(c, 1000) {
		count[a]++
	}
	if count["a:1"] != 700 || count["b:1"] != 200 || count["c:1"] != 100 || count["d:1"] != 0 {
		t.Errorf("shares %v", count)
	}
}

func TestBackupsAndAvailability(t *testing.T) {
	c := testCluster(t, "tiers", "server p1:1; server p2:1; server b1:1 backup; server b2:1 backup weight=3;")
	if got := picks(c, 4); strings.Join(got, ",") != "p1:1,p2:1,p1:1,p2:1" {
		t.Errorf("primaries up: %v", got)
	}
	// Active health: p1 unhealthy only matters if the cluster is checked.
	c.all[0].st.unhealthy.Store(true)
	if got := picks(c, 2); got[0] == "" || got[1] == "" {
		t.Errorf("unchecked cluster: %v", got)
	}
	for _, p := range c.all {
		p.checked = true
	}
	if got := picks(c, 3); strings.Join(got, ",") != "p2:1,p2:1,p2:1" {
		t.Errorf("p1 unhealthy: %v", got)
	}
	c.all[1].st.unhealthy.Store(true)
	count := map[string]int{}
	for _, a := range picks(c, 40) {
		count[a]++
	}
	if count["b1:1"] != 10 || count["b2:1"] != 30 {
		t.Errorf("primaries down: %v", count)
	}
	c.all[2].st.unhealthy.Store(true)
	c.all[3].st.unhealthy.Store(true)
	if got := picks(c, 1); got[0] != "" {
		t.Errorf("all down: %v", got)
	}
	c.all[1].st.unhealthy.Store(false)
	if got := picks(c, 2); strings.Join(got, ",") != "p2:1,p2:1" {
		t.Errorf("p2 back: %v", got)
	}
}

func TestTriedServersAreSkipped(t *testing.T) {
	c := testCluster(t, "tried", "server a:1; server b:1; server c:1 backup;")
	a, b, bk := c.all[0].st, c.all[1].st, c.all[2].st
	if got := picks(c, 3, a); strings.Join(got, ",") != "b:1,b:1,b:1" {
		t.Errorf("a tried: %v", got)
	}
	if got := picks(c, 2, a, b); strings.Join(got, ",") != "c:1,c:1" {
		t.Errorf("primaries tried: %v (want the backup)", got)
	}
	// Everything tried: the request may go round again.
	if got := picks(c, 1, a, b, bk); got[0] == "" || got[0] == "c:1" {
		t.Errorf("all tried: %v, want a primary again", got)
	}
}

func TestLeastConn(t *testing.T) {
	c := testCluster(t, "lc", "server a:1 weight=2; server b:1; server c:1; least_conn;")
	a, b, cc := c.all[0].st, c.all[1].st, c.all[2].st
	a.active.Store(3)
	b.active.Store(1)
	cc.active.Store(2)
	if got := picks(c, 1); got[0] != "b:1" {
		t.Errorf("got %v, want b (1 active)", got)
	}
	// a: 3/2 = 1.5 per weight; b 2, c 2 → a.
	b.active.Store(2)
	if got := picks(c, 1); got[0] != "a:1" {
		t.Errorf("got %v, want a (weight 2)", got)
	}
	// Ties go round robin by weight.
	a.active.Store(0)
	b.active.Store(0)
	cc.active.Store(0)
	count := map[string]int{}
	for _, s := range picks(c, 400) {
		count[s]++
	}
	if count["a:1"] != 200 || count["b:1"] != 100 || count["c:1"] != 100 {
		t.Errorf("ties: %v", count)
	}
}

func TestRandom(t *testing.T) {
	c := testCluster(t, "rnd", "server a:1 weight=3; server b:1; lb_policy random;")
	count := map[string]int{}
	for _, s := range picks(c, 4000) {
		count[s]++
	}
	if count["a:1"] < 2800 || count["a:1"] > 3200 || count["a:1"]+count["b:1"] != 4000 {
		t.Errorf("weighted random: %v", count)
	}
	c.all[0].checked = true
	c.all[0].st.unhealthy.Store(true)
	if got := picks(c, 20); strings.Count(strings.Join(got, ","), "b:1") != 20 {
		t.Errorf("a unavailable: %v", got)
	}
}

func TestConsistentHashing(t *testing.T) {
	servers := "server 10.0.0.1:80; server 10.0.0.2:80; server 10.0.0.3:80; server 10.0.0.4:80 weight=2;"
	c := testCluster(t, "hash", servers+" lb_policy header X-Key;")
	pickKey := func(c *cluster, key string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Key", key)
		if p := c.pick(r, nil, time.Now().UnixNano()); p != nil {
			return p.address
		}
		return ""
	}
	owner := map[string]string{}
	count := map[string]int{}
	for i := 0; i < 5000; i++ {
		k := fmt.Sprint("user-", i)
		owner[k] = pickKey(c, k)
		count[owner[k]]++
		if again := pickKey(c, k); again != owner[k] {
			t.Fatalf("key %s: %s then %s", k, owner[k], again)
		}
	}
	// Shares follow the weights (1:1:1:2), roughly.
	for _, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
		if count[a] < 700 || count[a] > 1300 {
			t.Errorf("shares %v", count)
		}
	}
	if count["10.0.0.4:80"] < 1600 || count["10.0.0.4:80"] > 2400 {
		t.Errorf("shares %v", count)
	}
	// Unavailable server: its keys move, the others stay, and they come
	// back when it recovers.
	c.all[1].checked = true
	c.all[1].st.unhealthy.Store(true)
	for k, was := range owner {
		now := pickKey(c, k)
		if was != "10.0.0.2:80" && now != was || now == "10.0.0.2:80" {
			t.Fatalf("key %s: %s → %s with 10.0.0.2 out", k, was, now)
		}
	}
	c.all[1].st.unhealthy.Store(false)
	for k, was := range owner {
		if now := pickKey(c, k); now != was {
			t.Fatalf("key %s: %s → %s after recovery", k, was, now)
		}
	}
	// Another config without a server (same addresses, so the same ring
	// points): only its keys move.
	c2 := testCluster(t, "hash2", "server 10.0.0.1:80; server 10.0.0.2:80; server 10.0.0.4:80 weight=2; lb_policy header X-Key;")
	moved := 0
	for k, was := range owner {
		now := pickKey(c2, k)
		if was != "10.0.0.3:80" && now != was {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d keys not on the removed server moved", moved)
	}
	// No key: round robin.
	if got := picks(c, 5); strings.Join(got, ",") != "10.0.0.4:80,10.0.0.1:80,10.0.0.2:80,10.0.0.3:80,10.0.0.4:80" {
		t.Errorf("no key: %v", got)
	}
}

func TestIPHash(t *testing.T) {
	c := testCluster(t, "iph", "server 10.0.0.1:80; server 10.0.0.2:80; server 10.0.0.3:80; ip_hash;")
	pickIP := func(ip string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = ip + ":1234"
		return c.pick(r, nil, time.Now().UnixNano()).address
	}
	// The /24 decides, as in nginx.
	for i := 0; i < 50; i++ {
		net := fmt.Sprintf("192.168.%d.", i)
		if a, b := pickIP(net+"1"), pickIP(net+"254"); a != b {
			t.Errorf("%s1 → %s but %s254 → %s", net, a, net, b)
		}
	}
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		seen[pickIP(fmt.Sprintf("10.%d.%d.1", i, i*7%256))] = true
	}
	if len(seen) != 3 {
		t.Errorf("100 networks went to %d servers", len(seen))
	}
	// Caddy's client IP wins over the peer address.
	r, _, cancel := testRequest()
	defer cancel()
	r.RemoteAddr = "127.0.0.1:1"
	caddyhttp.SetVar(r.Context(), caddyhttp.ClientIPVarKey, "192.168.7.9")
	if got, want := c.pick(r, nil, time.Now().UnixNano()).address, pickIP("192.168.7.1"); got != want {
		t.Errorf("client IP var: %s, want %s", got, want)
	}
}

func TestHashStable(t *testing.T) {
	// The ring must not change between processes or releases: nodes of a
	// fleet and restarts map keys alike.
	if got := hashBytes("user-1"); got != 0x9b7bb8732509f0ae {
		t.Errorf("hashBytes(user-1) = %#x", got)
	}
}
