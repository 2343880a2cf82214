//go:build linux

package integration

// The harness of the hostile-script acceptance suite (hostile_test.go).
// Unlike the rest of this package, these tests run a real Caddy process
// built from this repository, under an address-space limit, on ports of its
// own: a hostile script may crash or wedge the process, and a crash must
// show as a dead process, not take the test binary down with it.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// hostileAS is the address-space limit of the Caddy process: a script
	// that makes Go allocate past it kills the process (Go aborts on a
	// failed allocation) instead of swapping the machine to death.
	hostileAS = 8 << 30
	// hostileNofile is the descriptor limit asked for the Caddy process and
	// this test process (the scale test holds 10,000 connections).
	hostileNofile = 65536
	// defaultMemLimit is lua_max_memory's default (1g) plus the 1m shared
	// dict every config declares.
	defaultMemLimit = 1<<30 + 1<<20
)

// caddyBuild is the Caddy binary built from this repository, once per test
// binary.
var caddyBuild struct {
	once sync.Once
	path string
	err  error
}

// hostileCaddyBin builds ./cmd/caddy once per test binary (the restart
// tests use it too; cached by the Go build cache) and
// raises this process's descriptor limit.
func hostileCaddyBin(t *testing.T) string {
	t.Helper()
	caddyBuild.once.Do(func() {
		raiseNofile()
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		dir, err := os.MkdirTemp(tmpRoot, "bin-")
		if err != nil {
			caddyBuild.err = err
			return
		}
		path := filepath.Join(dir, "caddy")
		start := time.Now()
		cmd := exec.Command(goBin, "build", "-o", path, "./cmd/caddy")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			caddyBuild.err = fmt.Errorf("go build ./cmd/caddy: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "hostile: built %s in %s\n", path, time.Since(start).Round(time.Millisecond))
		caddyBuild.path = path
	})
	if caddyBuild.err != nil {
		t.Fatal(caddyBuild.err)
	}
	return caddyBuild.path
}

// raiseNofile raises RLIMIT_NOFILE of this process as far as allowed.
func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return
	}
	want := rl
	if want.Max < hostileNofile {
		want.Max = hostileNofile
	}
	want.Cur = want.Max
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// childNofile is the descriptor limit the Caddy process gets: 65536, or
// this process's hard limit if that is lower and could not be raised (no
// CAP_SYS_RESOURCE, as in containers).
func childNofile() uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 1024
	}
	return min(rl.Max, hostileNofile)
}

// handedOut are the ports freePort returned in this test binary: the
// kernel may give a closed port to the next Listen(":0") at once, and two
// Caddy processes started side by side must not be told the same port
// (one's admin endpoint took another's HTTP port this way).
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// freePort returns a port nothing listens on and that no other caller in
// this test binary got (it could still be taken by another program
// between this call and Caddy's listen; that would show as a failed
// start).
func freePort(t *testing.T) int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = make(map[int]bool)
	}
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("freePort: no port that was not handed out already")
	return 0
}

// hopts configures one Caddy process.
type hopts struct {
	// global holds extra lines of the global `resty { }` option (which
	// always has `lua_timeout 1s` and `shared_dict d 1m`).
	global string
	// content maps a path to the Lua code of a content_by_lua_file route.
	content map[string]string
	// site holds more handlers of the site, verbatim; @DIR@ is the
	// directory of files, @BACKEND@ the backend address.
	site string
	// files are written to @DIR@ before start; @BACKEND@ is replaced in
	// them (and in content).
	files map[string]string
	// backend is the host:port that replaces @BACKEND@.
	backend string
	// env adds NAME=value entries to Caddy's environment.
	env []string
	// memLimit is the heap limit the after-checks hold the process to
	// (its lua_max_memory); 0 means defaultMemLimit.
	memLimit int64
	// noWait returns from start without waiting for Caddy to serve (for
	// configs that must be refused).
	noWait bool
}

// hproc is a running Caddy process.
type hproc struct {
	t        *testing.T
	cmd      *exec.Cmd
	dir      string
	logPath  string
	httpPort int
	admin    string // http://localhost:PORT
	base     string // http://127.0.0.1:PORT
	addr     string // 127.0.0.1:PORT
	memLimit int64
	config   string

	exited  chan struct{}
	exitErr error
}

const hostileCaddyfile = `{
	admin localhost:%d
	http_port %d
	https_port %d
	auto_https off
	persist_config off
	skip_install_trust
	grace_period 1s
	resty {
		lua_timeout 1s
		shared_dict d 1m
%s
	}
}

:%d {
	handle /plain {
		respond "plain" 200
	}
	handle /lua {
		resty {
			content_by_lua "ngx.say('lua')"
		}
	}
	handle /_dict {
		resty {
			content_by_lua_file %s
		}
	}
%s
}
`

// hostileDictReader serves /_dict?key=K: ngx.shared.d[K], "<nil>" if unset.
const hostileDictReader = `local v = ngx.shared.d:get(ngx.var.arg_key)
if v == nil then ngx.print("<nil>") else ngx.print(tostring(v)) end`

// startCaddy writes the config and starts Caddy under the address-space
// and descriptor limits; it returns once /plain answers.
func startCaddy(t *testing.T, o hopts) *hproc {
	t.Helper()
	bin := hostileCaddyBin(t)
	dir := tempDir(t)
	p := &hproc{t: t, dir: dir, logPath: filepath.Join(dir, "caddy.log"), exited: make(chan struct{})}
	p.memLimit = o.memLimit
	if p.memLimit == 0 {
		p.memLimit = defaultMemLimit
	}
	repl := strings.NewReplacer("@DIR@", dir, "@BACKEND@", o.backend)
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(repl.Replace(content)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for name, content := range o.files {
		write(name, content)
	}
	var site strings.Builder
	paths := make([]string, 0, len(o.content))
	for path := range o.content {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for i, path := range paths {
		f := write(fmt.Sprintf("content-%d.lua", i), o.content[path])
		fmt.Fprintf(&site, "\thandle %s {\n\t\tresty {\n\t\t\tcontent_by_lua_file %s\n\t\t}\n\t}\n", path, f)
	}
	site.WriteString(repl.Replace(o.site))

	adminPort, httpsPort := freePort(t), freePort(t)
	p.httpPort = freePort(t)
	p.admin = fmt.Sprintf("http://localhost:%d", adminPort)
	p.addr = fmt.Sprintf("127.0.0.1:%d", p.httpPort)
	p.base = "http://" + p.addr
	p.config = fmt.Sprintf(hostileCaddyfile, adminPort, p.httpPort, httpsPort, o.global, p.httpPort,
		write("_dict.lua", hostileDictReader), site.String())
	cfgPath := write("Caddyfile", p.config)

	args := []string{"run", "--config", cfgPath, "--adapter", "caddyfile"}
	nofile := strconv.FormatUint(childNofile(), 10)
	var cmd *exec.Cmd
	if pl, err := exec.LookPath("prlimit"); err == nil {
		cmd = exec.Command(pl, append([]string{"--as=" + strconv.Itoa(hostileAS), "--nofile=" + nofile, "--", bin}, args...)...)
	} else {
		t.Logf("prlimit not found (%v): limiting with bash ulimit", err)
		script := fmt.Sprintf(`ulimit -v %d && ulimit -n %s && exec "$@"`, hostileAS>>10, nofile)
		cmd = exec.Command("bash", append([]string{"-c", script, "bash", bin}, args...)...)
	}
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HOME="+dir)
	cmd.Env = append(cmd.Env, o.env...)
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting caddy: %v", err)
	}
	p.cmd = cmd
	go func() {
		p.exitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(p.stop)
	if o.noWait {
		return p
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := p.get("/plain", 2*time.Second)
		if r.err == nil && r.status == 200 {
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("caddy exited at start: %v\nconfig:\n%s\nlog:\n%s", p.exitErr, p.config, p.logTail(4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not serve /plain within 30s (last: %v %d)\nlog:\n%s", r.err, r.status, p.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the process: SIGINT (graceful), SIGKILL after 3s.
func (p *hproc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// dead returns why the process is gone, or nil while it runs.
func (p *hproc) dead() error {
	select {
	case <-p.exited:
		if p.exitErr == nil {
			return errors.New("caddy exited (status 0)")
		}
		return fmt.Errorf("caddy exited: %v", p.exitErr)
	default:
		return nil
	}
}

func (p *hproc) logText() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// logTail returns the end of Caddy's output (where a Go crash report is).
func (p *hproc) logTail(n int) string {
	s := p.logText()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// crash returns what a dead process said last: its Go crash report (the
// fatal error and the goroutine that hit it), or the end of its log.
func (p *hproc) crash() string {
	s := p.logText()
	for _, mark := range []string{"fatal error:", "panic:", "runtime: out of memory"} {
		if i := strings.Index(s, mark); i >= 0 {
			s = s[i:]
			if len(s) > 3000 {
				s = s[:3000] + "…"
			}
			return s
		}
	}
	return p.logTail(3000)
}

// errorLines returns the distinct error and warning messages of Caddy's
// log (Lua errors, memory-guard warnings, dropped log phases), each with
// its count, for the test output.
func (p *hproc) errorLines() []string {
	counts := map[string]int{}
	var order []string
	for _, line := range strings.Split(p.logText(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || (e["level"] != "error" && e["level"] != "warn") {
			continue
		}
		msg, _ := e["msg"].(string)
		if strings.HasPrefix(msg, "HTTP/") || strings.Contains(msg, "not formatted") {
			continue
		}
		if er, ok := e["error"].(string); ok {
			msg += ": " + er
		}
		msg = failKind(strings.ReplaceAll(msg, p.dir+"/", ""))
		if counts[msg] == 0 {
			order = append(order, msg)
		}
		counts[msg]++
	}
	out := make([]string, len(order))
	for i, m := range order {
		out[i] = fmt.Sprintf("%dx %s", counts[m], m)
	}
	return out
}

// waitLog waits until Caddy's output contains sub.
func (p *hproc) waitLog(sub string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.logText(), sub) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectLog fails the test unless Caddy's output comes to contain sub.
func (p *hproc) expectLog(t *testing.T, sub string) {
	t.Helper()
	if !p.waitLog(sub, 5*time.Second) {
		t.Errorf("Caddy's log has no %q; log tail:\n%s", sub, p.logTail(3000))
	}
}

// hreply is one HTTP exchange.
type hreply struct {
	status int
	body   string
	err    error
	dur    time.Duration
}

func (r hreply) String() string {
	b := r.body
	if len(b) > 300 {
		b = b[:300] + fmt.Sprintf("…(%d bytes)", len(r.body))
	}
	if r.err != nil {
		return fmt.Sprintf("error %v after %s (status %d, body %q)", r.err, r.dur.Round(time.Millisecond), r.status, b)
	}
	return fmt.Sprintf("%d %q in %s", r.status, b, r.dur.Round(time.Millisecond))
}

// noRetry is the client of single requests: one connection per request, so
// nothing is retried behind the test's back.
var noRetry = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true, MaxIdleConnsPerHost: -1},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// do sends one request with a timeout for the whole exchange.
func do(method, url string, body io.Reader, timeout time.Duration) hreply {
	start := time.Now()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return hreply{err: err}
	}
	c := *noRetry
	c.Timeout = timeout
	resp, err := c.Do(req)
	if err != nil {
		return hreply{err: err, dur: time.Since(start)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return hreply{status: resp.StatusCode, body: string(b), err: err, dur: time.Since(start)}
}

func (p *hproc) get(path string, timeout time.Duration) hreply {
	return do("GET", p.base+path, nil, timeout)
}

// dict reads ngx.shared.d[key] through /_dict.
func (p *hproc) dict(t *testing.T, key string) string {
	t.Helper()
	r := p.get("/_dict?key="+key, 5*time.Second)
	if r.err != nil || r.status != 200 {
		t.Fatalf("reading ngx.shared.d[%q]: %v", key, r)
	}
	return r.body
}

func (p *hproc) dictInt(t *testing.T, key string) int {
	t.Helper()
	v := p.dict(t, key)
	if v == "<nil>" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("ngx.shared.d[%q] = %q, not a number", key, v)
	}
	return n
}

// waitCount waits until the counter ngx.shared.d[key] reaches n and returns
// when it did; ok is false if it did not within timeout.
func (p *hproc) waitCount(t *testing.T, key string, n int, timeout time.Duration) (at time.Time, ok bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := p.dictInt(t, key)
		if c >= n {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			t.Errorf("only %d of %d requests reached the server within %s", c, n, timeout)
			return time.Now(), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// heap returns the Go heap (memstats.HeapAlloc) from the admin endpoint's
// /debug/vars.
func (p *hproc) heap() (uint64, error) {
	r := do("GET", p.admin+"/debug/vars", nil, 10*time.Second)
	if r.err != nil || r.status != 200 {
		return 0, fmt.Errorf("GET /debug/vars: %v", r)
	}
	var v struct {
		Memstats struct {
			HeapAlloc uint64
		} `json:"memstats"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		return 0, fmt.Errorf("/debug/vars: %v", err)
	}
	return v.Memstats.HeapAlloc, nil
}

// liveHeap forces a collection (pprof's heap profile with gc=1) and then
// reads the heap: what stays live.
func (p *hproc) liveHeap() (uint64, error) {
	if r := do("GET", p.admin+"/debug/pprof/heap?gc=1", nil, 30*time.Second); r.err != nil || r.status != 200 {
		return 0, fmt.Errorf("GET /debug/pprof/heap?gc=1: %v", r)
	}
	return p.heap()
}

// cpuTicks returns the process's user+system CPU time in clock ticks
// (1/100 s on Linux).
func (p *hproc) cpuTicks() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat %q", s)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat %q", s)
	}
	return u + st, nil
}

// waitIdle waits until the process uses under 5% of a core over a 500ms
// window; it returns how long that took, or -1 if it did not happen before
// timeout.
func (p *hproc) waitIdle(timeout time.Duration) time.Duration {
	start := time.Now()
	prev, err := p.cpuTicks()
	if err != nil {
		return -1
	}
	for time.Since(start) < timeout {
		time.Sleep(500 * time.Millisecond)
		cur, err := p.cpuTicks()
		if err != nil {
			return -1
		}
		if cur-prev <= 2 {
			return time.Since(start)
		}
		prev = cur
	}
	return -1
}

// checkAfter is what every hostile test ends with: the process is alive,
// both plain routes answer, and the Go heap goes back under the memory
// limit by itself (within 15s, without a forced collection).
func (p *hproc) checkAfter(t *testing.T) {
	t.Helper()
	if err := p.dead(); err != nil {
		t.Fatalf("%v; it said:\n%s", err, p.crash())
	}
	for path, want := range map[string]string{"/plain": "plain", "/lua": "lua\n"} {
		if r := p.get(path, 5*time.Second); r.err != nil || r.status != 200 || r.body != want {
			t.Errorf("afterwards, %s: %v, want 200 %q", path, r, want)
		}
	}
	if lines := p.errorLines(); len(lines) > 0 {
		t.Logf("Caddy's errors and warnings:\n    %s", strings.Join(lines, "\n    "))
	}
	var heap uint64
	deadline := time.Now().Add(15 * time.Second)
	for {
		h, err := p.heap()
		if err != nil {
			t.Errorf("reading the heap: %v", err)
			return
		}
		heap = h
		if int64(h) < p.memLimit || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	live, err := p.liveHeap()
	if err != nil {
		t.Errorf("reading the live heap: %v", err)
	}
	t.Logf("heap afterwards: HeapAlloc %d MiB (limit %d MiB), after a forced GC %d MiB",
		heap>>20, p.memLimit>>20, live>>20)
	if int64(heap) >= p.memLimit {
		t.Errorf("the Go heap stayed over the limit: HeapAlloc %d MiB >= %d MiB", heap>>20, p.memLimit>>20)
	}
}

// latStats are the latencies and failures of one kind of request.
type latStats struct {
	name  string
	mu    sync.Mutex
	lat   []time.Duration
	at    []time.Time // when each successful request started
	fails map[string]int
	nfail int
	first []string
}

func newLatStats(name string) *latStats {
	return &latStats{name: name, fails: map[string]int{}}
}

// add records a request that took d: ok, or a failure described by what.
func (s *latStats) add(d time.Duration, what string) {
	s.addAt(time.Now().Add(-d), d, what)
}

// addAt records a request that started at start.
func (s *latStats) addAt(start time.Time, d time.Duration, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if what == "" {
		s.lat = append(s.lat, d)
		s.at = append(s.at, start)
		return
	}
	s.nfail++
	s.fails[failKind(what)]++
	if len(s.first) < 5 {
		s.first = append(s.first, what)
	}
}

// window returns the successful requests of s that started in [from, to).
func (s *latStats) window(from, to time.Time) *latStats {
	w := newLatStats(fmt.Sprintf("%s (%s..%s)", s.name, from.Format("15:04:05.000"), to.Format("15:04:05.000")))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, at := range s.at {
		if !at.Before(from) && at.Before(to) {
			w.lat = append(w.lat, s.lat[i])
			w.at = append(w.at, at)
		}
	}
	return w
}

// failKind groups failures: the message without addresses and numbers.
func failKind(what string) string {
	var b strings.Builder
	digits := false
	for _, r := range what {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

func (s *latStats) ok() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lat)
}

func (s *latStats) failures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nfail
}

// pct returns the q-quantile (0..1) of the successful requests' latencies.
func (s *latStats) pct(q float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lat) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), s.lat...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(q*float64(len(l))+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}

func (s *latStats) String() string {
	s.mu.Lock()
	n, nf := len(s.lat), s.nfail
	s.mu.Unlock()
	out := fmt.Sprintf("%s: %d ok, %d failed; p50 %s p99 %s max %s", s.name, n, nf,
		s.pct(0.5).Round(100*time.Microsecond), s.pct(0.99).Round(100*time.Microsecond), s.pct(1).Round(100*time.Microsecond))
	if nf > 0 {
		s.mu.Lock()
		kinds := make([]string, 0, len(s.fails))
		for k, c := range s.fails {
			kinds = append(kinds, fmt.Sprintf("%dx %s", c, k))
		}
		sort.Strings(kinds)
		out += "\n    failures: " + strings.Join(kinds, "\n              ") +
			"\n    first: " + strings.Join(s.first, "\n           ")
		s.mu.Unlock()
	}
	return out
}

// expectNoFailures fails the test if any request of s failed, listing them.
func (s *latStats) expectNoFailures(t *testing.T) {
	t.Helper()
	if s.failures() > 0 {
		t.Errorf("failed requests: %s", s)
	}
}

// probes measure the plain routes while an attack runs: one sequential
// client per route, a fresh connection per request, a pause of 10ms
// between requests.
type probes struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	stats []*latStats
}

// startProbes probes /plain and /lua of p until stop.
func (p *hproc) startProbes() *probes {
	pr := &probes{stopc: make(chan struct{})}
	for _, rt := range []struct{ path, body string }{{"/plain", "plain"}, {"/lua", "lua\n"}} {
		s := newLatStats("probe " + rt.path)
		pr.stats = append(pr.stats, s)
		pr.wg.Add(1)
		go func() {
			defer pr.wg.Done()
			for {
				select {
				case <-pr.stopc:
					return
				default:
				}
				start := time.Now()
				r := p.get(rt.path, 15*time.Second)
				switch {
				case r.err != nil:
					s.addAt(start, r.dur, r.err.Error())
				case r.status != 200 || r.body != rt.body:
					s.addAt(start, r.dur, fmt.Sprintf("%d %q", r.status, r.body))
				default:
					s.addAt(start, r.dur, "")
				}
				select {
				case <-pr.stopc:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}
	return pr
}

// stop ends the probes and returns the stats of /plain and /lua.
func (pr *probes) stop() (plain, lua *latStats) {
	close(pr.stopc)
	pr.wg.Wait()
	return pr.stats[0], pr.stats[1]
}

// report logs the probes and fails the test for any failed probe or one
// that got no answer at all during the attack.
func (pr *probes) report(t *testing.T) (plain, lua *latStats) {
	t.Helper()
	plain, lua = pr.stop()
	for _, s := range []*latStats{plain, lua} {
		if s.failures() > 0 {
			t.Errorf("failed requests: %s", s)
		} else {
			t.Log(s)
		}
		if s.ok() == 0 {
			t.Errorf("%s: no request answered while the attack ran", s.name)
		}
	}
	return plain, lua
}

// inFlightP99 reports the plain Lua route's p99 over the window [from, to)
// in which every attacking request had arrived and none had finished,
// against target (the acceptance number, measured and reported,
// not asserted: timing asserts flake on a shared 2-core CI machine). It
// fails only past stateHeld, which means waits hold the Lua states again
// (requests then waited 10-17 s).
func inFlightP99(t *testing.T, lua *latStats, from, to time.Time, target time.Duration) {
	t.Helper()
	const stateHeld = time.Second
	w := lua.window(from, to)
	t.Logf("while every attacking request was in flight (%s): %s", to.Sub(from).Round(time.Millisecond), w)
	if n := w.ok(); n < 20 {
		t.Errorf("only %d probes in the in-flight window (want at least 20)", n)
		return
	}
	p99 := w.pct(0.99)
	t.Logf("plain Lua route p99 in flight: %s (target < %s; within target: %v)", p99.Round(100*time.Microsecond), target, p99 < target)
	if p99 > stateHeld {
		t.Errorf("the plain Lua route's p99 was %s while the attack was in flight: waits hold the Lua states", p99.Round(time.Millisecond))
	}
}

// rawReq is one request for rawDo: the head is written as is (it must
// end with a blank line); body, if set, writes the body concurrently with
// reading the response (a server may answer before reading it all).
type rawReq struct {
	head string
	body func(w io.Writer) error
}

func getReq(addr, path string) rawReq {
	return rawReq{head: "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"}
}

// rawDo sends one request on a new connection and reads the response: a
// wrk-like client, nothing is retried.
func rawDo(addr string, rq rawReq, timeout time.Duration) hreply {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return hreply{err: err, dur: time.Since(start)}
	}
	defer conn.Close()
	conn.SetDeadline(start.Add(timeout))
	return rawExchange(conn, rq, start)
}

// rawExchange writes rq on conn and reads the response.
func rawExchange(conn net.Conn, rq rawReq, start time.Time) hreply {
	if _, err := io.WriteString(conn, rq.head); err != nil {
		return hreply{err: err, dur: time.Since(start)}
	}
	werr := make(chan error, 1)
	if rq.body != nil {
		go func() { werr <- rq.body(conn) }()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if rq.body != nil {
			select {
			case we := <-werr:
				if we != nil {
					err = fmt.Errorf("%v (writing the body: %v)", err, we)
				}
			default:
			}
		}
		return hreply{err: err, dur: time.Since(start)}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return hreply{status: resp.StatusCode, body: string(b), err: err, dur: time.Since(start)}
}

// check records r in s: a failure unless it is status want (and body
// wantBody, when not empty).
func (s *latStats) check(r hreply, want int, wantBody string) {
	switch {
	case r.err != nil:
		s.add(r.dur, r.err.Error())
	case r.status != want || (wantBody != "" && r.body != wantBody):
		b := r.body
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		s.add(r.dur, fmt.Sprintf("status %d body %q", r.status, b))
	default:
		s.add(r.dur, "")
	}
}

// parallel runs n calls of f at once and waits for them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// burst sends every request of reqs at once, each on its own connection,
// with few goroutines (the race detector allows 8128). First every
// connection is opened (connect is how long that took); then each of
// workers goroutines writes the requests of its connections and reads the
// answers in order. wall runs from the first request written to the last
// answer; each reply's dur is the time from the first request written.
func burst(addr string, reqs []string, workers int, timeout time.Duration) (connect, wall time.Duration, out []hreply) {
	out = make([]hreply, len(reqs))
	start := time.Now()
	deadline := start.Add(timeout)
	conns := make([]net.Conn, len(reqs))
	parallel(workers, func(w int) {
		for i := w; i < len(reqs); i += workers {
			conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
			if err != nil {
				out[i] = hreply{err: err}
				continue
			}
			conn.SetDeadline(deadline)
			conns[i] = conn
		}
	})
	t0 := time.Now()
	connect = t0.Sub(start)
	var last atomic.Int64
	parallel(workers, func(w int) {
		for i := w; i < len(reqs); i += workers {
			if conns[i] == nil {
				continue
			}
			if _, err := io.WriteString(conns[i], reqs[i]); err != nil {
				out[i] = hreply{err: err, dur: time.Since(t0)}
				conns[i].Close()
				conns[i] = nil
			}
		}
		for i := w; i < len(reqs); i += workers {
			if conns[i] == nil {
				continue
			}
			resp, err := http.ReadResponse(bufio.NewReader(conns[i]), nil)
			if err != nil {
				out[i] = hreply{err: err, dur: time.Since(t0)}
			} else {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				out[i] = hreply{status: resp.StatusCode, body: string(b), err: err, dur: time.Since(t0)}
			}
			conns[i].Close()
			d := int64(time.Since(t0))
			for {
				cur := last.Load()
				if d <= cur || last.CompareAndSwap(cur, d) {
					break
				}
			}
		}
	})
	return connect, time.Duration(last.Load()), out
}

// slowBody writes n bytes as chunks of size bytes, pause apart.
func slowBody(n, size int, pause time.Duration) func(io.Writer) error {
	return func(w io.Writer) error {
		chunk := strings.Repeat("b", size)
		for sent := 0; sent < n; sent += size {
			time.Sleep(pause)
			if _, err := io.WriteString(w, chunk[:min(size, n-sent)]); err != nil {
				return err
			}
		}
		return nil
	}
}

// postHead is the head of a POST with a Content-Length.
func postHead(addr, path string, length int) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		path, addr, length)
}

// timed runs a hostile request and fails the test unless it answered
// within limit.
func timed(t *testing.T, limit time.Duration, what string, f func() hreply) hreply {
	t.Helper()
	r := f()
	t.Logf("%s: %v", what, r)
	if r.dur > limit {
		t.Errorf("%s took %s, more than %s", what, r.dur.Round(time.Millisecond), limit)
	}
	return r
}
