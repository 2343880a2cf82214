package integration

import "testing"

// hexOf is Lua that prints a binary string as lowercase hex, as the
// md5_bin blocks do.
const hexOf = `local function hex(s)
	return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end))
end
`

// lua-nginx-module t/007-md5.t, t/011-md5_bin.t, t/013-base64.t,
// t/042-crc32.t, t/046-hmac.t, t/070-sha1.t and t/115-quote-sql-str.t,
// rebuilt. The set_by_lua blocks are set_by_lua here too; their `echo $a`
// is a content_by_lua printing the variable.
func TestOpenRestyEncode(t *testing.T) {
	const md5 = "lua-nginx-module t/007-md5.t "
	const md5b = "lua-nginx-module t/011-md5_bin.t "
	const b64 = "lua-nginx-module t/013-base64.t "
	const crc = "lua-nginx-module t/042-crc32.t "
	const sha = "lua-nginx-module t/070-sha1.t "
	const sql = "lua-nginx-module t/115-quote-sql-str.t "
	const helloMD5 = "5d41402abc4b2a76b9719d911017c592\n"
	const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e\n"
	orSuite(t, "", []orCase{
		{src: md5 + "TEST 1: set md5 hello", content: `ngx.say(ngx.md5("hello"))`, body: helloMD5},
		{src: md5 + "TEST 2: nil string to ngx.md5", content: `ngx.say(ngx.md5(nil))`, body: emptyMD5},
		{src: md5 + "TEST 3: null string to ngx.md5", content: `ngx.say(ngx.md5(""))`, body: emptyMD5},
		{src: md5 + "TEST 4: use ngx.md5 in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.md5("hello")`}}, content: `ngx.say(ngx.var.res)`, body: helloMD5},
		{src: md5 + "TEST 5: use ngx.md5 in set_by_lua (nil)", set: []orSet{{v: "res", lua: `return ngx.md5(nil)`}}, content: `ngx.say(ngx.var.res)`, body: emptyMD5},
		{src: md5 + "TEST 6: use ngx.md5 in set_by_lua (null string)", set: []orSet{{v: "res", lua: `return ngx.md5("")`}}, content: `ngx.say(ngx.var.res)`, body: emptyMD5},
		{src: md5 + "TEST 7: md5(number)", content: `ngx.say(ngx.md5(45))`, body: "6c8349cc7260ae62e3b1396831a8398f\n"},

		{src: md5b + "TEST 1: set md5_bin hello", content: hexOf + `ngx.say(hex(ngx.md5_bin("hello")))`, body: helloMD5},
		{src: md5b + "TEST 2: set md5_bin hello (length)", content: `ngx.say(string.len(ngx.md5_bin("hello")))`, body: "16\n"},
		{src: md5b + "TEST 3: set md5_bin hello", content: hexOf + `local s = ngx.md5_bin("hello") ngx.say(hex(s))`, body: helloMD5},
		{src: md5b + "TEST 4: nil string to ngx.md5_bin", content: hexOf + `ngx.say(hex(ngx.md5_bin(nil)))`, body: emptyMD5},
		{src: md5b + "TEST 5: null string to ngx.md5_bin", content: hexOf + `ngx.say(hex(ngx.md5_bin("")))`, body: emptyMD5},
		{src: md5b + "TEST 6: use ngx.md5_bin in set_by_lua", set: []orSet{{v: "res", lua: hexOf + `return hex(ngx.md5_bin("hello"))`}}, content: `ngx.say(ngx.var.res)`, body: helloMD5},
		{src: md5b + "TEST 7: use ngx.md5_bin in set_by_lua (nil)", set: []orSet{{v: "res", lua: hexOf + `return hex(ngx.md5_bin(nil))`}}, content: `ngx.say(ngx.var.res)`, body: emptyMD5},
		{src: md5b + "TEST 8: use ngx.md5_bin in set_by_lua (null string)", set: []orSet{{v: "res", lua: hexOf + `return hex(ngx.md5_bin(""))`}}, content: `ngx.say(ngx.var.res)`, body: emptyMD5},
		{src: md5b + "TEST 9: md5_bin(number)", content: hexOf + `ngx.say(hex(ngx.md5_bin(45)))`, body: "6c8349cc7260ae62e3b1396831a8398f\n"},

		{src: b64 + "TEST 1: base64 encode hello", content: `ngx.say(ngx.encode_base64("hello"))`, body: "aGVsbG8=\n"},
		{src: b64 + "TEST 2: nil string to ngx.encode_base64", content: `ngx.say("left" .. ngx.encode_base64(nil) .. "right")`, body: "leftright\n"},
		{src: b64 + "TEST 3: null string to ngx.encode_base64", content: `ngx.say("left" .. ngx.encode_base64("") .. "right")`, body: "leftright\n"},
		{src: b64 + "TEST 4: use ngx.encode_base64 in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.encode_base64("hello")`}}, content: `ngx.say(ngx.var.res)`, body: "aGVsbG8=\n"},
		{src: b64 + "TEST 5: use ngx.encode_base64 in set_by_lua (nil)", set: []orSet{{v: "res", lua: `return "left" .. ngx.encode_base64(nil) .. "right"`}}, content: `ngx.say(ngx.var.res)`, body: "leftright\n"},
		{src: b64 + "TEST 6: use ngx.encode_base64 in set_by_lua (null string)", set: []orSet{{v: "res", lua: `return "left" .. ngx.encode_base64("") .. "right"`}}, content: `ngx.say(ngx.var.res)`, body: "leftright\n"},
		{src: b64 + "TEST 7: base64 decode hello", content: `ngx.say(ngx.decode_base64("aGVsbG8="))`, body: "hello\n"},
		{src: b64 + "TEST 8: null string to ngx.decode_base64", content: `ngx.say("left" .. ngx.decode_base64("") .. "right")`, body: "leftright\n"},
		{src: b64 + "TEST 9: use ngx.decode_base64 in set_by_lua", set: []orSet{{v: "res", lua: `return ngx.decode_base64("aGVsbG8=")`}}, content: `ngx.say(ngx.var.res)`, body: "hello\n"},
		{src: b64 + "TEST 10: use ngx.decode_base64 in set_by_lua (nil)",
			set: []orSet{{v: "res", lua: `return "left" .. ngx.decode_base64(nil) .. "right"`}}, content: `ngx.say(ngx.var.res)`,
			status: 500, bodyRe: "500 Internal Server Error|^$", errLog: []string{"string argument only"}},
		{src: b64 + "TEST 11: use ngx.decode_base64 in set_by_lua (null string)", set: []orSet{{v: "res", lua: `return "left" .. ngx.decode_base64("") .. "right"`}}, content: `ngx.say(ngx.var.res)`, body: "leftright\n"},
		{src: b64 + "TEST 12: base64 encode number", content: `ngx.say(ngx.encode_base64(32))`, body: "MzI=\n"},
		{src: b64 + "TEST 13: base64 decode number", content: `ngx.say(ngx.decode_base64(32))`,
			status: 500, skipBody: true, errLog: []string{"string argument only"}},
		{src: b64 + "TEST 14: base64 decode error", content: `ngx.say(ngx.decode_base64("^*~"))`, body: "nil\n"},
		{src: b64 + "TEST 15: base64 encode without padding (explicit true to no_padding)", content: `ngx.say(ngx.encode_base64("hello", true))`, body: "aGVsbG8\n"},
		{src: b64 + "TEST 16: base64 encode short string", content: `ngx.say(ngx.encode_base64("w"))`, body: "dw==\n"},
		{src: b64 + "TEST 17: base64 encode short string with padding (explicit false to no_padding)", content: `ngx.say(ngx.encode_base64("w", false))`, body: "dw==\n"},
		{src: b64 + "TEST 18: base64 encode with wrong 2nd parameter", content: `ngx.say(ngx.encode_base64("w", 0))`,
			status: 500, skipBody: true, errLog: []string{"bad no_padding: boolean expected, got number"}},

		{src: crc + "TEST 1: short sanity", content: `ngx.say(ngx.crc32_short("hello, world"))`, body: "4289425978\n"},
		{src: crc + "TEST 2: long sanity", content: `ngx.say(ngx.crc32_long("hello, world"))`, body: "4289425978\n"},
		{src: crc + "TEST 3: long sanity (empty)", content: `ngx.say(ngx.crc32_long(""))`, body: "0\n"},

		{src: "lua-nginx-module t/046-hmac.t TEST 1: sanity",
			content: `local digest = ngx.hmac_sha1("thisisverysecretstuff", "some string we want to sign")
ngx.say(ngx.encode_base64(digest))`,
			body: "R/pvxzHC4NLtj7S+kXFg/NePTmk=\n"},

		{src: sha + "TEST 1: set sha1 hello", content: `ngx.say(ngx.encode_base64(ngx.sha1_bin("hello")))`, body: "qvTGHdzF6KLavt4PO0gs2a6pQ00=\n"},
		{src: sha + `TEST 2: set sha1 ""`, content: `ngx.say(ngx.encode_base64(ngx.sha1_bin("")))`, body: "2jmj7l5rSw0yVb/vlWAYkK/YBwk=\n"},
		{src: sha + "TEST 3: set sha1 nil", content: `ngx.say(ngx.encode_base64(ngx.sha1_bin(nil)))`, body: "2jmj7l5rSw0yVb/vlWAYkK/YBwk=\n"},
		{src: sha + "TEST 4: set sha1 number", content: `ngx.say(ngx.encode_base64(ngx.sha1_bin(512)))`, body: "zgmxJ9SPg4aKRWReJG07UvS97L4=\n"},

		{src: sql + `TEST 1: \0`, content: `ngx.say(ngx.quote_sql_str("a\0b\0"))`, body: "'a\\0b\\0'\n"},
		{src: sql + `TEST 2: \t`, content: `ngx.say(ngx.quote_sql_str("a\tb\t"))`, body: "'a\\tb\\t'\n"},
		{src: sql + `TEST 3: \b`, content: `ngx.say(ngx.quote_sql_str("a\bb\b"))`, body: "'a\\bb\\b'\n"},
		{src: sql + `TEST 4: \Z`, content: `ngx.say(ngx.quote_sql_str("a\026b\026"))`, body: "'a\\Zb\\Z'\n"},
	})
}
