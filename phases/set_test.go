package phases

import (
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestSetConfigErrors: bad set_by_lua variables are refused at load,
// naming the place.
func TestSetConfigErrors(t *testing.T) {
	pool := testPool(t)
	for _, tc := range []struct{ v, want string }{
		{"", `set[0].var: invalid variable name ""`},
		{"a-b", `set[0].var: invalid variable name "a-b"`},
		{"uri", `set[0].var: the built-in variable "uri" cannot be set`},
		{"$arg_x", `set[0].var: the built-in variable "arg_x" cannot be set`},
		{"http_host", `the built-in variable "http_host" cannot be set`},
	} {
		h := Handler{Set: []SetScript{{Var: tc.v, Lua: "return 1"}}}
		err := h.setup(pool, zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("var %q: %v, want %q", tc.v, err, tc.want)
		}
	}
	h := Handler{Set: []SetScript{{Var: "ok", Lua: "return (("}}}
	if err := h.setup(pool, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "set[0]") {
		t.Errorf("syntax error: %v, want it to name set[0]", err)
	}
}
