package integration

import (
	"strings"
	"testing"
)

// fillLoop is TEST 9/10/58/59's loop of lua-nginx-module t/043-shdict.t:
// store " hello" x 10 .. i under key_i until a store fails or is forcible
// (op is the method; touch, when set, is Lua run before each store).
func fillLoop(op, touch string, forcible bool) string {
	report := `if not res or forcible then ngx.say(res, " ", err, " ", forcible) break end`
	if !forcible {
		report = `if not res then ngx.say(res, " ", err) break end`
	}
	return `local dogs = ngx.shared.dogs
local i = 0
while i < 1000 do
	i = i + 1
	local val = string.rep(" hello", 10) .. i
	` + touch + `
	local res, err, forcible = dogs:` + op + `("key_" .. i, val)
	` + report + `
end
ngx.say("abort at ", i)
ngx.say("cur value: ", dogs:get("key_" .. i))
if i > 1 then ngx.say("1st value: ", dogs:get("key_1")) end
if i > 2 then ngx.say("2nd value: ", dogs:get("key_2")) end`
}

// notOK is the shape of many blocks: call, print "not ok: err" or "ok".
func notOK(call string) string {
	return `local dogs = ngx.shared.dogs
local ok, err = ` + call + `
if not ok then ngx.say("not ok: ", err) return end
ngx.say("ok")`
}

// lua-nginx-module t/043-shdict.t, rebuilt. Blocks that wait with
// ngx.location.capture("/sleep/N") (an echo_sleep subrequest) wait with
// ngx.sleep(N) here; pipelined requests are consecutive cases on the
// same dicts.
func TestOpenRestyShdict(t *testing.T) {
	const f = "lua-nginx-module t/043-shdict.t "
	hello10 := strings.Repeat(" hello", 10)
	global, cases := shdCases([]shdCase{
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 1: string key, int value",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
dogs:set("bah", 10502)
local val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))`,
			body: "32 number\n10502 number\n"}},
		{dicts: cats1m, orCase: orCase{src: f + "TEST 2: string key, floating-point value",
			content: `local cats = ngx.shared.cats
cats:set("foo", 3.14159)
cats:set("baz", 1.28)
cats:set("baz", 3.96)
local val = cats:get("foo")
ngx.say(val, " ", type(val))
val = cats:get("baz")
ngx.say(val, " ", type(val))`,
			body: "3.14159 number\n3.96 number\n"}},
		{dicts: cats1m, orCase: orCase{src: f + "TEST 3: string key, boolean value",
			content: `local cats = ngx.shared.cats
cats:set("foo", true)
cats:set("bar", false)
local val = cats:get("foo")
ngx.say(val, " ", type(val))
val = cats:get("bar")
ngx.say(val, " ", type(val))`,
			body: "true boolean\nfalse boolean\n"}},
		{dicts: cats1m, orCase: orCase{src: f + "TEST 4: number keys, string values",
			content: `local cats = ngx.shared.cats
ngx.say(cats:set(1234, "cat"))
ngx.say(cats:set("1234", "dog"))
ngx.say(cats:set(256, "bird"))
ngx.say(cats:get(1234))
ngx.say(cats:get("1234"))
local val = cats:get("256")
ngx.say(val, " ", type(val))`,
			body: "truenilfalse\ntruenilfalse\ntruenilfalse\ndog\ndog\nbird string\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 5: different-size values set to the same key",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", "hello")
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello, world")
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello")
ngx.say(dogs:get("foo"))`,
			body: "hello\nhello, world\nhello\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 6: expired entries (can be auto-removed by get)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32, 0.01)
ngx.sleep(0.011)
ngx.say(dogs:get("foo"))`,
			body: "nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 7: expired entries (can NOT be auto-removed by get)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 56, 0.001)
dogs:set("baz", 78, 0.001)
dogs:set("foo", 32, 0.01)
ngx.sleep(0.012)
ngx.say(dogs:get("foo"))`,
			body: "nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 8: not yet expired entries",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32, 0.5)
ngx.sleep(0.01)
ngx.say(dogs:get("foo"))`,
			body: "32\n"}},
		{dicts: dogs100k, group: "t9", orCase: orCase{src: f + "TEST 9: forcibly override other valid entries (request 1)",
			content: fillLoop("set", "", true),
			body:    "true nil true\nabort at 353\ncur value: " + hello10 + "353\n1st value: nil\n2nd value: " + hello10 + "2\n"}},
		{dicts: dogs100k, group: "t9", orCase: orCase{src: f + "TEST 9: forcibly override other valid entries (request 2)",
			content: fillLoop("set", "", true),
			body:    "true nil true\nabort at 1\ncur value: " + hello10 + "1\n"}},
		{dicts: dogs100k, group: "t10", orCase: orCase{src: f + "TEST 10: forcibly override other valid entries and test LRU (request 1)",
			content: fillLoop("set", `if i == 10 then dogs:get("key_1") end`, true),
			body:    "true nil true\nabort at 353\ncur value: " + hello10 + "353\n1st value: " + hello10 + "1\n2nd value: nil\n"}},
		{dicts: dogs100k, group: "t10", orCase: orCase{src: f + "TEST 10: forcibly override other valid entries and test LRU (request 2)",
			content: fillLoop("set", `if i == 10 then dogs:get("key_1") end`, true),
			body:    "true nil true\nabort at 2\ncur value: " + hello10 + "2\n1st value: " + hello10 + "1\n"}},
		{dicts: dogsCats1m, orCase: orCase{src: f + "TEST 11: dogs and cats dicts",
			content: `local dogs = ngx.shared.dogs
local cats = ngx.shared.cats
dogs:set("foo", 32)
cats:set("foo", "hello, world")
ngx.say(dogs:get("foo"))
ngx.say(cats:get("foo"))
dogs:set("foo", 56)
ngx.say(dogs:get("foo"))
ngx.say(cats:get("foo"))`,
			body: "32\nhello, world\n56\nhello, world\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 12: get non-existent keys",
			content: `local dogs = ngx.shared.dogs
ngx.say(dogs:get("foo"))
ngx.say(dogs:get("foo"))`,
			body: "nil\nnil\n"}},
		{dicts: dogs50k, orCase: orCase{src: f + "TEST 14: too big value",
			content: `collectgarbage("collect")
local dogs = ngx.shared.dogs
local res, err, forcible = dogs:set("foo", string.rep("helloworld", 10000))
ngx.say(res, " ", err, " ", forcible)`,
			body: "false no memory false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 15: set too large key",
			content: `local dogs = ngx.shared.dogs
local key = string.rep("a", 65535)
local rc, err = dogs:set(key, "hello")
ngx.say(rc, " ", err)
ngx.say(dogs:get(key))
key = string.rep("a", 65536)
local ok, err = dogs:set(key, "world")
if not ok then ngx.say("not ok: ", err) return end
ngx.say("ok")`,
			body: "true nil\nhello\nnot ok: key too long\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 16: bad value type",
			content: notOK(`dogs:set("foo", dogs)`), body: "not ok: bad value type\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 17: delete after setting values",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
ngx.say(dogs:get("foo"))
dogs:delete("foo")
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello, world")
ngx.say(dogs:get("foo"))`,
			body: "32\nnil\nhello, world\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 18: delete at first",
			content: `local dogs = ngx.shared.dogs
dogs:delete("foo")
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello, world")
ngx.say(dogs:get("foo"))`,
			body: "nil\nhello, world\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 19: set nil after setting values",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
ngx.say(dogs:get("foo"))
dogs:set("foo", nil)
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello, world")
ngx.say(dogs:get("foo"))`,
			body: "32\nnil\nhello, world\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 20: set nil at first",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", nil)
ngx.say(dogs:get("foo"))
dogs:set("foo", "hello, world")
ngx.say(dogs:get("foo"))`,
			body: "nil\nhello, world\n"}},
		{dicts: dogs100k, orCase: orCase{src: f + "TEST 21: fail to allocate memory",
			content: `local dogs = ngx.shared.dogs
local i = 0
while i < 1000 do
	i = i + 1
	local res, err, forcible = dogs:set("key_" .. i, string.rep("hello", i))
	if not res or forcible then ngx.say(res, " ", err, " ", forcible) break end
end
ngx.say("abort at ", i)`,
			bodyRe: `^true nil true\nabort at (?:141|140)\n$`}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 22: string key, int value (write_by_lua)",
			phases: map[string]string{"rewrite": `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
dogs:set("bah", 10502)
local val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))`},
			content: `return`,
			body:    "32 number\n10502 number\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 23: string key, int value (access_by_lua)",
			phases: map[string]string{"access": `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
dogs:set("bah", 10502)
local val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))`},
			content: `return`,
			body:    "32 number\n10502 number\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 24: string key, int value (set_by_lua)",
			set: []orSet{{v: "res", lua: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
return dogs:get("foo")`}},
			content: `ngx.say(ngx.var.res)`,
			body:    "32\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 25: string key, int value (header_by_lua)",
			content: `ngx.say("hello")`,
			phases: map[string]string{"header_filter": `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
ngx.header["X-Foo"] = dogs:get("foo")`},
			headers: map[string]string{"X-Foo": "32"}, body: "hello\n"}},
		{dicts: dogs50k, orCase: orCase{src: f + "TEST 26: too big value (forcible)",
			content: `collectgarbage("collect")
local dogs = ngx.shared.dogs
dogs:set("bah", "hello")
local res, err, forcible = dogs:set("foo", string.rep("helloworld", 10000))
ngx.say(res, " ", err, " ", forcible)`,
			body: "false no memory true\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 27: add key (key exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err, forcible = dogs:add("foo", 10502)
ngx.say("add: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "add: false exists false\nfoo = 32\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 28: add key (key not exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", 32)
local res, err, forcible = dogs:add("foo", 10502)
ngx.say("add: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "add: true nil false\nfoo = 10502\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 29: add key (key expired)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 32, 0.001)
dogs:set("baz", 32, 0.001)
dogs:set("foo", 32, 0.001)
ngx.sleep(0.003)
local res, err, forcible = dogs:add("foo", 10502)
ngx.say("add: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "add: true nil false\nfoo = 10502\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 30: add key (key expired and value size unmatched)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 32, 0.001)
dogs:set("baz", 32, 0.001)
dogs:set("foo", "hi", 0.001)
ngx.sleep(0.003)
local res, err, forcible = dogs:add("foo", "hello")
ngx.say("add: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "add: true nil false\nfoo = hello\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 31: replace key (key exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err, forcible = dogs:replace("foo", 10502)
ngx.say("replace: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))
res, err, forcible = dogs:replace("foo", "hello")
ngx.say("replace: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "replace: true nil false\nfoo = 10502\nreplace: true nil false\nfoo = hello\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 32: replace key (key not exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", 32)
local res, err, forcible = dogs:replace("foo", 10502)
ngx.say("replace: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "replace: false not found false\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 33: replace key (key expired)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 3, 0.001)
dogs:set("baz", 2, 0.001)
dogs:set("foo", 32, 0.001)
ngx.sleep(0.002)
local res, err, forcible = dogs:replace("foo", 10502)
ngx.say("replace: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "replace: false not found false\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 34: replace key (key expired and value size unmatched)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 32, 0.001)
dogs:set("baz", 32, 0.001)
dogs:set("foo", "hi", 0.001)
ngx.sleep(0.002)
local rc, err, forcible = dogs:replace("foo", "hello")
ngx.say("replace: ", rc, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "replace: false not found false\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 35: incr key (key exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", 10502)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 10534 nil\nfoo = 10534\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 36: incr key (key not exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", 32)
local res, err = dogs:incr("foo", 2)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: nil not found\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 37: incr key (key expired)",
			content: `local dogs = ngx.shared.dogs
dogs:set("bar", 3, 0.001)
dogs:set("baz", 2, 0.001)
dogs:set("foo", 32, 0.001)
ngx.sleep(0.002)
local res, err = dogs:incr("foo", 10502)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: nil not found\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 38: incr key (incr by 0)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", 0)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 32 nil\nfoo = 32\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 39: incr key (incr by floating point number)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", 0.14)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 32.14 nil\nfoo = 32.14\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 40: incr key (incr by negative numbers)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", -0.14)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 31.86 nil\nfoo = 31.86\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 41: incr key (original value is not number)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", true)
local res, err = dogs:incr("foo", -0.14)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: nil not a number\nfoo = true\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 42: get and set with flags",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32, 0, 199)
dogs:set("bah", 10502, 202)
local val, flags = dogs:get("foo")
ngx.say(val, " ", type(val))
ngx.say(flags, " ", type(flags))
val, flags = dogs:get("bah")
ngx.say(val, " ", type(val))
ngx.say(flags, " ", type(flags))`,
			body: "32 number\n199 number\n10502 number\nnil nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 43: expired entries (can be auto-removed by get), with flags set",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32, 0.01, 255)
ngx.sleep(0.011)
local res, flags = dogs:get("foo")
ngx.say("res = ", res, ", flags = ", flags)`,
			body: "res = nil, flags = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 44: flush_all",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
dogs:set("bah", 10502)
local val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))
dogs:flush_all()
val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))`,
			body: "32 number\n10502 number\nnil nil\nnil nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 45: flush_expires",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", "x", 1)
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 100)
ngx.sleep(1.5)
ngx.say(dogs:flush_expired())`,
			body: "1\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 46: flush_expires with number",
			content: `local dogs = ngx.shared.dogs
for i = 1, 100 do dogs:set(tostring(i), "x", 1) end
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 100)
ngx.sleep(1.5)
ngx.say(dogs:flush_expired(42))`,
			body: "42\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 47: flush_expires an empty dict",
			content: `ngx.say(ngx.shared.dogs:flush_expired())`, body: "0\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 48: flush_expires a dict without expired items",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 100)
ngx.say(dogs:flush_expired())`,
			body: "0\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 49: list all keys in a shdict",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 0)
local keys = dogs:get_keys()
ngx.say(#keys)
table.sort(keys)
for _, k in ipairs(keys) do ngx.say(k) end`,
			body: "2\nbah\nbar\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 50: list keys in a shdict with limit",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 0)
ngx.say(#dogs:get_keys(1))`,
			body: "1\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 51: list all keys in a shdict with expires",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", "x", 1)
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 100)
ngx.sleep(1.5)
ngx.say(#dogs:get_keys())`,
			body: "2\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 52: list keys in a shdict with limit larger than number of keys",
			content: `local dogs = ngx.shared.dogs
dogs:set("bah", "y", 0)
dogs:set("bar", "z", 0)
ngx.say(#dogs:get_keys(3))`,
			body: "2\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 53: list keys in an empty shdict",
			content: `ngx.say(#ngx.shared.dogs:get_keys())`, body: "0\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 54: list keys in an empty shdict with a limit",
			content: `ngx.say(#ngx.shared.dogs:get_keys(4))`, body: "0\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 55: list all keys in a shdict with all keys expired",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", "x", 1)
dogs:set("bah", "y", 1)
dogs:set("bar", "z", 1)
ngx.sleep(1.5)
ngx.say(#dogs:get_keys())`,
			body: "0\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 56: list all keys in a shdict with more than 1024 keys with no limit set",
			content: `local dogs = ngx.shared.dogs
for i = 1, 2048 do dogs:set(tostring(i), i) end
ngx.say(#dogs:get_keys())`,
			body: "1024\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 57: list all keys in a shdict with more than 1024 keys with 0 limit set",
			content: `local dogs = ngx.shared.dogs
for i = 1, 2048 do dogs:set(tostring(i), i) end
ngx.say(#dogs:get_keys(0))`,
			body: "2048\n"}},
		{dicts: dogs100k, group: "t58", orCase: orCase{src: f + "TEST 58: safe_set (request 1)",
			content: fillLoop("safe_set", "", false),
			body:    "false no memory\nabort at 353\ncur value: nil\n1st value: " + hello10 + "1\n2nd value: " + hello10 + "2\n"}},
		{dicts: dogs100k, group: "t58", orCase: orCase{src: f + "TEST 58: safe_set (request 2)",
			content: fillLoop("safe_set", "", false),
			body:    "false no memory\nabort at 353\ncur value: nil\n1st value: " + hello10 + "1\n2nd value: " + hello10 + "2\n"}},
		{dicts: dogs100k, group: "t59", orCase: orCase{src: f + "TEST 59: safe_add (request 1)",
			content: fillLoop("safe_add", "", false),
			body:    "false no memory\nabort at 353\ncur value: nil\n1st value: " + hello10 + "1\n2nd value: " + hello10 + "2\n"}},
		{dicts: dogs100k, group: "t59", orCase: orCase{src: f + "TEST 59: safe_add (request 2)",
			content: fillLoop("safe_add", "", false),
			body:    "false exists\nabort at 1\ncur value: " + hello10 + "1\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 60: get_stale: expired entries can still be fetched",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32, 0.01)
dogs:set("blah", 33, 0.3)
ngx.sleep(0.02)
local val, flags, stale = dogs:get_stale("foo")
ngx.say(val, ", ", flags, ", ", stale)
val, flags, stale = dogs:get_stale("blah")
ngx.say(val, ", ", flags, ", ", stale)`,
			body: "32, nil, true\n33, nil, false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 61: set nil key",
			content: notOK(`dogs:set(nil, 32)`), body: "not ok: nil key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 62: set bad zone argument",
			content: notOK(`dogs.set(nil, "foo", 32)`),
			status:  500, skipBody: true, errLog: []string{`bad \"zone\" argument`}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 63: set empty string keys",
			content: notOK(`dogs:set("", 32)`), body: "not ok: empty key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 64: get bad zone argument",
			content: notOK(`dogs.get(nil, "foo")`),
			status:  500, skipBody: true, errLog: []string{`bad \"zone\" argument`}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 65: get nil key",
			content: notOK(`dogs:get(nil)`), body: "not ok: nil key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 66: get empty key",
			content: notOK(`dogs:get("")`), body: "not ok: empty key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 67: get a too-long key",
			content: notOK(`dogs:get(string.rep("a", 65536))`), body: "not ok: key too long\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 68: set & get large values",
			content: `local dogs = ngx.shared.dogs
local ok, err = dogs:set("foo", string.rep("helloworld", 1024))
if not ok then ngx.say("set not ok: ", err) return end
ngx.say("set ok")
local data, err = dogs:get("foo")
if data == nil and err then ngx.say("get not ok: ", err) return end
ngx.say("get ok: ", #data)`,
			body: "set ok\nget ok: 10240\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 69: get_stale nil key",
			content: notOK(`dogs:get_stale(nil)`), body: "not ok: nil key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 70: get_stale empty key",
			content: notOK(`dogs:get_stale("")`), body: "not ok: empty key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 71: get_stale number key",
			content: `local dogs = ngx.shared.dogs
local ok, err = dogs:set(1024, "hello")
if not ok then ngx.say("set not ok: ", err) return end
ngx.say("set ok")
local data, err = dogs:get_stale(1024)
ngx.say("get_stale: ", data)`,
			body: "set ok\nget_stale: hello\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 72: get_stale a too-long key",
			content: notOK(`dogs:get_stale(string.rep("a", 65536))`), body: "not ok: key too long\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 73: get_stale a non-existent key",
			content: `local data, err = ngx.shared.dogs:get_stale("not_found")
if data == nil and err then ngx.say("get not ok: ", err) return end
ngx.say("get ok: ", data)`,
			body: "get ok: nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 74: set & get_stale large values",
			content: getStaleBlock(`string.rep("helloworld", 1024)`, `#data`, false),
			body:    "set ok\nget_stale ok: 10240, stale: false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 75: set & get_stale boolean values (true)",
			content: getStaleBlock(`true`, `data`, false),
			body:    "set ok\nget_stale ok: true, stale: false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 76: set & get_stale boolean values (false)",
			content: getStaleBlock(`false`, `data`, false),
			body:    "set ok\nget_stale ok: false, stale: false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 77: set & get_stale with a flag",
			content: getStaleBlock(`false, 0, 325`, `data`, true),
			body:    "set ok\nget_stale ok: false, flags: 325, stale: false\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 78: incr nil key",
			content: notOK(`dogs:incr(nil, 32)`), body: "not ok: nil key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 79: incr bad zone argument",
			content: notOK(`dogs.incr(nil, "foo", 32)`),
			status:  500, skipBody: true, errLog: []string{`bad \"zone\" argument`}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 80: incr empty string keys",
			content: notOK(`dogs:incr("", 32)`), body: "not ok: empty key\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 81: incr too long key",
			content: notOK(`dogs:incr(string.rep("a", 65536), 32)`), body: "not ok: key too long\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 82: incr number key",
			content: incrBlock(`32`), body: "set ok\nincr ok\nget ok: 33, flags: nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 83: incr a number-like string key",
			content: incrBlock(`"32"`), body: "set ok\nincr ok\nget ok: 33, flags: nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 84: add nil values",
			content: notOK(`dogs:add("foo", nil)`), body: "not ok: attempt to add or replace nil values\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 85: replace key with exptime",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 2, 0)
dogs:replace("foo", 32, 0.01)
ngx.say("get foo: ", dogs:get("foo"))
ngx.sleep(0.02)
local res, err, forcible = dogs:replace("foo", 10502)
ngx.say("replace: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "get foo: 32\nreplace: false not found false\nfoo = nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 86: the lightuserdata ngx.null has no methods of shared dicts.",
			content: `local lightuserdata = ngx.null
lightuserdata:set("foo", 1)`,
			status: 500, skipBody: true, errLog: []string{"attempt to index"}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 87: set bad zone table",
			content: `ngx.shared.dogs.set({1}, "foo", 1)`,
			status:  500, skipBody: true, errLog: []string{`bad \"zone\" argument`}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 88: get bad zone table",
			content: `ngx.shared.dogs.get({1}, "foo")`,
			status:  500, skipBody: true, errLog: []string{`bad \"zone\" argument`}}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 89: incr bad zone table",
			content: `ngx.shared.dogs.incr({1}, "foo", 32)`,
			status:  500, skipBody: true}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 90: check the type of the shdict object",
			content: `ngx.say("type: ", type(ngx.shared.dogs))`, body: "type: table\n"}},
		{dicts: dogsCats1m, orCase: orCase{src: f + "TEST 91: dogs, cat mixing",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
dogs:set("bah", 10502)
local val = dogs:get("foo")
ngx.say(val, " ", type(val))
val = dogs:get("bah")
ngx.say(val, " ", type(val))
local cats = ngx.shared.cats
ngx.say(cats:get("foo") or "nil")
ngx.say(cats:get("bah") or "nil")`,
			body: "32 number\n10502 number\nnil\nnil\n"}},
		{dicts: dogs1m, orCase: orCase{src: f + "TEST 92: invalid expire time",
			content: `ngx.shared.dogs:set("foo", 32, -1)`,
			status:  500, skipBody: true, errLog: []string{`bad \"exptime\" argument`}}},
	})
	orSuite(t, global, cases)
}

func getStaleBlock(setArgs, shown string, withFlags bool) string {
	say := `ngx.say("get_stale ok: ", ` + shown + `, ", stale: ", stale)`
	if withFlags {
		say = `local flags = err
ngx.say("get_stale ok: ", ` + shown + `, ", flags: ", flags, ", stale: ", stale)`
	}
	return `local dogs = ngx.shared.dogs
local ok, err = dogs:set("foo", ` + setArgs + `)
if not ok then ngx.say("set not ok: ", err) return end
ngx.say("set ok")
local data, err, stale = dogs:get_stale("foo")
if data == nil and err then ngx.say("get not ok: ", err) return end
` + say
}

func incrBlock(by string) string {
	return `local dogs = ngx.shared.dogs
local key = 56
local ok, err = dogs:set(key, 1)
if not ok then ngx.say("set not ok: ", err) return end
ngx.say("set ok")
ok, err = dogs:incr(key, ` + by + `)
if not ok then ngx.say("incr not ok: ", err) return end
ngx.say("incr ok")
local data, err = dogs:get(key)
if data == nil and err then ngx.say("get not ok: ", err) return end
local flags = err
ngx.say("get ok: ", data, ", flags: ", flags)`
}
