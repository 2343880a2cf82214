package integration

import (
	"fmt"
	"testing"
)

// reFind is Lua that runs call (an ngx.re.find call on the subject s,
// given as a Lua expression) and says from, to and the matched text, or
// the error, or miss.
func reFind(s, call, miss string) string {
	return fmt.Sprintf(`local s = %s
local from, to, err = %s
if from then
  ngx.say("from: ", from)
  ngx.say("to: ", to)
  ngx.say("matched: ", string.sub(s, from, to))
elseif err then
  ngx.say("error: ", err)
else
  ngx.say(%s)
end
`, s, call, miss)
}

// lua-nginx-module t/120-re-find.t, rebuilt.
func TestOpenRestyReFind(t *testing.T) {
	const f = "120-re-find"
	const hello = `"hello, 1234"`
	nmDot := `"not matched."`
	cases := []orCase{
		{src: reSrc(f, 1, "sanity"), content: reFind(hello, `ngx.re.find(s, "([0-9]+)", "jo")`, nm), body: "from: 8\nto: 11\nmatched: 1234\n"},
		{src: reSrc(f, 2, "empty matched string"), content: reFind(`"hello, world"`, `ngx.re.find(s, "[0-9]*")`, nm), body: "from: 1\nto: 0\nmatched: \n"},
		{src: reSrc(f, 3, "multiple captures (with o)"), content: reFind(hello, `ngx.re.find(s, "([a-z]+).*?([0-9]{2})[0-9]+", "o")`, nm), body: "from: 1\nto: 11\nmatched: hello, 1234\n"},
		{src: reSrc(f, 4, "not matched"), content: reFind(hello, `ngx.re.find(s, "foo")`, nmDot), body: "not matched.\n"},
		{src: reSrc(f, 5, "case sensitive by default"), content: `ngx.say(ngx.re.find("hello, 1234", "HELLO") or "not matched.")`, body: "not matched.\n"},
		{src: reSrc(f, 6, "case insensitive"), content: reFind(hello, `ngx.re.find(s, "HELLO", "i")`, nmDot), body: "from: 1\nto: 5\nmatched: hello\n"},
		{src: reSrc(f, 7, "UTF-8 mode"), content: `
local s = "hello章亦春"
local from, to, err = ngx.re.find(s, "HELLO.{2}", "iu")
if not from then ngx.say("FAIL: ", err) return end
ngx.say(string.sub(s, from, to))`, body: "hello章亦\n"},
		{src: reSrc(f, 8, "multi-line mode (^ at line head)"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, "^world", "m")`, nmDot), body: "from: 7\nto: 11\nmatched: world\n"},
		{src: reSrc(f, 9, "multi-line mode (. does not match \\n)"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, ".*", "m")`, nmDot), body: "from: 1\nto: 5\nmatched: hello\n"},
		{src: reSrc(f, 10, "single-line mode (^ as normal)"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, "^world", "s")`, nmDot), body: "not matched.\n"},
		{src: reSrc(f, 11, "single-line mode (dot all)"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, ".*", "s")`, nmDot), body: "from: 1\nto: 11\nmatched: hello\nworld\n"},
		{src: reSrc(f, 12, "extended mode (ignore whitespaces)"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, "\\w     \\w", "x")`, nmDot), body: "from: 1\nto: 2\nmatched: he\n"},
		{src: reSrc(f, 13, "bad pattern"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, "(abc")`, nmDot), body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 14, "bad option"), content: reFind(`"hello\nworld"`, `ngx.re.find(s, ".*", "H")`, nmDot), status: 500, skipBody: true, errLog: []string{`unknown flag \"H\"`}},
		{src: reSrc(f, 15, "anchored match (failed)"), content: reFind(hello, `ngx.re.find(s, "([0-9]+)", "a")`, nmDot), body: "not matched.\n"},
		{src: reSrc(f, 16, "anchored match (succeeded)"), content: reFind(`"1234, hello"`, `ngx.re.find(s, "([0-9]+)", "a")`, nmDot), body: "from: 1\nto: 4\nmatched: 1234\n"},
		{src: reSrc(f, 17, "match with ctx but no pos"), content: `
local ctx = {}
local from, to = ngx.re.find("1234, hello", "([0-9]+)", "", ctx)
if from then ngx.say("from: ", from) ngx.say("to: ", to) else ngx.say("not matched!") end
ngx.say("pos: ", ctx.pos)`, body: "from: 1\nto: 4\npos: 5\n"},
		{src: reSrc(f, 18, "match with ctx and a pos"), content: `
local ctx = { pos = 3 }
local from, to = ngx.re.find("1234, hello", "([0-9]+)", "", ctx)
if from then ngx.say("from: ", from) ngx.say("to: ", to) else ngx.say("not matched!") end
ngx.say("pos: ", ctx.pos)`, body: "from: 3\nto: 4\npos: 5\n"},
		{src: reSrc(f, 19, "named subpatterns w/ extraction"), content: reFind(hello, `ngx.re.find(s, "(?<first>[a-z]+), [0-9]+")`, nmDot), body: "from: 1\nto: 11\nmatched: hello, 1234\n"},
		{src: reSrc(f, 20, "bad UTF-8"), content: reFind(`string.sub("你好", 1, 4)`, `ngx.re.find(s, "你好", "u")`, `"not matched"`), body: "error: pcre_exec() failed: -10\n"},
		{src: reSrc(f, 21, "UTF-8 mode without UTF-8 sequence checks"), content: reFind(`"你好"`, `ngx.re.find(s, ".", "U")`, nmDot), body: "from: 1\nto: 3\nmatched: 你\n"},
		{src: reSrc(f, 23, "just not hit match limit"), content: reFind(`string.rep("ABCDEFG", 10)`, `ngx.re.find(s, `+matchLimitRe+`, "o")`, `"failed to match"`), body: "failed to match\n"},
		{src: reSrc(f, 24, "specify the group (1)"), content: reFind(hello, `ngx.re.find(s, "([0-9])([0-9]+)", "jo", nil, 1)`, nm), body: "from: 8\nto: 8\nmatched: 1\n"},
		{src: reSrc(f, 25, "specify the group (0)"), content: reFind(hello, `ngx.re.find(s, "([0-9])([0-9]+)", "jo", nil, 0)`, nm), body: "from: 8\nto: 11\nmatched: 1234\n"},
		{src: reSrc(f, 26, "specify the group (2)"), content: reFind(hello, `ngx.re.find(s, "([0-9])([0-9]+)", "jo", nil, 2)`, nm), body: "from: 9\nto: 11\nmatched: 234\n"},
		{src: reSrc(f, 27, "specify the group (3)"), content: reFind(hello, `ngx.re.find(s, "([0-9])([0-9]+)", "jo", nil, 3)`, nm), body: "error: nth out of bound\n"},
		{src: reSrc(f, 28, "specify the group (4)"), content: reFind(hello, `ngx.re.find(s, "([0-9])([0-9]+)", "jo", nil, 4)`, nm), body: "error: nth out of bound\n"},
		{src: reSrc(f, 29, "nil submatch (2nd)"), content: reFind(hello, `ngx.re.find(s, "([0-9])|(hello world)", "jo", nil, 2)`, nm), body: "not matched!\n"},
		{src: reSrc(f, 30, "nil submatch (1st)"), content: reFind(hello, `ngx.re.find(s, "(hello world)|([0-9])", "jo", nil, 1)`, nm), body: "not matched!\n"},
		{src: reSrc(f, 31, "match with ctx and a pos (anchored by \\G)"), content: `
local ctx = { pos = 3 }
local from, to = ngx.re.find("1234, hello", [[(\G[0-9]+)]], "", ctx)
if from then ngx.say("from: ", from) ngx.say("to: ", to) else ngx.say("not matched!") end
ngx.say("pos: ", ctx.pos)`, body: "from: 3\nto: 4\npos: 5\n"},
		// Without lua_regex_match_limit 1 (no such limit here).
		{src: reSrc(f, 32, "ignore match limit in DFA mode"), content: reFind(`"This is <something> <something else> <something further> no more"`, `ngx.re.find(s, "<.*>", "d")`, nm), body: "from: 9\nto: 56\nmatched: <something> <something else> <something further>\n"},
	}
	orSuite(t, "", cases)
}
