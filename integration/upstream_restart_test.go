//go:build linux

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/dynupstream"
)

// caddyProcess is a real Caddy process (go build ./cmd/caddy) with its own
// ports and XDG directories, for what the in-process harness cannot do:
// restarts.
type caddyProcess struct {
	t           *testing.T
	bin, dir    string
	admin, http string
	cmd         *exec.Cmd
}

func newCaddyProcess(t *testing.T) *caddyProcess {
	return &caddyProcess{t: t, bin: hostileCaddyBin(t), dir: tempDir(t),
		admin: "localhost:" + fmt.Sprint(freePort(t)), http: "127.0.0.1:" + fmt.Sprint(freePort(t))}
}

// start runs caddy with args (`run --config FILE` or `run --resume`) and
// waits for its admin endpoint.
func (p *caddyProcess) start(args ...string) {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Dir = p.dir
	p.cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(p.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(p.dir, "config"),
		"HOME="+p.dir)
	logf, err := os.OpenFile(filepath.Join(p.dir, "caddy.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(p.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.admin + "/resty/upstreams"); err == nil {
			resp.Body.Close()
			// The admin endpoint starts before the apps are provisioned
			// (it can answer for an empty registry meanwhile): ready is
			// when the site's listener, started last, accepts too.
			if resp.StatusCode == 200 && p.listening() {
				return
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.dir, "caddy.log"))
			p.t.Fatalf("caddy %v did not start:\n%s", args, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// listening reports whether the site's listener accepts connections.
func (p *caddyProcess) listening() bool {
	c, err := net.DialTimeout("tcp", p.http, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// stop ends the process (SIGINT: a graceful stop) and waits for it.
func (p *caddyProcess) stop() {
	if p.cmd == nil || p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func (p *caddyProcess) do(method, path, contentType, body string) (int, string) {
	p.t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.admin+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *caddyProcess) must(method, path, contentType, body string) string {
	p.t.Helper()
	code, out := p.do(method, path, contentType, body)
	if code != 200 {
		p.t.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

// spread sends n requests to a cluster and counts the answers.
func (p *caddyProcess) spread(cluster string, n int) map[string]int {
	p.t.Helper()
	out := map[string]int{}
	for range n {
		req, _ := http.NewRequest("GET", "http://"+p.http+"/work", nil)
		req.Header.Set("X-Upstream", cluster)
		resp, err := client.Do(req)
		if err != nil {
			out["error"]++
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			out[fmt.Sprintf("status %d", resp.StatusCode)]++
		} else {
			out[string(b)]++
		}
	}
	return out
}

func (p *caddyProcess) clusters() map[string]dynupstream.ClusterStatus {
	p.t.Helper()
	var all map[string]dynupstream.ClusterStatus
	if err := json.Unmarshal([]byte(p.must("GET", "/resty/upstreams", "", "")), &all); err != nil {
		p.t.Fatal(err)
	}
	return all
}

// TestUpstreamRestart: the changes made in place survive a restart from
// the config file and one with --resume; a config file that changed a
// cluster's definition wins for that cluster only.
func TestUpstreamRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds and runs Caddy processes")
	}
	a, b, c, d := newServer(t, "a"), newServer(t, "b"), newServer(t, "c"), newServer(t, "d")
	p := newCaddyProcess(t)
	caddyfile := func(pool string) string {
		return fmt.Sprintf(`{
	admin %s
	auto_https off
	resty {
		upstream pool {
%s
		}
		upstream gone {
			server %s
		}
		upstream keep {
			server %s
		}
	}
}
http://%s {
	reverse_proxy {
		dynamic resty {http.request.header.X-Upstream}
	}
}
`, p.admin, pool, c.addr, c.addr, p.http)
	}
	conf := filepath.Join(p.dir, "Caddyfile")
	pool := fmt.Sprintf("\t\t\tserver %s\n\t\t\tserver %s", a.addr, b.addr)
	os.WriteFile(conf, []byte(caddyfile(pool)), 0o644)
	p.start("run", "--config", conf, "--adapter", "caddyfile")

	p.must("PATCH", "/resty/upstreams/pool/servers/"+url.PathEscape(b.addr), "application/json", `{"weight":3}`)
	p.must("DELETE", "/resty/upstreams/gone", "", "")
	p.must("POST", "/resty/upstreams/rt", "", "server "+d.addr+" weight=2;")
	live := func(when string) {
		t.Helper()
		all := p.clusters()
		if st := all["pool"]; st.Version != 1 || !st.LiveModified || len(st.Servers) != 2 || st.Servers[1].Weight != 3 {
			t.Errorf("%s: pool %+v", when, st)
		}
		if _, ok := all["gone"]; ok {
			t.Errorf("%s: gone is back", when)
		}
		if st := all["rt"]; st.Version != 1 || len(st.Servers) != 1 || st.Servers[0].Weight != 2 {
			t.Errorf("%s: rt %+v", when, st)
		}
		if st := all["keep"]; st.Version != 0 || st.LiveModified {
			t.Errorf("%s: keep %+v", when, st)
		}
		if got := p.spread("pool", 8); got["a"] != 2 || got["b"] != 6 {
			t.Errorf("%s: pool requests %v", when, got)
		}
		if got := p.spread("rt", 2); got["d"] != 2 {
			t.Errorf("%s: rt requests %v", when, got)
		}
		if got := p.spread("gone", 1); got["status 502"] != 1 {
			t.Errorf("%s: gone requests %v", when, got)
		}
	}
	live("before the restarts")

	p.stop()
	p.start("run", "--config", conf, "--adapter", "caddyfile")
	live("after a restart from the config file")

	p.stop()
	p.start("run", "--resume")
	live("after a restart with --resume")
	if out := p.must("GET", "/config/apps/resty/upstreams/pool/servers/1", "", ""); strings.Contains(out, "weight") {
		t.Errorf("the live change is in the config: %s", out)
	}

	// The config file changes pool's definition: it wins for pool; the
	// other live changes stay.
	p.stop()
	pool += fmt.Sprintf("\n\t\t\tserver %s", d.addr)
	os.WriteFile(conf, []byte(caddyfile(pool)), 0o644)
	p.start("run", "--config", conf, "--adapter", "caddyfile")
	all := p.clusters()
	if st := all["pool"]; st.Version != 0 || st.LiveModified || len(st.Servers) != 3 || st.Servers[1].Weight != 1 {
		t.Errorf("pool with a new definition: %+v", st)
	}
	if got := p.spread("pool", 6); got["a"] != 2 || got["b"] != 2 || got["d"] != 2 {
		t.Errorf("pool requests: %v", got)
	}
	if _, ok := all["gone"]; ok {
		t.Errorf("gone is back")
	}
	if st := all["rt"]; st.Version != 1 {
		t.Errorf("rt: %+v", st)
	}
	if v := storedVersion(t, filepath.Join(p.dir, "data", "caddy", "resty", "live", "upstreams"), "pool"); v != 0 {
		t.Errorf("pool's record was not dropped (version %d)", v)
	}
}

// TestUpstreamPersistToConfig: with persist_to_config, the changes made
// in place reach the config (and the autosave) after the interval, in one
// write.
func TestUpstreamPersistToConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds and runs Caddy processes")
	}
	a, b := newServer(t, "a"), newServer(t, "b")
	p := newCaddyProcess(t)
	conf := filepath.Join(p.dir, "Caddyfile")
	os.WriteFile(conf, []byte(fmt.Sprintf(`{
	admin %s
	auto_https off
	resty {
		persist_to_config 1s
		upstream pool {
			server %s
		}
	}
}
http://%s {
	reverse_proxy {
		dynamic resty {http.request.header.X-Upstream}
	}
}
`, p.admin, a.addr, p.http)), 0o644)
	p.start("run", "--config", conf, "--adapter", "caddyfile")
	p.must("POST", "/resty/upstreams/pool/servers", "application/json", fmt.Sprintf(`{"address":%q,"weight":4}`, b.addr))
	p.must("POST", "/resty/upstreams/rt", "", "server "+b.addr+";")
	if out := p.must("GET", "/config/apps/resty/upstreams", "", ""); strings.Contains(out, b.addr) {
		t.Errorf("written back at once: %s", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		if out = p.must("GET", "/config/apps/resty/upstreams", "", ""); strings.Contains(out, `"rt"`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := fmt.Sprintf(`{"pool":{"servers":[{"address":%q},{"address":%q,"weight":4}]},"rt":{"servers":[{"address":%q}]}}`, a.addr, b.addr, b.addr)
	if strings.TrimSpace(out) != want {
		t.Fatalf("config after the write-back:\n%s\nwant\n%s", out, want)
	}
	// The config now holds the live state: nothing is live-modified.
	all := p.clusters()
	if st := all["pool"]; st.LiveModified || len(st.Servers) != 2 {
		t.Errorf("pool after the write-back: %+v", st)
	}
	if got := p.spread("pool", 5); got["a"] != 1 || got["b"] != 4 {
		t.Errorf("requests: %v", got)
	}
	autosave, _ := os.ReadFile(filepath.Join(p.dir, "config", "caddy", "autosave.json"))
	if !strings.Contains(string(autosave), `"rt"`) {
		t.Errorf("autosave without the write-back: %s", autosave)
	}
}
