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
		{"resty {\n\troutes\n\troutes\n}", "routes: given twice"},
		{"resty {\n\troute\n}", "unrecognized resty directive"},
		{"resty {\n\taccess_by_lua_block {\n\t}\n}", "use access_by_lua with a heredoc"},
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
