package integration

import "testing"

// lua-nginx-module t/038-match-o.t, rebuilt.
func TestOpenRestyReMatchO(t *testing.T) {
	const f = "038-match-o"
	m0 := []string{"m[0]"}
	cache3 := `
for _, a in ipairs{{"hello, 1234", "o"}, {"howdy, 567", "oi"}, {"hiya, 98", "ox"}} do
  local m = ngx.re.match(a[1], "([0-9]+)", a[2])
  ngx.say(m and m[0])
end`
	cases := []orCase{
		{src: reSrc(f, 1, "sanity"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)", "o")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 2, "escaping sequences"), content: reShow(`ngx.re.match("hello, 1234", "(\\d+)", "o")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 5, "single capture"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]{2})[0-9]+", "o")`, nm, "m[0]", "m[1]"), body: "1234\n12\n"},
		{src: reSrc(f, 6, "multiple captures"), content: reShow(`ngx.re.match("hello, 1234", "([a-z]+).*?([0-9]{2})[0-9]+", "o")`, nm, "m[0]", "m[1]", "m[2]"), body: "hello, 1234\nhello\n12\n"},
		{src: reSrc(f, 7, "not matched"), content: reShow(`ngx.re.match("hello, 1234", "foo", "o")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 8, "case sensitive by default"), content: reShow(`ngx.re.match("hello, 1234", "HELLO", "o")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 9, "case sensitive by default"), content: reShow(`ngx.re.match("hello, 1234", "HELLO", "oi")`, nmNil, m0...), body: "hello\n"},
		{src: reSrc(f, 10, "UTF-8 mode"), content: reShow(`ngx.re.match("hello章亦春", "HELLO.{2}", "iou")`, nmNil, m0...), body: "hello章亦\n"},
		{src: reSrc(f, 11, "multi-line mode (^ at line head)"), content: reShow(`ngx.re.match("hello\nworld", "^world", "mo")`, nmNil, m0...), body: "world\n"},
		{src: reSrc(f, 12, "multi-line mode (. does not match \\n)"), content: reShow(`ngx.re.match("hello\nworld", ".*", "om")`, nmNil, m0...), body: "hello\n"},
		{src: reSrc(f, 13, "single-line mode (^ as normal)"), content: reShow(`ngx.re.match("hello\nworld", "^world", "so")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 14, "single-line mode (dot all)"), content: reShow(`ngx.re.match("hello\nworld", ".*", "os")`, nmNil, m0...), body: "hello\nworld\n"},
		{src: reSrc(f, 15, "extended mode (ignore whitespaces)"), content: reShow(`ngx.re.match("hello\nworld", [[\w     \w]], "xo")`, nmNil, m0...), body: "he\n"},
		{src: reSrc(f, 16, "bad pattern"), content: reShow(`ngx.re.match("hello\nworld", "(abc", "o")`, nmNil, m0...), body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 17, "bad option"), content: `
local ok, m = pcall(ngx.re.match, "hello\nworld", ".*", "Ho")
if ok then ngx.say(m and m[0]) else ngx.say("error: ", m) end`, bodyRe: `^error: .*?unknown flag "H"`},
		{src: reSrc(f, 18, "extended mode (ignore whitespaces)"), content: reShow(`ngx.re.match("hello, world", "(world)|(hello)", "xo")`, nmNil, "m[0]", "m[1]", "m[2]"), body: "hello\nfalse\nhello\n"},
		{src: reSrc(f, 19, "optional trailing captures"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)(h?)", "o")`, nm, "m[0]", "m[1]", "m[2]"), body: "1234\n1234\n\n"},
		{src: reSrc(f, 20, "anchored match (failed)"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)", "oa")`, nm, m0...), body: "not matched!\n"},
		{src: reSrc(f, 21, "anchored match (succeeded)"), content: reShow(`ngx.re.match("1234, hello", "([0-9]+)", "ao")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 22, "match with ctx but no pos"), content: `
local ctx = {}
local m = ngx.re.match("1234, hello", "([0-9]+)", "o", ctx)
ngx.say(m and m[0] or "not matched!")
ngx.say(ctx.pos)`, body: "1234\n5\n"},
		{src: reSrc(f, 23, "match with ctx and a pos"), content: `
local ctx = { pos = 3 }
local m = ngx.re.match("1234, hello", "([0-9]+)", "o", ctx)
ngx.say(m and m[0] or "not matched!")
ngx.say(ctx.pos)`, body: "34\n5\n"},
		{src: reSrc(f, 25, "match (look-behind assertion)"), content: `
local ctx = {}
for _ = 1, 2 do
  local m = ngx.re.match("{foobarbaz}", "(?<=foo)bar|(?<=bar)baz", "o", ctx)
  ngx.say(m and m[0])
end`, body: "bar\nbaz\n"},
		{src: reSrc(f, 26, "match (with regex cache)"), content: `
for _, a in ipairs{{"hello, 1234", "io"}, {"1234, okay", "io"}, {"hello, 1234", "o"}} do
  local m = ngx.re.match(a[1], "([A-Z]+)", a[2])
  ngx.say(m and m[0])
end`, body: "hello\nokay\nnil\n"},
		{src: reSrc(f, 27, "match (with regex cache and ctx)"), content: `
local ctx = {}
local m = ngx.re.match("hello, 1234", "([A-Z]+)", "io", ctx)
ngx.say(m and m[0]) ngx.say(ctx.pos)
m = ngx.re.match("1234, okay", "([A-Z]+)", "io", ctx)
ngx.say(m and m[0]) ngx.say(ctx.pos)
ctx.pos = 1
m = ngx.re.match("hi, 1234", "([A-Z]+)", "o", ctx)
ngx.say(m and m[0]) ngx.say(ctx.pos)`, body: "hello\n6\nokay\n11\nnil\n1\n"},
		// TEST 28 and 29 without lua_regex_cache_max_entries (2, 0): the
		// results do not depend on it.
		{src: reSrc(f, 28, "exceeding regex cache max entries"), content: cache3, body: "1234\n567\n98\n"},
		{src: reSrc(f, 29, "disable regex cache completely"), content: cache3, body: "1234\n567\n98\n"},
		{src: reSrc(f, 30, "named subpatterns w/ extraction"), content: reShow(`ngx.re.match("hello, 1234", "(?<first>[a-z]+), [0-9]+", "o")`, nm, "m[0]", "m[1]", "m.first", "m.second"), body: "hello, 1234\nhello\nhello\nnil\n"},
		{src: reSrc(f, 31, "duplicate named subpatterns w/ extraction"), content: reShow(`ngx.re.match("hello, 1234", "(?<first>[a-z]+), (?<first>[0-9]+)", "Do")`, nm, "m[0]", "m[1]", "m[2]", `table.concat(m.first, "-")`), body: "hello, 1234\nhello\n1234\nhello-1234\n"},
		{src: reSrc(f, 32, "named captures are empty strings"), content: reShow(`ngx.re.match("1234", "(?<first>[a-z]*)([0-9]+)", "o")`, nm, "m[0]", "m.first", "m[1]", "m[2]"), body: "1234\n\n\n1234\n"},
		{src: reSrc(f, 33, "named captures are false"), content: reShow(`ngx.re.match("hello, world", "(world)|(hello)|(?<named>howdy)", "o")`, nm, "m[0]", "m[1]", "m[2]", "m[3]", `m["named"]`), body: "hello\nfalse\nhello\nfalse\nfalse\n"},
	}
	orSuite(t, "", cases)
}
