package luaplugin

import (
	"strings"
	"testing"
)

// The texts of lua-nginx-module's errors, without gopher-lua's
// "bad argument … (anonymous)" wrapping, and where they apply.
func TestOutputAndArgumentErrors(t *testing.T) {
	p := newTestPool(t, Config{})
	for _, tc := range []struct{ code, want string }{
		// src/ngx_http_lua_output.c: a hash table is refused
		{`ngx.say({a = 1})`, "bad argument #1 to 'say' (non-array table found)"},
		{`ngx.print("x", {1, {b = 2}})`, "bad argument #2 to 'print' (non-array table found)"},
		{`ngx.say(print)`, "bad argument #1 to 'say' (string, number, boolean, nil, ngx.null, or array table expected, but got function)"},
		{`ngx.say({1, print})`, "bad argument #1 to 'say' (bad data type function found)"},
		{`local ok, err = pcall(ngx.say, {a = 1}) error(err, 0)`, "bad argument #1 to '?' (non-array table found)"},
		{`ngx.var[true] = 1`, "bad variable name"},
		{`local x = ngx.var[1.5]`, "bad variable name"},
		{`ngx.var.query_string = "a"`, `variable "query_string" not changeable`},
		{`ngx.req.set_method("GET")`, "bad method number"},
		{`ngx.req.set_method(3)`, "unsupported HTTP method: 3"},
		{`ngx.req.set_uri_args(true)`, "bad argument #1 to 'set_uri_args' (string, number, or table expected, but got boolean)"},
		{`ngx.req.set_header(nil, "x")`, "bad 'name' argument: string expected, got nil"},
		{`ngx.header.content_length = "abc"`, "failed to set header"},
		{`ngx.status = "abc"`, "(cannot convert 'nil' to 'int')"},
		{`ngx.redirect("/a\r\nb")`, `unsafe byte "0x0d" in redirect uri "/a\x0D\x0Ab"`},
		{`ngx.req.set_uri("/a\nb")`, `unsafe byte "0x0a" in uri "/a\x0Ab" (maybe you want to set the 'binary' argument?)`},
		{`ngx.exit(ngx.AGAIN)`, "bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE"},
	} {
		res, _ := run(t, p, PhaseContent, tc.code)
		if res.Err == nil || !strings.HasSuffix(res.Err.Error(), tc.want) {
			t.Errorf("%s: got %v, want …%q", tc.code, res.Err, tc.want)
		}
		if res.Err != nil && strings.Contains(res.Err.Error(), "(anonymous)") {
			t.Errorf("%s: %v", tc.code, res.Err)
		}
	}
}

// A pcall'd Go function's error has no position (luaL_where finds none);
// one called from Lua code has the caller's.
func TestErrorPosition(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `
local ok, err = pcall(ngx.req.set_uri, "")
ngx.say(err)
ok, err = pcall(function() ngx.req.set_uri("") end)
ngx.say(err)`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got, want := w.body.String(), "attempt to use zero-length uri\ntest:4: attempt to use zero-length uri\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

// set_uri without jump works in every request phase, as in OpenResty;
// with jump it is refused outside rewrite.
func TestSetURIPhases(t *testing.T) {
	p := newTestPool(t, Config{})
	for _, ph := range []Phase{PhaseRewrite, PhaseAccess, PhaseContent, PhaseHeaderFilter, PhaseBodyFilter, PhaseLog} {
		if res, _ := run(t, p, ph, `ngx.req.set_uri("/x") assert(ngx.var.uri == "/x")`); res.Err != nil {
			t.Errorf("%s: %v", ph, res.Err)
		}
	}
	res, _ := run(t, p, PhaseHeaderFilter, `ngx.req.set_uri("/x", true)`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "API disabled in the context of header_filter_by_lua*") {
		t.Errorf("jump in header_filter: %v", res.Err)
	}
}

// Arrays with holes print "nil" up to their largest index.
func TestSayArrayHoles(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `ngx.say({1, nil, 3}, {}, {ngx.null, true})`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := w.body.String(); got != "1nil3nulltrue\n" {
		t.Errorf("got %q", got)
	}
}

func TestEscapeHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name bool
		want string
	}{
		{"a\r\nb\tc", false, "a%0D%0Ab\tc"},
		{"\x00\x7f", false, "%00%7F"},
		{"Foo\r", true, "Foo%0D"},
		{"a b:c\t", true, "a%20b%3Ac%09"},
		{"Foo中", true, "Foo%E4%B8%AD"},
		{"X-Plain_1", true, "X-Plain_1"},
	} {
		if got := escapeHeader(tc.in, tc.name); got != tc.want {
			t.Errorf("escapeHeader(%q, %v) = %q, want %q", tc.in, tc.name, got, tc.want)
		}
	}
}
