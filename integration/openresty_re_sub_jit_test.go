package integration

import "testing"

// reSubN is Lua that runs call (sub or gsub) and says "s: n", or the
// error.
func reSubN(call string) string { return reSubOne(call) }

const errOpen = "error: pcre_compile() failed: missing ) in \"(abc\"\n"

// lua-nginx-module t/051-sub-jit.t, rebuilt (see the note on JIT logs in
// openresty_re_jit_test.go).
func TestOpenRestyReSubJIT(t *testing.T) {
	const f = "051-sub-jit"
	cases := []orCase{
		{src: reSrc(f, 1, "matched with j"), content: reSubN(`ngx.re.sub("hello, 1234 5678", "([0-9]+)", "world", "j")`), body: "hello, world 5678: 1\n"},
		{src: reSrc(f, 2, "not matched with j"), content: reSubN(`ngx.re.sub("hello, world", "[0-9]+", "hiya", "j")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 3, "matched with jo"), content: reSubN(`ngx.re.sub("hello, 1234 5678", "([0-9]+)", "world", "jo")`), body: "hello, world 5678: 1\n"},
		{src: reSrc(f, 4, "not matched with jo"), content: reSubN(`ngx.re.sub("hello, world", "[0-9]+", "hiya", "jo")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 5, "bad pattern"), content: reSubN(`ngx.re.sub("hello\nworld", "(abc", "world", "j")`), body: errOpen},
		{src: reSrc(f, 6, "bad pattern + o"), content: reSubN(`ngx.re.sub("hello\nworld", "(abc", "world", "jo")`), body: errOpen},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/052-sub-dfa.t, rebuilt.
func TestOpenRestyReSubDFA(t *testing.T) {
	const f = "052-sub-dfa"
	cases := []orCase{
		{src: reSrc(f, 1, "matched with d"), content: reSubN(`ngx.re.sub("hello, 1234 5678", "[0-9]|[0-9][0-9]", "world", "d")`), body: "hello, world34 5678: 1\n"},
		{src: reSrc(f, 2, "not matched with d"), content: reSubN(`ngx.re.sub("hello, world", "[0-9]+", "hiya", "d")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 3, "matched with do"), content: reSubN(`ngx.re.sub("hello, 1234 5678", "[0-9]|[0-9][0-9]", "world", "do")`), body: "hello, world34 5678: 1\n"},
		{src: reSrc(f, 4, "not matched with do"), content: reSubN(`ngx.re.sub("hello, world", "[0-9]+", "hiya", "do")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 5, "bad pattern"), content: reSubN(`ngx.re.sub("hello\nworld", "(abc", "world", "j")`), body: errOpen},
		{src: reSrc(f, 6, "bad pattern + o"), content: reSubN(`ngx.re.sub("hello\nworld", "(abc", "world", "jo")`), body: errOpen},
		{src: reSrc(f, 7, "UTF-8 mode without UTF-8 sequence checks"), content: `local s = ngx.re.sub("你好", ".", "a", "Ud") if s then ngx.say("s: ", s) end`, body: "s: a好\n"},
		{src: reSrc(f, 8, "UTF-8 mode with UTF-8 sequence checks"), content: `local s = ngx.re.sub("你好", ".", "a", "ud") if s then ngx.say("s: ", s) end`, body: "s: a好\n"},
		{src: reSrc(f, 9, "sub with d"), content: `ngx.say(ngx.re.sub("hello", "(he|hell)", function(m) ngx.say(m[0]) ngx.say(m[1]) return "x" end, "d"))`, body: "hell\nnil\nxo1\n"},
		{src: reSrc(f, 10, "sub with d + o"), content: `ngx.say(ngx.re.sub("hello", "(he|hell)", function(m) ngx.say(m[0]) ngx.say(m[1]) return "x" end, "do"))`, body: "hell\nnil\nxo1\n"},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/053-gsub-jit.t, rebuilt (see the note on JIT logs in
// openresty_re_jit_test.go).
func TestOpenRestyReGsubJIT(t *testing.T) {
	const f = "053-gsub-jit"
	cases := []orCase{
		{src: reSrc(f, 1, "matched with j"), content: reSubN(`ngx.re.gsub("hello, 1234 5678", "([0-9]+)", "world", "j")`), body: "hello, world world: 2\n"},
		{src: reSrc(f, 2, "not matched with j"), content: reSubN(`ngx.re.gsub("hello, world", "[0-9]+", "hiya", "j")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 3, "matched with jo"), content: reSubN(`ngx.re.gsub("hello, 1234 5678", "([0-9]+)", "world", "jo")`), body: "hello, world world: 2\n"},
		{src: reSrc(f, 4, "not matched with jo"), content: reSubN(`ngx.re.gsub("hello, world", "[0-9]+", "hiya", "jo")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 5, "bad pattern"), content: reSubN(`ngx.re.gsub("hello\nworld", "(abc", "world", "j")`), body: errOpen},
		{src: reSrc(f, 6, "bad pattern + o"), content: reSubN(`ngx.re.gsub("hello\nworld", "(abc", "world", "jo")`), body: errOpen},
	}
	orSuite(t, "", cases)
}

// lua-nginx-module t/054-gsub-dfa.t, rebuilt.
func TestOpenRestyReGsubDFA(t *testing.T) {
	const f = "054-gsub-dfa"
	cases := []orCase{
		{src: reSrc(f, 1, "matched with d"), content: reSubN(`ngx.re.gsub("hello, 1234 5678", "[0-9]|[0-9][0-9]", "world", "d")`), body: "hello, worldworld worldworld: 4\n"},
		{src: reSrc(f, 2, "not matched with d"), content: reSubN(`ngx.re.gsub("hello, world", "[0-9]+", "hiya", "d")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 3, "matched with do"), content: reSubN(`ngx.re.gsub("hello, 1234 5678", "[0-9]|[0-9][0-9]", "world", "do")`), body: "hello, worldworld worldworld: 4\n"},
		{src: reSrc(f, 4, "not matched with do"), content: reSubN(`ngx.re.gsub("hello, world", "[0-9]+", "hiya", "do")`), body: "hello, world: 0\n"},
		{src: reSrc(f, 5, "bad pattern"), content: reSubN(`ngx.re.gsub("hello\nworld", "(abc", "world", "j")`), body: errOpen},
		{src: reSrc(f, 6, "bad pattern + o"), content: reSubN(`ngx.re.gsub("hello\nworld", "(abc", "world", "jo")`), body: errOpen},
		{src: reSrc(f, 7, "UTF-8 mode without UTF-8 sequence checks"), content: `local s = ngx.re.gsub("你好", ".", "a", "Ud") if s then ngx.say("s: ", s) end`, body: "s: aa\n"},
		{src: reSrc(f, 8, "UTF-8 mode with UTF-8 sequence checks"), content: `local s = ngx.re.gsub("你好", ".", "a", "ud") if s then ngx.say("s: ", s) end`, body: "s: aa\n"},
		{src: reSrc(f, 9, "gsub with d"), content: `ngx.say(ngx.re.gsub("hello", "(he|hell)", function(m) ngx.say(m[0]) ngx.say(m[1]) return "x" end, "d"))`, body: "hell\nnil\nxo1\n"},
		{src: reSrc(f, 10, "gsub with d + o"), content: `ngx.say(ngx.re.gsub("hello", "(he|hell)", function(m) ngx.say(m[0]) ngx.say(m[1]) return "x" end, "do"))`, body: "hell\nnil\nxo1\n"},
	}
	orSuite(t, "", cases)
}
