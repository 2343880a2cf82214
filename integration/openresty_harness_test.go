package integration

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The harness of the rebuilt OpenResty test blocks (lua-nginx-module's
// t/*.t, lua-resty-core's, lua-cjson's, …): each block becomes an orCase
// whose Lua is written here and whose expected status, body and headers
// are the block's. All the cases of one suite run in one real Caddy
// process, each on a host of its own (c<N>.test), so a case sees the
// request URI the block sends.

// orCase is one rebuilt block.
type orCase struct {
	// src cites the block: "lua-nginx-module t/006-escape.t TEST 1".
	src string
	// phases maps a phase (rewrite, access, content, header_filter,
	// body_filter, log) to its Lua code; content is the usual one.
	phases map[string]string
	// content is shorthand for phases["content"].
	content string
	// set are set_by_lua directives, run before the phases.
	set []orSet
	// site holds more Caddyfile lines of the case's handle block, after
	// the resty directive (e.g. `respond "backend" 200` for a block whose
	// content comes from elsewhere).
	site string
	// request is "METHOD URI" ("GET /t" when empty).
	request    string
	reqHeaders map[string]string
	reqBody    string

	// status is the expected status (200 when 0).
	status int
	// body is the expected body, exactly, unless bodyRe is set.
	body string
	// bodyRe, if set, must match the body instead.
	bodyRe string
	// headers are expected response headers; a value "<absent>" means
	// the header must not be there.
	headers map[string]string
	// errLog are substrings Caddy's log must have once the case ran.
	errLog []string
	// skipBody: only the status and headers are checked.
	skipBody bool
}

// orSet is one set_by_lua (as set_by_lua_file): the variable, the Lua
// code and the arguments.
type orSet struct {
	v, lua string
	args   []string
}

// orSuite runs cases in one Caddy process; global holds extra lines of
// the global resty option (shared dicts the suite's blocks declare).
func orSuite(t *testing.T, global string, cases []orCase) {
	t.Helper()
	orSuiteFiles(t, global, nil, cases)
}

// orSuiteFiles is orSuite with more files written to @DIR@ (Lua modules
// for lua_package_path @DIR@/?.lua).
func orSuiteFiles(t *testing.T, global string, extra map[string]string, cases []orCase) {
	t.Helper()
	files := map[string]string{}
	for k, v := range extra {
		files[k] = v
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
		orSite(&site, files, i, orBlock{phases: phases, set: c.set, site: c.site})
	}
	p := startCaddy(t, hopts{global: global, site: site.String(), files: files})
	for i, c := range cases {
		i, c := i, c
		t.Run(orName(i, c.src), func(t *testing.T) {
			method, uri := "GET", "/t"
			if c.request != "" {
				m, u, ok := strings.Cut(c.request, " ")
				if !ok {
					t.Fatalf("bad request line %q", c.request)
				}
				method, uri = m, u
			}
			for _, own := range []string{"/plain", "/lua", "/_dict"} {
				if uri == own || strings.HasPrefix(uri, own+"?") || strings.HasPrefix(uri, own+"/") {
					t.Fatalf("%s: the harness serves %s itself: use another path", c.src, own)
				}
			}
			hdr := map[string]string{"Host": fmt.Sprintf("c%d.test", i)}
			for k, v := range c.reqHeaders {
				hdr[k] = v
			}
			r := plDo(method, p.base+uri, hdr, c.reqBody)
			if r.err != nil {
				t.Fatalf("%s: %v", c.src, r.err)
			}
			want := c.status
			if want == 0 {
				want = 200
			}
			if r.status != want {
				t.Errorf("%s: status %d, want %d (body %q)", c.src, r.status, want, r.body)
			}
			switch {
			case c.skipBody:
			case c.bodyRe != "":
				if !regexp.MustCompile(c.bodyRe).MatchString(r.body) {
					t.Errorf("%s: body %q does not match %q", c.src, r.body, c.bodyRe)
				}
			case r.body != c.body:
				t.Errorf("%s: body\n%q\nwant\n%q", c.src, r.body, c.body)
			}
			for k, v := range c.headers {
				got, ok := r.header[httpCanonical(k)]
				switch {
				case v == "<absent>" && ok:
					t.Errorf("%s: header %s: %q, want none", c.src, k, got)
				case v != "<absent>" && (!ok || got[0] != v):
					t.Errorf("%s: header %s: %q, want %q", c.src, k, got, v)
				}
			}
			for _, s := range c.errLog {
				if !p.waitLog(s, 2*time.Second) {
					t.Errorf("%s: log lacks %q; tail:\n%s", c.src, s, p.logTail(2000))
				}
			}
		})
	}
}

func httpCanonical(k string) string {
	parts := strings.Split(strings.ToLower(k), "-")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, "-")
}

// orName makes a subtest name of a case: its index and block.
func orName(i int, src string) string {
	if j := strings.Index(src, " t/"); j >= 0 {
		src = src[j+1:]
	}
	return fmt.Sprintf("%02d %s", i, src)
}

// orBlock is what the host of one rebuilt block serves.
type orBlock struct {
	// phases maps a phase to its Lua code.
	phases map[string]string
	// set are set_by_lua directives.
	set []orSet
	// resty holds more lines of the resty directive's block.
	resty string
	// site holds more lines of the handle block, after resty.
	site string
}

// orSite writes the handle block of case i (host c<i>.test) to site and
// its Lua files to files: each phase's code as <phase>_by_lua_file.
func orSite(site *strings.Builder, files map[string]string, i int, b orBlock) {
	fmt.Fprintf(site, "\t@c%d host c%d.test\n\thandle @c%d {\n\t\tresty {\n", i, i, i)
	for j, st := range b.set {
		f := fmt.Sprintf("c%d_set%d.lua", i, j)
		files[f] = st.lua
		fmt.Fprintf(site, "\t\t\tset_by_lua_file %s @DIR@/%s %s\n", st.v, f, strings.Join(st.args, " "))
	}
	names := make([]string, 0, len(b.phases))
	for ph, code := range b.phases {
		if code != "" {
			names = append(names, ph)
		}
	}
	sort.Strings(names)
	for _, ph := range names {
		f := fmt.Sprintf("c%d_%s.lua", i, ph)
		files[f] = b.phases[ph]
		fmt.Fprintf(site, "\t\t\t%s_by_lua_file @DIR@/%s\n", ph, f)
	}
	if b.resty != "" {
		site.WriteString("\t\t\t" + b.resty + "\n")
	}
	site.WriteString("\t\t}\n")
	if b.site != "" {
		site.WriteString(b.site + "\n")
	}
	site.WriteString("\t}\n")
}
