package phases

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"resty {\n\troutes\n}", `{"routes":true}`},
		{"resty {\n\troutes\n\taccess_by_lua \"ngx.ctx.a = 1\"\n\tlog_by_lua_file /l.lua\n}",
			`{"access":[{"lua":"ngx.ctx.a = 1"}],"log":[{"lua_file":"/l.lua"}],"routes":true}`},
		{"resty {\n\trewrite_by_lua <<LUA\n\t\tlocal a = 1\n\t\t  return\n\tLUA\n}", `{"rewrite":[{"lua":"local a = 1\n  return"}]}`},
		{"resty", `{}`},
		{"resty {\n\tset_by_lua $res \"return ngx.arg[1] + ngx.arg[2]\" $arg_a {query.b}\n\tset_by_lua_file other /s.lua\n}",
			`{"set":[{"var":"res","lua":"return ngx.arg[1] + ngx.arg[2]","args":["$arg_a","{query.b}"]},{"var":"other","lua_file":"/s.lua"}]}`},
		{"resty {\n\tproxy_pass http://127.0.0.1:8080/v2{uri}\n}", `{"proxy_pass":{"url":"http://127.0.0.1:8080/v2{uri}"}}`},
		{"resty {\n\tproxy_pass backend\n}", `{"proxy_pass":{"upstream":"backend"}}`},
		{"resty {\n\troutes\n\tproxy_pass\n\tproxy_read_timeout 5s\n}", `{"routes":true,"proxy_pass":{"read_timeout":5000000000}}`},
		{"resty {\n\tproxy_pass https://api.internal\n\tproxy_set_header X-A \"{http.request.uri}\"\n\tproxy_set_header X-B \"\"\n" +
			"\tproxy_hide_header X-Internal X-Debug\n\tproxy_connect_timeout 1s\n\tproxy_send_timeout 2s\n" +
			"\tproxy_next_upstream error timeout http_502\n\tproxy_next_upstream_tries 2\n\tproxy_next_upstream_timeout 3s\n" +
			"\tproxy_ssl_verify off\n\tproxy_ssl_trusted_certificate /ca.pem\n\tproxy_ssl_name api.example\n" +
			"\tproxy_buffer_size 8k\n\tproxy_keepalive 0\n\tproxy_keepalive_timeout 10s\n}",
			`{"proxy_pass":{"url":"https://api.internal","set_headers":[{"name":"X-A","value":"{http.request.uri}"},{"name":"X-B"}],` +
				`"hide_headers":["X-Internal","X-Debug"],"connect_timeout":1000000000,"send_timeout":2000000000,` +
				`"next_upstream":["error","timeout","http_502"],"next_upstream_tries":2,"next_upstream_timeout":3000000000,` +
				`"tls":{"insecure_skip_verify":true,"ca_file":"/ca.pem","server_name":"api.example"},"max_header_size":8192,` +
				`"keepalive":-1,"keepalive_timeout":10000000000}}`},
	} {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.src)); err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		got, _ := json.Marshal(h)
		if string(got) != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"resty {\n\troutes all\n}", "wrong argument count"},
		{"resty {\n\tset_by_lua res\n}", "set_by_lua: want a variable and Lua code"},
		{"resty {\n\tset_by_lua_file res\n}", "set_by_lua_file: want a variable and a file path"},
		{"resty {\n\troutes\n\troutes\n}", "routes: given twice"},
		{"resty {\n\troute\n}", "unrecognized resty directive"},
		{"resty {\n\taccess_by_lua_block {\n\t}\n}", "use access_by_lua with a heredoc"},
		{"resty {\n\tproxy_read_timeout 5s\n}", "need proxy_pass"},
		{"resty {\n\tproxy_pass a\n\tproxy_pass b\n}", "proxy_pass: given twice"},
		{"resty {\n\tproxy_pass a b\n}", "at most one argument"},
		{"resty {\n\tproxy_pass\n\tproxy_read_timeout soon\n}", "invalid duration"},
		{"resty {\n\tproxy_pass\n\tproxy_ssl_verify maybe\n}", "want on or off"},
		{"resty {\n\tproxy_pass\n\tproxy_buffer_size lots\n}", "invalid size"},
		{"resty {\n\tproxy_pass\n\tproxy_set_header X\n}", "want a name and a value"},
		{"resty {\n\tproxy_pass\n\tproxy_cache on\n}", "unrecognized resty directive \"proxy_cache\""},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.src, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%q: the error does not name the place: %v", tc.src, err)
		}
	}
}

func TestDedent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"return 1", "return 1"},
		{"\t\treturn 1\n", "return 1"},
		// Common indentation only; deeper lines keep the rest.
		{"\t\tif a then\n\t\t\treturn 1\n\t\tend", "if a then\n\treturn 1\nend"},
		// Blank lines (even with less or no indentation) do not count, and
		// line numbers stay.
		{"\n\t\ta()\n\n\t\tb()\n\t\n", "\na()\n\nb()"},
		// Mixed prefixes: only the common part goes.
		{"\t  a()\n\t b()", " a()\nb()"},
		// Trailing blank space goes.
		{"a()  \n\n", "a()"},
	} {
		if got := Dedent(tc.in); got != tc.want {
			t.Errorf("Dedent(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestProxyPassConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		p    ProxyPass
		want string
	}{
		{ProxyPass{URL: "ftp://x"}, `scheme "ftp" is not supported`},
		{ProxyPass{URL: "10.0.0.1:80"}, "want http://HOST"},
		{ProxyPass{URL: "http://10.0.0.1:99999"}, "invalid port"},
		{ProxyPass{URL: "http://a", Upstream: "b"}, "mutually exclusive"},
		{ProxyPass{Upstream: "bad name"}, "invalid cluster name"},
		{ProxyPass{SetHeaders: []HeaderField{{Name: "X:A", Value: "v"}}}, "set_headers[0]: invalid field name"},
		{ProxyPass{SetHeaders: []HeaderField{{Name: "X-A", Value: "a\r\nB: c"}}}, "set_headers[0]: the value of X-A has a CR"},
		{ProxyPass{HideHeaders: []string{"ok", "no pe"}}, "hide_headers[1]"},
		{ProxyPass{NextUpstream: []string{"error", "sometimes"}}, `next_upstream[1]: unknown case "sometimes"`},
		{ProxyPass{NextUpstream: []string{"error", "off"}}, "off goes alone"},
		{ProxyPass{TLS: &ProxyTLS{CAFile: "/nonexistent/ca.pem"}}, "tls.ca_file"},
	} {
		px, err := newProxier(&tc.p, nil)
		if err == nil {
			px.tr.Close()
			t.Errorf("%+v: accepted", tc.p)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestProxyPassURL(t *testing.T) {
	for _, tc := range []struct {
		url                       string
		cluster, addr, name, path string
		tls                       bool
	}{
		{url: "http://backend", cluster: "backend"},
		{url: "http://backend/v2", cluster: "backend", path: "/v2"},
		{url: "http://127.0.0.1:8080", addr: "127.0.0.1:8080"},
		{url: "http://localhost", addr: "localhost:80", name: "localhost"},
		{url: "https://api.example.com", addr: "api.example.com:443", name: "api.example.com", tls: true},
		{url: "https://[::1]:8443/x?y=1", addr: "[::1]:8443", path: "/x", tls: true},
	} {
		px, err := newProxier(&ProxyPass{URL: tc.url}, nil)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		px.tr.Close()
		if px.cluster != tc.cluster || px.addr != tc.addr || px.serverName != tc.name || px.path != tc.path || px.tls != tc.tls {
			t.Errorf("%s: cluster %q addr %q name %q path %q tls %v", tc.url, px.cluster, px.addr, px.serverName, px.path, px.tls)
		}
	}
}
