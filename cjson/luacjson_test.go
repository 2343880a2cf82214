package cjson

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// luaCjsonCase is one case of lua-cjson's tests/test.lua (openresty fork):
// call fn (a Lua expression) with args (a Lua list, without braces) and
// expect it to succeed (ok) with the results want, or to raise the error
// want. want is a Lua list; oneOf(a, b) accepts either value.
type luaCjsonCase struct {
	name string
	fn   string
	args string
	ok   bool
	want string
}

// luaCjsonDriver runs the cases one after the other in one state, so a
// setting a case makes holds for the next ones, as in test.lua. It prints
// one line per case: "ok" or what it got.
const luaCjsonDriver = `
json = require "cjson"
json_safe = require "cjson.safe"
Inf = math.huge
NaN = math.huge * 0
local oneOfMT = {}
function oneOf(...) return setmetatable({...}, oneOfMT) end
local function same(a, b)
	if getmetatable(b) == oneOfMT then
		for _, alt in ipairs(b) do if same(a, alt) then return true end end
		return false
	end
	if type(a) ~= type(b) then return false end
	if type(a) == "number" then return a == b or (a ~= a and b ~= b) end
	if type(a) ~= "table" then return a == b end
	for k, v in pairs(a) do if not same(v, b[k]) then return false end end
	for k, v in pairs(b) do if a[k] == nil and not same(nil, v) then return false end end
	return true
end
local function show(v, depth)
	depth = depth or 0
	if type(v) == "string" then
		if #v > 200 then return string.format("%q...(%d bytes)", v:sub(1, 200), #v) end
		return string.format("%q", v)
	end
	if type(v) ~= "table" or depth > 3 then return tostring(v) end
	local parts = {}
	for k, x in pairs(v) do parts[#parts + 1] = "[" .. show(k, depth + 1) .. "]=" .. show(x, depth + 1) end
	table.sort(parts)
	return "{" .. table.concat(parts, ",") .. "}"
end
function pack(...) return {n = select("#", ...), ...} end
function run(fn, args, ok, want)
	local res = {pcall(fn, unpack(args, 1, args.n))}
	local got_ok = table.remove(res, 1)
	local pass = got_ok == ok
	if pass then
		for i = 1, math.max(#res, #want) do
			if not same(res[i], want[i]) then pass = false break end
		end
	end
	if pass then ngx.say("ok") return end
	local parts = {}
	for i = 1, #res do parts[i] = show(res[i]) end
	ngx.say(got_ok and "returned " or "raised ", table.concat(parts, ", "))
end
`

// luaCjsonCases are lua-cjson tests/test.lua's cases, in order. The cases
// that load tests/*.json and utf8.dat (data files of the repository) take
// their data from globals the Go side makes: octets_raw, octets_escaped,
// utf16_escaped and utf8_raw.
var luaCjsonCases = []luaCjsonCase{
	{"Check module name, version", `function() return json._NAME, json._VERSION end`, ``, true, `"cjson", "2.1.0.11"`},
	{"Decode string", `json.decode`, `'"test string"'`, true, `"test string"`},
	{"Decode numbers", `json.decode`, `'[ 0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10 ]'`, true, `{ 0.0, -5000, -1, 0.0003, 1023.2, 0 }`},
	{"Decode null", `json.decode`, `'null'`, true, `json.null`},
	{"Decode true", `json.decode`, `'true'`, true, `true`},
	{"Decode false", `json.decode`, `'false'`, true, `false`},
	{"Decode object with numeric keys", `json.decode`, `'{ "1": "one", "3": "three" }'`, true, `{ ["1"] = "one", ["3"] = "three" }`},
	{"Decode object with string keys", `json.decode`, `'{ "a": "a", "b": "b" }'`, true, `{ a = "a", b = "b" }`},
	{"Decode array", `json.decode`, `'[ "one", null, "three" ]'`, true, `{ "one", json.null, "three" }`},
	{"Decode UTF-16BE [throw error]", `json.decode`, `'\0"\0"'`, false, `"JSON parser does not support UTF-16 or UTF-32"`},
	{"Decode UTF-16LE [throw error]", `json.decode`, `'"\0"\0'`, false, `"JSON parser does not support UTF-16 or UTF-32"`},
	{"Decode UTF-32BE [throw error]", `json.decode`, `'\0\0\0"'`, false, `"JSON parser does not support UTF-16 or UTF-32"`},
	{"Decode UTF-32LE [throw error]", `json.decode`, `'"\0\0\0'`, false, `"JSON parser does not support UTF-16 or UTF-32"`},
	{"Decode partial JSON [throw error]", `json.decode`, `'{ "unexpected eof": '`, false, `"Expected value but found T_END at character 21"`},
	{"Decode with extra comma [throw error]", `json.decode`, `'{ "extra data": true }, false'`, false, `"Expected the end but found T_COMMA at character 23"`},
	{"Decode invalid escape code [throw error]", `json.decode`, `[[ { "bad escape \q code" } ]]`, false, `"Expected object key string but found invalid escape code at character 16"`},
	{"Decode invalid unicode escape [throw error]", `json.decode`, `[[ { "bad unicode \u0f6 escape" } ]]`, false, `"Expected object key string but found invalid unicode escape code at character 17"`},
	{"Decode invalid keyword [throw error]", `json.decode`, `' [ "bad barewood", test ] '`, false, `"Expected value but found invalid token at character 20"`},
	{"Decode invalid number #1 [throw error]", `json.decode`, `'[ -+12 ]'`, false, `"Expected value but found invalid number at character 3"`},
	{"Decode invalid number #2 [throw error]", `json.decode`, `'-v'`, false, `"Expected value but found invalid number at character 1"`},
	{"Decode invalid number exponent [throw error]", `json.decode`, `'[ 0.4eg10 ]'`, false, `"Expected comma or array end but found invalid token at character 6"`},
	{"Set decode_max_depth(5)", `json.decode_max_depth`, `5`, true, `5`},
	{"Decode array at nested limit", `json.decode`, `'[[[[[ "nested" ]]]]]'`, true, `{{{{{ "nested" }}}}}`},
	{"Decode array over nested limit [throw error]", `json.decode`, `'[[[[[[ "nested" ]]]]]]'`, false, `"Found too many nested data structures (6) at character 6"`},
	{"Decode object at nested limit", `json.decode`, `'{"a":{"b":{"c":{"d":{"e":"nested"}}}}}'`, true, `{a={b={c={d={e="nested"}}}}}`},
	{"Decode object over nested limit [throw error]", `json.decode`, `'{"a":{"b":{"c":{"d":{"e":{"f":"nested"}}}}}}'`, false, `"Found too many nested data structures (6) at character 26"`},
	{"Set decode_max_depth(1000)", `json.decode_max_depth`, `1000`, true, `1000`},
	{"Decode deeply nested array [throw error]", `json.decode`, `string.rep("[", 1100) .. '1100' .. string.rep("]", 1100)`, false, `"Found too many nested data structures (1001) at character 1001"`},
	{"Set encode_max_depth(5)", `json.encode_max_depth`, `5`, true, `5`},
	{"Encode nested table as array at nested limit", `json.encode`, `{{{{{"nested"}}}}}`, true, `'[[[[["nested"]]]]]'`},
	{"Encode nested table as array after nested limit [throw error]", `json.encode`, `{ {{{{{"nested"}}}}} }`, false, `"Cannot serialise, excessive nesting (6)"`},
	{"Encode nested table as object at nested limit", `json.encode`, `{a={b={c={d={e="nested"}}}}}`, true, `'{"a":{"b":{"c":{"d":{"e":"nested"}}}}}'`},
	{"Encode nested table as object over nested limit [throw error]", `json.encode`, `{a={b={c={d={e={f="nested"}}}}}}`, false, `"Cannot serialise, excessive nesting (6)"`},
	{"Encode table with cycle [throw error]", `json.encode`, `table_cycle`, false, `"Cannot serialise, excessive nesting (6)"`},
	{"Set encode_max_depth(1000)", `json.encode_max_depth`, `1000`, true, `1000`},
	{"Encode deeply nested data [throw error]", `json.encode`, `deeply_nested_data`, false, `"Cannot serialise, excessive nesting (1001)"`},
	{"Encode null", `json.encode`, `json.null`, true, `'null'`},
	{"Encode true", `json.encode`, `true`, true, `'true'`},
	{"Encode false", `json.encode`, `false`, true, `'false'`},
	{"Encode empty object", `json.encode`, `{ }`, true, `'{}'`},
	{"Encode integer", `json.encode`, `10`, true, `'10'`},
	{"Encode string", `json.encode`, `"hello"`, true, `'"hello"'`},
	{"Encode Lua function [throw error]", `json.encode`, `function () end`, false, `"Cannot serialise function: type not supported"`},
	{"Set decode_invalid_numbers(true)", `json.decode_invalid_numbers`, `true`, true, `true`},
	{"Decode hexadecimal", `json.decode`, `'0x6.ffp1'`, true, `13.9921875`},
	{"Decode numbers with leading zero", `json.decode`, `'[ 0123, 00.33 ]'`, true, `{ 123, 0.33 }`},
	{"Decode +-Inf", `json.decode`, `'[ +Inf, Inf, -Inf ]'`, true, `{ Inf, Inf, -Inf }`},
	{"Decode +-Infinity", `json.decode`, `'[ +Infinity, Infinity, -Infinity ]'`, true, `{ Inf, Inf, -Inf }`},
	{"Decode +-NaN", `json.decode`, `'[ +NaN, NaN, -NaN ]'`, true, `{ NaN, NaN, NaN }`},
	{"Decode Infrared (not infinity) [throw error]", `json.decode`, `'Infrared'`, false, `"Expected the end but found invalid token at character 4"`},
	{"Decode Noodle (not NaN) [throw error]", `json.decode`, `'Noodle'`, false, `"Expected value but found invalid token at character 1"`},
	{"Set decode_invalid_numbers(false)", `json.decode_invalid_numbers`, `false`, true, `false`},
	{"Decode hexadecimal [throw error]", `json.decode`, `'0x6'`, false, `"Expected value but found invalid number at character 1"`},
	{"Decode numbers with leading zero [throw error]", `json.decode`, `'[ 0123, 00.33 ]'`, false, `"Expected value but found invalid number at character 3"`},
	{"Decode +-Inf [throw error]", `json.decode`, `'[ +Inf, Inf, -Inf ]'`, false, `"Expected value but found invalid token at character 3"`},
	{"Decode +-Infinity [throw error]", `json.decode`, `'[ +Infinity, Infinity, -Infinity ]'`, false, `"Expected value but found invalid token at character 3"`},
	{"Decode +-NaN [throw error]", `json.decode`, `'[ +NaN, NaN, -NaN ]'`, false, `"Expected value but found invalid token at character 3"`},
	{`Set decode_invalid_numbers("on")`, `json.decode_invalid_numbers`, `"on"`, true, `true`},
	{"Set encode_invalid_numbers(false)", `json.encode_invalid_numbers`, `false`, true, `false`},
	{"Encode NaN [throw error]", `json.encode`, `NaN`, false, `"Cannot serialise number: must not be NaN or Infinity"`},
	{"Encode Infinity [throw error]", `json.encode`, `Inf`, false, `"Cannot serialise number: must not be NaN or Infinity"`},
	{`Set encode_invalid_numbers("null")`, `json.encode_invalid_numbers`, `"null"`, true, `"null"`},
	{"Encode NaN as null", `json.encode`, `NaN`, true, `"null"`},
	{"Encode Infinity as null", `json.encode`, `Inf`, true, `"null"`},
	{"Set encode_invalid_numbers(true)", `json.encode_invalid_numbers`, `true`, true, `true`},
	{"Encode NaN", `json.encode`, `NaN`, true, `"NaN"`},
	{"Encode +Infinity", `json.encode`, `Inf`, true, `"Infinity"`},
	{"Encode -Infinity", `json.encode`, `-Inf`, true, `"-Infinity"`},
	{`Set encode_invalid_numbers("off")`, `json.encode_invalid_numbers`, `"off"`, true, `false`},
	{"Set encode_sparse_array(true, 2, 3)", `json.encode_sparse_array`, `true, 2, 3`, true, `true, 2, 3`},
	{"Encode sparse table as array #1", `json.encode`, `{ [3] = "sparse test" }`, true, `'[null,null,"sparse test"]'`},
	{"Encode sparse table as array #2", `json.encode`, `{ [1] = "one", [4] = "sparse test" }`, true, `'["one",null,null,"sparse test"]'`},
	{"Encode sparse array as object", `json.encode`, `{ [1] = "one", [5] = "sparse test" }`, true, `oneOf('{"5":"sparse test","1":"one"}', '{"1":"one","5":"sparse test"}')`},
	{"Encode table with numeric string key as object", `json.encode`, `{ ["2"] = "numeric string key test" }`, true, `'{"2":"numeric string key test"}'`},
	{"Set encode_sparse_array(false)", `json.encode_sparse_array`, `false`, true, `false, 2, 3`},
	{"Encode table with incompatible key [throw error]", `json.encode`, `{ [false] = "wrong" }`, false, `"Cannot serialise boolean: table key must be a number or string"`},
	{"Encode all octets (8-bit clean)", `json.encode`, `octets_raw`, true, `octets_escaped`},
	{"Decode all escaped octets", `json.decode`, `octets_escaped`, true, `octets_raw`},
	{"Decode single UTF-16 escape", `json.decode`, `[["\uF800"]]`, true, `"\239\160\128"`},
	{"Decode all UTF-16 escapes (including surrogate combinations)", `json.decode`, `utf16_escaped`, true, `utf8_raw`},
	{"Decode swapped surrogate pair [throw error]", `json.decode`, `[["\uDC00\uD800"]]`, false, `"Expected value but found invalid unicode escape code at character 2"`},
	{"Decode duplicate high surrogate [throw error]", `json.decode`, `[["\uDB00\uDB00"]]`, false, `"Expected value but found invalid unicode escape code at character 2"`},
	{"Decode duplicate low surrogate [throw error]", `json.decode`, `[["\uDB00\uDB00"]]`, false, `"Expected value but found invalid unicode escape code at character 2"`},
	{"Decode missing low surrogate [throw error]", `json.decode`, `[["\uDB00"]]`, false, `"Expected value but found invalid unicode escape code at character 2"`},
	{"Decode invalid low surrogate [throw error]", `json.decode`, `[["\uDB00\uD"]]`, false, `"Expected value but found invalid unicode escape code at character 2"`},
	{"Set decode_allow_comment(true)", `json.decode_allow_comment`, `true`, true, `true`},
	{"Decode single-line comment", `json.decode`, `'{//comment\n}'`, true, `{}`},
	{"Decode single-line comment with windows newline", `json.decode`, `'{//comment\r\n}'`, true, `{}`},
	{"Decode single-line comment after string value", `json.decode`, `'"test // /* */ string"//comment'`, true, `"test // /* */ string"`},
	{"Decode multi-line comment", `json.decode`, `'{/* A multi-line\ncomment*/}'`, true, `{}`},
	{"Decode multi-line comment before colon", `json.decode`, `'{"a" /* Comment */: 1}'`, true, `{ a = 1 }`},
	{"Decode multi-line comment after colon", `json.decode`, `'{"a": /* Comment */ 1}'`, true, `{ a = 1 }`},
	{"Decode multiple comments in a row", `json.decode`, `'/*first*//*second*/{}'`, true, `{}`},
	{"Decode unclosed multi-line comment [throw error]", `json.decode`, `'{}/*Unclosed'`, false, `"Expected the end but found unclosed multi-line comment at character 13"`},
	{"Decode comment inside number [throw error]", `json.decode`, `'{"a":1/*x*/0}'`, false, `"Expected comma or object end but found T_INTEGER at character 12"`},
	{"Set decode_allow_comment(false)", `json.decode_allow_comment`, `false`, true, `false`},
	{`Set encode_indent("  ")`, `json.encode_indent`, `"  "`, true, `"  "`},
	{"Encode object with indenting", `json.encode`, `{ a = "a", b = "b" }`, true, `oneOf('{\n  "a": "a",\n  "b": "b"\n}', '{\n  "b": "b",\n  "a": "a"\n}')`},
	{"Encode empty object with indenting", `json.encode`, `{ }`, true, `'{}'`},
	{"Encode nested object with indenting", `json.encode`, `{ a = { b = 1 } }`, true, `'{\n  "a": {\n    "b": 1\n  }\n}'`},
	{"Encode array with indenting", `json.encode`, `{ 1, 2, 3 }`, true, `'[\n  1,\n  2,\n  3\n]'`},
	{"Encode empty array with indenting", `json.encode`, `json.empty_array`, true, `'[]'`},
	{"Encode nested arrays with indenting", `json.encode`, `{ { 1, 2 }, { 3, 4 } }`, true, `'[\n  [\n    1,\n    2\n  ],\n  [\n    3,\n    4\n  ]\n]'`},
	{"Encode array of objects with indenting", `json.encode`, `{ { a = "a" }, { b = "b" } }`, true, `'[\n  {\n    "a": "a"\n  },\n  {\n    "b": "b"\n  }\n]'`},
	{`Set encode_indent("abc")`, `json.encode_indent`, `"abc"`, true, `"abc"`},
	{"Encode object with non-whitespace indenting", `json.encode`, `{ a = { b = 1 } }`, true, `'{\nabc"a": {\nabcabc"b": 1\nabc}\n}'`},
	{`Set encode_indent("")`, `json.encode_indent`, `""`, true, `""`},
	{"Encode array of objects with empty indenting", `json.encode`, `{ { a = "a" }, { b = "b" } }`, true, `'[{"a":"a"},{"b":"b"}]'`},
	// The locale cases set cs_CZ with os.setlocale; Go's number
	// formatting and parsing never depend on the C locale, so only their
	// checks are kept.
	{"Encode number under comma locale", `json.encode`, `1.5`, true, `'1.5'`},
	{"Decode number in array under comma locale", `json.decode`, `'[ 10, "test" ]'`, true, `{ 10, "test" }`},
	{"Set encode_keep_buffer(false)", `json.encode_keep_buffer`, `false`, true, `false`},
	{"Set encode_number_precision(3)", `json.encode_number_precision`, `3`, true, `3`},
	{"Encode number with precision 3", `json.encode`, `1/3`, true, `"0.333"`},
	{"Set encode_number_precision(14)", `json.encode_number_precision`, `14`, true, `14`},
	{"Set encode_keep_buffer(true)", `json.encode_keep_buffer`, `true`, true, `true`},
	{"Set encode_number_precision(0) [throw error]", `json.encode_number_precision`, `0`, false,
		`oneOf("bad argument #1 to '?' (expected integer between 1 and 16)", "bad argument #1 to 'cjson.encode_number_precision' (expected integer between 1 and 16)")`},
	{`Set encode_number_precision("five") [throw error]`, `json.encode_number_precision`, `"five"`, false,
		`oneOf("bad argument #1 to '?' (number expected, got string)", "bad argument #1 to 'cjson.encode_number_precision' (number expected, got string)")`},
	{"Set encode_keep_buffer(nil, true) [throw error]", `json.encode_keep_buffer`, `nil, true`, false,
		`oneOf("bad argument #2 to '?' (found too many arguments)", "bad argument #2 to 'cjson.encode_keep_buffer' (found too many arguments)")`},
	{`Set encode_max_depth("wrong") [throw error]`, `json.encode_max_depth`, `"wrong"`, false,
		`oneOf("bad argument #1 to '?' (number expected, got string)", "bad argument #1 to 'cjson.encode_max_depth' (number expected, got string)")`},
	{"Set decode_max_depth(0) [throw error]", `json.decode_max_depth`, `"0"`, false,
		`oneOf("bad argument #1 to '?' (expected integer between 1 and 2147483647)", "bad argument #1 to 'cjson.decode_max_depth' (expected integer between 1 and 2147483647)")`},
	{"Set encode_invalid_numbers(-2) [throw error]", `json.encode_invalid_numbers`, `-2`, false,
		`oneOf("bad argument #1 to '?' (invalid option '-2')", "bad argument #1 to 'cjson.encode_invalid_numbers' (invalid option '-2')")`},
	{"Set decode_invalid_numbers(true, false) [throw error]", `json.decode_invalid_numbers`, `true, false`, false,
		`oneOf("bad argument #2 to '?' (found too many arguments)", "bad argument #2 to 'cjson.decode_invalid_numbers' (found too many arguments)")`},
	{`Set encode_sparse_array("not quite on") [throw error]`, `json.encode_sparse_array`, `"not quite on"`, false,
		`oneOf("bad argument #1 to '?' (invalid option 'not quite on')", "bad argument #1 to 'cjson.encode_sparse_array' (invalid option 'not quite on')")`},
	{"Reset Lua CJSON configuration", `function() json = json.new() end`, ``, true, ``},
	{"Check encode_sparse_array()", `function(...) return json.encode_sparse_array(...) end`, ``, true, `false, 2, 10`},
	{"Encode (safe) simple value", `json_safe.encode`, `true`, true, `"true"`},
	{"Encode (safe) argument validation [throw error]", `json_safe.encode`, `"arg1", "arg2"`, false,
		`oneOf("bad argument #1 to '?' (expected 1 argument)", "bad argument #1 to 'cjson.safe.encode' (expected 1 argument)")`},
	{"Decode (safe) error generation", `json_safe.decode`, `"Oops"`, true, `nil, "Expected value but found invalid token at character 1"`},
	{"Decode (safe) error generation after new()", `function(...) return json_safe.new().decode(...) end`, `"Oops"`, true, `nil, "Expected value but found invalid token at character 1"`},
	{"Set encode_escape_forward_slash on a cjson instance should not affect other instances",
		`function()
			local j1 = json.new()
			local r1 = j1.encode("/")
			local j2 = json.new()
			j2.encode_escape_forward_slash(false)
			return r1, j2.encode("/"), j1.encode("/")
		end`, ``, true, `[["\/"]], [["/"]], [["\/"]]`},
}

// luaCjsonData makes the data tests/test.lua loads: every octet, its JSON
// escaping (tests/octets-escaped.dat), every UTF-16 escape including the
// surrogate pairs, and its UTF-8 (tests/utf8.dat, from genutf8.pl).
func luaCjsonData() map[string]lua.LValue {
	var raw, esc strings.Builder
	esc.WriteByte('"')
	for c := 0; c < 256; c++ {
		raw.WriteByte(byte(c))
		switch c {
		case '"':
			esc.WriteString(`\"`)
		case '\\':
			esc.WriteString(`\\`)
		case '/':
			esc.WriteString(`\/`)
		case '\b':
			esc.WriteString(`\b`)
		case '\f':
			esc.WriteString(`\f`)
		case '\n':
			esc.WriteString(`\n`)
		case '\r':
			esc.WriteString(`\r`)
		case '\t':
			esc.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&esc, `\u%04x`, c)
			} else {
				esc.WriteByte(byte(c))
			}
		}
	}
	esc.WriteByte('"')
	var u16 strings.Builder
	var u8 []byte
	u16.WriteByte('"')
	for r := rune(0); r <= 0x10FFFF; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		u8 = utf8.AppendRune(u8, r)
	}
	for r := 0; r <= 0xFFFF; r++ {
		if r < 0xD800 || r > 0xDFFF {
			fmt.Fprintf(&u16, `\u%04X`, r)
		}
	}
	for hi := 0xD800; hi <= 0xDBFF; hi++ {
		for lo := 0xDC00; lo <= 0xDFFF; lo++ {
			fmt.Fprintf(&u16, `\u%04X\u%04X`, hi, lo)
		}
	}
	u16.WriteByte('"')
	return map[string]lua.LValue{
		"octets_raw":     lua.LString(raw.String()),
		"octets_escaped": lua.LString(esc.String()),
		"utf16_escaped":  lua.LString(u16.String()),
		"utf8_raw":       lua.LString(u8),
	}
}

// TestLuaCjsonSuite runs lua-cjson's tests/test.lua cases (openresty fork)
// in order, in one state, with a budget big enough for the 1.1M-escape
// decode.
func TestLuaCjsonSuite(t *testing.T) {
	var b strings.Builder
	b.WriteString(`table_cycle = {} table_cycle[1] = table_cycle
local big = {}
for i = 1, 1100 do big = { { 10, false, true, json.null }, "string", a = big } end
deeply_nested_data = big
`)
	for _, c := range luaCjsonCases {
		fmt.Fprintf(&b, "run(%s, pack(%s), %v, {%s})\n", c.fn, c.args, c.ok, c.want)
	}
	out := runCjson(t, luaplugin.Config{Timeout: 5 * time.Minute}, luaCjsonData(), luaCjsonDriver+b.String())
	lines := strings.Split(out, "\n")
	if len(lines) != len(luaCjsonCases) {
		t.Fatalf("%d results for %d cases:\n%s", len(lines), len(luaCjsonCases), out)
	}
	for i, c := range luaCjsonCases {
		if lines[i] != "ok" {
			t.Errorf("lua-cjson tests/test.lua %q: %s", c.name, lines[i])
		}
	}
}

// sortedJSON is Lua re-encoding a JSON text with the keys of its objects
// sorted, for agentzh.t's blocks that compare objects with several keys.
const sortedJSON = `local function sorted_json(s)
	local j = cjson.new()
	j.decode_array_with_array_mt(true)
	local function w(v)
		if type(v) ~= "table" then return j.encode(v) end
		local parts = {}
		if getmetatable(v) == j.array_mt then
			for i = 1, #v do parts[i] = w(v[i]) end
			return "[" .. table.concat(parts, ",") .. "]"
		end
		local keys = {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys)
		for i, k in ipairs(keys) do parts[i] = j.encode(k) .. ":" .. w(v[k]) end
		return "{" .. table.concat(parts, ",") .. "}"
	end
	return w(j.decode(s))
end
`

// TestLuaCjsonAgentzh rebuilds lua-cjson tests/agentzh.t (openresty fork):
// each block in a fresh state, print as say.
func TestLuaCjsonAgentzh(t *testing.T) {
	const f = "lua-cjson tests/agentzh.t "
	runCjsonCases(t, []cjsonCase{
		{f + "TEST 1: empty tables as objects", `say(cjson.encode({})) say(cjson.encode({dogs = {}}))`, "{}\n{\"dogs\":{}}"},
		{f + "TEST 2: empty tables as arrays", `cjson.encode_empty_table_as_object(false) say(cjson.encode({})) say(cjson.encode({dogs = {}}))`, "[]\n{\"dogs\":[]}"},
		{f + "TEST 3: empty tables as objects (explicit)", `cjson.encode_empty_table_as_object(true) say(cjson.encode({})) say(cjson.encode({dogs = {}}))`, "{}\n{\"dogs\":{}}"},
		{f + "TEST 4: empty_array userdata", `say(cjson.encode({arr = cjson.empty_array}))`, `{"arr":[]}`},
		{f + "TEST 5: empty_array_mt", `say(cjson.encode({arr = setmetatable({}, cjson.empty_array_mt)}))`, `{"arr":[]}`},
		{f + "TEST 6: empty_array_mt and empty tables as objects (explicit)", sortedJSON + `
local empty_arr = setmetatable({}, cjson.empty_array_mt)
say(sorted_json(cjson.encode({obj = {}, arr = empty_arr})))`, `{"arr":[],"obj":{}}`},
		{f + "TEST 7: empty_array_mt and empty tables as objects (explicit)", sortedJSON + `
cjson.encode_empty_table_as_object(true)
local data = {arr = setmetatable({}, cjson.empty_array_mt), foo = {obj = {}, foobar = {arr = cjson.empty_array, obj = {}}}}
say(sorted_json(cjson.encode(data)))`, `{"arr":[],"foo":{"foobar":{"arr":[],"obj":{}},"obj":{}}}`},
		{f + "TEST 8: empty_array_mt on non-empty tables", sortedJSON + `
cjson.encode_empty_table_as_object(true)
local data = {arr = setmetatable({"hello", "world", "lua"}, cjson.empty_array_mt), foo = {obj = {}, foobar = {arr = cjson.empty_array, obj = {}}}}
say(sorted_json(cjson.encode(data)))`, `{"arr":["hello","world","lua"],"foo":{"foobar":{"arr":[],"obj":{}},"obj":{}}}`},
		{f + "TEST 9: array_mt on empty tables", `say(cjson.encode(setmetatable({}, cjson.array_mt)))`, `[]`},
		{f + "TEST 10: array_mt on non-empty tables", `say(cjson.encode(setmetatable({"foo", "bar"}, cjson.array_mt)))`, `["foo","bar"]`},
		// TEST 11 (array_mt on a table with holes, {1, 2, nil, 4, [9]})
		// is left out: # has two borders there, LuaJIT picks 4 and
		// gopher-lua 9, so the arrays differ in length.
		{f + "TEST 12: decode() by default does not set array_mt on empty arrays", `local t = cjson.decode([[{"my_array":[]}]])
say("decoded JSON array has metatable: " .. tostring(getmetatable(t.my_array) == cjson.array_mt))
say(cjson.encode(t))`, "decoded JSON array has metatable: false\n{\"my_array\":{}}"},
		{f + "TEST 13: decode() sets array_mt on non-empty arrays if enabled", `cjson.decode_array_with_array_mt(true)
local t = cjson.decode([[{"my_array":["hello","world"]}]])
t.my_array.hash_value = "adding a hash value"
t.my_array[1] = nil
t.my_array[2] = nil
say("decoded JSON array has metatable: " .. tostring(getmetatable(t.my_array) == cjson.array_mt))
say(cjson.encode(t))`, "decoded JSON array has metatable: true\n{\"my_array\":[]}"},
		{f + "TEST 14: cfg can enable/disable setting array_mt", `cjson.decode_array_with_array_mt(true)
cjson.decode_array_with_array_mt(false)
local t = cjson.decode([[{"my_array":[]}]])
say("decoded JSON array has metatable: " .. tostring(getmetatable(t.my_array) == cjson.array_mt))
say(cjson.encode(t))`, "decoded JSON array has metatable: false\n{\"my_array\":{}}"},
		{f + "TEST 15: array_mt on tables with hash part", `local new_tab = require "table.new"
local data = new_tab(0, 2)
data.foo = "bar"
data[1] = "hello"
say(cjson.encode(setmetatable(data, cjson.array_mt)))`, `["hello"]`},
		{f + "TEST 16: multiple calls to lua_cjson_new (1/3)", `local c = require "cjson"
package.loaded["cjson"] = nil
require "cjson"
say(c.encode(setmetatable({}, c.array_mt)))`, `[]`},
		{f + "TEST 17: multiple calls to lua_cjson_new (2/3)", `local c = require "cjson"
package.loaded["cjson"] = nil
require "cjson"
say(c.encode(setmetatable({}, c.empty_array_mt)))`, `[]`},
		{f + "TEST 18: multiple calls to lua_cjson_new (3/3)", `local c = require "cjson.safe"
require "cjson"
say(c.encode(setmetatable({}, c.empty_array_mt)))`, `[]`},
		{f + "TEST 19: & in JSON", `say(cjson.encode(cjson.decode("[\"a=1&b=2\"]")))`, `["a=1&b=2"]`},
		{f + "TEST 20: default and max precision", `local double = math.pow(2, 53)
say(cjson.encode(double))
cjson.encode_number_precision(16)
say(cjson.encode(double))
say(string.format("%16.0f", cjson.decode("9007199254740992")))`, "9.007199254741e+15\n9007199254740992\n9007199254740992"},
		{f + "TEST 21: / in string", `local a = {test = "http://google.com/google"}
say(cjson.encode(a))
cjson.encode_escape_forward_slash(false)
say(cjson.encode(a))
cjson.encode_escape_forward_slash(true)
say(cjson.encode(a))`, "{\"test\":\"http:\\/\\/google.com\\/google\"}\n{\"test\":\"http://google.com/google\"}\n{\"test\":\"http:\\/\\/google.com\\/google\"}"},
		{f + "TEST 22: disable error on invalid type", `local f = function (x) return 2 * x end
local res, err = pcall(cjson.encode, f)
say(err)
local t = {f = f, valid = "valid"}
res, err = pcall(cjson.encode, t)
say(err)
local arr = {"one", "two", f, "three"}
res, err = pcall(cjson.encode, arr)
say(err)
cjson.encode_skip_unsupported_value_types(true)
say(cjson.encode(f))
say(cjson.encode(t))
say(cjson.encode(arr))`, "Cannot serialise function: type not supported\nCannot serialise function: type not supported\nCannot serialise function: type not supported\n\n{\"valid\":\"valid\"}\n[\"one\",\"two\",\"three\"]"},
		{f + "TEST 23: array-like proxy object with __len and __index", `local real = {"foo", "bar", "baz"}
local proxy = setmetatable({}, {__len = function() return 3 end, __index = function(t, k) return real[k] end})
say(cjson.encode(proxy))`, `["foo","bar","baz"]`},
		{f + "TEST 24: check that integers are handled correctly on Lua 5.3+ (Lua 5.1 branch)", `local array = cjson.decode [[ [10, 10.0, 3.5] ]]
say(#array, " ", array[1], " ", array[2], " ", array[3], " ", tostring(array[4]))`, "3 10 10 3.5 nil"},
	})
}

// TestCjsonSkipUnsupported covers encode_skip_unsupported_value_types
// beyond agentzh.t TEST 22: the option's values, skipped first and middle
// members, userdata and threads, cjson.safe and new() instances.
func TestCjsonSkipUnsupported(t *testing.T) {
	runCjsonCases(t, []cjsonCase{
		{"default off", `say(cjson.encode_skip_unsupported_value_types())`, `false`},
		{"on off strings", `say(cjson.encode_skip_unsupported_value_types("on"), cjson.encode_skip_unsupported_value_types("off"))`, `truefalse`},
		{"bad option", `say(perr(cjson.encode_skip_unsupported_value_types, "maybe"))`, `bad argument #1 to '?' (invalid option 'maybe')`},
		{"first and last skipped", `cjson.encode_skip_unsupported_value_types(true) say(cjson.encode({print, 1, print}), cjson.encode({print}), cjson.encode({print, print, 2}))`, `[1][][2]`},
		{"object member skipped", `cjson.encode_skip_unsupported_value_types(true) say(cjson.encode({f = print}), cjson.encode({a = {co = coroutine.create(print)}}))`, `{}{"a":{}}`},
		{"userdata skipped", `cjson.encode_skip_unsupported_value_types(true) say(cjson.encode({newproxy(), "x"}))`, `["x"]`},
		{"keys still checked", `cjson.encode_skip_unsupported_value_types(true) say(perr(cjson.encode, {[true] = 1}))`, `Cannot serialise boolean: table key must be a number or string`},
		{"per instance", `cjson.encode_skip_unsupported_value_types(true) say(cjson_safe.encode({print}), " ", cjson.new().encode_skip_unsupported_value_types())`, `nil false`},
		{"with indent", `cjson.encode_skip_unsupported_value_types(true) cjson.encode_indent("  ") say(cjson.encode({print, 1}))`, "[\n  1\n]"},
		{"direct call names the function", `local ok, err = pcall(function() cjson.encode_number_precision(0) end) say(err)`, `bad argument #1 to 'encode_number_precision' (expected integer between 1 and 16)`},
	})
}
