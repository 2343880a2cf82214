package integration

import (
	"strings"
	"testing"
)

// bigSubject is the Lua expression of the "exceeding the luabuf chunk
// size" blocks' subject, with tail appended.
func bigSubject(tail string) string {
	return `string.rep("a", 8000) .. string.rep("b", 1000) .. string.rep("a", 8000) .. string.rep("b", 1000) .. "` + tail + `"`
}

// lua-nginx-module t/037-gsub.t, rebuilt.
func TestOpenRestyReGsub(t *testing.T) {
	const f = "037-gsub"
	a, b, c := strings.Repeat("a", 8000), strings.Repeat("b", 998), strings.Repeat("c", 1000)
	cases := []orCase{
		{src: reSrc(f, 1, "sanity"), content: reSub(`ngx.re.gsub("[hello, world]", "[a-z]+", "howdy")`), body: "[howdy, howdy]\n2\n"},
		{src: reSrc(f, 2, "trimmed"), content: reSub(`ngx.re.gsub("hello, world", "[a-z]+", "howdy")`), body: "howdy, howdy\n2\n"},
		{src: reSrc(f, 3, "not matched"), content: reSub(`ngx.re.gsub("hello, world", "[A-Z]+", "howdy")`), body: "hello, world\n0\n"},
		{src: reSrc(f, 4, "replace by function (trimmed)"), content: reSub(`ngx.re.gsub("hello, world", "([a-z])[a-z]+", function(m) return "[" .. m[0] .. "," .. m[1] .. "]" end)`), body: "[hello,h], [world,w]\n2\n"},
		{src: reSrc(f, 5, "replace by function (not trimmed)"), content: reSub(`ngx.re.gsub("{hello, world}", "([a-z])[a-z]+", function(m) return "[" .. m[0] .. "," .. m[1] .. "]" end)`), body: "{[hello,h], [world,w]}\n2\n"},
		{src: reSrc(f, 6, "replace by script (trimmed)"), content: reSub(`ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]")`), body: "[hello,h], [world,w]\n2\n"},
		{src: reSrc(f, 7, "replace by script (not trimmed)"), content: reSub(`ngx.re.gsub("{hello, world}", "([a-z])[a-z]+", "[$0,$1]")`), body: "{[hello,h], [world,w]}\n2\n"},
		{src: reSrc(f, 9, "look-behind assertion"), content: reSub(`ngx.re.gsub("{foobarbaz}", "(?<=foo)bar|(?<=bar)baz", "h$0")`), body: "{foohbarhbaz}\n2\n"},
		{src: reSrc(f, 10, "gsub with a patch matching an empty substring (string template)"), content: `
local s, n = ngx.re.gsub("hello", "a|", "b")
ngx.say("s: ", s) ngx.say("n: ", n)`, body: "s: bhbeblblbob\nn: 6\n"},
		{src: reSrc(f, 11, "gsub with a patch matching an empty substring (string template, empty subj)"), content: `
local s, n = ngx.re.gsub("", "a|", "b")
ngx.say("s: ", s) ngx.say("n: ", n)`, body: "s: b\nn: 1\n"},
		{src: reSrc(f, 12, "gsub with a patch matching an empty substring (func)"), content: `
local s, n = ngx.re.gsub("hello", "a|", function() return "b" end)
ngx.say("s: ", s) ngx.say("n: ", n)`, body: "s: bhbeblblbob\nn: 6\n"},
		{src: reSrc(f, 13, "gsub with a patch matching an empty substring (func, empty subj)"), content: `
local s, n = ngx.re.gsub("", "a|", function() return "b" end)
ngx.say("s: ", s) ngx.say("n: ", n)`, body: "s: b\nn: 1\n"},
		{src: reSrc(f, 14, "big subject string exceeding the luabuf chunk size (with trailing unmatched data, func repl)"),
			content: reSub(`ngx.re.gsub(` + bigSubject("aaa") + `, "b+", function(m) return string.rep("c", #m[0]) end)`),
			body:    a + c + a + c + "aaa\n2\n"},
		{src: reSrc(f, 15, "big subject string exceeding the luabuf chunk size (without trailing unmatched data, func repl)"),
			content: reSub(`ngx.re.gsub(` + bigSubject("") + `, "b+", function(m) return string.rep("c", #m[0]) end)`),
			body:    a + c + a + c + "\n2\n"},
		{src: reSrc(f, 16, "big subject string exceeding the luabuf chunk size (with trailing unmatched data, str repl)"),
			content: reSub(`ngx.re.gsub(` + bigSubject("aaa") + `, "b(b+)(b)", "$1 $2")`),
			body:    a + b + " b" + a + b + " baaa\n2\n"},
		{src: reSrc(f, 17, "big subject string exceeding the luabuf chunk size (without trailing unmatched data, str repl)"),
			content: reSub(`ngx.re.gsub(` + bigSubject("") + `, "b(b+)(b)", "$1 $2")`),
			body:    a + b + " b" + a + b + " b\n2\n"},
		{src: reSrc(f, 18, "named pattern repl w/ callback"), content: reSub(`ngx.re.gsub("hello, world", "(?<first>[a-z])[a-z]+", function(m) return "[" .. m[0] .. "," .. m["first"] .. "]" end)`), body: "[hello,h], [world,w]\n2\n"},
		{src: reSrc(f, 19, "$0 without parens"), content: reSub(`ngx.re.gsub("a b c d", [[\w]], "[$0]")`), body: "[a] [b] [c] [d]\n4\n"},
		{src: reSrc(f, 20, "bad UTF-8"), content: reSubOne(`ngx.re.gsub(string.sub("你好", 1, 4), "你好", "", "u")`), body: "error: pcre_exec() failed: -10\n"},
		{src: reSrc(f, 21, "UTF-8 mode without UTF-8 sequence checks"), content: `local s = ngx.re.gsub("你好", ".", "a", "U") if s then ngx.say("s: ", s) end`, body: "s: aa\n"},
		{src: reSrc(f, 22, "UTF-8 mode with UTF-8 sequence checks"), content: `local s = ngx.re.gsub("你好", ".", "a", "u") if s then ngx.say("s: ", s) end`, body: "s: aa\n"},
		{src: reSrc(f, 24, "just not hit match limit"), content: `
local res, cnt, err = ngx.re.gsub(string.rep("ABCDEFG", 10), ` + matchLimitRe + `, "", "o")
if err then ngx.say("error: ", err) return end
ngx.say("gsub: ", cnt)`, body: "gsub: 0\n"},
		{src: reSrc(f, 25, "bug: gsub incorrectly swallowed a character is the first character"), content: `local s = ngx.re.gsub("TestCase", "^ *", "", "o") if s then ngx.say(s) end`, body: "TestCase\n"},
		{src: reSrc(f, 26, "bug: gsub incorrectly swallowed a character is not the first character"), content: `local s = ngx.re.gsub("abcd", "a|(?=c)", ".") if s then ngx.say(s) end`, body: ".b.cd\n"},
		{src: reSrc(f, 27, "use of ngx.req.get_headers in the user callback"), content: `
local data = "            INNER\n            INNER\n"
ngx.print((ngx.re.gsub(data, "INNER", function()
  local host = ngx.req.get_headers()["Host"]
  return "INNER_REPLACED"
end, "s")))`, body: "            INNER_REPLACED\n            INNER_REPLACED\n"},
		{src: reSrc(f, 28, "use of ngx.var in the user callback"), content: `
local data = "            INNER\n            INNER\n"
ngx.print((ngx.re.gsub(data, "INNER", function()
  local h = ngx.var["http_HEADER"]
  return "INNER_REPLACED"
end, "s")))`, body: "            INNER_REPLACED\n            INNER_REPLACED\n"},
		{src: reSrc(f, 29, "function replace (false for groups)"), content: reSub(`ngx.re.gsub("hello, 34", "([0-9])|(world)", function(m)
  print("group 1: ", m[2])
  return "[" .. m[0] .. "] [" .. m[1] .. "]"
end)`), body: "hello, [3] [3][4] [4]\n2\n", errLog: []string{`group 1: false`}},
	}
	orSuite(t, "", cases)
}
