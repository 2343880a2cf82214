package integration

import (
	"fmt"
	"strings"
	"testing"
)

// reIter is Lua that makes the iterator of call (an ngx.re.gmatch call)
// and calls it n times, saying exprs of each match (of m), or m itself
// when there is none.
func reIter(call string, n int, exprs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "local it, err = %s\nif not it then ngx.say(\"error: \", err) return end\n", call)
	fmt.Fprintf(&b, "for _ = 1, %d do\n  local m, err = it()\n  if err then ngx.say(\"error: \", err) return end\n  if m then\n", n)
	for _, e := range exprs {
		fmt.Fprintf(&b, "    ngx.say(%s)\n", e)
	}
	b.WriteString("  else\n    ngx.say(m)\n  end\nend\n")
	return b.String()
}

// reLoop is Lua that says exprs for each match of a for-in loop over call.
func reLoop(call string, exprs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "for m in %s do\n", call)
	for _, e := range exprs {
		fmt.Fprintf(&b, "  ngx.say(%s)\n", e)
	}
	b.WriteString("end\n")
	return b.String()
}

// lua-nginx-module t/035-gmatch.t, rebuilt.
func TestOpenRestyReGmatch(t *testing.T) {
	const f = "035-gmatch"
	cases := []orCase{
		{src: reSrc(f, 1, "gmatch"), content: reLoop(`ngx.re.gmatch("hello, world", "[a-z]+")`, "m[0]"), body: "hello\nworld\n"},
		{src: reSrc(f, 2, "fail to match"), content: reIter(`ngx.re.gmatch("hello, world", "[0-9]")`, 3, "m[0]"), body: "nil\nnil\nnil\n"},
		{src: reSrc(f, 3, "match but iterate more times (not just match at the end)"), content: reIter(`ngx.re.gmatch("hello, world!", "[a-z]+")`, 4, "m[0]"), body: "hello\nworld\nnil\nnil\n"},
		{src: reSrc(f, 4, "match but iterate more times (just matched at the end)"), content: reIter(`ngx.re.gmatch("hello, world", "[a-z]+")`, 4, "m[0]"), body: "hello\nworld\nnil\nnil\n"},
		{src: reSrc(f, 5, "anchored match (failed)"), content: `local it = ngx.re.gmatch("hello, 1234", "([0-9]+)", "a") ngx.say(it())`, body: "nil\n"},
		{src: reSrc(f, 6, "anchored match (succeeded)"), content: reIter(`ngx.re.gmatch("12 hello 34", "[0-9]", "a")`, 3, "m[0]"), body: "1\n2\nnil\n"},
		{src: reSrc(f, 7, "non-anchored gmatch (without regex cache)"), content: reIter(`ngx.re.gmatch("12 hello 34", "[0-9]")`, 5, "m[0]"), body: "1\n2\n3\n4\nnil\n"},
		{src: reSrc(f, 8, "non-anchored gmatch (with regex cache)"), content: reIter(`ngx.re.gmatch("12 hello 34", "[0-9]", "o")`, 5, "m[0]"), body: "1\n2\n3\n4\nnil\n"},
		{src: reSrc(f, 9, "anchored match (succeeded)"), content: reIter(`ngx.re.gmatch("12 hello 34", "[0-9]", "a")`, 3, "m[0]"), body: "1\n2\nnil\n"},
		{src: reSrc(f, 11, "gmatch (look-behind assertion)"), content: reLoop(`ngx.re.gmatch("{foobar}, {foobaz}", "(?<=foo)ba[rz]")`, "m[0]"), body: "bar\nbaz\n"},
		{src: reSrc(f, 12, "gmatch (look-behind assertion 2)"), content: reLoop(`ngx.re.gmatch("{foobarbaz}", "(?<=foo)bar|(?<=bar)baz")`, "m[0]"), body: "bar\nbaz\n"},
		{src: reSrc(f, 13, "with regex cache"), content: `
for _, a in ipairs{{"hello, 1234", "io"}, {"1234, okay", "io"}, {"hi, 1234", "o"}} do
  local m = ngx.re.gmatch(a[1], "([A-Z]+)", a[2])()
  ngx.say(m and m[0])
end`, body: "hello\nokay\nnil\n"},
		// Without lua_regex_cache_max_entries 2 (every pattern is cached
		// here); the results do not depend on it.
		{src: reSrc(f, 14, "exceeding regex cache max entries"), content: `
for _, a in ipairs{{"hello, 1234", "o"}, {"howdy, 567", "oi"}, {"hiya, 98", "ox"}} do
  local m = ngx.re.gmatch(a[1], "([0-9]+)", a[2])()
  ngx.say(m and m[0])
end`, body: "1234\n567\n98\n"},
		// Without lua_regex_cache_max_entries 0, as TEST 14.
		{src: reSrc(f, 15, "disable regex cache completely"), content: `
for _, a in ipairs{{"hello, 1234", "o"}, {"howdy, 567", "oi"}, {"hiya, 98", "ox"}} do
  local it = ngx.re.gmatch(a[1], "([0-9]+)", a[2])
  local m = it()
  ngx.say(m and m[0])
end`, body: "1234\n567\n98\n"},
		{src: reSrc(f, 16, "gmatch matched but no iterate"), content: `local it = ngx.re.gmatch("hello, world", "[a-z]+") ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 17, "gmatch matched but only iterate once and still matches remain"), content: `
local m = ngx.re.gmatch("hello, world", "[a-z]+")()
ngx.say(m and m[0] or "not matched")`, body: "hello\n"},
		{src: reSrc(f, 18, "gmatch matched but no iterate and early forced GC"), content: `
local keep = {}
for i = 1, 3 do
  local it = ngx.re.gmatch("hello, world", "[a-z]+")
  it()
  collectgarbage()
  keep[#keep + 1] = {"hello", "world"}
end
ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 20, "gmatch (empty matched string)"), content: reLoop(`ngx.re.gmatch("hello", "a|")`, `"matched: [", m[0], "]"`), body: strings.Repeat("matched: []\n", 6)},
		{src: reSrc(f, 21, "gmatch with named pattern"), content: reIter(`ngx.re.gmatch("1234, 1234", "(?<first>[0-9]+)")`, 2, "m[0]", "m[1]", `m["first"]`), body: strings.Repeat("1234\n", 6)},
		{src: reSrc(f, 22, "gmatch with multiple named pattern"), content: reIter(`ngx.re.gmatch("1234, abcd, 1234", "(?<first>[0-9]+)|(?<second>[a-z]+)")`, 2, "m[0]", "m[1]", "m[2]", `m["first"]`, `m["second"]`), body: "1234\n1234\nfalse\n1234\nfalse\nabcd\nfalse\nabcd\nfalse\nabcd\n"},
		{src: reSrc(f, 23, "gmatch with duplicate named pattern w/ extraction"), content: `
local it = ngx.re.gmatch("hello, 1234", "(?<first>[a-z]+), (?<first>[0-9]+)", "D")
for _ = 1, 2 do
  local m = it()
  if m then
    ngx.say(m[0]) ngx.say(m[1]) ngx.say(m[2]) ngx.say(table.concat(m.first, "-"))
  else
    ngx.say("not matched!")
  end
end`, body: "hello, 1234\nhello\n1234\nhello-1234\nnot matched!\n"},
		{src: reSrc(f, 24, "named captures are empty"), content: reIter(`ngx.re.gmatch("1234", "(?<first>[a-z]*)([0-9]+)", "")`, 1, "m[0]", "m.first", "m[1]", "m[2]"), body: "1234\n\n\n1234\n"},
		{src: reSrc(f, 25, "named captures are empty (with regex cache)"), content: reIter(`ngx.re.gmatch("1234", "(?<first>[a-z]*)([0-9]+)", "o")`, 1, "m[0]", "m.first", "m[1]", "m[2]"), body: "1234\n\n\n1234\n"},
		{src: reSrc(f, 26, "bad pattern"), content: `
local it, err = ngx.re.gmatch("hello\nworld", "(abc")
ngx.say(err and ("error: " .. err) or "good")`, body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 27, "bad UTF-8"), content: reIter(`ngx.re.gmatch(string.sub("你好", 1, 4), "你好", "u")`, 1, `"matched: ", m[0]`), body: "error: pcre_exec() failed: -10\n"},
		{src: reSrc(f, 28, "UTF-8 mode without UTF-8 sequence checks"), content: reIter(`ngx.re.gmatch("你好", ".", "U")`, 1, "m[0]"), body: "你\n"},
		{src: reSrc(f, 29, "UTF-8 mode with UTF-8 sequence checks"), content: reIter(`ngx.re.gmatch("你好", ".", "u")`, 1, "m[0]"), body: "你\n"},
		{src: reSrc(f, 31, "just not hit match limit"), content: `
local it, err = ngx.re.gmatch(string.rep("ABCDEFG", 10), ` + matchLimitRe + `, "o")
if not it then ngx.say("failed to gen iterator: ", err) return end
local res, err = it()
if res then return end
ngx.say(err and ("error: " .. err) or "failed to match")`, body: "failed to match\n"},
	}
	orSuite(t, "", cases)
}
