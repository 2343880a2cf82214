package integration

import "testing"

// reSubs is Lua that runs each ngx.re call of calls (sub or gsub) and
// says the result and the count of each.
func reSubs(calls ...string) string {
	s := ""
	for _, c := range calls {
		s += "do\n" + reSub(c) + "end\n"
	}
	return s
}

// lua-nginx-module t/039-sub-o.t, rebuilt.
func TestOpenRestyReSubO(t *testing.T) {
	const f = "039-sub-o"
	cache3 := reSubs(`ngx.re.sub("hello, 1234", "([0-9]+)", "hello", "o")`, `ngx.re.sub("howdy, 567", "([0-9]+)", "hello", "oi")`, `ngx.re.sub("hiya, 98", "([0-9]+)", "hello", "ox")`)
	cases := []orCase{
		{src: reSrc(f, 1, "matched but w/o variables"), content: reSub(`ngx.re.sub("hello, world", "[a-z]+", "howdy", "o")`), body: "howdy, world\n1\n"},
		{src: reSrc(f, 2, "not matched"), content: reSub(`ngx.re.sub("hello, world", "[A-Z]+", "howdy", "o")`), body: "hello, world\n0\n"},
		{src: reSrc(f, 3, "matched and with variables"), content: `collectgarbage("collect")` + "\n" + reSub(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [$134]", "o")`), body: "a [b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 4, "matched and with named variables (bad template)"), content: reSubOne(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [$hello]", "o")`), body: errTpl},
		{src: reSrc(f, 5, "matched and with named variables (bracketed)"), content: reSubOne(`ngx.re.sub("a b c d", "(b) (c)", "[$0] [$1] [$2] [$3] [${hello}]", "o")`), body: errTpl},
		{src: reSrc(f, 6, "matched and with bracketed variables"), content: reSub(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134}]", "o")`), body: "[b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 7, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134]", "o")`), body: errTpl},
		{src: reSrc(f, 8, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${134", "o")`), body: errTpl},
		{src: reSrc(f, 9, "matched and with bracketed variables (unmatched brackets)"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [${", "o")`), body: errTpl},
		{src: reSrc(f, 10, "trailing $"), content: reSubOne(`ngx.re.sub("b c d", "(b) (c)", "[$0] [$1] [${2}] [$3] [$", "o")`), body: errTpl},
		{src: reSrc(f, 11, "matched but w/o variables and with literal $"), content: reSub(`ngx.re.sub("hello, world", "[a-z]+", "ho$$wdy", "o")`), body: "ho$wdy, world\n1\n"},
		{src: reSrc(f, 12, "non-anchored match"), content: reSub(`ngx.re.sub("hello, 1234", " [0-9] ", "x", "xo")`), body: "hello, x234\n1\n"},
		{src: reSrc(f, 13, "anchored match"), content: reSub(`ngx.re.sub("hello, 1234", "[0-9]", "x", "ao")`), body: "hello, 1234\n0\n"},
		{src: reSrc(f, 14, "function replace"), content: reSub(`ngx.re.sub("hello, 34", "([0-9])", function(m) return "[" .. m[0] .. "] [" .. m[1] .. "]" end, "o")`), body: "hello, [3] [3]4\n1\n"},
		{src: reSrc(f, 15, "function replace (failed)"), content: reSub(`ngx.re.sub("hello, 34", "([A-Z])", function(m) return "[" .. m[0] .. "] [" .. m[1] .. "]" end, "o")`), body: "hello, 34\n0\n"},
		{src: reSrc(f, 17, "use number to replace"), content: `
local ok, s, n = pcall(ngx.re.sub, "hello, 34", "([0-9])", 72, "o")
ngx.say(ok) ngx.say(s) ngx.say(n)`, body: "true\nhello, 724\n1\n"},
		{src: reSrc(f, 20, "with regex cache (with text replace)"), content: reSubs(
			`ngx.re.sub("hello, 1234", "([A-Z]+)", "baz", "io")`, `ngx.re.sub("howdy, 1234", "([A-Z]+)", "baz", "io")`,
			`ngx.re.sub("1234, okay", "([A-Z]+)", "blah", "io")`, `ngx.re.sub("hi, 1234", "([A-Z]+)", "hello", "o")`),
			body: "baz, 1234\n1\nbaz, 1234\n1\n1234, blah\n1\nhi, 1234\n0\n"},
		{src: reSrc(f, 21, "with regex cache (with func replace)"), content: reSubs(
			`ngx.re.sub("hello, 1234", "([A-Z]+)", "baz", "io")`, `ngx.re.sub("howdy, 1234", "([A-Z]+)", function() return "bah" end, "io")`,
			`ngx.re.sub("1234, okay", "([A-Z]+)", function() return "blah" end, "io")`, `ngx.re.sub("hi, 1234", "([A-Z]+)", "hello", "o")`),
			body: "baz, 1234\n1\nbah, 1234\n1\n1234, blah\n1\nhi, 1234\n0\n"},
		// TEST 22 and 23 without lua_regex_cache_max_entries (2, 0): the
		// results do not depend on it.
		{src: reSrc(f, 22, "exceeding regex cache max entries"), content: cache3, body: "hello, hello\n1\nhowdy, hello\n1\nhiya, hello\n1\n"},
		{src: reSrc(f, 23, "disable regex cache completely"), content: cache3, body: "hello, hello\n1\nhowdy, hello\n1\nhiya, hello\n1\n"},
		{src: reSrc(f, 24, "empty replace"), content: reSubs(`ngx.re.sub("hello, 1234", "([0-9]+)", "", "o")`, `ngx.re.sub("hi, 5432", "([0-9]+)", "", "o")`), body: "hello, \n1\nhi, \n1\n"},
		{src: reSrc(f, 25, "matched and with variables w/o using named patterns in sub"), content: reSub(`ngx.re.sub("a b c d", "(?<first>b) (?<second>c)", "[$0] [$1] [$2] [$3] [$134]", "o")`), body: "a [b c] [b] [c] [] [] d\n1\n"},
		{src: reSrc(f, 26, "matched and with variables using named patterns in func"), content: reSub(`ngx.re.sub("a b c d", "(?<first>b) (?<second>c)", function(m) return "[" .. m[0] .. "] [" .. m["first"] .. "] [" .. m[2] .. "]" end, "o")`), body: "a [b c] [b] [c] d\n1\n"},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/040-gsub-o.t, rebuilt.
func TestOpenRestyReGsubO(t *testing.T) {
	const f = "040-gsub-o"
	bracket := `function(m) return "[" .. m[0] .. "," .. m[1] .. "]" end`
	cases := []orCase{
		{src: reSrc(f, 1, "sanity"), content: reSub(`ngx.re.gsub("[hello, world]", "[a-z]+", "howdy", "o")`), body: "[howdy, howdy]\n2\n"},
		{src: reSrc(f, 2, "trimmed"), content: reSub(`ngx.re.gsub("hello, world", "[a-z]+", "howdy", "o")`), body: "howdy, howdy\n2\n"},
		{src: reSrc(f, 3, "not matched"), content: reSub(`ngx.re.gsub("hello, world", "[A-Z]+", "howdy", "o")`), body: "hello, world\n0\n"},
		{src: reSrc(f, 4, "replace by function (trimmed)"), content: reSub(`ngx.re.gsub("hello, world", "([a-z])[a-z]+", ` + bracket + `, "o")`), body: "[hello,h], [world,w]\n2\n"},
		{src: reSrc(f, 5, "replace by function (not trimmed)"), content: reSub(`ngx.re.gsub("{hello, world}", "([a-z])[a-z]+", ` + bracket + `, "o")`), body: "{[hello,h], [world,w]}\n2\n"},
		{src: reSrc(f, 6, "replace by script (trimmed)"), content: reSub(`ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]", "o")`), body: "[hello,h], [world,w]\n2\n"},
		{src: reSrc(f, 7, "replace by script (not trimmed)"), content: reSub(`ngx.re.gsub("{hello, world}", "([a-z])[a-z]+", "[$0,$1]", "o")`), body: "{[hello,h], [world,w]}\n2\n"},
		{src: reSrc(f, 9, "look-behind assertion"), content: reSub(`ngx.re.gsub("{foobarbaz}", "(?<=foo)bar|(?<=bar)baz", "h$0", "o")`), body: "{foohbarhbaz}\n2\n"},
		{src: reSrc(f, 10, "named pattern repl w/ callback"), content: reSub(`ngx.re.gsub("hello, world", "(?<first>[a-z])[a-z]+", function(m) return "[" .. m[0] .. "," .. m["first"] .. "]" end, "o")`), body: "[hello,h], [world,w]\n2\n"},
	}
	orSuite(t, "", cases)
}
