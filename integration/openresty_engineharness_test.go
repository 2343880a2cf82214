package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The harness of the rebuilt blocks about the Lua engine itself
// (lua-nginx-module's t/091-coroutine.t, t/009-log.t, t/158-global-var.t,
// t/004-require.t, …). It is orSuite with what those blocks check besides
// responses: what the case logged, read back from Caddy's JSON log with
// its zap level (nginx's [error]/[warn]/[notice] lines become zap's
// error/warn/info entries: the message text and level are compared, not
// nginx's line format), log lines that must not be there, the order of
// matching messages (grep_error_log), and several requests in a row
// (repeat_each, pipelined_requests) on the same Lua states.

// engCase is one rebuilt block.
type engCase struct {
	// src cites the block.
	src string
	// phases maps a phase (set is not one: see set) to its Lua.
	phases map[string]string
	// content is shorthand for phases["content"].
	content string
	// set are set_by_lua_file directives before the phases.
	set []orSet
	// site holds more lines of the case's handle block, after resty.
	site string

	// The request and what must come back; more are further requests
	// sent after it, in order, to the same host.
	engReq
	more []engReq

	// logs must be among what Caddy logged while the case ran.
	logs []engLog
	// noLogs must not be.
	noLogs []engLog
	// grep, if set, is matched against each entry the case logged, in
	// order; the matches must be grepWant, exactly.
	grep     string
	grepWant []string
}

// engReq is one request of a case and its expected response.
type engReq struct {
	// request is "METHOD URI" ("GET /t" when empty).
	request    string
	reqHeaders map[string]string
	reqBody    string
	// status is expected (200 when 0).
	status int
	// body is expected exactly, unless bodyRe or skipBody is set.
	body     string
	bodyRe   string
	skipBody bool
	// lacks, if set, must not be in the body (which is not checked
	// otherwise).
	lacks string
	// headers are expected response headers ("<absent>": none).
	headers map[string]string
	// broken: the response must be cut (the connection aborted).
	broken bool
	// before, if set, runs before the request is sent (to change a file
	// the case runs, say); pause is waited first (for a previous
	// request's log phase, which runs after its response).
	before func(t *testing.T, c engCtx)
	pause  time.Duration
}

// engCtx is what a request's before hook gets: the Caddy process and the
// case's index.
type engCtx struct {
	p   *hproc
	idx int
}

// file is the path of one of the case's scripts ("content", "set0", …)
// or, for a name with a dot, of one of the suite's files.
func (c engCtx) file(name string) string {
	if strings.Contains(name, ".") {
		return filepath.Join(c.p.dir, name)
	}
	return filepath.Join(c.p.dir, fmt.Sprintf("c%d_%s.lua", c.idx, name))
}

// write replaces the file name (see file) with content.
func (c engCtx) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(c.file(name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// engLog is a log entry looked for: level ("error", "warn", "info",
// "debug"; "" for any) and text, a substring (or, with re, a regexp) of
// the entry's message, error, traceback and source (chunk:line), joined
// by newlines; with exact, text is the whole message.
type engLog struct {
	level, text string
	re, exact   bool
}

// elog, elogRe, elogMsg build engLogs.
func elog(level, text string) engLog   { return engLog{level: level, text: text} }
func elogRe(level, text string) engLog { return engLog{level: level, text: text, re: true} }
func elogMsg(level, msg string) engLog { return engLog{level: level, text: msg, exact: true} }

func (w engLog) String() string {
	if w.re {
		return fmt.Sprintf("[%s] /%s/", w.level, w.text)
	}
	if w.exact {
		return fmt.Sprintf("[%s] message %q", w.level, w.text)
	}
	return fmt.Sprintf("[%s] %q", w.level, w.text)
}

func (w engLog) matches(e engEntry) bool {
	if w.level != "" && w.level != e.level {
		return false
	}
	if w.exact {
		return e.msg == w.text
	}
	if w.re {
		return regexp.MustCompile(w.text).MatchString(e.text)
	}
	return strings.Contains(e.text, w.text)
}

// engEntry is a log entry of Caddy's.
type engEntry struct {
	level, msg, text string
}

// engEntries parses Caddy's JSON log from byte offset from on.
func engEntries(p *hproc, from int) []engEntry {
	text := p.logText()
	if from > len(text) {
		from = len(text)
	}
	var out []engEntry
	for _, line := range strings.Split(text[from:], "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		level, _ := e["level"].(string)
		msg, _ := e["msg"].(string)
		var parts []string
		for _, k := range []string{"msg", "error", "traceback", "source"} {
			if s, ok := e[k].(string); ok {
				parts = append(parts, s)
			}
		}
		out = append(out, engEntry{level: level, msg: msg, text: strings.Join(parts, "\n")})
	}
	return out
}

func engDump(es []engEntry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "[%s] %s\n", e.level, strings.ReplaceAll(e.text, "\n", "\n\t"))
	}
	return b.String()
}

// engSuite runs cases in one Caddy process, a host each; global holds
// more lines of the global resty option, files more files in @DIR@ (Lua
// modules: lua_package_path @DIR@/?.lua). It returns the process, for
// checks after the cases.
func engSuite(t *testing.T, global string, files map[string]string, cases []engCase) *hproc {
	t.Helper()
	return engSuiteEnv(t, global, files, nil, cases)
}

// engSuiteEnv is engSuite with NAME=value entries added to Caddy's
// environment.
func engSuiteEnv(t *testing.T, global string, files map[string]string, env []string, cases []engCase) *hproc {
	t.Helper()
	all := map[string]string{}
	for k, v := range files {
		all[k] = v
	}
	var site strings.Builder
	for i, c := range cases {
		phases := map[string]string{}
		for k, v := range c.phases {
			phases[k] = v
		}
		if c.content != "" {
			phases["content"] = c.content
		}
		orSite(&site, all, i, orBlock{phases: phases, set: c.set, site: c.site})
	}
	p := startCaddy(t, hopts{global: global, site: site.String(), files: all, env: env})
	for i, c := range cases {
		i, c := i, c
		t.Run(orName(i, c.src), func(t *testing.T) {
			from := len(p.logText())
			host := fmt.Sprintf("c%d.test", i)
			for j, r := range append([]engReq{c.engReq}, c.more...) {
				time.Sleep(r.pause)
				if r.before != nil {
					r.before(t, engCtx{p: p, idx: i})
				}
				r.check(t, fmt.Sprintf("%s (request %d)", c.src, j+1), p.base, host)
			}
			for _, w := range c.logs {
				if !engWaitLog(p, from, w) {
					t.Errorf("%s: log lacks %s; the case logged:\n%s", c.src, w, engDump(engEntries(p, from)))
				}
			}
			if len(c.noLogs) > 0 || c.grep != "" {
				time.Sleep(150 * time.Millisecond) // the log phase runs after the response
			}
			entries := engEntries(p, from)
			for _, w := range c.noLogs {
				for _, e := range entries {
					if w.matches(e) {
						t.Errorf("%s: log has %s:\n[%s] %s", c.src, w, e.level, e.text)
					}
				}
			}
			if c.grep != "" {
				re := regexp.MustCompile(c.grep)
				var got []string
				for _, e := range entries {
					got = append(got, re.FindAllString(e.text, -1)...)
				}
				if strings.Join(got, "\n") != strings.Join(c.grepWant, "\n") {
					t.Errorf("%s: log matches of /%s/:\n%s\nwant:\n%s\nthe case logged:\n%s", c.src, c.grep,
						strings.Join(got, "\n"), strings.Join(c.grepWant, "\n"), engDump(entries))
				}
			}
		})
	}
	t.Cleanup(func() {
		if err := p.dead(); err != nil {
			t.Errorf("%v:\n%s", err, p.crash())
		}
	})
	return p
}

// check sends r to host and compares the response.
func (r engReq) check(t *testing.T, src, base, host string) {
	t.Helper()
	method, uri := "GET", "/t"
	if r.request != "" {
		m, u, ok := strings.Cut(r.request, " ")
		if !ok {
			t.Fatalf("bad request line %q", r.request)
		}
		method, uri = m, u
	}
	for _, own := range []string{"/plain", "/lua", "/_dict"} {
		if uri == own || strings.HasPrefix(uri, own+"?") || strings.HasPrefix(uri, own+"/") {
			t.Fatalf("%s: the harness serves %s itself: use another path", src, own)
		}
	}
	hdr := map[string]string{"Host": host}
	for k, v := range r.reqHeaders {
		hdr[k] = v
	}
	got := plDo(method, base+uri, hdr, r.reqBody)
	if r.broken {
		if got.err == nil {
			t.Errorf("%s: want a cut response, got %d %q", src, got.status, got.body)
		}
		return
	}
	if got.err != nil {
		t.Fatalf("%s: %v", src, got.err)
	}
	want := r.status
	if want == 0 {
		want = 200
	}
	if got.status != want {
		t.Errorf("%s: status %d, want %d (body %q)", src, got.status, want, got.body)
	}
	switch {
	case r.lacks != "":
		if strings.Contains(got.body, r.lacks) {
			t.Errorf("%s: body %q has %q", src, got.body, r.lacks)
		}
	case r.skipBody:
	case r.bodyRe != "":
		if !regexp.MustCompile(r.bodyRe).MatchString(got.body) {
			t.Errorf("%s: body %q does not match %q", src, got.body, r.bodyRe)
		}
	case got.body != r.body:
		t.Errorf("%s: body\n%q\nwant\n%q", src, got.body, r.body)
	}
	for k, v := range r.headers {
		hv, ok := got.header[httpCanonical(k)]
		switch {
		case v == "<absent>" && ok:
			t.Errorf("%s: header %s: %q, want none", src, k, hv)
		case v != "<absent>" && (!ok || hv[0] != v):
			t.Errorf("%s: header %s: %q, want %q", src, k, hv, v)
		}
	}
}

// engWaitLog waits until an entry logged since from matches w.
func engWaitLog(p *hproc, from int, w engLog) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, e := range engEntries(p, from) {
			if w.matches(e) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// elines joins its arguments, each ended by a newline.
func elines(s ...string) string { return strings.Join(s, "\n") + "\n" }
