package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The harness of the rebuilt request/response/output blocks of
// lua-nginx-module (t/005-exit.t, t/016-resp-header.t, t/028-req-header.t,
// …). It is orSuite with what those blocks need besides: repeated request
// headers, raw requests (HTTP/1.0, malformed lines), response headers
// compared with all their values, log lines looked for only in what the
// case itself logged, and a backend in the test process that proxied
// blocks reach with proxy_pass (it stands in for the blocks' echo
// locations: it answers with what it received).

// coreCase is one rebuilt block.
type coreCase struct {
	// src cites the block: "t/016-resp-header.t TEST 3: …".
	src string
	// The Lua of each phase.
	rewrite, access, content, hf, bf, log string
	// resty holds more lines inside the resty block (proxy_pass
	// @BACKEND@); site more lines of the handle block, after resty.
	resty, site string

	// req is "METHOD URI" ("GET /t" when empty); hdr are request header
	// lines "Name: value", repeatable; reqBody is the request body.
	req     string
	hdr     []string
	reqBody string
	// raw, if set, is sent as it is instead (@HOST@ is the case's host)
	// and the response is read until the server closes.
	raw string

	// status is the expected status (200 when 0, not checked when -1).
	status int
	// body is the expected body, exactly, unless bodyRe is set or
	// anyBody.
	body    string
	bodyRe  string
	anyBody bool
	// headers are expected response headers, values joined with ", ";
	// "<absent>" means none.
	headers map[string]string
	// logs must appear in what Caddy logged while the case ran (messages
	// and error fields, unescaped).
	logs []string
	// noLogs must not.
	noLogs []string
	// broken: the response must be cut short (no response, or a body
	// that ends before its length).
	broken bool
}

// coreBackend answers with what it received: the body for /echo_body
// paths (and the request's ?body query), otherwise the request line and
// the sorted header lines.
func coreBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if strings.HasPrefix(r.URL.Path, "/echo_body") {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/echo_method") {
			fmt.Fprintln(w, r.Method)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/echo_status") {
			w.Header().Set("WWW-Authenticate", `Basic realm="old"`)
			w.WriteHeader(401)
			fmt.Fprint(w, "unauth\n")
			return
		}
		fmt.Fprintf(w, "%s %s %s\n", r.Method, r.RequestURI, r.Proto)
		var lines []string
		for k, vs := range r.Header {
			for _, v := range vs {
				lines = append(lines, k+": "+v)
			}
		}
		sort.Strings(lines)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// coreSuite runs cases in one Caddy process, a host each.
func coreSuite(t *testing.T, global string, cases []coreCase) {
	t.Helper()
	files := map[string]string{}
	var site strings.Builder
	for i, c := range cases {
		b := orBlock{resty: c.resty, phases: map[string]string{
			"rewrite": c.rewrite, "access": c.access, "content": c.content,
			"header_filter": c.hf, "body_filter": c.bf, "log": c.log,
		}}
		if c.site != "" {
			b.site = "\t\t" + c.site
		}
		orSite(&site, files, i, b)
	}
	p := startCaddy(t, hopts{global: global, site: site.String(), files: files, backend: coreBackend(t)})
	for i, c := range cases {
		i, c := i, c
		t.Run(orName(i, c.src), func(t *testing.T) {
			host := fmt.Sprintf("c%d.test", i)
			from := len(p.logText())
			var r coreReply
			if c.raw != "" {
				r = coreRaw(p.addr, strings.ReplaceAll(c.raw, "@HOST@", host))
			} else {
				r = coreDo(p.base, host, c)
			}
			c.check(t, r)
			for _, s := range c.logs {
				if !coreWaitLog(p, from, s) {
					t.Errorf("%s: log lacks %q; it has:\n%s\nTAIL %d %d:\n%s", c.src, s, coreLogSince(p, from), from, len(p.logText()), p.logTail(1500))
				}
			}
			if len(c.noLogs) > 0 {
				time.Sleep(100 * time.Millisecond)
				logged := coreLogSince(p, from)
				for _, s := range c.noLogs {
					if strings.Contains(logged, s) {
						t.Errorf("%s: log has %q:\n%s", c.src, s, logged)
					}
				}
			}
		})
	}
}

// coreReply is a response as the case sees it.
type coreReply struct {
	status int
	header http.Header
	body   string
	err    error
}

func coreDo(base, host string, c coreCase) coreReply {
	method, uri := "GET", "/t"
	if c.req != "" {
		m, u, _ := strings.Cut(c.req, " ")
		method, uri = m, u
	}
	var rd io.Reader
	if c.reqBody != "" {
		rd = strings.NewReader(c.reqBody)
	}
	req, err := http.NewRequest(method, base+uri, rd)
	if err != nil {
		return coreReply{err: err}
	}
	req.Host = host
	for _, h := range c.hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	cl := *noRetry
	cl.Timeout = 10 * time.Second
	resp, err := cl.Do(req)
	if err != nil {
		return coreReply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return coreReply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// coreRaw sends a raw request and reads the response the server sends
// before it closes the connection.
func coreRaw(addr, raw string) coreReply {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return coreReply{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		return coreReply{err: err}
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return coreReply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return coreReply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

func (c coreCase) check(t *testing.T, r coreReply) {
	t.Helper()
	if c.broken {
		if r.err == nil {
			t.Errorf("%s: want a cut response, got %d %q", c.src, r.status, r.body)
		}
		return
	}
	if r.err != nil {
		t.Fatalf("%s: %v (status %d, body %q)", c.src, r.err, r.status, r.body)
	}
	want := c.status
	if want == 0 {
		want = 200
	}
	if want > 0 && r.status != want {
		t.Errorf("%s: status %d, want %d (body %q)", c.src, r.status, want, r.body)
	}
	switch {
	case c.anyBody:
	case c.bodyRe != "":
		if !regexp.MustCompile(c.bodyRe).MatchString(r.body) {
			t.Errorf("%s: body %q does not match %q", c.src, r.body, c.bodyRe)
		}
	case r.body != c.body:
		t.Errorf("%s: body\n%q\nwant\n%q", c.src, r.body, c.body)
	}
	for k, v := range c.headers {
		got, ok := r.header[http.CanonicalHeaderKey(k)]
		switch {
		case v == "<absent>" && ok:
			t.Errorf("%s: header %s: %q, want none", c.src, k, got)
		case v != "<absent>" && strings.Join(got, ", ") != v:
			t.Errorf("%s: header %s: %q, want %q", c.src, k, got, v)
		}
	}
}

// coreLogSince returns what Caddy logged from byte offset from on: each
// JSON line's string fields, unescaped.
func coreLogSince(p *hproc, from int) string {
	text := p.logText()
	if from > len(text) {
		from = len(text)
	}
	var b strings.Builder
	for _, line := range strings.Split(text[from:], "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			b.WriteString(line + "\n")
			continue
		}
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s, ok := e[k].(string); ok {
				b.WriteString(k + "=" + s + " | ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func coreWaitLog(p *hproc, from int, sub string) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if strings.Contains(coreLogSince(p, from), sub) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// coreArgsLua prints a table of args (get_uri_args, get_post_args) in
// the blocks' way: sorted keys, "key = value", arrays joined.
const coreArgsLua = `
local function dump(args, err)
    if err then ngx.say("err: ", err) end
    local keys = {}
    for key in pairs(args) do table.insert(keys, key) end
    table.sort(keys)
    for _, key in ipairs(keys) do
        local val = args[key]
        if type(val) == "table" then
            ngx.say(key, " = [", table.concat(val, ", "), "]")
        else
            ngx.say(key, " = ", val)
        end
    end
end
`

// manyArgs is "a1=1&a2=2&…&aN=N".
func manyArgs(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("a%d=%d", i+1, i+1)
	}
	return strings.Join(parts, "&")
}

// manyArgsBody is the sorted "aK = K" lines of the first n of manyArgs.
func manyArgsBody(n int) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("a%d", i+1)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, k[1:])
	}
	return b.String()
}
