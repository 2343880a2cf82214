package restycmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// requestPhases are the phases a script may take with --request, in the
// handler's JSON names.
var requestPhases = map[string]bool{
	"rewrite": true, "access": true, "content": true,
	"header_filter": true, "body_filter": true, "log": true,
}

// stubBody is what the next handler answers when the script's phase is
// not content (the request passed the script, as it would reach
// proxy_pass or reverse_proxy).
const stubBody = "(next handler)\n"

// simRequest is a parsed --request.
type simRequest struct {
	method, target, host string
}

// parseRequestLine reads 'METHOD TARGET [HTTP/1.1]' or 'TARGET' (GET);
// TARGET is an origin form (/path?query) or an absolute URL, whose host
// becomes the Host field.
func parseRequestLine(s string) (simRequest, error) {
	f := strings.Fields(s)
	r := simRequest{method: http.MethodGet, host: "localhost"}
	switch len(f) {
	case 1:
		r.target = f[0]
	case 2, 3:
		r.method, r.target = f[0], f[1]
		if len(f) == 3 && !strings.HasPrefix(f[2], "HTTP/1.") {
			return r, fmt.Errorf("bad --request %q: only HTTP/1.x", s)
		}
	default:
		return r, fmt.Errorf("bad --request %q: want 'METHOD /path?query'", s)
	}
	for _, c := range r.method {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return r, fmt.Errorf("bad --request %q: bad method %q", s, r.method)
		}
	}
	if !strings.HasPrefix(r.target, "/") {
		u, err := url.Parse(r.target)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return r, fmt.Errorf("bad --request %q: the target is /path?query or http://host/path", s)
		}
		r.host = u.Host
		r.target = u.RequestURI()
	}
	if _, err := url.ParseRequestURI(r.target); err != nil {
		return r, fmt.Errorf("bad --request %q: %v", s, err)
	}
	return r, nil
}

// requestConfig is the Caddy config of a simulated request: a resty
// handler with the script in its phase (then a stub next handler when
// the phase is not content), on a unix socket, with no admin endpoint and
// the handler's logs on stderr.
func requestConfig(rf runFlags, file, socket, logFile string) ([]byte, error) {
	if !requestPhases[rf.phase] {
		return nil, fmt.Errorf("bad --phase %q: rewrite, access, content, header_filter, body_filter or log", rf.phase)
	}
	dicts, err := parseShdicts(rf.shdicts)
	if err != nil {
		return nil, err
	}
	level, err := errlogLevel(rf.errlog)
	if err != nil {
		return nil, err
	}
	restyApp := map[string]any{}
	if len(dicts) > 0 {
		sd := map[string]any{}
		for _, d := range dicts {
			sd[d.name] = map[string]any{"size": d.text}
		}
		restyApp["shared_dicts"] = sd
	}
	lua := map[string]any{"package_path": packagePath(rf.include)}
	if rf.timeout != "" {
		d, err := parseTimeout(rf.timeout)
		if err != nil {
			return nil, err
		}
		lua["timeout"] = caddy.Duration(d)
	}
	restyApp["lua"] = lua

	var pieces []map[string]any
	if rf.code != "" {
		pieces = append(pieces, map[string]any{"lua": rf.code})
	}
	if file != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("Lua input file %s not found", file)
		}
		pieces = append(pieces, map[string]any{"lua_file": abs})
	}
	handlers := []any{map[string]any{"handler": "resty", rf.phase: pieces}}
	if rf.phase != "content" {
		handlers = append(handlers, map[string]any{
			"handler":     "static_response",
			"status_code": 200,
			"headers":     map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}},
			"body":        stubBody,
		})
	}
	cfg := map[string]any{
		"admin": map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"logging": map[string]any{"logs": map[string]any{
			// Caddy's own messages only when they are errors (a default
			// log on stderr also keeps Caddy from announcing a redirect).
			"default": map[string]any{
				"writer":  map[string]any{"output": "stderr"},
				"level":   "ERROR",
				"exclude": []string{"http.handlers.resty"},
			},
			// The handler's logs go to a file that is copied to stderr
			// once the request is over (with the log phase's lines).
			"resty": map[string]any{
				"writer": map[string]any{"output": "file", "filename": logFile, "roll": false},
				"encoder": map[string]any{"format": "console", "time_format": "wall",
					"level_format": "lower"},
				"level":   strings.ToUpper(level.String()),
				"include": []string{"http.handlers.resty"},
			},
		}},
		"apps": map[string]any{
			"resty": restyApp,
			"http": map[string]any{"servers": map[string]any{"resty": map[string]any{
				"listen":          []string{"unix/" + socket},
				"automatic_https": map[string]any{"disable": true},
				"routes":          []any{map[string]any{"handle": handlers}},
			}}},
		},
	}
	return json.Marshal(cfg)
}

// runRequest runs the script against a simulated request through a real
// resty handler (in this process) and prints the response. The status is
// 0 when a response came, 1 when none did, 2 for bad use.
func runRequest(rf runFlags, file string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return code
	}
	sr, err := parseRequestLine(rf.request)
	if err != nil {
		return fail(2, err)
	}
	hdr := http.Header{}
	for _, h := range rf.headers {
		name, val, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(val, "\r\n") {
			return fail(2, fmt.Errorf("bad -H %q: want 'Name: value'", h))
		}
		hdr.Add(name, strings.TrimSpace(val))
	}
	var body []byte
	switch rf.body {
	case "":
	case "-":
		if body, err = io.ReadAll(stdin); err != nil {
			return fail(2, fmt.Errorf("reading the body from stdin: %v", err))
		}
	default:
		if body, err = os.ReadFile(rf.body); err != nil {
			return fail(2, fmt.Errorf("--body: %v", err))
		}
	}

	dir, err := os.MkdirTemp("", "caddy-resty-request-")
	if err != nil {
		return fail(1, err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "http.sock")
	logFile := filepath.Join(dir, "resty.log")
	defer copyLog(logFile, stderr)
	cfg, err := requestConfig(rf, file, socket, logFile)
	if err != nil {
		return fail(2, err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fail(1, err)
	}
	pool := activePool()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = caddy.Stop()
		}
	}
	defer stop()

	req, err := http.NewRequest(sr.method, "http://"+sr.host+sr.target, nil)
	if err != nil {
		return fail(2, err)
	}
	req.Header = hdr
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	if body != nil {
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		req.ContentLength = int64(len(body))
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
		DisableKeepAlives:  true,
	}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return fail(1, fmt.Errorf("no response: %v", err))
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: reading the response body: %v\n", err)
	}
	// Stopping waits for the handler to return (its log phase queued);
	// then the log phase runs.
	stop()
	if pool != nil {
		deadline := time.Now().Add(10 * time.Second)
		for pool.LogsPending() > 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if !rf.noHeaders {
		fmt.Fprintf(w, "HTTP/%d.%d %s\n", resp.ProtoMajor, resp.ProtoMinor, resp.Status)
		names := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
		for k, vs := range resp.Trailer {
			for _, v := range vs {
				fmt.Fprintf(w, "%s: %s\n", k, v)
			}
		}
		w.WriteString("\n")
	}
	w.Write(respBody)
	return 0
}

// activePool is the Lua pool of the running config's resty app.
func activePool() *luaplugin.Pool {
	a, err := caddy.ActiveContext().AppIfConfigured("resty")
	if err != nil {
		return nil
	}
	if ra, ok := a.(*app.App); ok {
		return ra.Pool()
	}
	return nil
}

// copyLog copies what the handler logged to stderr.
func copyLog(path string, stderr io.Writer) {
	if b, err := os.ReadFile(path); err == nil {
		_, _ = stderr.Write(b)
	}
}
