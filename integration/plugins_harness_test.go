package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The harness of the bundled plugins' tests: a real Caddy process (free
// ports, see startCaddy) whose routes proxy to an echo backend of the
// test process, and a client that sees every status, header and body.

// plEcho is what the echo backend answers: the request as it arrived.
type plEcho struct {
	Method string              `json:"method"`
	URI    string              `json:"uri"`
	Host   string              `json:"host"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

// plGateway is a Caddy process with routes in front of a backend.
type plGateway struct {
	*hproc
	backend *ppBackend
}

// plOptions configures plStartGateway.
type plOptions struct {
	// routes are route blocks of the global resty option; the upstream
	// cluster `be` is the backend.
	routes string
	// global holds more lines of the global resty option.
	global string
	// backend answers the proxied requests; nil is the echo backend.
	backend http.HandlerFunc
	// site holds more handlers of the site (before the catch-all).
	site string
	// files are written to @DIR@ before start.
	files map[string]string
	env   []string
}

// plEchoHandler answers with the request as JSON (plEcho).
func plEchoHandler(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e := plEcho{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(body)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

// plStartGateway starts the backend and Caddy: the site runs the route
// table (`resty { routes }`) for every request but /plain, /lua and
// /_dict (the harness's own).
func plStartGateway(t *testing.T, o plOptions) *plGateway {
	t.Helper()
	h := o.backend
	if h == nil {
		h = plEchoHandler
	}
	be := ppNewBackend(t, h)
	global := fmt.Sprintf("\t\tupstream be {\n\t\t\tserver %s\n\t\t}\n%s\n%s", be.addr, o.global, o.routes)
	site := o.site + "\thandle {\n\t\tresty {\n\t\t\troutes\n\t\t}\n\t\trespond \"no route\" 404\n\t}\n"
	p := startCaddy(t, hopts{global: global, site: site, files: o.files, env: o.env, backend: be.addr})
	return &plGateway{hproc: p, backend: be}
}

// plReply is one response, headers included.
type plReply struct {
	status int
	header http.Header
	body   string
	err    error
}

func (r plReply) String() string {
	if r.err != nil {
		return "error " + r.err.Error()
	}
	b := r.body
	if len(b) > 400 {
		b = b[:400] + "…"
	}
	return fmt.Sprintf("%d %v %q", r.status, r.header, b)
}

// echo decodes the echo backend's answer.
func (r plReply) echo(t *testing.T) plEcho {
	t.Helper()
	var e plEcho
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("not an echo from the backend: %v: %s", err, r)
	}
	return e
}

// plDo sends one request (no retries, no redirects followed); header
// values "Host" set the request's host.
func plDo(method, url string, header map[string]string, body string) plReply {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return plReply{err: err}
	}
	for k, v := range header {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	c := *noRetry
	c.Timeout = 10 * time.Second
	resp, err := c.Do(req)
	if err != nil {
		return plReply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return plReply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// do sends a request to the gateway.
func (g *plGateway) do(method, path string, header map[string]string, body string) plReply {
	return plDo(method, g.base+path, header, body)
}

// plExpect checks a reply's status, that its body contains each of
// bodyHas, and that it has no transport error.
func plExpect(t *testing.T, what string, r plReply, status int, bodyHas ...string) {
	t.Helper()
	if r.err != nil || r.status != status {
		t.Fatalf("%s: want %d, got %s", what, status, r)
	}
	for _, s := range bodyHas {
		if !strings.Contains(r.body, s) {
			t.Fatalf("%s: body lacks %q: %s", what, s, r)
		}
	}
}

// bq backquotes a JSON value for a Caddyfile plugin line.
func bq(json string) string { return "`" + json + "`" }

// plRefused checks that Caddy refuses a config with these routes (and
// global lines): `caddy validate` fails and its output has every one of
// want (the route, plugin and field the error names). It returns Caddy's
// output.
func plRefused(t *testing.T, routes string, want ...string) string {
	t.Helper()
	bin := hostileCaddyBin(t)
	dir := tempDir(t)
	cfg := fmt.Sprintf("{\n\tadmin off\n\tresty {\n\t\tupstream be {\n\t\t\tserver 127.0.0.1:9\n\t\t}\n%s\n\t}\n}\n:0 {\n\tresty {\n\t\troutes\n\t}\n}\n", routes)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "validate", "--config", path, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("config accepted, want refused naming %q:\n%s\n%s", want, cfg, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Fatalf("refusal does not name %q:\n%s", w, out)
		}
	}
	return string(out)
}
