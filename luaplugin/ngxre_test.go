package luaplugin

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// newReState returns a Lua state with ngx.re, ngx.null, require "ngx.re"
// and a say(...) function that appends its arguments (ngx.say style) to the
// returned buffer.
func newReState(t testing.TB, cache *RegexCache) (*lua.LState, *strings.Builder) {
	t.Helper()
	L := lua.NewState()
	ngx := L.NewTable()
	ngx.RawSetString("re", OpenNgxRe(L, cache))
	ngx.RawSetString("null", Null)
	L.SetGlobal("ngx", ngx)
	L.PreloadModule("ngx.re", func(L *lua.LState) int {
		L.Push(OpenNgxReModule(L, cache))
		return 1
	})
	out := &strings.Builder{}
	L.SetGlobal("say", L.NewFunction(func(L *lua.LState) int {
		for i := 1; i <= L.GetTop(); i++ {
			v := L.Get(i)
			switch v.(type) {
			case *lua.LTable:
				out.WriteString("table")
			case *lua.LFunction:
				out.WriteString("function")
			default:
				out.WriteString(ToString(v))
			}
		}
		out.WriteByte('\n')
		return 0
	}))
	// dump(t): the numbered fields 0..n and the string keys (sorted) of t.
	if err := L.DoString(`
function dump(t)
  if type(t) ~= "table" then return tostring(t) end
  local parts = {}
  local i = 0
  while t[i] ~= nil do
    local v = t[i]
    if type(v) == "string" then v = '"' .. v .. '"' else v = tostring(v) end
    parts[#parts + 1] = v
    i = i + 1
  end
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "string" then v = '"' .. v .. '"'
    elseif type(v) == "table" then
      local sub = {}
      for j = 1, #v do sub[j] = '"' .. v[j] .. '"' end
      v = "{" .. table.concat(sub, ",") .. "}"
    else v = tostring(v) end
    parts[#parts + 1] = k .. "=" .. v
  end
  return "[" .. table.concat(parts, " ") .. "]"
end
function p(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return table.concat(parts, ",")
end
function list(t)
  local parts = {}
  for i = 1, #t do parts[i] = tostring(t[i]) end
  return #t .. ":" .. table.concat(parts, "|")
end
`); err != nil {
		t.Fatal(err)
	}
	return L, out
}

// runRe runs code in a fresh state and returns what it said.
func runRe(t testing.TB, code string) string {
	t.Helper()
	L, out := newReState(t, NewRegexCache(0))
	defer L.Close()
	if err := L.DoString(code); err != nil {
		return "ERROR: " + err.Error()
	}
	return strings.TrimSuffix(out.String(), "\n")
}

type reCase struct {
	name string
	code string
	want string
}

func runReCases(t *testing.T, cases []reCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runRe(t, tc.code)
			if got != tc.want {
				t.Errorf("code:\n%s\ngot:\n%s\nwant:\n%s", tc.code, got, tc.want)
			}
		})
	}
}

func TestNgxReMatch(t *testing.T) {
	runReCases(t, []reCase{
		{"invoice", `local m = ngx.re.match("invoice INV-2024-0042 due", [[([A-Z]+)-(\d{4})-(\d+)(x)?]]) say(dump(m))`,
			`["INV-2024-0042" "INV" "2024" "0042" false]`},
		{"doc digits", `local m = ngx.re.match("hello, 1234", "[0-9]+") say(m[0])`, `1234`},
		{"doc capture", `local m = ngx.re.match("hello, 1234", "([0-9])[0-9]+") say(m[0], " ", m[1])`, `1234 1`},
		{"named", `say(dump(ngx.re.match("hello, 1234", "([0-9])(?<remaining>[0-9]+)")))`,
			`["1234" "1" "234" remaining="234"]`},
		{"unmatched named", `say(dump(ngx.re.match("hello, world", "(world)|(hello)|(?<named>howdy)")))`,
			`["hello" false "hello" false named=false]`},
		{"P named and quote named", `say(dump(ngx.re.match("ab", "(?P<x>a)(?'y'b)")))`, `["ab" "a" "b" x="a" y="b"]`},
		{"no match", `local m, err = ngx.re.match("hello", "\\d") say(m, " ", err)`, `nil nil`},
		{"no match single value", `say(select("#", ngx.re.match("hello", "\\d")))`, `1`},
		{"case insensitive", `say(ngx.re.match("HeLLo", "hello", "i")[0])`, `HeLLo`},
		{"number subject", `say(ngx.re.match(12345, "3(4)")[1])`, `4`},
		{"number regex", `say(ngx.re.match("a42b", 42)[0])`, `42`},
		{"ctx pos", `local ctx = {} local m = ngx.re.match("1234, hello", "[0-9]+", "", ctx) say(m[0], " ", ctx.pos)`, `1234 5`},
		{"ctx pos start", `local ctx = {pos = 2} local m = ngx.re.match("1234, hello", "[0-9]+", "", ctx) say(m[0], " ", ctx.pos)`, `234 5`},
		{"ctx untouched on failure", `local ctx = {pos = 3} local m = ngx.re.match("ab", "x", "", ctx) say(m, " ", ctx.pos)`, `nil 3`},
		{"ctx pos zero and negative", `local c1, c2 = {pos = 0}, {pos = -5}
			say(ngx.re.match("ab", "a", "", c1)[0], c1.pos, ngx.re.match("ab", "a", "", c2)[0], c2.pos)`, `a2a2`},
		{"ctx pos end", `local ctx = {pos = 3} local m = ngx.re.match("ab", "$", "", ctx) say(m[0] == "", " ", ctx.pos)`, `true 3`},
		{"ctx pos beyond", `local m, err = ngx.re.match("ab", "x", "", {pos = 10}) say(m, " ", err)`, `nil pcre_exec() failed: -24`},
		{"ctx pos with ^", `say(ngx.re.match("aaa", "^a", "", {pos = 2}))`, `nil`},
		{"ctx pos with \\b", `local m = ngx.re.match("foobar bar", [[\bbar]], "", {pos = 2}) say(m[0], " ", p(ngx.re.find("foobar bar", [[\bbar]], "", {pos = 2})))`, `bar 8,10`},
		{"ctx pos with \\B", `say(ngx.re.find("foobar bar", [[\Bbar]], "", {pos = 4}))`, `46`},
		{"ctx pos multiline ^", `say(ngx.re.find("ab\ncd", "^c", "m", {pos = 2}))`, `44`},
		{"ctx bad pos", `local ok, err = pcall(ngx.re.match, "a", "a", "", {pos = "x"}) say(err)`,
			`<string>:1: bad argument #4 to 'match' (bad pos field type in the ctx table)`},
		{"anchored", `say(ngx.re.match("hello", "l", "a"), " ", ngx.re.match("hello", "h", "a")[0])`, `nil h`},
		{"anchored with pos (lexer)", `local ctx = {pos = 1} local s = "ab12cd"
			local out = {}
			while true do
			  local m = ngx.re.match(s, "[a-z]+|[0-9]+", "ao", ctx)
			  if not m then break end
			  out[#out + 1] = m[0]
			end
			say(table.concat(out, ","), " ", ctx.pos)`, `ab,12,cd 7`},
		{"anchored ctx-sensitive", `say(ngx.re.match("ab ab", [[\bab]], "a", {pos = 4})[0], ngx.re.match("abab", [[\bab]], "a", {pos = 3}))`, `abnil`},
		{"G at start", `say(ngx.re.match("xab", [[\Gab]], "", {pos = 2})[0], ngx.re.match("xab", [[\Gab]]))`, `abnil`},
		{"res_table", `local res = {} local m = ngx.re.match("ab", "(a)(b)", "", nil, res) say(m == res, dump(res))`, `true["ab" "a" "b"]`},
		{"dotall", `say(ngx.re.match("a\nb", "a.b"), ngx.re.match("a\nb", "a.b", "s")[0] == "a\nb")`, `niltrue`},
		{"multiline", `say(ngx.re.match("a\nb", "^b$"), ngx.re.match("a\nb", "^b$", "m")[0])`, `nilb`},
		{"dollar before final newline", `say(ngx.re.match("abc\n", "abc$")[0] == "abc")`, `true`},
		{"dollar not before inner newline", `say(ngx.re.match("abc\nd\n", "abc$"))`, `nil`},
		{"dollar in capture with final newline", `local m = ngx.re.match("x abc\n", "(b.*$)") say(#m[0], #m[1])`, `22`},
		{"dollar greedy dotall keeps newline", `say(#ngx.re.match("ab\n", "a.*$", "s")[0])`, `3`},
		{"dollar lazy", `say(#ngx.re.match("a \n", [[a\s*?$]])[0])`, `2`},
		{"empty line", `say(ngx.re.find("\n", "^$"))`, `10`},
		{"Z", `say(p(ngx.re.find("ab\n", [[b\Z]])), " ", p(ngx.re.find("ab\n", [[b\z]])))`, `2,2 nil`},
		{"z after newline", `say(ngx.re.find("ab\n", [[\n\z]]))`, `33`},
		{"A", `say(ngx.re.find("ab\nab", [[\Aab]], "m", {pos = 3}))`, `nil`},
		{"extended", `say(ngx.re.match("hello, world", "HEL LO", "ix")[0])`, `hello`},
		{"extended comments", "say(ngx.re.match('ab12', [[ [a-z]+  # letters\n  (\\d+) # digits\n ]], 'x')[1])", `12`},
		{"extended escaped space and class", `say(ngx.re.match("a b", [[a\ b]], "x")[0], ngx.re.match("a b", "a[ ]b", "x")[0])`, `a ba b`},
		{"inline x", `say(ngx.re.match("ab", "(?x) a  b")[0])`, `ab`},
		{"inline i scoped", `say(ngx.re.match("aB", "a(?i:b)")[0], ngx.re.match("AB", "a(?i:b)"))`, `aBnil`},
		{"inline m", `say(ngx.re.find("a\nb", "(?m)^b"))`, `33`},
		{"inline m off", `say(ngx.re.find("a\nb", "(?-m)^b", "m"))`, `nil`},
		{"inline flags reset at group end", `say(ngx.re.find("A\nb", "(?:(?i)a)\n(?m)^B"))`, `nil`},
		{"comment group", `say(ngx.re.match("ab", "a(?#comment)b")[0])`, `ab`},
		{"utf8 dot", `local m = ngx.re.match("hello, 美好生活", "HELLO, (.{2})", "iu") say(m[0], " ", m[1])`, `hello, 美好 美好`},
		{"byte dot", `say(#ngx.re.match("美", ".")[0])`, `1`},
		{"byte class", `say(#ngx.re.match("é", "[^a]")[0], #ngx.re.match("é", "[^a]", "u")[0])`, `12`},
		{"byte hex escape", `say(p(ngx.re.find("a\255b", [[\xff]])), " ", p(ngx.re.find("a\255b", [[\x{ff}]])), " ", p(ngx.re.find("a\255b", [[\x{FF}b]])))`, `2,2 2,2 2,3`},
		{"byte literal high", `say(p(ngx.re.find("xé", "é")), " ", p(ngx.re.find("xé\169", "é+")), " ", p(ngx.re.find("xé", "é", "u")))`, `2,3 2,4 2,3`},
		{"byte offsets after high bytes", `local m = ngx.re.match("ééab", "(a)(b)") say(m[0], ngx.re.find("ééab", "b"))`, `ab66`},
		{"byte ctx pos after high bytes", `local ctx = {pos = 3} say(ngx.re.match("éaé", ".", "", ctx)[0] == "a", ctx.pos)`, `true4`},
		{"byte caseless high bytes not folded", `say(p(ngx.re.find("\224", "\192", "i")), " ", p(ngx.re.find("\192", "\192", "i")), " ", p(ngx.re.find("A", "a", "i")))`, `nil 1,1 1,1`},
		{"byte caseless class high", `say(p(ngx.re.find("\224", "[\192]", "i")), " ", p(ngx.re.find("B", "[b\192]", "i")), " ", p(ngx.re.find("\192", "[\192]", "i")))`, `nil 1,1 1,1`},
		{"utf8 invalid subject", `local m, err = ngx.re.match("\255", ".", "u") say(m, " ", err)`, `nil pcre_exec() failed: -10`},
		{"utf8 no check", `say(ngx.re.match("a\255", "a.", "U") ~= nil)`, `true`},
		{"utf8 pos mid char", `local m, err = ngx.re.match("é", ".", "u", {pos = 2}) say(m, " ", err)`, `nil pcre_exec() failed: -11`},
		{"utf8 invalid pattern", `local m, err = ngx.re.match("a", "\255", "u") say(err)`, `pcre_compile() failed: invalid UTF-8 string in "` + "\xff" + `"`},
		{"dfa longest", `say(ngx.re.match("abcd", "a|ab|abc", "d")[0], ngx.re.match("abcd", "a|ab|abc")[0])`, `abca`},
		{"dfa no captures", `say(dump(ngx.re.match("abc", "(a)(b)", "d")))`, `["ab"]`},
		{"dfa with ctx", `say(ngx.re.match("xx ab abc", [[\ba|\bab|\babc]], "d", {pos = 3})[0])`, `ab`},
		{"dupnames", `say(dump(ngx.re.match("b", "(?<n>a)|(?<n>b)", "D")))`, `["b" false "b" n={"b"}]`},
		{"dupnames refused without D", `say(select(2, ngx.re.match("b", "(?<n>a)|(?<n>b)")))`,
			`pcre_compile() failed: two named subpatterns have the same name in "(?<n>a)|(?<n>b)"`},
		{"jit and once accepted", `say(ngx.re.match("abc", "b", "jo")[0])`, `b`},
		{"options nil", `say(ngx.re.match("abc", "b", nil)[0])`, `b`},
		{"h and v classes", `say(p(ngx.re.find("a\tb", [[\h]])), " ", p(ngx.re.find("a\nb", [[\v]])), " ", p(ngx.re.find("\t", [[\H]])), " ", p(ngx.re.find("x\v", [[\s]])))`, `2,2 2,2 nil 2,2`},
		{"s includes VT in class", `say(p(ngx.re.find("x\v", [=[[\s]+]=])), " ", p(ngx.re.find("\v", [=[[\S]]=])), " ", p(ngx.re.find("\vx", [=[[^\s]]=])))`, `2,2 nil 2,2`},
		{"R newline", `say(ngx.re.find("a\r\nb", [[a\Rb]]))`, `14`},
		{"N", `say(ngx.re.find("\na", [[\N]]))`, `22`},
		{"posix class", `say(p(ngx.re.find("ab1", "[[:digit:]]")), " ", p(ngx.re.find("1a", "[[:^digit:]]")))`, `3,3 2,2`},
		{"class with hyphen and bracket", `say(p(ngx.re.find("x]-", "[]-]+")), " ", p(ngx.re.find("a-", "[a\\d-]+")), " ", p(ngx.re.find("+", "[\\w+]")), " ", p(ngx.re.find("-", "[\\d-z]")))`, `2,3 1,2 1,1 1,1`},
		{"class ranges escapes", `say(p(ngx.re.find("\t", [=[[\x00-\x1f]]=])), " ", p(ngx.re.find("C", "[a-c]", "i")))`, `1,1 1,1`},
		{"unicode property", `say(p(ngx.re.find("1é", [[\p{L}]], "u")), " ", p(ngx.re.find("é", [[\pL]], "u")), " ", p(ngx.re.find("é", [[\p{Xan}]], "u")), " ", p(ngx.re.find("é1", [[\P{Xan}]], "u")), " ", p(ngx.re.find("1é", [[\p{^N}]], "u")))`, `2,3 1,2 1,2 nil 2,3`},
		{"quote", `say(ngx.re.find("a.b*c", [[\Q.b*\E]]))`, `24`},
		{"escapes", `say(p(ngx.re.find("\27", [[\e]])), " ", p(ngx.re.find("\1", [[\cA]])), " ", p(ngx.re.find("\0", [[\0]])), " ", p(ngx.re.find("A", [[\101]])), " ", p(ngx.re.find("a.", [[\.]])), " ", p(ngx.re.find("a", [[\o{141}]])), " ", p(ngx.re.find("\7", [[\a]])))`, `1,1 1,1 1,1 1,1 2,2 1,1 1,1`},
		{"literal brace", `say(p(ngx.re.find("a{b", "a{b")), " ", p(ngx.re.find("a{,2}", "a{,2}")), " ", p(ngx.re.find("aaa", "a{2}")), " ", p(ngx.re.find("{x}", "{x}")))`, `1,3 1,5 1,2 1,3`},
		{"quantifier range", `say(ngx.re.match("aaaa", "a{2,3}")[0], ngx.re.match("aaaa", "a{2,}?")[0])`, `aaaaa`},
		{"lazy", `say(ngx.re.match("<a><b>", "<.+?>")[0])`, `<a>`},
		{"ungreedy inline", `say(ngx.re.match("<a><b>", "(?U)<.+>")[0])`, `<a>`},
		{"non-capturing", `say(dump(ngx.re.match("ab", "(?:a)(b)")))`, `["ab" "b"]`},
		{"octal vs backref", `say(ngx.re.find("a\n", [[a\12]]))`, `12`},
	})
}

func TestNgxReFind(t *testing.T) {
	runReCases(t, []reCase{
		{"multiline", `say(ngx.re.find("line1\nline2", "^line2$", "m"))`, `711`},
		{"basic", `local from, to, err = ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo") say(from, " ", to, " ", err)`, `8 11 nil`},
		{"nth", `say(ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "jo", nil, 2))`, `911`},
		{"nth 1", `say(ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "", nil, 1))`, `88`},
		{"nth out of bound", `say(ngx.re.find("hello, 1234", "([0-9])([0-9]+)", "", nil, 3))`, `nilnilnth out of bound`},
		{"nth unmatched", `say(select("#", ngx.re.find("b", "(a)?b", "", nil, 1)), ngx.re.find("b", "(a)?b", "", nil, 1))`, `2nilnil`},
		{"nth negative", `say(ngx.re.find("ab", "b", "", nil, -1))`, `22`},
		{"empty match", `say(ngx.re.find("abc", "x*"))`, `10`},
		{"no match", `say(select("#", ngx.re.find("abc", "x")))`, `1`},
		{"ctx", `local ctx = {pos = 5} local from, to = ngx.re.find("1234, 5678", "[0-9]+", "", ctx) say(from, to, ctx.pos)`, `71011`},
		{"bad regex", `say(ngx.re.find("a", "(abc"))`, `nilnilpcre_compile() failed: missing ) in "(abc"`},
		{"number subject", `say(ngx.re.find(3.5, "[.]"))`, `22`},
	})
}

func TestNgxReGmatch(t *testing.T) {
	runReCases(t, []reCase{
		{"doc", `local it = ngx.re.gmatch("hello, world!", "([a-z]+)", "i")
			local m = it() say(m[0], m[1]) m = it() say(m[0], m[1]) say(it()) say(it())`, "hellohello\nworldworld\nnil\nnil"},
		{"loop", `local out = {} for m in ngx.re.gmatch("a1b22c333", "\\d+") do out[#out+1] = m[0] end say(table.concat(out, ","))`, `1,22,333`},
		{"empty matches", `local out = {} for m in ngx.re.gmatch("hello", "l|") do out[#out+1] = "<" .. m[0] .. ">" end say(table.concat(out))`, `<><><l><l><><>`},
		{"empty pattern", `local n = 0 for m in ngx.re.gmatch("abc", "") do n = n + 1 end say(n)`, `4`},
		{"named", `local it = ngx.re.gmatch("k1=v1,k2=v2", "(?<k>\\w+)=(?<v>\\w+)") local m = it() say(m.k, m.v) m = it() say(m.k, m.v)`, "k1v1\nk2v2"},
		{"bad pattern", `local it, err = ngx.re.gmatch("hello\nworld", "(abc") say(it, " ", err)`, `nil pcre_compile() failed: missing ) in "(abc"`},
		{"bad utf8", `local it = ngx.re.gmatch(string.sub("你好", 1, 4), "你好", "u") say(it())`, `nilpcre_exec() failed: -10`},
		{"utf8 iteration", `local out = {} for m in ngx.re.gmatch("你好", ".", "U") do out[#out+1] = m[0] end say(table.concat(out, ","))`, `你,好`},
		{"utf8 empty advances by char", `local n = 0 for m in ngx.re.gmatch("你好", "", "u") do n = n + 1 end say(n)`, `3`},
		{"multiline ^ not after final newline", `local n = 0 for m in ngx.re.gmatch("a\nb\n", "^", "m") do n = n + 1 end say(n)`, `2`},
		{"word boundaries", `local out = {} for m in ngx.re.gmatch("foo bar", [[\b]]) do out[#out+1] = ngx.re.find and "x" end say(#out)`, `4`},
		{"anchored gmatch", `local out = {} for m in ngx.re.gmatch("aab", "a", "a") do out[#out+1] = m[0] end say(#out)`, `2`},
	})
}

func TestNgxReSub(t *testing.T) {
	runReCases(t, []reCase{
		{"template", `say(ngx.re.sub("hello, 1234", "([0-9])[0-9]", "[$0][$1]"))`, `hello, [12][1]341`},
		{"braces", `say(ngx.re.sub("hello, 1234", "[0-9]", "${0}00"))`, `hello, 1002341`},
		{"dollar dollar", `say(ngx.re.sub("hello, 1234", "[0-9]", "$$"))`, `hello, $2341`},
		{"brief example", `say(ngx.re.sub("price 40", [[\d+]], "[$0]${0}$$"))`, `price [40]40$1`},
		{"capture then literal", `say(ngx.re.sub("abc", "(b)", "$1x"))`, `abxc1`},
		{"multi digit group", `say(ngx.re.sub("abcdefghijk", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", "$11-$10-${1}0"))`, `k-j-a01`},
		{"missing group is empty", `say(ngx.re.sub("abc", "(b)", "[$2]"))`, `a[]c1`},
		{"unmatched group is empty", `say(ngx.re.sub("abc", "(x)?b", "[$1]"))`, `a[]c1`},
		{"named template extension", `say(p(ngx.re.sub("abc", "(?<mid>b)", "[${mid}]")), " ", p(ngx.re.sub("abc", "(?<mid>b)", "[$mid]")))`, `a[b]c,1 a[b]c,1`},
		{"bad template unknown name", `say(ngx.re.sub("abc", "b", "$foo"))`, `nilnilfailed to compile the replacement template`},
		{"bad template trailing dollar", `say(ngx.re.sub("abc", "b", "x$"))`, `nilnilfailed to compile the replacement template`},
		{"bad template unclosed brace", `say(ngx.re.sub("abc", "b", "${1"))`, `nilnilfailed to compile the replacement template`},
		{"bad template brace junk", `say(ngx.re.sub("abc", "b", "${1a}"))`, `nilnilfailed to compile the replacement template`},
		{"bad template empty brace", `say(ngx.re.sub("abc", "b", "${}"))`, `nilnilfailed to compile the replacement template`},
		{"bad template even without match", `say(ngx.re.sub("abc", "x", "$"))`, `nilnilfailed to compile the replacement template`},
		{"no match", `say(ngx.re.sub("abc", "x", "y"))`, `abc0`},
		{"function", `say(ngx.re.sub("hello, 1234", "( [0-9] ) [0-9]", function(m) return "[" .. m[0] .. "][" .. m[1] .. "]" end, "x"))`, `hello, [12][1]341`},
		{"function dollars literal", `say(ngx.re.sub("a", "a", function() return "$0$$" end))`, `$0$$1`},
		{"function number result", `say(ngx.re.sub("a", "a", function() return 42 end))`, `421`},
		{"only first", `say(ngx.re.sub("aaa", "a", "b"))`, `baa1`},
		{"empty match at start", `say(ngx.re.sub("abc", "", "-"))`, `-abc1`},
		{"number replace", `say(ngx.re.sub("abc", "b", 7))`, `a7c1`},
		{"bad replace type", `local ok, err = pcall(ngx.re.sub, "abc", "b", true) say(err)`, `<string>:1: bad argument #3 to 'sub' (string expected, got boolean)`},
		{"bad pattern", `say(ngx.re.sub("hello\nworld", "(abc", "world", "j"))`, `nilnilpcre_compile() failed: missing ) in "(abc"`},
	})
}

func TestNgxReGsub(t *testing.T) {
	runReCases(t, []reCase{
		{"doc", `say(ngx.re.gsub("hello, world", "([a-z])[a-z]+", "[$0,$1]", "i"))`, `[hello,h], [world,w]2`},
		{"doc function", `say(ngx.re.gsub("hello, world", "([a-z])[a-z]+", function(m) return "[" .. m[0] .. "," .. m[1] .. "]" end, "i"))`, `[hello,h], [world,w]2`},
		{"empty after non-empty (PCRE)", `say(ngx.re.gsub("hello", "l|", "_"))`, `_h_e___o_6`},
		{"empty pattern", `say(ngx.re.gsub("abc", "", "-"))`, `-a-b-c-4`},
		{"star", `say(ngx.re.gsub("abc", "x*", "-"))`, `-a-b-c-4`},
		{"b star", `say(ngx.re.gsub("abc", "b*", "-"))`, `-a--c-4`},
		{"no match keeps subject", `say(ngx.re.gsub("abc", "x", "-"))`, `abc0`},
		{"trim", `say(ngx.re.gsub("  hi  ", [[^\s+|\s+$]], ""))`, `hi2`},
		{"multiline prefix lines", `say((ngx.re.gsub("a\nb\n", "^", "> ", "m")))`, "> a\n> b\n"},
		{"dollar final newline", `say((ngx.re.gsub("a\nb\n", "$", "!")))`, "a\nb!\n!"},
		{"multiline dollar", `say((ngx.re.gsub("a\nb\n", "$", "!", "m")))`, "a!\nb!\n!"},
		{"word boundaries", `say(ngx.re.gsub("foo bar", [[\b]], "|"))`, `|foo| |bar|4`},
		{"words", `say(ngx.re.gsub("the cat sat", [[\bs?at\b]], "X"))`, `the cat X1`},
		{"utf8", `say(ngx.re.gsub("héllo", "é", "e", "u"))`, `hello1`},
		{"utf8 empty matches", `say(ngx.re.gsub("你好", "", "-", "u"))`, `-你-好-3`},
		{"bytes", `say(#ngx.re.gsub("你好", ".", "x"))`, `6`},
		{"callback recursion", `say(ngx.re.gsub("ab", "[ab]", function(m) return (ngx.re.gsub(m[0], "[ab]", "<$0>")) end))`, `<a><b>2`},
		{"callback error propagates", `local ok, err = pcall(ngx.re.gsub, "ab", "a", function() error("boom", 0) end) say(ok, err)`, `falseboom`},
		{"dfa gsub", `say(ngx.re.gsub("aaa", "a|aa", "x", "d"))`, `xx2`},
	})
}

func TestNgxReSplit(t *testing.T) {
	runReCases(t, []reCase{
		{"basic", `local re = require "ngx.re" say(list(re.split("a,b,c,d", ",")))`, `4:a|b|c|d`},
		{"multi char sep", `local re = require "ngx.re" say(list(re.split("a;,b;,c;,d;e", ";,")))`, `4:a|b|c|d;e`},
		{"capture", `local re = require "ngx.re" say(list(re.split("a;,b;,c;,d,e", "(;),")))`, `7:a|;|b|;|c|;|d,e`},
		{"unmatched capture", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", "(;)|,")))`, `5:a|b|c|d|e`},
		{"max", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", ",", nil, nil, 3)))`, `3:a|b|c,d,e`},
		{"capture max", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", "(,)", nil, nil, 3)))`, `5:a|,|b|,|c,d,e`},
		{"max 0 and -1", `local re = require "ngx.re" say(list(re.split("a,b", ",", nil, nil, 0)), list(re.split("a,b", ",", nil, nil, -1)))`, `2:a|b2:a|b`},
		{"max 1", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", ",", nil, nil, 1)))`, `1:a,b,c,d,e`},
		{"res table", `local re = require "ngx.re" local t = {} for i = 1, 10 do t[i] = "x" end
			local res = re.split("a,b,c", ",", nil, nil, nil, t) say(res == t, t[3], t[4], t[5])`, `truecnilx`},
		{"ctx", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", ",", nil, {pos = 5})))`, `3:c|d|e`},
		{"trailing", `local re = require "ngx.re" say(list(re.split(",a,b,c,d,", ",")))`, `5:|a|b|c|d`},
		{"real", `local re = require "ngx.re" say(list(re.split("abcd,erfg,ghij;hello world;aaa", ",|;")))`, `5:abcd|erfg|ghij|hello world|aaa`},
		{"no match", `local re = require "ngx.re" say(list(re.split("abcd", ",")))`, `1:abcd`},
		{"number subject", `local re = require "ngx.re" say(list(re.split(1234512345, "23", "jo")))`, `3:1|451|45`},
		{"pos beyond", `local re = require "ngx.re" say(list(re.split("a,b,c,d,e", ",", nil, {pos = 10})))`, `0:`},
		{"empty regex", `local re = require "ngx.re" say(list(re.split("12345", "", "jo")))`, `5:1|2|3|4|5`},
		{"empty regex max", `local re = require "ngx.re" say(list(re.split("12345", "", "jo", nil, 3)))`, `3:1|2|345`},
		{"empty regex pos", `local re = require "ngx.re" say(list(re.split("12345", "", "jo", {pos = 2})))`, `4:2|3|4|5`},
		{"empty regex pos max", `local re = require "ngx.re" say(list(re.split("12345", "", "jo", {pos = 2}, 2)))`, `2:2|345`},
		{"alternation empty", `local re = require "ngx.re" say(list(re.split("abcd", "|")), list(re.split("abcd", "|", nil, nil, 2)))`, `4:a|b|c|d2:a|bcd`},
		{"empty capture", `local re = require "ngx.re" say(list(re.split("abcd", "()")))`, `7:a||b||c||d`},
		{"caret", `local re = require "ngx.re" say(#re.split("ab\ncd\nef", "^"))`, `1`},
		{"caret m", `local re = require "ngx.re" say(table.concat(re.split("ab\ncd\nef", "^", "m"), ":"))`, "ab\n:cd\n:ef"},
		{"caret m capture", `local re = require "ngx.re" say(#re.split("ab\ncd\nef", "^()", "m"))`, `5`},
		{"caret m max", `local re = require "ngx.re" say(table.concat(re.split("ab\ncd\nef", "^", "m", nil, 2), ":"))`, "ab\n:cd\nef"},
		{"caret digit m", `local re = require "ngx.re" say(table.concat(re.split("ab\n1cdefg\n2hij", "^(\\d)", "m"), ":"))`, "ab\n:1:cdefg\n:2:hij"},
		{"unit separator", `local re = require "ngx.re"
			for _, s in ipairs({"1\31T\31\31\31\31\31\31\31\31\31\31\31\31\31" .. "15", "1\31T\31T\31T\31\31\31\31\31\31\31\31\31\31\31" .. "15"}) do
			  local l = re.split(s, "\\x1f") say(#l, " ", table.concat(l, "|"))
			  l = re.split(s, "\\x1f", nil, {pos = 6}) say(#l, " ", table.concat(l, "|"))
			end`, "15 1|T|||||||||||||15\n12 |||||||||||15\n15 1|T|T|T|||||||||||15\n13 |T|||||||||||15"},
		{"trailing separators", `local re = require "ngx.re" say(list(re.split("a,b,cd,,,", ",")))
			for max = 1, 7 do say(list(re.split("a,b,cd,,,", ",", nil, nil, max))) end`,
			"3:a|b|cd\n1:a,b,cd,,,\n2:a|b,cd,,,\n3:a|b|cd,,,\n4:a|b|cd|,,\n5:a|b|cd||,\n6:a|b|cd|||\n6:a|b|cd|||"},
		{"empty subject", `local re = require "ngx.re" say(list(re.split("", ",")))`, `0:`},
		{"bad regex", `local re = require "ngx.re" say(re.split("a", "("))`, `nilpcre_compile() failed: missing ) in "("`},
		{"bad res", `local re = require "ngx.re" say(pcall(re.split, "a", ",", nil, nil, nil, "x"))`, `false<string>:1: res is not a table`},
		{"on ngx.re too", `say(list(ngx.re.split("a b", " ")))`, `2:a|b`},
		{"opt", `local re = require "ngx.re" re.opt("jit_stack_size", 200 * 1024) say(pcall(re.opt, "foo", 1))`, `false<string>:1: unrecognized option name`},
	})
}

// TestNgxReBacktracking runs the PCRE features RE2 refuses, which run on
// regexp2, through every function, with byte offsets in both modes.
func TestNgxReBacktracking(t *testing.T) {
	runReCases(t, []reCase{
		{"look-ahead", `say(dump(ngx.re.match("price: 100 USD, 200 EUR", [[(\d+)(?= EUR)]])))`, `["200" "200"]`},
		{"negative look-ahead", `say(dump(ngx.re.match("foobar foobaz", [[foo(?!bar)\w+]])))`, `["foobaz"]`},
		{"look-behind", `say(dump(ngx.re.match("USD100 EUR200", [[(?<=EUR)\d+]])))`, `["200"]`},
		{"negative look-behind", `say(dump(ngx.re.match("a1 b2", [[(?<!a)\d]])))`, `["2"]`},
		{"back-reference", `say(dump(ngx.re.match("say hello hello world", [[\b(\w+) \1\b]])))`, `["hello hello" "hello"]`},
		{"named back-reference", `say(dump(ngx.re.match("<b>x</b>", [[<(?<tag>\w+)>.*?</\k<tag>>]])))`, `["<b>x</b>" "b" tag="b"]`},
		{"python back-reference", `say(dump(ngx.re.match("abba", [[(?P<c>b)(?P=c)]])))`, `["bb" "b" c="b"]`},
		{"relative back-reference", `say(dump(ngx.re.match("xyzyz", [[(y)(z)\g{-2}\g2]])))`, `["yzyz" "y" "z"]`},
		{"atomic group", `say(ngx.re.match("aaab", [[(?>a+)ab]]), " ", dump(ngx.re.match("aaab", [[(?>a+)b]])))`, `nil ["aaab"]`},
		{"possessive", `say(ngx.re.find("aaa", "a*+a"), " ", ngx.re.find("aaab", "a++b"))`, `nil 14`},
		{"\\K", `say(dump(ngx.re.match("foobar", [[foo\Kbar]])), " ", ngx.re.gsub("a=1, b=2", [[\w=\K\d]], "N"))`, `["bar"] a=N, b=N2`},
		{"conditional", `for _, s in ipairs{"<a>", "a", "<a"} do say(dump(ngx.re.match(s, [[^(<)?a(?(1)>)$]]))) end`, "[\"<a>\" \"<\"]\n[\"a\" false]\nnil"},
		{"assertion conditional", `say(dump(ngx.re.match("x-12", [[(?(?=\d)\d+|[a-z]+)]])), dump(ngx.re.match("-12", [[(?(?=\d)\d+|[a-z]+)]])))`, `["x"]["12"]`},
		{"grapheme cluster", `say(ngx.re.find("e\204\129x", [[\X]], "u"))`, `13`},
		{"large repeat", `say(ngx.re.find(string.rep("a", 1500), "a{1200,}"))`, `11500`},
		{"ungreedy option", `say(dump(ngx.re.match("aaa", "(?U)(?=a)a+")), dump(ngx.re.match("aaa", "(?U)(?=a)a+?")))`, `["a"]["aaa"]`},
		{"byte offsets", `say(ngx.re.find("\195\169tt x", [[\w+(?= )]]))`, `34`},
		{"utf8 offsets", `local ctx = {} say(ngx.re.find("\195\169t\195\169 x", [[(?<=\x{e9})\w(?=\x{e9})]], "u", ctx), " ", ctx.pos)`, `3 4`},
		{"utf8 ctx.pos start", `say(ngx.re.find("\195\169t\195\169t", [[(?<=\x{e9})t]], "u", {pos = 4}))`, `66`},
		{"utf8 start inside a character", `say(ngx.re.find("\195\169t", [[(?=t)]], "u", {pos = 2}))`, `nilnilpcre_exec() failed: -11`},
		{"gmatch", `for m in ngx.re.gmatch("a1b22c333", [[(?<=[a-z])(\d)\1*]]) do say(m[0], " ", m[1]) end`, "1 1\n22 2\n333 3"},
		{"gmatch empty", `local t = {} for m in ngx.re.gmatch("abc", [[(?=\w)]]) do t[#t+1] = "<" .. m[0] .. ">" end say(table.concat(t))`, `<><><>`},
		{"gsub global rule", `say(ngx.re.gsub("hello", [[(?=l)|l]], "_"))`, `he_l_lo2`},
		{"gsub template", `say(ngx.re.gsub("2024-05-06", [[(?<y>\d+)-(?<m>\d+)(?=-)]], "${m}/$y"))`, `05/2024-061`},
		{"sub function", `say(ngx.re.sub("aXbX", [[(?<=a)X]], function(m) return "[" .. m[0] .. "]" end))`, `a[X]bX1`},
		{"split", `local re = require "ngx.re" say(list(re.split("a1b2c", [[(?<=\d)]])))`, `3:a1|b2|c`},
		{"unmatched group false", `say(dump(ngx.re.match("b", [[(?=b)(a)?b]])))`, `["b" false]`},
		{"dup names", `say(dump(ngx.re.match("b", [[(?=.)(?:(?<n>a)|(?<n>b))]], "D")))`, `["b" false "b" n={"b"}]`},
		{"anchored", `say(ngx.re.find("xab", [[(?=a)a]], "a"), " ", ngx.re.find("ab", [[(?=a)a]], "a"))`, `nil 11`},
		{"caseless", `say(ngx.re.find("xAB", [[(?<=x)ab]], "i"))`, `23`},
		{"caseless byte mode", `say(ngx.re.find("\195\137", "(?=.)\195\169", "i"))`, `nil`},
		{"multiline", `say(ngx.re.gsub("a\nb\n", [[^(?=\w)]], ">", "m"))`, ">a\n>b\n2"},
		{"dollar before final newline", `say(ngx.re.find("ab\n", [[(?<=a)b$]]))`, `22`},
		{"word boundary is ASCII", `say(ngx.re.find("\195\169a", [[(?=a)\b]], "u"))`, `32`},
	})
}

// TestNgxReUnsupported lists the PCRE features neither engine runs.
func TestNgxReUnsupported(t *testing.T) {
	cases := []struct{ pattern, what string }{
		{`(a|(?R))`, "recursion and subroutine calls are"},
		{`(a)(?1)`, "recursion and subroutine calls are"},
		{`(?<n>a)(?&n)`, "recursion and subroutine calls are"},
		{`(?P>n)`, "recursion and subroutine calls are"},
		{`(a)\g<1>`, `subroutine calls (\g<...>) are`},
		{`(?(R)a|b)`, "recursion and subroutine calls are"},
		{`(?(DEFINE)(?<n>a))`, "recursion and subroutine calls are"},
		{`(*SKIP)a`, "backtracking control verbs and start-of-pattern options (*...) are"},
		{`(?|(a)|(b))`, "branch reset groups (?| are"},
		{`(?C1)a`, "callouts are"},
		{`\N{U+41}`, `\N{name} escapes are`},
	}
	for _, tc := range cases {
		t.Run(tc.pattern, func(t *testing.T) {
			want := `nil failed to compile regex "` + tc.pattern + `": ` + tc.what + ` not supported by caddy-resty's regex engines`
			code := fmt.Sprintf(`local m, err = ngx.re.match("ab", %q) say(m, " ", err)`, tc.pattern)
			if got := runRe(t, code); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			// find and gsub report the same error as their third value.
			code = fmt.Sprintf(`local a, b, err = ngx.re.gsub("ab", %q, "") say(err)`, tc.pattern)
			if got := runRe(t, code); got != want[4:] {
				t.Errorf("gsub: got %s", got)
			}
		})
	}
	runReCases(t, []reCase{
		{"J option", `say(select(2, ngx.re.match("a", "a", "J")))`, `failed to compile regex "a": the J (JavaScript compatibility) option is not supported by caddy-resty's regex engines`},
		{"DFA with look-ahead", `say(select(2, ngx.re.match("a", "(?=a)", "d")))`, `failed to compile regex "(?=a)": the d (DFA) option together with look-around, back-references, atomic groups, possessive quantifiers, conditionals or \K is not supported by caddy-resty's regex engines`},
		{"missing group", `say(select(2, ngx.re.match("a", [[(a)\2]])))`, `pcre_compile() failed: reference to non-existent subpattern in "(a)\2"`},
		{"missing name", `say(select(2, ngx.re.match("a", [[(?<x>a)\k<y>]])))`, `pcre_compile() failed: reference to non-existent subpattern in "(?<x>a)\k<y>"`},
		{"three branches", `say(select(2, ngx.re.match("a", [[(a)?(?(1)a|b|c)]])))`, `pcre_compile() failed: conditional group contains more than two branches in "(a)?(?(1)a|b|c)"`},
		{"syntax error after look-ahead", `say(select(2, ngx.re.match("a", [[(?=a)(]])))`, `pcre_compile() failed: missing ) in "(?=a)("`},
	})
}

// catastrophic is a pattern whose backtracking is exponential in the
// length of a subject of "a"s that does not match.
const catastrophic = `^(?=a)(\w+\s?)*$`

// TestNgxReMatchLimit checks that a backtracking match that runs past its
// time limit fails as PCRE's match limit does, in every function.
func TestNgxReMatchLimit(t *testing.T) {
	L, out := newReState(t, NewRegexCache(0))
	defer L.Close()
	subj := strings.Repeat("a", 40) + "!"
	code := fmt.Sprintf(`
local s, re = %q, %q
say(ngx.re.match(s, re))
say(ngx.re.find(s, re))
say(ngx.re.gsub(s, re, ""))
local it = ngx.re.gmatch(s, re)
say(it())
`, subj, catastrophic)
	lib := newReLib(NewRegexCache(0))
	lib.limit = func() time.Duration { return 20 * time.Millisecond }
	ngx := L.GetGlobal("ngx").(*lua.LTable)
	ngx.RawSetString("re", lib.open(L))
	if err := L.DoString(code); err != nil {
		t.Fatal(err)
	}
	want := "nilpcre_exec() failed: -8\nnilnilpcre_exec() failed: -8\nnilnilpcre_exec() failed: -8\nnilpcre_exec() failed: -8\n"
	if out.String() != want {
		t.Fatalf("got %q", out.String())
	}
}

// TestNgxReBudget runs a catastrophic match in a pool: the run ends with
// the budget error instead of hanging, and the state serves again.
func TestNgxReBudget(t *testing.T) {
	p := newTestPool(t, Config{Timeout: 150 * time.Millisecond})
	code := fmt.Sprintf(`local m, err = ngx.re.match(string.rep("a", 40) .. "!", %q) ngx.print(err)`, catastrophic)
	res, _ := run(t, p, PhaseContent, code)
	if res.Err == nil || !res.Err.(*Error).Timeout {
		t.Fatalf("want the budget error, got %+v", res)
	}
	res, w := run(t, p, PhaseContent, `ngx.print(ngx.re.find("xab", "(?<=a)b"))`)
	if res.Err != nil || w.body.String() != "33" {
		t.Fatalf("after: %+v %q", res, w.body.String())
	}
}

func TestNgxReErrors(t *testing.T) {
	runReCases(t, []reCase{
		{"bad arg 1", `say(select(2, pcall(ngx.re.match, nil, "a")))`, `<string>:1: bad argument #1 to 'match' (string expected, got nil)`},
		{"bad arg 2", `say(select(2, pcall(ngx.re.find, "a", {})))`, `<string>:1: bad argument #2 to 'find' (string expected, got table)`},
		{"no value", `say(select(2, pcall(ngx.re.gsub, "a")))`, `<string>:1: bad argument #2 to 'gsub' (string expected, got no value)`},
		{"bad options type", `say(select(2, pcall(ngx.re.match, "a", "a", {})))`, `<string>:1: bad argument #3 to 'match' (string expected, got table)`},
		{"bad ctx type", `say(select(2, pcall(ngx.re.match, "a", "a", "", "x")))`, `<string>:1: bad argument #4 to 'match' (table expected, got string)`},
		{"bad nth", `say(select(2, pcall(ngx.re.find, "a", "a", "", nil, "x")))`, `<string>:1: bad argument #5 to 'find' (number expected, got string)`},
		{"unknown flag", `say(select(2, pcall(ngx.re.match, "a", "a", "Hm")))`, `<string>:1: unknown flag "H" (flags "Hm")`},
		{"gmatch bad arg", `say(select(2, pcall(ngx.re.gmatch, "a", nil)))`, `<string>:1: bad argument #2 to 'gmatch' (string expected, got nil)`},
		{"missing paren", `say(select(2, ngx.re.match("a", "(a")))`, `pcre_compile() failed: missing ) in "(a"`},
		{"unmatched paren", `say(select(2, ngx.re.match("a", "a)")))`, `pcre_compile() failed: unmatched parentheses in "a)"`},
		{"missing bracket", `say(select(2, ngx.re.match("a", "[a")))`, `pcre_compile() failed: missing terminating ] for character class in "[a"`},
		{"nothing to repeat", `say(select(2, ngx.re.match("a", "*a")))`, `pcre_compile() failed: nothing to repeat in "*a"`},
		{"range out of order", `say(select(2, ngx.re.match("a", "[z-a]")))`, `pcre_compile() failed: range out of order in character class in "[z-a]"`},
		{"bad escape", `say(select(2, ngx.re.match("a", "\\y")))`, `pcre_compile() failed: unrecognized character follows \ in "\y"`},
		{"trailing backslash", `say(select(2, ngx.re.match("a", "a\\")))`, `pcre_compile() failed: \ at end of pattern in "a\"`},
		{"quantifier order", `say(select(2, ngx.re.match("a", "a{3,2}")))`, `pcre_compile() failed: numbers out of order in {} quantifier in "a{3,2}"`},
		{"byte mode big code point", `say(select(2, ngx.re.match("a", "\\x{100}")))`, `pcre_compile() failed: character value in \x{} or \o{} is too large in "\x{100}"`},
		{"bad property", `say(select(2, ngx.re.match("a", "\\p{Foo}", "u")))`, `pcre_compile() failed: unknown property name after \P or \p in "\p{Foo}"`},
		{"bad posix", `say(select(2, ngx.re.match("a", "[[:foo:]]")))`, `pcre_compile() failed: unknown POSIX class name in "[[:foo:]]"`},
		{"bad group name", `say(select(2, ngx.re.match("a", "(?<1a>x)")))`, `pcre_compile() failed: group name must start with a non-digit in "(?<1a>x)"`},
	})
}

// TestNgxReConcurrent shares one cache between Lua states on many
// goroutines (run with -race).
func TestNgxReConcurrent(t *testing.T) {
	cache := NewRegexCache(16)
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			L, out := newReState(t, cache)
			defer L.Close()
			code := fmt.Sprintf(`
for i = 1, 200 do
  local pat = "(\\d+)-" .. (i %% 20)
  local m = ngx.re.match("x 12-" .. (i %% 20), pat, "jo")
  assert(m and m[1] == "12", "match " .. i)
  local s, n = ngx.re.gsub("a\nb\n", "^", "> ", "m")
  assert(s == "> a\n> b\n" and n == 2)
  local from = ngx.re.find("foo bar", [[\bbar]], "o", {pos = 2})
  assert(from == 5)
  local cnt = 0
  for m in ngx.re.gmatch("a1b2c3", "[a-z](\\d)", "jo") do cnt = cnt + 1 end
  assert(cnt == 3)
end
say("ok %d")`, g)
			if err := L.DoString(code); err != nil {
				errs <- err.Error()
				return
			}
			if got := out.String(); got != fmt.Sprintf("ok %d\n", g) {
				errs <- got
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestNgxReRawBytes checks, from Lua, the byte-mode fast path that matches
// non-ASCII subjects without their Latin-1 expansion (see also
// pcre.TestRawBytes).
func TestNgxReRawBytes(t *testing.T) {
	runReCases(t, []reCase{
		{"gsub", `say(p(ngx.re.gsub("é1é22", [[\d+]], "<$0>")))`, `é<1>é<22>,2`},
		{"find offsets", `say(p(ngx.re.find("éé12", [[\d+]])))`, `5,6`},
		{"ctx pos", `local ctx = {pos = 2} say(ngx.re.match("1é2", [[\d]], "", ctx)[0], ctx.pos)`, `25`},
		{"word boundary next to high bytes", `say(p(ngx.re.find("éab", [[\bab\b]])))`, `3,4`},
		{"split", `say(list(ngx.re.split("é,ü,", ",")))`, `2:é|ü`},
	})
}

func TestNgxReMore(t *testing.T) {
	runReCases(t, []reCase{
		{"dupnames template uses the matched group", `say(p(ngx.re.sub("b", "(?<n>a)|(?<n>b)", "[${n}]", "D")))`, `[b],1`},
		{"dupnames none matched", `local m = ngx.re.match("c", "(?<n>a)|(?<n>b)|c", "D") say(m[0], m.n)`, `cnil`},
		{"x mode hash in class", `say(ngx.re.match("a#b", "a[#]b # comment", "x")[0])`, `a#b`},
		{"x mode quote keeps spaces", `say(ngx.re.match("a b", [[\Qa b\E]], "x")[0])`, `a b`},
		{"res_table reused", `local res = {} ngx.re.match("ab", "(a)(b)", "", nil, res) say(res[2]) local m = ngx.re.match("xy", "x", "", nil, {}) say(m[0])`, "b\nx"},
		{"find returns numbers", `local a, b = ngx.re.find("abc", "b") say(type(a), type(b))`, `numbernumber`},
		{"gsub function gets named", `say(p(ngx.re.gsub("k=v", "(?<k>\\w)=(?<v>\\w)", function(m) return m.v .. "=" .. m.k end)))`, `v=k,1`},
		{"gsub anchored", `say(p(ngx.re.gsub("aab", "a", "x", "a")))`, `xxb,2`},
		{"empty subject", `say(p(ngx.re.find("", "^$")), " ", p(ngx.re.gsub("", "", "x")), " ", p(ngx.re.gsub("", "a", "x")))`, `1,0 x,1 ,0`},
		{"long alternation literal", `say(p(ngx.re.find("the quick brown fox", "fox|dog|cat")))`, `17,19`},
		{"case insensitive utf8", `say(p(ngx.re.find("ÉCOLE", "école", "iu")))`, `1,6`},
		{"dollar in middle alternative", `say(p(ngx.re.find("ab\n", "b$|z")))`, `2,2`},
		{"m and $ with CRLF", `say(p(ngx.re.find("a\r\nb", "a$", "m")))`, `nil`},
	})
}

func BenchmarkNgxReMatch(b *testing.B) {
	reBenchLua(b, `local m = ngx.re.match("GET /api/v1/users/12345 HTTP/1.1", [[^(\w+) /api/v(\d+)/users/(\d+)]], "jo")`)
}

// BenchmarkNgxReMatchLookahead is BenchmarkNgxReMatch with a look-ahead,
// which runs on regexp2.
func BenchmarkNgxReMatchLookahead(b *testing.B) {
	reBenchLua(b, `local m = ngx.re.match("GET /api/v1/users/12345 HTTP/1.1", [[^(\w+) /api/v(\d+)/users/(\d+)(?= )]], "jo")`)
}

func BenchmarkNgxReMatchNamed(b *testing.B) {
	reBenchLua(b, `local m = ngx.re.match("user=alice; id=42", [[user=(?<user>\w+); id=(?<id>\d+)]], "jo")`)
}

func BenchmarkNgxReFind(b *testing.B) {
	reBenchLua(b, `local from, to = ngx.re.find("GET /api/v1/users/12345 HTTP/1.1", [[\d+]], "jo")`)
}

func BenchmarkNgxReGsub(b *testing.B) {
	reBenchLua(b, `local s, n = ngx.re.gsub("the quick brown fox jumps over the lazy dog", [[o]], "0", "jo")`)
}

func BenchmarkNgxReGsubTemplate(b *testing.B) {
	reBenchLua(b, `local s, n = ngx.re.gsub("a=1, b=2, c=3", [[(\w)=(\d)]], "$2=$1", "jo")`)
}

// reBenchLua defines code as a (non-vararg) Lua function once and calls it
// b.N times.
func reBenchLua(b *testing.B, code string) {
	L, _ := newReState(b, NewRegexCache(0))
	defer L.Close()
	if err := L.DoString("function __bench()\n" + code + "\nend"); err != nil {
		b.Fatal(err)
	}
	fn := L.GetGlobal("__bench")
	// Warm the cache.
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		L.Push(fn)
		L.Call(0, 0)
	}
}

// TestNgxReHooks checks the check hook, called before each match attempt,
// and the maxLen bound of the strings sub and gsub build.
func TestNgxReHooks(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	r := newReLib(NewRegexCache(0))
	calls, limit := 0, -1
	r.check = func(L *lua.LState) {
		calls++
		if limit >= 0 && calls > limit {
			L.RaiseError("budget exceeded")
		}
	}
	r.maxLen = 10
	ngx := L.NewTable()
	ngx.RawSetString("re", r.open(L))
	L.SetGlobal("ngx", ngx)
	L.PreloadModule("ngx.re", func(L *lua.LState) int {
		L.Push(r.openModule(L))
		return 1
	})
	run := func(code string) string {
		t.Helper()
		if err := L.DoString("result = " + code); err != nil {
			t.Fatal(err)
		}
		return L.ToStringMeta(L.GetGlobal("result")).String()
	}
	for _, tc := range []struct {
		code  string
		want  string
		calls int
	}{
		{`table.concat({ngx.re.gsub("aaa", "a", "b")}, ",")`, "bbb,3", 4},
		{`table.concat({ngx.re.sub("aaa", "a", "b")}, ",")`, "baa,1", 1},
		{`table.concat({ngx.re.gsub("abc", "x", "y")}, ",")`, "abc,0", 1},
		{`(function() local n = 0 for m in ngx.re.gmatch("a1b2", "\\d") do n = n + 1 end return n end)()`, "2", 3},
		{`#require("ngx.re").split("a,b,c", ",")`, "3", 3},
		// The bound applies to the result only: exactly maxLen is fine, a
		// subject without a match is returned as is.
		{`ngx.re.gsub("aaaaa", "a", "bb")`, "bbbbbbbbbb", 6},
		{`ngx.re.gsub(("x"):rep(20), "y", "z")`, strings.Repeat("x", 20), 1},
		{`select(2, pcall(ngx.re.gsub, "aaaaaa", "a", "bb"))`, "<string>:1: string length overflow", 6},
		{`select(2, pcall(ngx.re.gsub, "aaaaaa", "a", function() return "bb" end))`, "<string>:1: string length overflow", 6},
		{`select(2, pcall(ngx.re.sub, "abc", "b", ("$0"):rep(1000)))`, "<string>:1: string length overflow", 1},
		{`select(2, pcall(ngx.re.sub, ("x"):rep(20), "^x", ""))`, "<string>:1: string length overflow", 1},
	} {
		calls = 0
		if got := run(tc.code); got != tc.want || calls != tc.calls {
			t.Errorf("%s: got %q with %d checks, want %q with %d", tc.code, got, calls, tc.want, tc.calls)
		}
	}
	// A check that raises stops the long operations.
	limit = 5
	for _, code := range []string{
		`select(2, pcall(ngx.re.gsub, ("a"):rep(100), "a", "b"))`,
		`select(2, pcall(function() for m in ngx.re.gmatch(("a"):rep(100), "a") do end end))`,
		`select(2, pcall(require("ngx.re").split, ("a,"):rep(100), ","))`,
	} {
		calls = 0
		if got := run(code); got != "<string>:1: budget exceeded" || calls != limit+1 {
			t.Errorf("%s: got %q after %d checks", code, got, calls)
		}
	}
}
