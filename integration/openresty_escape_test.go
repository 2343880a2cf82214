package integration

import "testing"

// lua-nginx-module t/006-escape.t, rebuilt. Its set_by_lua blocks
// (TEST 1, 2, 5, 6, 8-13) are set_by_lua here too; their `echo $res` is
// a content_by_lua printing ngx.var.res.
func TestOpenRestyEscape(t *testing.T) {
	const f = "lua-nginx-module t/006-escape.t "
	orSuite(t, "", []orCase{
		{src: f + "TEST 1: escape uri in set_by_lua",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri('a 你')`}}, content: `ngx.say(ngx.var.res)`, body: "a%20%E4%BD%A0\n"},
		{src: f + "TEST 2: unescape uri in set_by_lua",
			set: []orSet{{v: "res", lua: `return ngx.unescape_uri('a%20%e4%bd%a0')`}}, content: `ngx.say(ngx.var.res)`, body: "a 你\n"},
		{src: f + "TEST 3: escape uri in content_by_lua",
			content: `ngx.say(ngx.escape_uri('a 你'))`, body: "a%20%E4%BD%A0\n"},
		{src: f + "TEST 4: unescape uri in content_by_lua",
			content: `ngx.say(ngx.unescape_uri('a%20%e4%bd%a0'))`, body: "a 你\n"},
		{src: f + "TEST 5: escape uri in set_by_lua",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri('a+b')`}}, content: `ngx.say(ngx.var.res)`, body: "a%2Bb\n"},
		{src: f + "TEST 6: escape uri in set_by_lua",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri('"a/b={}:<>;&[]\\^')`}}, content: `ngx.say(ngx.var.res)`,
			body: "%22a%2Fb%3D%7B%7D%3A%3C%3E%3B%26%5B%5D%5C%5E\n"},
		{src: f + "TEST 7: escape uri in set_by_lua (header_filter_by_lua)",
			content: `ngx.say("hello")`,
			phases:  map[string]string{"header_filter": `ngx.header.baz = ngx.escape_uri(" ")`},
			headers: map[string]string{"baz": "%20"}, body: "hello\n"},
		{src: f + "TEST 8: escape a string that cannot be escaped",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri('abc')`}}, content: `ngx.say(ngx.var.res)`, body: "abc\n"},
		{src: f + "TEST 9: escape an empty string that cannot be escaped",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri('')`}}, content: `ngx.say(ngx.var.res)`, body: "\n"},
		{src: f + "TEST 10: escape nil",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri(nil)`}}, content: `ngx.say("[", ngx.var.res, "]")`, body: "[]\n"},
		{src: f + "TEST 11: escape numbers",
			set: []orSet{{v: "res", lua: `return ngx.escape_uri(32)`}}, content: `ngx.say("[", ngx.var.res, "]")`, body: "[32]\n"},
		{src: f + "TEST 12: unescape nil",
			set: []orSet{{v: "res", lua: `return ngx.unescape_uri(nil)`}}, content: `ngx.say("[", ngx.var.res, "]")`, body: "[]\n"},
		{src: f + "TEST 13: unescape numbers",
			set: []orSet{{v: "res", lua: `return ngx.unescape_uri(32)`}}, content: `ngx.say("[", ngx.var.res, "]")`, body: "[32]\n"},
		{src: f + "TEST 14: reserved chars",
			content: `
ngx.say(ngx.escape_uri("-_.!~*'()"))
ngx.say(ngx.escape_uri(",$@|` + "`" + `"))`,
			body: "-_.!~*'()\n%2C%24%40%7C%60\n"},
		{src: f + "TEST 15: escape type argument",
			content: `
ngx.say(ngx.escape_uri("https://www.google.com", 0))
ngx.say(ngx.escape_uri("https://www.google.com/query?q=test", 0))
ngx.say(ngx.escape_uri("https://www.google.com/query?\r\nq=test", 0))
ngx.say(ngx.escape_uri("-_.~!*'();:@&=+$,/?#", 0))
ngx.say(ngx.escape_uri("<>[]{}\\\" ", 0))`,
			body: "https://www.google.com\n" +
				"https://www.google.com/query%3Fq=test\n" +
				"https://www.google.com/query%3F%0D%0Aq=test\n" +
				"-_.~!*'();:@&=+$,/%3F%23\n" +
				"<>[]{}\\\"%20\n"},
		{src: f + "TEST 16: escape type argument",
			content: `
local u = "https://www.google.com/?t=abc@ :"
for ty = 0, 6 do ngx.say(ngx.escape_uri(u, ty)) end`,
			body: "https://www.google.com/%3Ft=abc@%20:\n" +
				"https://www.google.com/%3Ft=abc@%20:\n" +
				"https%3A%2F%2Fwww.google.com%2F%3Ft%3Dabc%40%20%3A\n" +
				"https://www.google.com/?t=abc@%20:\n" +
				"https://www.google.com/?t=abc@%20:\n" +
				"https://www.google.com/?t=abc@%20:\n" +
				"https://www.google.com/?t=abc@%20:\n"},
		{src: f + "TEST 17: escape type out of range",
			content: `ngx.say(ngx.escape_uri("https://www.google.com", -1))`,
			status:  500, skipBody: true, errLog: []string{`\"type\" -1 out of range`}},
		{src: f + "TEST 18: escape type out of range",
			content: `ngx.say(ngx.escape_uri("https://www.google.com", 10))`,
			status:  500, skipBody: true, errLog: []string{`\"type\" 10 out of range`}},
		{src: f + "TEST 19: escape type not integer",
			content: `ngx.say(ngx.escape_uri("https://www.google.com", true))`,
			status:  500, skipBody: true, errLog: []string{`\"type\" is not a number`}},
		{src: f + "TEST 20: invalid unescape sequences",
			content: `ngx.say(ngx.unescape_uri("%ua%%20%au"))`, body: "%ua% %au\n"},
		{src: f + "TEST 21: invalid unescape sequences where remain length less than 2",
			content: `
ngx.say(ngx.unescape_uri("%a"))
ngx.say(ngx.unescape_uri("%u"))
ngx.say(ngx.unescape_uri("%"))
ngx.say(ngx.unescape_uri("good%20job%"))`,
			body: "%a\n%u\n%\ngood job%\n"},
	})
}
