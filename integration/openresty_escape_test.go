package integration

import "testing"

// lua-nginx-module t/006-escape.t, rebuilt (the set_by_lua blocks run as
// content_by_lua until set_by_lua lands).
func TestOpenRestyEscape(t *testing.T) {
	orSuite(t, "", []orCase{
		{src: "lua-nginx-module t/006-escape.t TEST 3: escape uri in content_by_lua",
			content: `ngx.say(ngx.escape_uri('a 你'))`, body: "a%20%E4%BD%A0\n"},
		{src: "lua-nginx-module t/006-escape.t TEST 4: unescape uri in content_by_lua",
			content: `ngx.say(ngx.unescape_uri('a%20%e4%bd%a0'))`, body: "a 你\n"},
	})
}
