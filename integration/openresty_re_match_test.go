package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Helpers of the rebuilt ngx.re suites (openresty_re*_test.go).

// nm and nmNil are the two "no match" lines the suites print.
const (
	nm    = `"not matched!"`
	nmNil = `"not matched: ", m`
)

// reShow is Lua that runs call (an ngx.re call returning m, err) and says
// each of exprs when it matched, "error: " and err on an error, and miss
// otherwise.
func reShow(call, miss string, exprs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "local m, err = %s\nif m then\n", call)
	for _, e := range exprs {
		fmt.Fprintf(&b, "  ngx.say(%s)\n", e)
	}
	fmt.Fprintf(&b, "elseif err then\n  ngx.say(\"error: \", err)\nelse\n  ngx.say(%s)\nend\n", miss)
	return b.String()
}

// reSrc cites a block of lua-nginx-module's regex tests.
func reSrc(file string, n int, title string) string {
	return fmt.Sprintf("lua-nginx-module t/%s.t TEST %d: %s", file, n, title)
}

// matchLimitRe is the SQL-injection pattern of the "match limit" blocks:
// on the subject below it backtracks a lot, and does not match.
const matchLimitRe = "[==[(?i:([\\s'\\\"`´’‘\\(\\)]*)?([\\d\\w]+)([\\s'\\\"`´’‘\\(\\)]*)?(?:=|<=>|r?like|sounds\\s+like|regexp)([\\s'\\\"`´’‘\\(\\)]*)?\\2|([\\s'\\\"`´’‘\\(\\)]*)?([\\d\\w]+)([\\s'\\\"`´’‘\\(\\)]*)?(?:!=|<=|>=|<>|<|>|\\^|is\\s+not|not\\s+like|not\\s+regexp)([\\s'\\\"`´’‘\\(\\)]*)?(?!\\6)([\\d\\w]+))]==]"

// lua-nginx-module t/034-match.t, rebuilt.
func TestOpenRestyReMatch(t *testing.T) {
	const f = "034-match"
	m0 := []string{"m[0]"}
	cases := []orCase{
		{src: reSrc(f, 1, "sanity"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 2, "escaping sequences"), content: reShow(`ngx.re.match("hello, 1234", "(\\d+)")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 5, "single capture"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]{2})[0-9]+")`, nm, "m[0]", "m[1]"), body: "1234\n12\n"},
		{src: reSrc(f, 6, "multiple captures"), content: reShow(`ngx.re.match("hello, 1234", "([a-z]+).*?([0-9]{2})[0-9]+", "")`, nm, "m[0]", "m[1]", "m[2]"), body: "hello, 1234\nhello\n12\n"},
		{src: reSrc(f, 7, "multiple captures (with o)"), content: reShow(`ngx.re.match("hello, 1234", "([a-z]+).*?([0-9]{2})[0-9]+", "o")`, nm, "m[0]", "m[1]", "m[2]"), body: "hello, 1234\nhello\n12\n"},
		{src: reSrc(f, 8, "not matched"), content: reShow(`ngx.re.match("hello, 1234", "foo")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 9, "case sensitive by default"), content: reShow(`ngx.re.match("hello, 1234", "HELLO")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 10, "case insensitive"), content: reShow(`ngx.re.match("hello, 1234", "HELLO", "i")`, nmNil, m0...), body: "hello\n"},
		{src: reSrc(f, 11, "UTF-8 mode"), content: reShow(`ngx.re.match("hello章亦春", "HELLO.{2}", "iu")`, nmNil, m0...), body: "hello章亦\n"},
		{src: reSrc(f, 12, "multi-line mode (^ at line head)"), content: reShow(`ngx.re.match("hello\nworld", "^world", "m")`, nmNil, m0...), body: "world\n"},
		{src: reSrc(f, 13, "multi-line mode (. does not match \\n)"), content: reShow(`ngx.re.match("hello\nworld", ".*", "m")`, nmNil, m0...), body: "hello\n"},
		{src: reSrc(f, 14, "single-line mode (^ as normal)"), content: reShow(`ngx.re.match("hello\nworld", "^world", "s")`, nmNil, m0...), body: "not matched: nil\n"},
		{src: reSrc(f, 15, "single-line mode (dot all)"), content: reShow(`ngx.re.match("hello\nworld", ".*", "s")`, nmNil, m0...), body: "hello\nworld\n"},
		{src: reSrc(f, 16, "extended mode (ignore whitespaces)"), content: reShow(`ngx.re.match("hello\nworld", [[\w     \w]], "x")`, nmNil, m0...), body: "he\n"},
		{src: reSrc(f, 17, "bad pattern"), content: reShow(`ngx.re.match("hello\nworld", "(abc")`, nmNil, m0...), body: "error: pcre_compile() failed: missing ) in \"(abc\"\n"},
		{src: reSrc(f, 18, "bad option"), content: `
local ok, m = pcall(ngx.re.match, "hello\nworld", ".*", "Hm")
if ok then ngx.say(m and m[0]) else ngx.say("error: ", m) end`, bodyRe: `^error: .*?unknown flag "H" \(flags "Hm"\)\n$`},
		{src: reSrc(f, 19, "extended mode (ignore whitespaces)"), content: reShow(`ngx.re.match("hello, world", "(world)|(hello)", "x")`, nmNil, "m[0]", "m[1]", "m[2]"), body: "hello\nfalse\nhello\n"},
		{src: reSrc(f, 20, "optional trailing captures"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)(h?)")`, nm, "m[0]", "m[1]", "m[2]"), body: "1234\n1234\n\n"},
		{src: reSrc(f, 21, "anchored match (failed)"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+)", "a")`, nm, m0...), body: "not matched!\n"},
		{src: reSrc(f, 22, "anchored match (succeeded)"), content: reShow(`ngx.re.match("1234, hello", "([0-9]+)", "a")`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 23, "match with ctx but no pos"), content: `
local ctx = {}
local m = ngx.re.match("1234, hello", "([0-9]+)", "", ctx)
ngx.say(m and m[0] or "not matched!")
ngx.say(ctx.pos)`, body: "1234\n5\n"},
		{src: reSrc(f, 24, "match with ctx and a pos"), content: `
local ctx = { pos = 3 }
local m = ngx.re.match("1234, hello", "([0-9]+)", "", ctx)
ngx.say(m and m[0] or "not matched!")
ngx.say(ctx.pos)`, body: "34\n5\n"},
		{src: reSrc(f, 26, "match (look-behind assertion)"), content: `
local ctx = {}
for _ = 1, 2 do
  local m = ngx.re.match("{foobarbaz}", "(?<=foo)bar|(?<=bar)baz", "", ctx)
  ngx.say(m and m[0])
end`, body: "bar\nbaz\n"},
		{src: reSrc(f, 28, "escaping sequences"), phases: map[string]string{"access": `
local subject = "<impact>2</impact>"
local regex = '(?:>[\\w\\s]*</?\\w{2,}>)'
ngx.say("regex: ", regex)
local m = ngx.re.match(subject, regex, "oi")
ngx.say(m and ("[" .. m[0] .. "]") or "not matched!")`}, content: `return`, body: "regex: (?:>[\\w\\s]*</?\\w{2,}>)\n[>2</impact>]\n"},
		{src: reSrc(f, 29, "long brackets"), content: reShow(`ngx.re.match("hello, 1234", [[\d+]])`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 30, "bad pattern"), content: reShow(`ngx.re.match("hello, 1234", "([0-9]+")`, nm, m0...), body: "error: pcre_compile() failed: missing ) in \"([0-9]+\"\n"},
		{src: reSrc(f, 31, "long brackets containing [...]"), content: reShow(`ngx.re.match("hello, 1234", [[([0-9]+)]])`, nm, m0...), body: "1234\n"},
		{src: reSrc(f, 32, "bug report (github issue #72)"), phases: map[string]string{
			"content":       `ngx.re.match("hello", "hello", "j") ngx.say("done")`,
			"header_filter": `ngx.re.match("hello", "world", "j")`}, body: "done\n"},
		{src: reSrc(f, 34, "non-empty subject, empty pattern"), content: `
local ctx = {}
local m = ngx.re.match("hello, 1234", "", "", ctx)
if m then ngx.say("pos: ", ctx.pos) ngx.say("m: ", m[0]) else ngx.say("not matched!") end`, body: "pos: 1\nm: \n"},
		{src: reSrc(f, 35, "named subpatterns w/ extraction"), content: reShow(`ngx.re.match("hello, 1234", "(?<first>[a-z]+), [0-9]+")`, nm, "m[0]", "m[1]", "m.first", "m.second"), body: "hello, 1234\nhello\nhello\nnil\n"},
		{src: reSrc(f, 36, "duplicate named subpatterns w/ extraction"), content: reShow(`ngx.re.match("hello, 1234", "(?<first>[a-z]+), (?<first>[0-9]+)", "D")`, nm, "m[0]", "m[1]", "m[2]", `table.concat(m.first, "-")`), body: "hello, 1234\nhello\n1234\nhello-1234\n"},
		{src: reSrc(f, 37, "named captures are empty strings"), content: reShow(`ngx.re.match("1234", "(?<first>[a-z]*)([0-9]+)")`, nm, "m[0]", "m.first", "m[1]", "m[2]"), body: "1234\n\n\n1234\n"},
		{src: reSrc(f, 38, "named captures are false"), content: reShow(`ngx.re.match("hello, world", "(world)|(hello)|(?<named>howdy)")`, nm, "m[0]", "m[1]", "m[2]", "m[3]", `m["named"]`), body: "hello\nfalse\nhello\nfalse\nfalse\n"},
		{src: reSrc(f, 39, "duplicate named subpatterns"), content: reShow(`ngx.re.match("hello, world", "(?<named>\\w+), (?<named>\\w+)", "D")`, nm, "m[0]", "m[1]", "m[2]", `table.concat(m.named, "-")`), body: "hello, world\nhello\nworld\nhello-world\n"},
		{src: reSrc(f, 41, "empty duplicate captures"), content: `
local m = ngx.re.match("test", '^(?:(?<group1>(?:foo))|(?<group2>(?:bar))|(?<group3>(?:test)))$', "D")
ngx.say(type(m.group1))
ngx.say(type(m.group2))`, body: "nil\nnil\n"},
		{src: reSrc(f, 42, "bad UTF-8"), content: reShow(`ngx.re.match(string.sub("你好", 1, 4), "你好", "u")`, `"not matched"`, m0...), body: "error: pcre_exec() failed: -10\n"},
		{src: reSrc(f, 43, "UTF-8 mode without UTF-8 sequence checks"), content: reShow(`ngx.re.match("你好", ".", "U")`, nm, m0...), body: "你\n"},
		{src: reSrc(f, 44, "UTF-8 mode with UTF-8 sequence checks"), content: reShow(`ngx.re.match("你好", ".", "u")`, nm, m0...), body: "你\n"},
		{src: reSrc(f, 46, "just not hit match limit"), content: `
local re = ` + matchLimitRe + `
local res, err = ngx.re.match(string.rep("ABCDEFG", 10), re, "o")
if res then return end
ngx.say(err and ("error: " .. err) or "failed to match")`, body: "failed to match\n"},
		{src: reSrc(f, 47, "extra table argument"), content: `
local res = {}
local s = "hello, 1234"
local m = ngx.re.match(s, [[(\d)(\d)]], "o", nil, res)
ngx.say("1: m size: ", #m)
ngx.say("1: res size: ", #res)
m = ngx.re.match(s, [[(\d)]], "o", nil, res)
ngx.say("2: m size: ", #m)
ngx.say("2: res size: ", #res)`, body: "1: m size: 2\n1: res size: 2\n2: m size: 2\n2: res size: 2\n"},
		{src: reSrc(f, 49, "trailing captures are false"), content: reShow(`ngx.re.match("hello", "(hello)(.+)?")`, nm, "m[0]", "m[1]", "m[2]"), body: "hello\nhello\nfalse\n"},
		{src: reSrc(f, 50, "the 5th argument hides the 4th (GitHub #719)"), content: `
local ctx, res = { pos = 5 }, {}
local m = ngx.re.match("20172016-11-3 03:07:09", [=[(\d\d\d\d)]=], "", ctx, res)
ngx.say(res[0], " ", m[0], " ", ctx.pos)`, body: "2016 2016 9\n"},
	}
	orSuite(t, "", cases)
}

// TestReBacktrackingBudget: a catastrophic backtracking pattern (it runs
// on regexp2) ends with the request's budget (a 500 after lua_timeout,
// 1s), never a stuck state, while other requests, regex ones included, go
// on being served.
func TestReBacktrackingBudget(t *testing.T) {
	p := startCaddy(t, hopts{content: map[string]string{
		"/bad": `local m, err = ngx.re.match(string.rep("a", 40) .. "!", [[^(?=a)(\w+\s?)*$]]) ngx.say(err)`,
		"/ok":  `ngx.say(ngx.re.find("xab", "(?<=a)b"))`,
	}})
	bad := make(chan hreply, 1)
	go func() { bad <- p.get("/bad", 15*time.Second) }()
	for i := 0; i < 5; i++ {
		if r := p.get("/ok", 5*time.Second); r.err != nil || r.status != 200 || r.body != "33\n" {
			t.Fatalf("a request during the catastrophic match: %v", r)
		}
	}
	select {
	case r := <-bad:
		if r.err != nil || r.status != 500 {
			t.Fatalf("want a 500 for the catastrophic match, got %v", r)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the catastrophic match is stuck")
	}
	p.expectLog(t, "exceeded its time budget")
	if r := p.get("/ok", 5*time.Second); r.err != nil || r.status != 200 || r.body != "33\n" {
		t.Fatalf("after: %v", r)
	}
}
