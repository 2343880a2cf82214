package integration

import (
	"fmt"
	"testing"
)

// reSub is Lua that runs call (an ngx.re.sub or gsub call) and says the
// result and the count on two lines, or "error: " and the error.
func reSub(call string) string {
	return fmt.Sprintf(`local s, n, err = %s
if s then ngx.say(s) ngx.say(n) else ngx.say("error: ", err) end
`, call)
}

// reSubOne is reSub saying "s: n" on one line.
func reSubOne(call string) string {
	return fmt.Sprintf(`local s, n, err = %s
if s then ngx.say(s, ": ", n) else ngx.say("error: ", err) end
`, call)
}

const errTpl = "error: failed to compile the replacement template\n"

// lua-nginx-module t/036-sub.t, rebuilt.
func TestOpenRestyReSub(t *testing.T) {
	const f = "036-sub"
	cases := []orCase{
		{src: reSrc(f, 1, "matched but w/o variables"), content: reSub(`ngx.re.sub("hello, world", "[a-z]+", "howdy")`), body: "howdy, world\n1\n"},
		{src: reSrc(f, 2, "not matched"), content: reSub(`ngx.re.sub("hello, world", "[A-Z]+", "howdy")`), body: "hello, world\n0\n"},
		{src: reSrc(f, 3, "matched and with variables"), content: reSub(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [$134]")`), body: "a [b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 4, "matched and with named variables"), content: reSubOne(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [$hello]")`), body: errTpl},
		{src: reSrc(f, 5, "matched and with named variables (bracketed)"), content: reSubOne(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [${hello}]")`), body: errTpl},
		{src: reSrc(f, 6, "matched and with bracketed variables"), content: reSub(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134}]")`), body: "[b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 7, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134]")`), body: errTpl},
		{src: reSrc(f, 8, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134")`), body: errTpl},
		{src: reSrc(f, 9, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${")`), body: errTpl},
		{src: reSrc(f, 10, "trailing $"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [$")`), body: errTpl},
		{src: reSrc(f, 11, "matched but w/o variables and with literal $"), content: reSub(`ngx.re.sub("hello, world", "[a-z]+", "ho$$wdy")`), body: "ho$wdy, world\n1\n"},
		{src: reSrc(f, 12, "non-anchored match"), content: reSub(`ngx.re.sub("hello, 1234", "[0-9]", "x")`), body: "hello, x234\n1\n"},
		{src: reSrc(f, 13, "anchored match"), content: reSub(`ngx.re.sub("hello, 1234", "[0-9]", "x", "a")`), body: "hello, 1234\n0\n"},
		{src: reSrc(f, 14, "function replace"), content: reSub(`ngx.re.sub("hello, 34", "([0-9])", function(m) return "[" .. m[0] .. "] [" .. m[1] .. "]" end)`), body: "hello, [3] [3]4\n1\n"},
		{src: reSrc(f, 15, "function replace (failed)"), content: reSub(`ngx.re.sub("hello, 34", "([A-Z])", function(m) return "[" .. m[0] .. "] [" .. m[1] .. "]" end)`), body: "hello, 34\n0\n"},
		{src: reSrc(f, 17, "use number to replace"), content: `
local ok, s, n = pcall(ngx.re.sub, "hello, 34", "([0-9])", 72)
ngx.say(ok) ngx.say(s) ngx.say(n)`, body: "true\nhello, 724\n1\n"},
		{src: reSrc(f, 20, "matched and with variables w/o using named patterns in sub"), content: reSub(`ngx.re.sub("a b c d", "(?<first>b) (?<second>c)", "[$0] [$1] [$2] [$3] [$134]")`), body: "a [b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 21, "matched and with variables using named patterns in func"), content: reSub(`ngx.re.sub("a b c d", "(?<first>b) (?<second>c)", function(m) return "[" .. m[0] .. "] [" .. m["first"] .. "] [" .. m[2] .. "]" end)`), body: "a [b c] [b] [c] d\n1\n"},
		{src: reSrc(f, 23, "$0 without parens"), content: reSub(`ngx.re.sub("a b c d", [[\w]], "[$0]")`), body: "[a] b c d\n1\n"},
		{src: reSrc(f, 24, "bad pattern"), content: `
local s, n, err = ngx.re.sub("hello\nworld", "(abc", "")
if s then ngx.say("subs: ", n) else ngx.say("error: ", err) end`, body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 25, "bad UTF-8"), content: reSubOne(`ngx.re.sub(string.sub("你好", 1, 4), "你好", "", "u")`), body: "error: pcre_exec() failed: -10\n"},
		{src: reSrc(f, 26, "UTF-8 mode without UTF-8 sequence checks"), content: `local s = ngx.re.sub("你好", ".", "a", "U") if s then ngx.say("s: ", s) end`, body: "s: a好\n"},
		{src: reSrc(f, 27, "UTF-8 mode with UTF-8 sequence checks"), content: `local s = ngx.re.sub("你好", ".", "a", "u") if s then ngx.say("s: ", s) end`, body: "s: a好\n"},
		{src: reSrc(f, 29, "just not hit match limit"), content: `
local res, cnt, err = ngx.re.sub(string.rep("ABCDEFG", 10), ` + matchLimitRe + `, "", "o")
if err then ngx.say("error: ", err) return end
ngx.say("sub: ", cnt)`, body: "sub: 0\n"},
		{src: reSrc(f, 30, "bug: sub incorrectly swallowed a character is the first character"), content: `local s = ngx.re.sub("TestCase", "^ *", "", "o") if s then ngx.say(s) end`, body: "TestCase\n"},
		{src: reSrc(f, 31, "bug: sub incorrectly swallowed a character is not the first character"), content: `local s = ngx.re.sub("abcd", "(?=c)", ".") if s then ngx.say(s) end`, body: "ab.cd\n"},
		{src: reSrc(f, 32, "ngx.re.gsub: recursive calling (github #445)"), content: `
local data = "                OUTER {FIRST}\n"
ngx.print(data)
local out = ngx.re.gsub(data, "(OUTER)(.+)", function(m)
  local inner = ngx.re.gsub(m[2], "{([A-Z]+)}", function() return "REPLACED" end, "")
  return m[1] .. inner
end, "")
ngx.print(out)`, body: "                OUTER {FIRST}\n                OUTER REPLACED\n"},
		{src: reSrc(f, 33, "function replace (false for groups)"), content: reSub(`ngx.re.sub("hello, 34", "([0-9])|(world)", function(m)
  print("group 1: ", m[2])
  return "[" .. m[0] .. "] [" .. m[1] .. "]"
end)`), body: "hello, [3] [3]4\n1\n",
			errLog: []string{`group 1: false`}},
	}
	orSuite(t, "", cases)
}
