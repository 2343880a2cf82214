package cjson

import (
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// prelude makes cjson and cjson_safe globals and defines say (prints its
// arguments, tables and functions by their type, and a newline), p (its
// arguments joined by commas) and perr (the error f raises). perr is on
// line 2: errors raised through it read "test:2: ...".
const prelude = `cjson = require "cjson" cjson_safe = require "cjson.safe" function say(...) local parts = {} for i = 1, select("#", ...) do local v = select(i, ...) local t = type(v) parts[i] = (t == "table" or t == "function") and t or tostring(v) end ngx.say(table.concat(parts)) end function p(...) local parts = {} for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end return table.concat(parts, ",") end
function perr(f, ...) local ok, err = pcall(f, ...) if ok then return "no error" end return err end
`

// runCjson runs code after the prelude on a fresh pool configured by cfg,
// with the globals in globals set, and returns what it printed (without
// the last newline), or "ERROR: " and the error.
func runCjson(t testing.TB, cfg luaplugin.Config, globals map[string]lua.LValue, code string) string {
	t.Helper()
	p := luatest.NewPool(t, cfg)
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(vm)
	for k, v := range globals {
		vm.L.SetGlobal(k, v)
	}
	req, w := luatest.NewRequest()
	res := vm.Run(luatest.Compile(t, prelude+code), req, luaplugin.PhaseContent)
	if res.Err != nil {
		return "ERROR: " + res.Err.Error()
	}
	return strings.TrimSuffix(w.Body.String(), "\n")
}

type cjsonCase struct {
	name string
	code string
	want string
}

func runCjsonCases(t *testing.T, cases []cjsonCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := runCjson(t, luaplugin.Config{}, nil, tc.code); got != tc.want {
				t.Errorf("code:\n%s\ngot:\n%s\nwant:\n%s", tc.code, got, tc.want)
			}
		})
	}
}

func TestCjsonEncode(t *testing.T) {
	runCjsonCases(t, []cjsonCase{
		{"null", `say(cjson.encode(cjson.null), cjson.encode(ngx.null), cjson.encode(nil))`, `nullnullnull`},
		{"null is ngx.null", `say(cjson.null == ngx.null)`, `true`},
		{"booleans", `say(cjson.encode(true), cjson.encode(false))`, `truefalse`},
		{"empty table", `say(cjson.encode({}))`, `{}`},
		{"integer", `say(cjson.encode(10), " ", cjson.encode(-3), " ", cjson.encode(0), " ", cjson.encode(cjson.decode("-0")), " ", cjson.encode(2^53))`, `10 -3 0 -0 9.007199254741e+15`},
		{"floats", `say(cjson.encode(1/3), " ", cjson.encode(0.1), " ", cjson.encode(1e15), " ", cjson.encode(123456789012345), " ", cjson.encode(1.5e-7))`,
			`0.33333333333333 0.1 1e+15 1.2345678901234e+14 1.5e-07`},
		{"string", `say(cjson.encode("hello"))`, `"hello"`},
		{"escapes", `say(cjson.encode("a\"b\\c/d\n\r\t\b\f\1\127é"))`, `"a\"b\\c\/d\n\r\t\b\f\u0001\u007fé"`},
		{"no slash escape", `cjson.encode_escape_forward_slash(false) say(cjson.encode("a/b"))`, `"a/b"`},
		{"array", `say(cjson.encode({1, 2, 3}), cjson.encode({"a", {true, false}}))`, `[1,2,3]["a",[true,false]]`},
		{"object single key", `say(cjson.encode({a = 1}), cjson.encode({a = {b = "c"}}))`, `{"a":1}{"a":{"b":"c"}}`},
		{"object insertion order", `local t = {} t.z = 1 t.a = 2 t.m = 3 say(cjson.encode(t))`, `{"z":1,"a":2,"m":3}`},
		{"number keys as strings", `say(cjson.encode({[1] = "a", x = 1}):find('"1":"a"', 1, true) ~= nil, cjson.encode({[1.5] = "a"}), cjson.encode({[-1] = "a"}), cjson.encode({[0] = "z"}))`,
			`true{"1.5":"a"}{"-1":"a"}{"0":"z"}`},
		{"sparse ok", `say(cjson.encode({[3] = "sparse"}), cjson.encode({[1] = "one", [4] = "x"}))`, `[null,null,"sparse"]["one",null,null,"x"]`},
		{"sparse safe limit", `local t = {} t[10] = 1 say(cjson.encode(t))`, `[null,null,null,null,null,null,null,null,null,1]`},
		{"excessively sparse", `say(perr(cjson.encode, {[1] = 1, [20] = 2}))`, `Cannot serialise table: excessively sparse array`},
		{"sparse convert", `say(p(cjson.encode_sparse_array(true))) say(cjson.encode({[20] = 2}))`, "true,2,10\n{\"20\":2}"},
		{"sparse ratio 0 allows all", `cjson.encode_sparse_array(false, 0) local t = {} t[15] = 1 say(#cjson.encode(t))`, `73`},
		{"sparse settings", `say(p(cjson.encode_sparse_array(true, 2, 3)), " ", cjson.encode({[3] = "x"}), " ", cjson.encode({[1] = "one", [5] = "x"}) == '{"1":"one","5":"x"}' or cjson.encode({[1] = "one", [5] = "x"}) == '{"5":"x","1":"one"}')`,
			`true,2,3 [null,null,"x"] true`},
		{"numeric string key is object", `say(cjson.encode({["2"] = "x"}))`, `{"2":"x"}`},
		{"bad key", `say(perr(cjson.encode, {[false] = "wrong"}))`, `Cannot serialise boolean: table key must be a number or string`},
		{"function", `say(perr(cjson.encode, function() end))`, `Cannot serialise function: type not supported`},
		{"function in table", `say(perr(cjson.encode, {f = print}))`, `Cannot serialise function: type not supported`},
		{"userdata", `say(perr(cjson.encode, newproxy()))`, `Cannot serialise userdata: type not supported`},
		{"thread", `say(perr(cjson.encode, coroutine.create(print)))`, `Cannot serialise thread: type not supported`},
		{"nan", `say(perr(cjson.encode, 0/0), " ", perr(cjson.encode, 1/0), " ", perr(cjson.encode, {-1/0}))`,
			`Cannot serialise number: must not be NaN or Infinity Cannot serialise number: must not be NaN or Infinity Cannot serialise number: must not be NaN or Infinity`},
		{"invalid numbers null", `say(cjson.encode_invalid_numbers("null")) say(cjson.encode({0/0, 1/0}))`, "null\n[null,null]"},
		{"invalid numbers on", `say(cjson.encode_invalid_numbers(true)) say(cjson.encode({0/0, 1/0, -1/0}))`, "true\n[NaN,Infinity,-Infinity]"},
		{"invalid numbers off", `cjson.encode_invalid_numbers(true) say(cjson.encode_invalid_numbers("off"))`, `false`},
		{"invalid numbers bad option", `say(perr(cjson.encode_invalid_numbers, -2))`, `bad argument #1 to '?' (invalid option '-2')`},
		{"precision", `say(cjson.encode_number_precision(3)) say(cjson.encode(1/3), " ", cjson.encode(1234.5), " ", cjson.encode(100))`, "3\n0.333 1.23e+03 100"},
		{"precision 16", `cjson.encode_number_precision(16) say(cjson.encode(0.1), " ", cjson.encode(2^53))`, `0.1 9007199254740992`},
		{"precision bad", `say(perr(cjson.encode_number_precision, 0)) say(perr(cjson.encode_number_precision, "five"))`,
			"bad argument #1 to '?' (expected integer between 1 and 16)\nbad argument #1 to '?' (number expected, got string)"},
		{"max depth", `say(cjson.encode_max_depth(5)) say(cjson.encode({{{{{"nested"}}}}})) say(perr(cjson.encode, {{{{{{"nested"}}}}}}))`,
			"5\n[[[[[\"nested\"]]]]]\nCannot serialise, excessive nesting (6)"},
		{"max depth object", `cjson.encode_max_depth(5) say(cjson.encode({a={b={c={d={e="nested"}}}}})) say(perr(cjson.encode, {a={b={c={d={e={f="nested"}}}}}}))`,
			"{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":\"nested\"}}}}}\nCannot serialise, excessive nesting (6)"},
		{"cycle", `local t = {} t[1] = t say(perr(cjson.encode, t))`, `Cannot serialise, excessive nesting (1001)`},
		{"empty_array", `say(cjson.encode(cjson.empty_array), cjson.encode({a = cjson.empty_array}))`, `[]{"a":[]}`},
		{"empty_array_mt", `say(cjson.encode(setmetatable({}, cjson.empty_array_mt)), cjson.encode(setmetatable({1, 2}, cjson.empty_array_mt)))`, `[][1,2]`},
		{"empty_array_mt on object (as lua_cjson.c)", `say(cjson.encode(setmetatable({a = 1}, cjson.empty_array_mt)))`, `[]`},
		{"array_mt", `local t = {"one", "two", nil, "four"} say(cjson.encode(setmetatable(t, cjson.array_mt)), cjson.encode(setmetatable({}, cjson.array_mt)))`, `["one","two",null,"four"][]`},
		{"array_mt ignores hash keys", `local t = setmetatable({1, 2}, cjson.array_mt) t.foo = "bar" say(cjson.encode(t))`, `[1,2]`},
		{"empty table as array", `say(cjson.encode_empty_table_as_object(false)) say(cjson.encode({}), cjson.encode({a = {}}))`, "false\n[]{\"a\":[]}"},
		{"empty table option on string", `say(cjson.encode_empty_table_as_object("off"), cjson.encode({}), cjson.encode_empty_table_as_object("on"), cjson.encode({}))`, `false[]true{}`},
		{"metatables shared", `local c2 = cjson.new() say(c2.array_mt == cjson.array_mt, cjson_safe.empty_array_mt == cjson.empty_array_mt, c2.empty_array == cjson.empty_array)`, `truetruetrue`},
		{"arg count", `say(perr(cjson.encode)) say(perr(cjson.encode, 1, 2))`,
			"bad argument #1 to '?' (expected 1 argument)\nbad argument #1 to '?' (expected 1 argument)"},
		{"keep buffer", `say(cjson.encode_keep_buffer(false)) say(cjson.encode({1})) say(cjson.encode_keep_buffer(true)) say(cjson.encode({2}), cjson.encode("x"))`,
			"false\n[1]\ntrue\n[2]\"x\""},
		{"keep buffer too many args", `say(perr(cjson.encode_keep_buffer, nil, true))`, `bad argument #2 to '?' (found too many arguments)`},
		{"sparse bad option", `say(perr(cjson.encode_sparse_array, "not quite on"))`, `bad argument #1 to '?' (invalid option 'not quite on')`},
		{"max depth bad", `say(perr(cjson.encode_max_depth, "wrong")) say(perr(cjson.decode_max_depth, "0"))`,
			"bad argument #1 to '?' (number expected, got string)\nbad argument #1 to '?' (expected integer between 1 and 2147483647)"},
		{"getters", `say(p(cjson.encode_sparse_array()), " ", cjson.encode_max_depth(), " ", cjson.decode_max_depth(), " ", cjson.encode_number_precision(), " ", cjson.encode_keep_buffer(), " ", cjson.encode_invalid_numbers(), " ", cjson.decode_invalid_numbers(), " ", cjson.encode_empty_table_as_object(), " ", cjson.decode_array_with_array_mt(), " ", cjson.encode_escape_forward_slash())`,
			`false,2,10 1000 1000 14 true false true true false true`},
		{"module fields", `say(cjson._NAME, " ", cjson._VERSION, " ", cjson_safe._NAME)`, `cjson 2.1.0.11 cjson`},
		{"new is independent", `local c2 = cjson.new() c2.encode_number_precision(3) say(c2.encode(1/3), " ", cjson.encode(1/3))`, `0.333 0.33333333333333`},
		{"safe encode", `say(cjson_safe.encode(true)) say(cjson_safe.encode(function() end))`, "true\nnilCannot serialise function: type not supported"},
		{"safe encode arg count raises", `say(perr(cjson_safe.encode, "arg1", "arg2"))`, `bad argument #1 to '?' (expected 1 argument)`},
		{"safe new stays safe", `say(cjson_safe.new().decode("Oops"))`, `nilExpected value but found invalid token at character 1`},
		{"all octets", `local t = {} for i = 0, 255 do t[#t + 1] = string.char(i) end
			local s = cjson.encode(table.concat(t))
			local want = [=["\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f !\"#$%&'()*+,-.\/0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_` + "`" + `abcdefghijklmnopqrstuvwxyz{|}~\u007f]=]
			local hi = {} for i = 128, 255 do hi[#hi + 1] = string.char(i) end
			say(#s, " ", s == want .. table.concat(hi) .. '"')`, `406 true`},
	})
}

func TestCjsonDecode(t *testing.T) {
	runCjsonCases(t, []cjsonCase{
		{"string", `say(cjson.decode('"test string"'))`, `test string`},
		{"numbers", `local t = cjson.decode('[ 0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10 ]') say(table.concat(t, ","))`, `0,-5000,-1,0.0003,1023.2,0`},
		{"null", `say(cjson.decode('null') == cjson.null, cjson.decode('true'), cjson.decode('false'))`, `truetruefalse`},
		{"numeric keys stay strings", `local t = cjson.decode('{ "1": "one", "3": "three" }') say(t["1"], t["3"], t[1])`, `onethreenil`},
		{"object", `local t = cjson.decode('{ "a": "a", "b": {"c": [1, 2]} }') say(t.a, t.b.c[2])`, `a2`},
		{"array with null", `local t = cjson.decode('[ "one", null, "three" ]') say(t[1], t[2] == cjson.null, t[3])`, `onetruethree`},
		{"decode_json_null off", `cjson.decode_json_null(false) local t = cjson.decode('{"a":null,"b":[1,null,3]}') say(t.a, t.b[2], t.b[3])`, `nilnil3`},
		{"number argument", `say(cjson.decode(123))`, `123`},
		{"utf16", `say(perr(cjson.decode, '\0"\0"'), " ", perr(cjson.decode, '"\0"\0'))`, `JSON parser does not support UTF-16 or UTF-32 JSON parser does not support UTF-16 or UTF-32`},
		{"partial", `say(perr(cjson.decode, '{ "unexpected eof": '))`, `Expected value but found T_END at character 21`},
		{"extra comma", `say(perr(cjson.decode, '{ "extra data": true }, false'))`, `Expected the end but found T_COMMA at character 23`},
		{"bad escape", `say(perr(cjson.decode, [[ { "bad escape \q code" } ]]))`, `Expected object key string but found invalid escape code at character 16`},
		{"bad unicode", `say(perr(cjson.decode, [[ { "bad unicode \u0f6 escape" } ]]))`, `Expected object key string but found invalid unicode escape code at character 17`},
		{"bad keyword", `say(perr(cjson.decode, ' [ "bad barewood", test ] '))`, `Expected value but found invalid token at character 20`},
		{"bad number 1", `say(perr(cjson.decode, '[ -+12 ]'))`, `Expected value but found invalid number at character 3`},
		{"bad number 2", `say(perr(cjson.decode, '-v'))`, `Expected value but found invalid number at character 1`},
		{"bad exponent", `say(perr(cjson.decode, '[ 0.4eg10 ]'))`, `Expected comma or array end but found invalid token at character 6`},
		{"oops", `say(perr(cjson.decode, 'Oops'))`, `Expected value but found invalid token at character 1`},
		{"empty", `say(perr(cjson.decode, ''))`, `Expected value but found T_END at character 1`},
		{"colon", `say(perr(cjson.decode, '{"a" 1}'))`, `Expected colon but found T_INTEGER at character 6`}, // lua-cjson 2.1.0.14+: T_INTEGER,
		{"object end", `say(perr(cjson.decode, '{"a":1 "b"}'))`, `Expected comma or object end but found T_STRING at character 8`},
		{"unterminated string", `say(perr(cjson.decode, '"abc'))`, `Expected value but found unexpected end of string at character 5`},
		{"max depth", `say(cjson.decode_max_depth(5)) say(#cjson.decode('[[[[[ "nested" ]]]]]'))
			say(perr(cjson.decode, '[[[[[[ "nested" ]]]]]]'))
			say(perr(cjson.decode, '{"a":{"b":{"c":{"d":{"e":{"f":"nested"}}}}}}'))`,
			"5\n1\nFound too many nested data structures (6) at character 6\nFound too many nested data structures (6) at character 26"},
		{"deep default", `say(perr(cjson.decode, string.rep("[", 1100) .. "1100" .. string.rep("]", 1100)))`, `Found too many nested data structures (1001) at character 1001`},
		{"invalid numbers accepted", `local t = cjson.decode('[ 0123, 00.33, +Inf, Inf, -Infinity, 0x6.ffp1, 0X10 ]') say(t[1], " ", t[2], " ", t[3], " ", t[4], " ", t[5], " ", t[6], " ", t[7])`,
			`123 0.33 inf inf -inf 13.9921875 16`},
		{"nan accepted", `local t = cjson.decode('[ +NaN, NaN, -NaN, nan ]') say(t[1] ~= t[1], t[2] ~= t[2], t[3] ~= t[3], t[4] ~= t[4])`, `truetruetruetrue`},
		{"infrared", `say(perr(cjson.decode, 'Infrared'))`, `Expected the end but found invalid token at character 4`},
		{"noodle", `say(perr(cjson.decode, 'Noodle'))`, `Expected value but found invalid token at character 1`},
		{"strict numbers", `say(cjson.decode_invalid_numbers(false))
			say(perr(cjson.decode, '0x6')) say(perr(cjson.decode, '[ 0123, 00.33 ]')) say(perr(cjson.decode, '[ +Inf, Inf, -Inf ]'))
			say(perr(cjson.decode, '[ +NaN, NaN, -NaN ]')) say(cjson.decode('-.5'))`,
			"false\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 3\nExpected value but found invalid token at character 3\nExpected value but found invalid token at character 3\n-0.5"},
		{"decode invalid numbers on", `say(cjson.decode_invalid_numbers("on"))`, `true`},
		{"unicode escapes", `say(cjson.decode([["\uF800"]]) == "\239\160\128", cjson.decode([["\u00e9\u0041\ud83d\ude00"]]))`, "trueéA😀"},
		{"bad surrogates", `say(perr(cjson.decode, [["\uDC00\uD800"]])) say(perr(cjson.decode, [["\uDB00\uDB00"]])) say(perr(cjson.decode, [["\uDB00"]])) say(perr(cjson.decode, [["\uDB00\uD"]]))`,
			"Expected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2"},
		{"escapes", `say(cjson.decode([["a\"b\\c\/d\n\t\b\f\r"]]) == "a\"b\\c/d\n\t\b\f\r")`, `true`},
		{"all octets round trip", `local t = {} for i = 0, 255 do t[#t + 1] = string.char(i) end local s = table.concat(t)
			say(cjson.decode(cjson.encode(s)) == s)`, `true`},
		{"raw control chars allowed", `say(#cjson.decode('"a\tb"'))`, `3`},
		{"nul ends input", `say(cjson.decode('12\0garbage'))`, `12`},
		{"whitespace", `say(cjson.decode(' \t\r\n[ 1 ,\n2 ] ')[2])`, `2`},
		{"vertical tab is not whitespace", `say(perr(cjson.decode, '\v1'))`, `Expected value but found invalid token at character 1`},
		{"duplicate keys last wins", `say(cjson.decode('{"a":1,"a":2}').a)`, `2`},
		{"array_mt on decode", `say(cjson.decode_array_with_array_mt(true)) local t = cjson.decode('{"my_array":[]}') say(getmetatable(t.my_array) == cjson.array_mt, cjson.encode(t))`,
			"true\ntrue{\"my_array\":[]}"},
		{"default no array_mt", `local t = cjson.decode('{"my_array":[]}') say(getmetatable(t.my_array), cjson.encode(t))`, `nil{"my_array":{}}`},
		{"bad arg", `say(perr(cjson.decode, nil)) say(perr(cjson.decode)) say(perr(cjson.decode, "1", "2"))`,
			"bad argument #1 to '?' (string expected, got nil)\nbad argument #1 to '?' (expected 1 argument)\nbad argument #1 to '?' (expected 1 argument)"},
		{"safe decode", `say(cjson_safe.decode("Oops")) say(cjson_safe.decode('{"a":[1,2]}').a[2]) say(cjson_safe.decode(nil))`,
			"nilExpected value but found invalid token at character 1\n2\nnilbad argument #1 to 'decode' (string expected, got nil)"},
		{"big numbers", `say(cjson.decode("12345678901234567890"), " ", cjson.encode(cjson.decode("-0")), " ", cjson.decode("1e400"), " ", cjson.decode("1.5E+2"))`, `1.2345678901235e+19 -0 inf 150`},
		{"round trip", `local s = '{"a":[1,2.5,"x",true,false,null,{"b":{}}]}' say(cjson.encode(cjson.decode(s)))`, `{"a":[1,2.5,"x",true,false,null,{"b":{}}]}`},
	})
}

func BenchmarkCjsonEncodeSmall(b *testing.B) {
	benchCjson(b, `local s = cjson.encode(obj)`)
}

func BenchmarkCjsonDecodeSmall(b *testing.B) {
	benchCjson(b, `local t = cjson.decode(json)`)
}

func benchCjson(b *testing.B, code string) {
	p := luatest.NewPool(b, luaplugin.Config{Timeout: time.Hour})
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	req, _ := luatest.NewRequest()
	res := vm.Run(luatest.Compile(b, `
cjson = require "cjson"
obj = {id = 12345, name = "alice", email = "alice@example.com", active = true,
       roles = {"admin", "dev"}, score = 98.6, tags = {}, meta = {created = 1700000000, note = "a/b \"q\""}}
json = cjson.encode(obj)
function __bench()
`+code+`
end`), req, luaplugin.PhaseContent)
	if res.Err != nil {
		b.Fatal(res.Err)
	}
	L := vm.L
	fn := L.GetGlobal("__bench")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		L.Push(fn)
		L.Call(0, 0)
	}
}

// The depth settings keep at most MaxDepth: a document nested deeper
// fails with lua-cjson's depth error, whatever depth the script asked for.
func TestCjsonDepthClamped(t *testing.T) {
	deep := lua.LString(strings.Repeat("[", 100000))
	got := runCjson(t, luaplugin.Config{Timeout: 10 * time.Second}, map[string]lua.LValue{"deep": deep}, `
		say(cjson.decode_max_depth(2^31-1), " ", cjson.encode_max_depth(2^31-1))
		say(perr(cjson.decode, deep))
		say(cjson_safe.decode_max_depth(2^31-1), cjson_safe.decode(deep))
		say(perr(cjson.decode, string.rep("[", 1000) .. string.rep("]", 1000)) == "no error")
		say(cjson.decode_max_depth(7), " ", cjson.decode_max_depth())
		local t = {}
		local cur = t
		for i = 1, 5000 do
			local n = {}
			cur[1] = n
			cur = n
		end
		say(perr(cjson.encode, t))
		say(cjson_safe.encode_max_depth(2^31-1), cjson_safe.encode(t))
	`)
	want := "1000 1000\n" +
		"Found too many nested data structures (1001) at character 1001\n" +
		"1000nilFound too many nested data structures (1001) at character 1001\n" +
		"true\n" +
		"7 7\n" +
		"Cannot serialise, excessive nesting (1001)\n" +
		"1000nilCannot serialise, excessive nesting (1001)"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// Encode output and decode input are bounded by the pool's MaxStringSize.
func TestCjsonMaxString(t *testing.T) {
	globals := map[string]lua.LValue{
		"s998":    lua.LString(strings.Repeat("a", 998)),
		"s999":    lua.LString(strings.Repeat("a", 999)),
		"ctl":     lua.LString(strings.Repeat("\x01", 100)),
		"ctl200":  lua.LString(strings.Repeat("\x01", 200)),
		"doc1000": lua.LString("[" + strings.Repeat("1,", 498) + "10]"),
		"doc1001": lua.LString("[" + strings.Repeat("1,", 498) + "100]"),
		"spaces":  lua.LString(strings.Repeat(" ", 1001) + "1"),
		"longKey": lua.LString(strings.Repeat("k", 990)),
		"numbers": lua.LNumber(500),
	}
	got := runCjson(t, luaplugin.Config{MaxStringSize: 1000}, globals, `
		say(#cjson.encode(s998))
		say(perr(cjson.encode, s999))
		say(cjson_safe.encode(s999))
		say(#cjson.encode(ctl), " ", perr(cjson.encode, ctl200))
		say(perr(cjson.encode, {[longKey] = "0123456789"}))
		local t = {}
		for i = 1, numbers do t[i] = i end
		say(perr(cjson.encode, t))
		say(cjson_safe.encode({t}))
		say(#cjson.decode(doc1000))
		say(perr(cjson.decode, doc1001))
		say(cjson_safe.decode(doc1001))
		say(perr(cjson.decode, spaces))
		say(#cjson.encode(s998))
	`)
	want := "1000\n" +
		"string length overflow\n" +
		"nilstring length overflow\n" +
		"602 string length overflow\n" +
		"string length overflow\n" +
		"string length overflow\n" +
		"nilstring length overflow\n" +
		"499\n" +
		"string length overflow\n" +
		"nilstring length overflow\n" +
		"string length overflow\n" +
		"1000"
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

// A huge document does not hold the state past the run's time budget:
// encode and decode check it as they go.
func TestCjsonBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds 50 MB documents")
	}
	const budget = 100 * time.Millisecond
	doc := "[" + strings.Repeat("1,", 25<<20) + "1]" // 50 MB, 25 M values
	cfg := luaplugin.Config{Timeout: budget, MaxStringSize: 1 << 30}
	for _, c := range []struct {
		name, code string
	}{
		{"decode", `local t = cjson.decode(doc) say(#t)`},
		{"safe decode", `local t = cjson_safe.decode(doc) say(#t)`},
		{"decode in pcall", `local ok, t = pcall(cjson.decode, doc) say(ok)`},
		// 24 x 1000 x 1000 numbers: a 100 MB document from tables made
		// quickly, which takes a second or more to encode.
		{"encode", `
			local row = {} for i = 1, 1000 do row[i] = 0.1 end
			local block = {} for i = 1, 1000 do block[i] = row end
			local all = {} for i = 1, 24 do all[i] = block end
			say(#cjson.encode(all))`},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			got := runCjson(t, cfg, map[string]lua.LValue{"doc": lua.LString(doc)}, c.code)
			elapsed := time.Since(start)
			if !strings.HasPrefix(got, "ERROR: ") || !strings.Contains(got, "time budget") {
				t.Fatalf("got %.200q, want the budget error", got)
			}
			if elapsed > 10*budget {
				t.Fatalf("stopped after %s (budget %s)", elapsed, budget)
			}
		})
	}
}
