//go:build linux

package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/dynupstream"
)

// keepAliveConn is one client connection to the gateway kept across the
// changes of a test: a config reload would close it; a change in place
// must not.
type keepAliveConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialKeepAlive(t *testing.T) *keepAliveConn {
	t.Helper()
	c, err := net.Dial("tcp", gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{t: t, conn: c, br: bufio.NewReader(c)}
}

// get sends one request for a cluster on the connection and returns the
// answering server's name; any failure (the connection closed) fails the
// test.
func (k *keepAliveConn) get(cluster string) string {
	k.t.Helper()
	k.conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(k.conn, "GET /work HTTP/1.1\r\nHost: %s\r\nX-Upstream: %s\r\n\r\n", gwAddr, cluster)
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		k.t.Fatalf("the kept-alive connection failed: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		k.t.Fatalf("the kept-alive connection failed: %v (close %v)", err, resp.Close)
	}
	if resp.StatusCode != 200 {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	return string(body)
}

// spreadOn sends n requests on the connection and counts the answers.
func (k *keepAliveConn) spread(cluster string, n int) map[string]int {
	k.t.Helper()
	out := map[string]int{}
	for range n {
		out[k.get(cluster)]++
	}
	return out
}

// status decodes a cluster status answer.
func status(t *testing.T, out string) dynupstream.ClusterStatus {
	t.Helper()
	var st dynupstream.ClusterStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("decoding %s: %v", out, err)
	}
	return st
}

// storedFiles returns the live-state files of the in-process Caddy and
// their contents.
func storedFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(liveStateDir(), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

// TestUpstreamInPlaceRoutes: each admin route changes the live cluster
// in place: the next request, on a connection opened before, sees the
// change; the config is unchanged and no reload happens (the kept-alive
// connection stays open).
func TestUpstreamInPlaceRoutes(t *testing.T) {
	a, b, c, d := newServer(t, "a"), newServer(t, "b"), newServer(t, "c"), newServer(t, "d")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}", a.addr, b.addr), site: proxyTo()})
	config := configJSON(t, "")
	loads := len(g.logged("load complete", nil))
	k := dialKeepAlive(t)
	if got := k.spread("pool", 4); got["a"] != 2 || got["b"] != 2 {
		t.Fatalf("before: %v", got)
	}
	srvPath := func(s *server) string { return "/resty/upstreams/pool/servers/" + url.PathEscape(s.addr) }

	// Add a server (JSON).
	st := status(t, mustAdmin(t, "POST", "/resty/upstreams/pool/servers", "application/json", fmt.Sprintf(`{"address":%q,"weight":2}`, c.addr)))
	if st.Version != 1 || !st.LiveModified || len(st.Servers) != 3 || st.Servers[2].Weight != 2 {
		t.Errorf("after adding c: %+v", st)
	}
	if got := k.spread("pool", 8); got["a"] != 2 || got["b"] != 2 || got["c"] != 4 {
		t.Errorf("after adding c: %v", got)
	}
	// Re-weight.
	st = status(t, mustAdmin(t, "PATCH", srvPath(b), "application/json", `{"weight":3}`))
	if st.Version != 2 || st.Servers[1].Weight != 3 {
		t.Errorf("after re-weighting b: %+v", st)
	}
	if got := k.spread("pool", 12); got["a"] != 2 || got["b"] != 6 || got["c"] != 4 {
		t.Errorf("after re-weighting b: %v", got)
	}
	// Drain: no new requests for a.
	st = status(t, mustAdmin(t, "PATCH", srvPath(a), "application/json", `{"drain":true}`))
	if s := st.Servers[0]; !s.Drain || s.Health != dynupstream.HealthDraining || s.Available {
		t.Errorf("drained a: %+v", s)
	}
	if got := k.spread("pool", 10); got["a"] != 0 || got["b"] != 6 || got["c"] != 4 {
		t.Errorf("after draining a: %v", got)
	}
	// Undrain as a backup; mark b down; passive settings of c.
	mustAdmin(t, "PATCH", srvPath(a), "application/json", `{"drain":false,"backup":true}`)
	mustAdmin(t, "PATCH", srvPath(b), "application/json", `{"down":true}`)
	st = status(t, mustAdmin(t, "PATCH", srvPath(c), "application/json", `{"max_fails":0,"fail_timeout":"30s"}`))
	if s := st.Servers[2]; st.Version != 6 || s.MaxFails != 0 || s.FailTimeout != "30s" || !st.Servers[0].Backup || !st.Servers[1].Down {
		t.Errorf("after the patches: %+v", st)
	}
	if got := k.spread("pool", 4); got["c"] != 4 {
		t.Errorf("c is the only primary up: %v", got)
	}
	// The servers, one server.
	var servers []dynupstream.ServerStatus
	json.Unmarshal([]byte(mustAdmin(t, "GET", "/resty/upstreams/pool/servers", "", "")), &servers)
	if len(servers) != 3 || servers[2].Requests == 0 {
		t.Errorf("GET servers: %+v", servers)
	}
	if out := mustAdmin(t, "GET", srvPath(c), "", ""); !strings.Contains(out, `"address":"`+c.addr+`"`) {
		t.Errorf("GET one server: %s", out)
	}
	// Remove a server.
	st = status(t, mustAdmin(t, "DELETE", srvPath(b), "", ""))
	if len(st.Servers) != 2 || st.Version != 7 {
		t.Errorf("after removing b: %+v", st)
	}
	// Replace the cluster (dyups body).
	st = status(t, mustAdmin(t, "POST", "/resty/upstreams/pool", "", "server "+d.addr+";"))
	if len(st.Servers) != 1 || st.Version != 8 {
		t.Errorf("after replacing: %+v", st)
	}
	if got := k.spread("pool", 3); got["d"] != 3 {
		t.Errorf("after replacing: %v", got)
	}
	// A unix socket server: its address is URL-escaped in the path.
	mustAdmin(t, "POST", "/resty/upstreams/pool/servers", "", "server unix:/run/app.sock backup;")
	unixPath := "/resty/upstreams/pool/servers/" + url.PathEscape("unix//run/app.sock")
	if st := status(t, mustAdmin(t, "PATCH", unixPath, "application/json", `{"weight":4}`)); st.Servers[1].Weight != 4 || st.Servers[1].Address != "unix//run/app.sock" {
		t.Errorf("unix server: %+v", st.Servers)
	}
	mustAdmin(t, "DELETE", unixPath, "", "")
	// A new cluster, then its deletion.
	mustAdmin(t, "POST", "/resty/upstreams/fresh", "application/json", fmt.Sprintf(`{"servers":[{"address":%q}]}`, a.addr))
	if got := k.get("fresh"); got != "a" {
		t.Errorf("new cluster: %q", got)
	}
	mustAdmin(t, "DELETE", "/resty/upstreams/fresh", "", "")
	if got := k.get("fresh"); got != "status 502" {
		t.Errorf("deleted cluster: %q", got)
	}
	// Deleting the config's cluster: 404 afterwards, with the reason.
	mustAdmin(t, "DELETE", "/resty/upstreams/pool", "", "")
	if code, out := admin(t, "GET", "/resty/upstreams/pool", "", ""); code != 404 || !strings.Contains(out, "deleted in place (version 12)") {
		t.Errorf("GET of a deleted config cluster: %d %s", code, out)
	}
	if got := configJSON(t, ""); got != config {
		t.Errorf("the config changed:\nbefore %s\nafter  %s", config, got)
	}
	if n := len(g.logged("load complete", nil)) - loads; n != 0 {
		t.Errorf("%d config loads logged", n)
	}
}

// TestUpstreamInPlaceBadInput: refused changes answer 400, 404 or 409
// with the reason and change nothing, in the registry or in storage.
func TestUpstreamInPlaceBadInput(t *testing.T) {
	a, b := newServer(t, "a"), newServer(t, "b")
	g := newGateway(t)
	g.load(cfg{
		global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}\nupstream named {\n\tserver %s\n}", a.addr, b.addr, a.addr),
		site: `@static path /static
reverse_proxy @static {
	dynamic resty named
}
` + proxyTo(),
	})
	pa := "/resty/upstreams/pool/servers/" + url.PathEscape(a.addr)
	pb := "/resty/upstreams/pool/servers/" + url.PathEscape(b.addr)
	mustAdmin(t, "PATCH", pb, "application/json", `{"drain":true}`) // a is the last server taking requests
	before := mustAdmin(t, "GET", "/resty/upstreams", "", "")
	files := storedFiles(t)
	if len(files) != 1 {
		t.Fatalf("stored files: %v", files)
	}
	for _, c := range []struct {
		method, path, ct, body string
		code                   int
		reason                 string
	}{
		{"PATCH", pa, "application/json", `{"weight":`, 400, "decoding the JSON body"},
		{"PATCH", pa, "application/json", `{"wieght":2}`, 400, `unknown field \"wieght\"`},
		{"PATCH", pa, "application/json", `{"weight":0.5}`, 400, "decoding the JSON body"},
		{"PATCH", pa, "application/json", `{"weight":5000}`, 400, "upstreams.pool.servers[0].weight: must be between 1 and 1000"},
		{"PATCH", pa, "application/json", `{"fail_timeout":"soon"}`, 400, `upstreams.pool.servers[0].fail_timeout: invalid duration \"soon\"`},
		{"PATCH", pa, "application/json", `{"address":"10.0.0.1:80"}`, 400, "cannot be changed"},
		{"PATCH", pa, "application/json", `{}`, 400, "nothing to change"},
		{"PATCH", pa, "", `weight=2`, 400, "want a JSON object"},
		{"PATCH", pa, "application/json", `{"drain":true}`, 400, "no server to send requests to"},
		{"PATCH", pa, "application/json", `{"down":true}`, 400, "no server to send requests to"},
		{"DELETE", pa, "", "", 400, "no server to send requests to"},
		{"DELETE", "/resty/upstreams/named/servers/" + url.PathEscape(a.addr), "", "", 400, "the last server"},
		{"PATCH", "/resty/upstreams/pool/servers/10.9.9.9:80", "application/json", `{"weight":2}`, 404, `no server 10.9.9.9:80 in upstream \"pool\"`},
		{"DELETE", "/resty/upstreams/pool/servers/10.9.9.9:80", "", "", 404, "no server 10.9.9.9:80"},
		{"PATCH", "/resty/upstreams/pool/servers/not-an-address", "application/json", `{"weight":2}`, 400, "missing port"},
		{"DELETE", "/resty/upstreams/pool/servers/http:%2F%2Fx:80", "", "", 400, "without a scheme"},
		{"PATCH", "/resty/upstreams/nope/servers/" + url.PathEscape(a.addr), "application/json", `{"weight":2}`, 404, `no upstream cluster \"nope\"`},
		{"POST", "/resty/upstreams/nope/servers", "application/json", `{"address":"10.0.0.1:80"}`, 404, `no upstream cluster \"nope\"`},
		{"DELETE", "/resty/upstreams/nope", "", "", 404, `no upstream cluster \"nope\"`},
		{"POST", "/resty/upstreams/pool/servers", "application/json", `{"address":"10.0.0.1"}`, 400, "missing port"},
		{"POST", "/resty/upstreams/pool/servers", "application/json", `{"address":"10.0.0.1:80","weight":-2}`, 400, "upstreams.pool.servers[2].weight"},
		{"POST", "/resty/upstreams/pool/servers", "application/json", `{"address":`, 400, "decoding the JSON body"},
		{"POST", "/resty/upstreams/pool/servers", "", `server 10.0.0.1:80 bogus;`, 400, `unknown parameter \"bogus\"`},
		{"POST", "/resty/upstreams/pool/servers", "", "", 400, "empty body"},
		{"POST", "/resty/upstreams/pool/servers", "application/json", fmt.Sprintf(`{"address":%q}`, a.addr), 409, "already has server"},
		{"POST", "/resty/upstreams/pool", "", "server 10.0.0.1:80 weight=abc;", 400, `invalid number \"abc\"`},
		{"DELETE", "/resty/upstreams/named", "", "", 409, "reverse_proxy `dynamic resty named`"},
		{"DELETE", "/resty/upstreams/named?force=maybe", "", "", 400, "force: want true or false"},
		{"GET", "/resty/upstreams/pool/nodes", "", "", 404, "no such route"},
		{"PUT", pa, "", "", 405, "method PUT not allowed"},
	} {
		code, out := admin(t, c.method, c.path, c.ct, c.body)
		if code != c.code || !strings.Contains(out, c.reason) {
			t.Errorf("%s %s %q: %d %s, want %d with %q", c.method, c.path, c.body, code, out, c.code, c.reason)
		}
	}
	if after := mustAdmin(t, "GET", "/resty/upstreams", "", ""); !sameStatuses(t, after, before) {
		t.Errorf("a refused change changed the registry:\nbefore %s\nafter  %s", before, after)
	}
	if after := storedFiles(t); !equalMaps(after, files) {
		t.Errorf("a refused change changed the storage:\nbefore %v\nafter  %v", files, after)
	}
	// Forced, the deletion of a cluster the config names goes through.
	mustAdmin(t, "DELETE", "/resty/upstreams/named?force=true", "", "")
	if r := get(t, "/static"); r.Status != http.StatusBadGateway {
		t.Errorf("request to the deleted cluster: %d", r.Status)
	}
}

// storageReadOnly makes the directory of the records read-only after
// first (which writes records there): as root, a tmpfs mounted there and
// remounted read-only (every write fails with EROFS); else the directory
// and its files without write permission; as a last resort (root
// without mount rights), a file in the directory's place. It returns
// what it did; the test's cleanup undoes it.
func storageReadOnly(t *testing.T, dir string, first func()) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700"); err == nil {
		t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
		first()
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remounting read-only: %v", err)
		}
		return "a read-only file system (tmpfs remounted ro) on the records' directory"
	}
	first()
	if os.Geteuid() != 0 {
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			os.Chmod(filepath.Join(dir, f.Name()), 0o400)
		}
		os.Chmod(dir, 0o500)
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		return "read-only directory and files"
	}
	if err := os.Rename(dir, dir+".saved"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir, []byte("not a directory"), 0o400)
	t.Cleanup(func() { os.Remove(dir); os.Rename(dir+".saved", dir) })
	return "a file where the records' directory is (root without mount rights)"
}

// storedVersion returns the version of an entry's newest stored record
// in a records directory, 0 if it has none.
func storedVersion(t *testing.T, dir, name string) uint64 {
	t.Helper()
	var v uint64
	for _, slot := range []string{".a.json", ".b.json"} {
		data, err := os.ReadFile(filepath.Join(dir, name+slot))
		if err != nil {
			continue
		}
		var rec struct{ Version uint64 }
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Errorf("record %s%s: %v", name, slot, err)
		}
		v = max(v, rec.Version)
	}
	return v
}

func sameStatuses(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y map[string]json.RawMessage
	json.Unmarshal([]byte(a), &x)
	json.Unmarshal([]byte(b), &y)
	if len(x) != len(y) {
		return false
	}
	for name := range x {
		if !sameServers(t, string(x[name]), string(y[name])) {
			return false
		}
	}
	return true
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestUpstreamInPlaceStorageFailure: when the storage cannot be written,
// a change is refused with 503 and the live state stays as it was.
func TestUpstreamInPlaceStorageFailure(t *testing.T) {
	a, b := newServer(t, "a"), newServer(t, "b")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}", a.addr, b.addr), site: proxyTo()})
	pb := "/resty/upstreams/pool/servers/" + url.PathEscape(b.addr)
	dir := filepath.Join(liveStateDir(), "live", "upstreams")
	readOnly := storageReadOnly(t, dir, func() {
		mustAdmin(t, "PATCH", pb, "application/json", `{"weight":2}`)
	})
	t.Log("storage: " + readOnly)
	for _, c := range []struct{ method, path, ct, body string }{
		{"PATCH", pb, "application/json", `{"weight":5}`},
		{"POST", "/resty/upstreams/pool/servers", "application/json", `{"address":"10.0.0.1:80"}`},
		{"DELETE", pb, "", ""},
		{"POST", "/resty/upstreams/other", "", "server 10.0.0.1:80;"},
		{"DELETE", "/resty/upstreams/pool", "", ""},
	} {
		code, out := admin(t, c.method, c.path, c.ct, c.body)
		if code != http.StatusServiceUnavailable || !strings.Contains(out, "nothing changed") {
			t.Errorf("%s %s with failing storage: %d %s", c.method, c.path, code, out)
		}
	}
	st := clusterStatus(t, "pool")
	if st.Version != 1 || len(st.Servers) != 2 || st.Servers[1].Weight != 2 {
		t.Errorf("live state after the refused changes: %+v", st)
	}
	if code, _ := admin(t, "GET", "/resty/upstreams/other", "", ""); code != 404 {
		t.Errorf("other created")
	}
	if got := spread(t, "pool", 6); got["a"] != 2 || got["b"] != 4 {
		t.Errorf("requests: %v", got)
	}
}

// TestUpstreamInPlaceConfigWins: a /config change of a cluster wins over
// its live changes (they are dropped); the live changes of the other
// clusters survive the reload.
func TestUpstreamInPlaceConfigWins(t *testing.T) {
	a, b, c, d := newServer(t, "a"), newServer(t, "b"), newServer(t, "c"), newServer(t, "d")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}\nupstream other {\n\tserver %s\n}", a.addr, b.addr, c.addr), site: proxyTo()})
	mustAdmin(t, "PATCH", "/resty/upstreams/pool/servers/"+url.PathEscape(b.addr), "application/json", `{"weight":3}`)
	mustAdmin(t, "POST", "/resty/upstreams/other/servers", "application/json", fmt.Sprintf(`{"address":%q}`, d.addr))
	mustAdmin(t, "POST", "/resty/upstreams/rt", "", "server "+d.addr+";")
	// The config changes pool.
	mustAdmin(t, "POST", "/config/apps/resty/upstreams/pool/servers", "application/json", fmt.Sprintf(`{"address":%q}`, c.addr))
	st := clusterStatus(t, "pool")
	if st.Version != 0 || st.LiveModified || len(st.Servers) != 3 || st.Servers[1].Weight != 1 {
		t.Errorf("pool after the config change: %+v", st)
	}
	if got := spread(t, "pool", 6); got["a"] != 2 || got["b"] != 2 || got["c"] != 2 {
		t.Errorf("pool: %v", got)
	}
	if st := clusterStatus(t, "other"); st.Version != 1 || !st.LiveModified || len(st.Servers) != 2 {
		t.Errorf("other lost its live change: %+v", st)
	}
	if st := clusterStatus(t, "rt"); st.Version != 1 {
		t.Errorf("rt lost: %+v", st)
	}
	if v := storedVersion(t, filepath.Join(liveStateDir(), "live", "upstreams"), "pool"); v != 0 {
		t.Errorf("pool's dropped record is still stored (version %d)", v)
	}
	// The next live change of pool starts from the config's definition;
	// versions go on.
	st = status(t, mustAdmin(t, "PATCH", "/resty/upstreams/pool/servers/"+url.PathEscape(a.addr), "application/json", `{"weight":2}`))
	if st.Version != 2 || len(st.Servers) != 3 {
		t.Errorf("pool's next live change: %+v", st)
	}
}

// TestUpstreamInPlaceConcurrent: 20 admin clients changing one cluster at
// once end in the state of a serial order: no change lost, each with its
// own version, each client's versions increasing.
func TestUpstreamInPlaceConcurrent(t *testing.T) {
	a := newServer(t, "a")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream conc {\n\tserver %s\n}", a.addr), site: proxyTo()})
	const clients, each = 20, 5
	var mu sync.Mutex
	var all []uint64
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Go(func() {
			var mine []uint64
			for i := range each {
				addr := fmt.Sprintf("10.77.%d.%d:80", cl, i+1)
				out := mustAdmin(t, "POST", "/resty/upstreams/conc/servers", "application/json", fmt.Sprintf(`{"address":%q,"backup":true}`, addr))
				mine = append(mine, status(t, out).Version)
				out = mustAdmin(t, "PATCH", "/resty/upstreams/conc/servers/"+addr, "application/json", fmt.Sprintf(`{"weight":%d}`, cl+1))
				mine = append(mine, status(t, out).Version)
			}
			if !slices.IsSorted(mine) {
				t.Errorf("client %d saw versions %v", cl, mine)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	for i, v := range all {
		if v != uint64(i+1) {
			t.Fatalf("versions %v: not 1..%d once each", all, clients*each*2)
		}
	}
	st := clusterStatus(t, "conc")
	if st.Version != clients*each*2 || len(st.Servers) != 1+clients*each {
		t.Fatalf("final: version %d, %d servers", st.Version, len(st.Servers))
	}
	for _, s := range st.Servers[1:] {
		var cl, i int
		fmt.Sscanf(s.Address, "10.77.%d.%d:80", &cl, &i)
		if s.Weight != cl+1 || !s.Backup {
			t.Errorf("server %s: weight %d backup %v", s.Address, s.Weight, s.Backup)
		}
	}
	if v := storedVersion(t, filepath.Join(liveStateDir(), "live", "upstreams"), "conc"); v != clients*each*2 {
		t.Errorf("stored version %d", v)
	}
	if got := spread(t, "conc", 3); got["a"] != 3 {
		t.Errorf("requests: %v", got)
	}
}

// TestUpstreamInPlaceRacingReload: changes made in place while /config
// changes (reloads) run are all kept.
func TestUpstreamInPlaceRacingReload(t *testing.T) {
	a, b := newServer(t, "a"), newServer(t, "b")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n}\nupstream side {\n\tserver %s\n}", a.addr, b.addr), site: proxyTo()})
	stop := make(chan struct{})
	reloads := make(chan int)
	go func() {
		n := 0
		for i := 0; ; i++ {
			select {
			case <-stop:
				reloads <- n
				return
			default:
			}
			code, out := admin(t, "POST", "/config/apps/resty/upstreams/side/servers/0/weight", "application/json", fmt.Sprint(1+i%5))
			if code != 200 {
				t.Errorf("reload: %d %s", code, out)
			}
			n++
		}
	}()
	const changes = 40
	resets := 0
	for i := range changes {
		// Each reload replaces Caddy's admin listener: a connection queued
		// on the old one is reset before it reaches a handler (see
		// connLevel), so a client sends its change again; an addition that
		// did apply before the reset answers 409.
		body := fmt.Sprintf(`{"address":"10.88.0.%d:80","backup":true}`, i+1)
		for try := 0; ; try++ {
			req, _ := http.NewRequest("POST", adminURL+"/resty/upstreams/pool/servers", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := adminClient.Do(req)
			if err != nil {
				if try < 10 && connLevel(err) {
					resets++
					continue
				}
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 && !(try > 0 && resp.StatusCode == http.StatusConflict) {
				t.Fatalf("change %d: %d %s", i, resp.StatusCode, out)
			}
			break
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	}
	t.Logf("admin connections reset by the reloads' listener replacement: %d", resets)
	close(stop)
	n := <-reloads
	t.Logf("%d changes in place during %d reloads", changes, n)
	if n < 5 {
		t.Errorf("only %d reloads ran during the changes", n)
	}
	check := func(when string) {
		st := clusterStatus(t, "pool")
		if st.Version != changes || len(st.Servers) != changes+1 {
			t.Errorf("%s: version %d, %d servers; want %d, %d", when, st.Version, len(st.Servers), changes, changes+1)
		}
	}
	check("after the race")
	mustAdmin(t, "POST", "/config/apps/resty/upstreams/side/servers/0/weight", "application/json", "9")
	check("after one more reload")
	if got := spread(t, "pool", 3); got["a"] != 3 {
		t.Errorf("requests: %v", got)
	}
}

// TestUpstreamInPlaceUnderLoad: 200 changes in place (add, remove,
// re-weight, drain, replace) while requests run, with keep-alive
// connections and with a connection per request: not one request fails
// (counted at the connection level, like wrk); after the last change the
// weights hold over 10,000 requests within 2%.
func TestUpstreamInPlaceUnderLoad(t *testing.T) {
	names := []string{"s1", "s2", "s3", "s4", "s5"}
	servers := map[string]*server{}
	for _, n := range names {
		servers[n] = newServer(t, n)
	}
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}", servers["s1"].addr, servers["s2"].addr), site: proxyTo()})
	for _, keepAlive := range []bool{true, false} {
		mode := map[bool]string{true: "keep-alive", false: "Connection: close"}[keepAlive]
		t.Run(mode, func(t *testing.T) {
			mustAdmin(t, "POST", "/resty/upstreams/pool", "", "server "+servers["s1"].addr+"; server "+servers["s2"].addr+";")
			members := []string{"s1", "s2"}
			drained := map[string]bool{}
			rng := rand.New(rand.NewPCG(1, uint64(len(mode))))
			load := startRawLoad(8, keepAlive, "X-Upstream: pool\r\n")
			time.Sleep(200 * time.Millisecond)
			ops := map[string]int{}
			var took []time.Duration
			for i := range 200 {
				var method, path, body string
				usable := 0
				for _, m := range members {
					if !drained[m] {
						usable++
					}
				}
				switch op := []string{"add", "remove", "weight", "drain", "replace"}[i%5]; {
				case op == "add" && len(members) < len(names):
					var free []string
					for _, n := range names {
						if !slices.Contains(members, n) {
							free = append(free, n)
						}
					}
					s := free[rng.IntN(len(free))]
					method, path, body = "POST", "/resty/upstreams/pool/servers", fmt.Sprintf(`{"address":%q,"weight":%d}`, servers[s].addr, 1+rng.IntN(5))
					members = append(members, s)
					ops["add"]++
				case op == "remove" && usable > 1:
					var cands []string
					for _, m := range members {
						if !drained[m] || usable > 1 {
							cands = append(cands, m)
						}
					}
					s := cands[rng.IntN(len(cands))]
					method, path = "DELETE", "/resty/upstreams/pool/servers/"+servers[s].addr
					members = slices.DeleteFunc(members, func(m string) bool { return m == s })
					delete(drained, s)
					ops["remove"]++
				case op == "drain" && (usable > 1 || len(drained) > 0):
					s := members[rng.IntN(len(members))]
					if !drained[s] && usable == 1 {
						for d := range drained {
							s = d
						}
					}
					drained[s] = !drained[s]
					method, path, body = "PATCH", "/resty/upstreams/pool/servers/"+servers[s].addr, fmt.Sprintf(`{"drain":%v}`, drained[s])
					ops["drain"]++
				case op == "replace":
					perm := rng.Perm(len(names))[:2+rng.IntN(2)]
					members, drained = nil, map[string]bool{}
					var b strings.Builder
					for _, p := range perm {
						members = append(members, names[p])
						fmt.Fprintf(&b, "server %s weight=%d;\n", servers[names[p]].addr, 1+rng.IntN(4))
					}
					method, path, body = "POST", "/resty/upstreams/pool", b.String()
					ops["replace"]++
				default:
					s := members[rng.IntN(len(members))]
					method, path, body = "PATCH", "/resty/upstreams/pool/servers/"+servers[s].addr, fmt.Sprintf(`{"weight":%d}`, 1+rng.IntN(9))
					ops["weight"]++
				}
				ct := "application/json"
				if strings.HasPrefix(body, "server") {
					ct = ""
				}
				start := time.Now()
				mustAdmin(t, method, path, ct, body)
				took = append(took, time.Since(start))
				time.Sleep(5 * time.Millisecond)
			}
			ok, non2xx, errs, first := load.finish()
			slices.Sort(took)
			t.Logf("%s: %d requests, %d non-2xx, %d errors during 200 changes %v; change call p50 %s p99 %s max %s",
				mode, ok+non2xx+errs, non2xx, errs, ops, took[100], took[197], took[199])
			if non2xx != 0 || errs != 0 {
				t.Errorf("broken requests: %d non-2xx, %d errors; first: %q", non2xx, errs, first)
			}
			if ok < 1000 {
				t.Errorf("only %d requests", ok)
			}
			for body := range load.bodies {
				if !slices.Contains(names, body) {
					t.Errorf("answer %q", body)
				}
			}
		})
	}

	// Weights after a change, over 10,000 requests.
	mustAdmin(t, "POST", "/resty/upstreams/pool", "", fmt.Sprintf("server %s weight=5; server %s weight=3; server %s weight=2;",
		servers["s1"].addr, servers["s2"].addr, servers["s3"].addr))
	got := rawRequests(t, 10000, 8, "X-Upstream: pool\r\n")
	for s, w := range map[string]float64{"s1": 0.5, "s2": 0.3, "s3": 0.2} {
		share := float64(got[s]) / 10000
		if math.Abs(share-w) > 0.02 {
			t.Errorf("%s: share %.4f, want %.2f ± 0.02 (%v)", s, share, w, got)
		}
	}
	t.Logf("10,000 requests after re-weighting to 5:3:2: %v", got)
}

// rawRequests sends exactly n requests over keep-alive connections and
// counts the answers by body; a failure counts under "error".
func rawRequests(t *testing.T, n, workers int, header string) map[string]int {
	t.Helper()
	var mu sync.Mutex
	out := map[string]int{}
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c, err := net.Dial("tcp", gwAddr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for range jobs {
				fmt.Fprintf(c, "GET /work HTTP/1.1\r\nHost: %s\r\n%s\r\n", gwAddr, header)
				key := "error"
				if resp, err := http.ReadResponse(br, nil); err == nil {
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode == 200 {
						key = string(b)
					}
				}
				mu.Lock()
				out[key]++
				mu.Unlock()
				if key == "error" {
					return
				}
			}
		})
	}
	wg.Wait()
	return out
}

// TestUpstreamInPlaceInFlight: a request in flight on a server that a
// change drains (then removes) finishes on it; the requests sent after
// the change go to the others; the drained server shows its request in
// flight until it ends.
func TestUpstreamInPlaceInFlight(t *testing.T) {
	old, fresh := newServer(t, "old"), newServer(t, "fresh")
	g := newGateway(t)
	g.load(cfg{global: fmt.Sprintf("upstream pool {\n\tserver %s\n\tserver %s\n}", old.addr, fresh.addr), site: proxyTo()})
	old.delay.Store(int64(time.Second))
	done := make(chan reply)
	go func() { done <- hit(t, "pool") }()
	waitFor(t, 5*time.Second, "the slow request to reach its server", func() bool { return old.hits.Load() == 1 })
	st := status(t, mustAdmin(t, "PATCH", "/resty/upstreams/pool/servers/"+old.addr, "application/json", `{"drain":true}`))
	if s := st.Servers[0]; s.Health != dynupstream.HealthDraining || s.ActiveRequests != 1 {
		t.Errorf("drained server: %+v", s)
	}
	if got := spread(t, "pool", 5); got["fresh"] != 5 {
		t.Errorf("after draining: %v", got)
	}
	if r := <-done; r.Err != nil || r.Status != 200 || r.Body != "old" {
		t.Errorf("the request in flight: %d %q %v", r.Status, r.Body, r.Err)
	}
	waitFor(t, 5*time.Second, "the drained server to have no request in flight", func() bool {
		return serverStatus(t, clusterStatus(t, "pool"), old.addr).ActiveRequests == 0
	})
	mustAdmin(t, "DELETE", "/resty/upstreams/pool/servers/"+old.addr, "", "")
	if n := old.hits.Load(); n != 1 {
		t.Errorf("the drained server got %d requests", n)
	}
}
