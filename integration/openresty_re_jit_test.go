package integration

import "testing"

// The j (JIT) blocks: OpenResty also logs the JIT compilation ("pcre JIT
// compiling result: 1"); there is no JIT here, so only the responses are
// checked.

// lua-nginx-module t/047-match-jit.t, rebuilt.
func TestOpenRestyReMatchJIT(t *testing.T) {
	const f = "047-match-jit"
	cases := []orCase{
		{src: reSrc(f, 1, "matched with j"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)", "j")`, nm, "m[0]"), body: "1234\n"},
		{src: reSrc(f, 2, "not matched with j"), content: reShow(`ngx.re.match("hello, world", "([0-9]+)", "j")`, nm, "m[0]"), body: "not matched!\n"},
		{src: reSrc(f, 3, "matched with jo"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)", "jo")`, nm, "m[0]"), body: "1234\n"},
		{src: reSrc(f, 4, "not matched with jo"), content: reShow(`ngx.re.match("hello, world", "([0-9]+)", "jo")`, nm, "m[0]"), body: "not matched!\n"},
		{src: reSrc(f, 5, "bad pattern"), content: reShow(`ngx.re.match("hello\nworld", "(abc", "j")`, nmNil, "m[0]"), body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 7, "just not hit match limit"), content: `
local res, err = ngx.re.match(string.rep("ABCDEFG", 21), ` + matchLimitRe + `, "jo")
if res then return end
ngx.say(err and ("error: " .. err) or "failed to match")`, body: "failed to match\n"},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/048-match-dfa.t, rebuilt.
func TestOpenRestyReMatchDFA(t *testing.T) {
	const f = "048-match-dfa"
	three := []string{"m[0]", "m[1]", "m[2]"}
	cases := []orCase{
		{src: reSrc(f, 1, "matched with d"), content: reShow(`ngx.re.match("hello", "(he|hell)", "d")`, nm, three...), body: "hell\nnil\nnil\n"},
		{src: reSrc(f, 2, "matched with d + o"), content: reShow(`ngx.re.match("hello", "(he|hell)", "do")`, nm, three...), body: "hell\nnil\nnil\n"},
		{src: reSrc(f, 3, "matched with d + j"), content: reShow(`ngx.re.match("hello", "(he|hell)", "jd")`, nm, "m[0]"), body: "hell\n"},
		{src: reSrc(f, 4, "not matched with j"), content: reShow(`ngx.re.match("world", "(he|hell)", "d")`, nm, "m[0]"), body: "not matched!\n"},
		{src: reSrc(f, 5, "matched with do"), content: reShow(`ngx.re.match("hello", "he|hell", "do")`, nm, three...), body: "hell\nnil\nnil\n"},
		{src: reSrc(f, 6, "not matched with do"), content: reShow(`ngx.re.match("world", "([0-9]+)", "do")`, nm, "m[0]"), body: "not matched!\n"},
		{src: reSrc(f, 7, "UTF-8 mode without UTF-8 sequence checks"), content: reShow(`ngx.re.match("你好", ".", "Ud")`, nm, "m[0]"), body: "你\n"},
		{src: reSrc(f, 8, "UTF-8 mode with UTF-8 sequence checks"), content: reShow(`ngx.re.match("你好", ".", "ud")`, nm, "m[0]"), body: "你\n"},
		{src: reSrc(f, 9, "matched with do"), content: reShow(`ngx.re.match("hello", "(h)(e)(l)", "jo")`, nm, "m[0]", "m[1]", "m[2]", "m[3]") +
			reShow(`ngx.re.match("horld", "(h)(e)?(l)?", "jo")`, nm, "m[0]", "m[1]", "m[2]", "m[3]"), body: "hel\nh\ne\nl\nh\nh\nfalse\nfalse\n"},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/049-gmatch-jit.t, rebuilt.
func TestOpenRestyReGmatchJIT(t *testing.T) {
	const f = "049-gmatch-jit"
	cases := []orCase{
		{src: reSrc(f, 1, "gmatch matched"), content: reLoop(`ngx.re.gmatch("hello, world", "[a-z]+", "j")`, "m[0]"), body: "hello\nworld\n"},
		{src: reSrc(f, 2, "fail to match"), content: reIter(`ngx.re.gmatch("hello, world", "[0-9]", "j")`, 3, "m[0]"), body: "nil\nnil\nnil\n"},
		{src: reSrc(f, 3, "gmatch matched but no iterate"), content: `local it = ngx.re.gmatch("hello, world", "[a-z]+", "j") ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 4, "gmatch matched but only iterate once and still matches remain"), content: `
local m = ngx.re.gmatch("hello, world", "[a-z]+", "j")()
ngx.say(m and m[0] or "not matched")`, body: "hello\n"},
		{src: reSrc(f, 5, "gmatch matched + o"), content: reLoop(`ngx.re.gmatch("hello, world", "[a-z]+", "jo")`, "m[0]"), body: "hello\nworld\n"},
		{src: reSrc(f, 6, "fail to match + o"), content: reIter(`ngx.re.gmatch("hello, world", "[0-9]", "jo")`, 3, "m[0]"), body: "nil\nnil\nnil\n"},
		{src: reSrc(f, 7, "gmatch matched but no iterate + o"), content: `local it = ngx.re.gmatch("hello, world", "[a-z]+", "jo") ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 8, "gmatch matched but only iterate once and still matches remain + o"), content: `
local m = ngx.re.gmatch("hello, world", "[a-z]+", "jo")()
ngx.say(m and m[0] or "not matched")`, body: "hello\n"},
		{src: reSrc(f, 9, "bad pattern"), content: `
local it, err = ngx.re.gmatch("hello\nworld", "(abc", "j")
if not it then ngx.say("error: ", err) return end
ngx.say("success")`, body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/050-gmatch-dfa.t, rebuilt.
func TestOpenRestyReGmatchDFA(t *testing.T) {
	const f = "050-gmatch-dfa"
	cases := []orCase{
		{src: reSrc(f, 1, "gmatch matched"), content: reLoop(`ngx.re.gmatch("hello, halo", "h[a-z]|h[a-z][a-z]", "d")`, "m[0]", "m[1]"), body: "hel\nnil\nhal\nnil\n"},
		{src: reSrc(f, 2, "d + j"), content: reLoop(`ngx.re.gmatch("hello, halo", "h[a-z]|h[a-z][a-z]", "dj")`, "m[0]"), body: "hel\nhal\n"},
		{src: reSrc(f, 3, "fail to match"), content: reIter(`ngx.re.gmatch("hello, world", "[0-9]", "d")`, 3, "m[0]"), body: "nil\nnil\nnil\n"},
		{src: reSrc(f, 4, "gmatch matched but no iterate"), content: `local it = ngx.re.gmatch("hello, world", "[a-z]+", "d") ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 5, "gmatch matched but only iterate once and still matches remain"), content: `
local m = ngx.re.gmatch("hello, world", "[a-z]+", "d")()
ngx.say(m and m[0] or "not matched")`, body: "hello\n"},
		{src: reSrc(f, 6, "gmatch matched + o"), content: reLoop(`ngx.re.gmatch("hello, world", "[a-z]+", "do")`, "m[0]"), body: "hello\nworld\n"},
		{src: reSrc(f, 7, "fail to match + o"), content: reIter(`ngx.re.gmatch("hello, world", "[0-9]", "do")`, 3, "m[0]"), body: "nil\nnil\nnil\n"},
		{src: reSrc(f, 8, "gmatch matched but no iterate + o"), content: `local it = ngx.re.gmatch("hello, world", "[a-z]+", "do") ngx.say("done")`, body: "done\n"},
		{src: reSrc(f, 9, "gmatch matched but only iterate once and still matches remain + o"), content: `
local m = ngx.re.gmatch("hello, world", "[a-z]+", "do")()
ngx.say(m and m[0] or "not matched")`, body: "hello\n"},
		{src: reSrc(f, 10, "bad pattern"), content: `
local it, err = ngx.re.gmatch("hello\nworld", "(abc", "d")
if not it then ngx.say("error: ", err) return end
ngx.say("success")`, body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 11, "UTF-8 mode without UTF-8 sequence checks"), content: reIter(`ngx.re.gmatch("你好", ".", "Ud")`, 1, "m[0]"), body: "你\n"},
		{src: reSrc(f, 12, "UTF-8 mode with UTF-8 sequence checks"), content: reIter(`ngx.re.gmatch("你好", ".", "ud")`, 1, "m[0]"), body: "你\n"},
		{src: reSrc(f, 13, "gmatched with submatch captures"), content: reLoop(`ngx.re.gmatch("hello", "(he|hell)", "d")`, "m[0]", "m[1]", "m[2]"), body: "hell\nnil\nnil\n"},
		{src: reSrc(f, 14, "gmatched with submatch captures (compile once)"), content: reLoop(`ngx.re.gmatch("hello", "(he|hell)", "od")`, "m[0]", "m[1]", "m[2]"), body: "hell\nnil\nnil\n"},
	}
	orSuite(t, "", cases)
}
