package integration

import (
	"strings"
	"testing"
)

// showVal is the report of many lua-resty-core t/shdict.t blocks.
const showVal = `
ngx.say("value type: ", type(val))
ngx.say("value: ", val)
ngx.say("flags: ", flags)`

// catsFill is TEST 34-37's loop: n sets of small values in cats (16k),
// reporting errors and forcible stores, then the free pages.
func catsFill(n string) string {
	return `local cats = ngx.shared.cats
cats:flush_all()
cats:flush_expired()
for i = 1, ` + n + ` do
	local key = string.format("key%05d", i)
	local val = string.format("val%05d", i)
	local success, err, forcible = cats:set(key, val)
	if err ~= nil then ngx.say(string.format("got error, i=%d, err=%s", i, err)) end
	if forcible then ngx.say(string.format("got forcible, i=%d", i)) end
	if not success then ngx.say(string.format("got not success, i=%d", i)) end
end
local free_page_bytes = cats:free_space()
ngx.say("free_page_bytes type: ", type(free_page_bytes))
ngx.say("free_page_bytes: ", free_page_bytes)`
}

// lua-resty-core t/shdict.t, rebuilt: every block declares dogs 1m, cats
// 16k and birds 100k (fresh ones here for each block). The blocks'
// `local ffi = require "ffi"` lines (unused by the checks) are dropped;
// the JIT trace checks are not rebuilt.
func TestOpenRestyShdictCore(t *testing.T) {
	const f = "lua-resty-core t/shdict.t "
	all := map[string]string{"dogs": "1m", "cats": "16k", "birds": "100k"}
	c := func(src, content, body string) shdCase {
		return shdCase{dicts: all, orCase: orCase{src: f + src, content: content, body: body}}
	}
	cRe := func(src, content, re string) shdCase {
		return shdCase{dicts: all, orCase: orCase{src: f + src, content: content, bodyRe: re}}
	}
	cErr := func(src, content, log string) shdCase {
		return shdCase{dicts: all, orCase: orCase{src: f + src, content: content, status: 500, skipBody: true, errLog: []string{log}}}
	}
	getLoop := func(set, get string) string {
		return `local val, flags
local dogs = ngx.shared.dogs
` + set + `
for i = 1, 100 do val, flags = dogs:get(` + get + `) end` + showVal
	}
	setLoop := func(set string) string {
		return `local val, flags
local dogs = ngx.shared.dogs
for i = 1, 100 do ` + set + ` end
val, flags = dogs:get("foo")` + showVal
	}
	zone := `local function check_in_pcall(f, ...)
	local ok, err = pcall(f, ...)
	if not ok then ngx.say(err) else ngx.say("ok") end
end
local dogs = ngx.shared.dogs
check_in_pcall(dogs.set, dogs, 'k', 1)
check_in_pcall(dogs.set, 'k', 1)
check_in_pcall(dogs.set, {1}, 'k', 1)
check_in_pcall(dogs.set, {ngx.null}, 'k', 1)`
	pcallIncr := func(args string) string {
		return `local dogs = ngx.shared.dogs
local pok, err = pcall(dogs.incr, dogs, ` + args + `)
if not pok then ngx.say("not ok: ", err) return end
ngx.say("ok")`
	}
	initTTL := func(pre, incr string) string {
		return `local dogs = ngx.shared.dogs
` + pre + `
local res, err = dogs:incr(` + incr + `)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))
ngx.update_time()
ngx.sleep(0.02)
ngx.say("foo after init_ttl = ", dogs:get("foo"))`
	}
	hugeTTL := func(code string) string {
		return `local dogs = ngx.shared.dogs
dogs:flush_all()
` + code + `
local ttl, err = dogs:ttl(KEY)
if not ttl then ngx.say("err retrieving ttl: ", err) return end
ngx.say("ttl: ", ttl)`
	}
	global, cases := shdCases([]shdCase{
		c("TEST 1: get a string value", getLoop(`local ok, err, forcible = dogs:set("foo", "bar", 0, 72)
if not ok then ngx.say("failed to set: ", err) return end`, `"foo"`), "value type: string\nvalue: bar\nflags: 72\n"),
		c("TEST 2: get an nonexistent key", getLoop(``, `"nonexistent"`), "value type: nil\nvalue: nil\nflags: nil\n"),
		c("TEST 3: get a boolean value (true)", getLoop(`dogs:set("foo", true, 0, 5678)`, `"foo"`), "value type: boolean\nvalue: true\nflags: 5678\n"),
		c("TEST 4: get a boolean value (false)", getLoop(`dogs:set("foo", false, 0, 777)`, `"foo"`), "value type: boolean\nvalue: false\nflags: 777\n"),
		c("TEST 5: get a number value (int)", getLoop(`dogs:set("foo", 51203)`, `"foo"`), "value type: number\nvalue: 51203\nflags: nil\n"),
		c("TEST 6: get a number value (double)", getLoop(`dogs:set("foo", 3.1415926, 0, 78)`, `"foo"`), "value type: number\nvalue: 3.1415926\nflags: 78\n"),
		c("TEST 7: get a large string value", getLoop(`dogs:flush_all()
dogs:flush_expired()
dogs:set("foo", string.rep("bbbb", 1024) .. "a", 0, 912)`, `"foo"`), "value type: string\nvalue: "+strings.Repeat("bbbb", 1024)+"a\nflags: 912\n"),
		c("TEST 8: get_stale (false)", `local val, flags, stale
local dogs = ngx.shared.dogs
dogs:set("foo", "bar", 0, 72)
for i = 1, 100 do val, flags, stale = dogs:get_stale("foo") end`+showVal+`
ngx.say("stale: ", stale)`, "value type: string\nvalue: bar\nflags: 72\nstale: false\n"),
		c("TEST 9: get_stale (true)", `local val, flags, stale
local dogs = ngx.shared.dogs
local ok, err, forcible = dogs:set("foo", "bar", 0.01, 72)
if not ok then ngx.say("failed to set: ", err) return end
ngx.update_time()
ngx.sleep(0.02)
for i = 1, 30 do val, flags, stale = dogs:get_stale("foo") end`+showVal+`
ngx.say("stale: ", stale)`, "value type: string\nvalue: bar\nflags: 72\nstale: true\n"),
		c("TEST 10: incr int", `local val
local dogs = ngx.shared.dogs
local ok, err, forcible = dogs:set("foo", 56)
if not ok then ngx.say("failed to set: ", err) return end
for i = 1, 100 do val, err = dogs:incr("foo", 2) end
ngx.say("value: ", val)
ngx.say("err: ", err)`, "value: 256\nerr: nil\n"),
		c("TEST 11: incr double", `local val, err
local dogs = ngx.shared.dogs
dogs:set("foo", 56)
for i = 1, 150 do val, err = dogs:incr("foo", 2.1) end
ngx.say("value: ", val)
ngx.say("err: ", err)`, "value: 371\nerr: nil\n"),
		c("TEST 12: set a string value", `local val, flags
local dogs = ngx.shared.dogs
local ok, err, forcible
for i = 1, 100 do ok, err, forcible = dogs:set("foo", "bar", 0, 72) end
if not ok then ngx.say("failed to set: ", err) return end
val, flags = dogs:get("foo")`+showVal, "value type: string\nvalue: bar\nflags: 72\n"),
		c("TEST 13: set a boolean value (true)", setLoop(`dogs:set("foo", true, 0, 5678)`), "value type: boolean\nvalue: true\nflags: 5678\n"),
		c("TEST 14: set a boolean value (false)", setLoop(`dogs:set("foo", false, 0, 777)`), "value type: boolean\nvalue: false\nflags: 777\n"),
		c("TEST 15: set a number value (int)", setLoop(`dogs:set("foo", 51203)`), "value type: number\nvalue: 51203\nflags: nil\n"),
		c("TEST 16: set a number value (double)", setLoop(`dogs:set("foo", 3.1415926, 0, 78)`), "value type: number\nvalue: 3.1415926\nflags: 78\n"),
		c("TEST 17: set a number value and a nil", setLoop(`dogs:set("foo", 3.1415926, 0, 78) dogs:set("foo", nil)`), "value type: nil\nvalue: nil\nflags: nil\n"),
		c("TEST 18: safe set a number value", `local val, flags
local dogs = ngx.shared.dogs
dogs:flush_all()
dogs:flush_expired()
for i = 1, 100 do dogs:safe_set("foo", 3.1415926, 0, 78) end
val, flags = dogs:get("foo")`+showVal, "value type: number\nvalue: 3.1415926\nflags: 78\n"),
		c("TEST 19: add a string value", `local val, flags
local dogs = ngx.shared.dogs
dogs:flush_all()
local ok, err, forcible
for i = 1, 100 do ok, err, forcible = dogs:add("foo" .. i, "bar", 0, 72) end
if not ok then ngx.say("failed to set: ", err) return end
val, flags = dogs:get("foo100")`+showVal, "value type: string\nvalue: bar\nflags: 72\n"),
		c("TEST 20: safe add a string value", `local val, flags
local dogs = ngx.shared.dogs
dogs:flush_all()
dogs:flush_expired()
local ok, err, forcible
for i = 1, 100 do ok, err, forcible = dogs:safe_add("foo" .. i, "bar", 0, 72) end
if not ok then ngx.say("failed to set: ", err) return end
val, flags = dogs:get("foo100")`+showVal, "value type: string\nvalue: bar\nflags: 72\n"),
		c("TEST 21: replace a string value", `local val, flags
local dogs = ngx.shared.dogs
dogs:set("foo", "hello")
local ok, err, forcible
for i = 1, 100 do ok, err, forcible = dogs:replace("foo", "bar" .. i, 0, 72) end
if not ok then ngx.say("failed to set: ", err) return end
val, flags = dogs:get("foo")`+showVal, "value type: string\nvalue: bar100\nflags: 72\n"),
		c("TEST 22: set a number value and delete", `local val, flags
local dogs = ngx.shared.dogs
for i = 1, 150 do
	dogs:set("foo", 3.1415926, 0, 78)
	dogs:delete("foo")
end
val, flags = dogs:get("foo")`+showVal, "value type: nil\nvalue: nil\nflags: nil\n"),
		c("TEST 23: set nil key", `local ok, err = ngx.shared.dogs:set(nil, "bar")
if not ok then ngx.say("failed to set: ", err) end`, "failed to set: nil key\n"),
		c("TEST 24: get nil key", `local value, err = ngx.shared.dogs:get(nil, "bar")
if not ok then ngx.say("failed to get: ", err) end`, "failed to get: nil key\n"),
		c("TEST 25: get stale key", `local value, err = ngx.shared.dogs:get_stale(nil, "bar")
if not ok then ngx.say("failed to get stale: ", err) end`, "failed to get stale: nil key\n"),
		c("TEST 26: incr key", `local value, err = ngx.shared.dogs:incr(nil, 32)
if not value then ngx.say("failed to incr: ", err) end`, "failed to incr: nil key\n"),
		c("TEST 27: flush_all", `local val, flags
local dogs = ngx.shared.dogs
dogs:set("foo", "bah")
for i = 1, 150 do dogs:flush_all() end
val, flags = dogs:get("foo")`+showVal, "value type: nil\nvalue: nil\nflags: nil\n"),
		cErr("TEST 28: incr, value is not number", `local value, err = ngx.shared.dogs:incr("foo", "bar")
if not value then ngx.say("failed to incr: ", err) end`, "cannot convert 'nil' to 'double'"),
		c("TEST 29: incr with init", `local dogs = ngx.shared.dogs
dogs:flush_all()
local value, err = dogs:incr("foo", 10)
if not value then ngx.say("failed to incr: ", err) end
local value, err, forcible = dogs:incr("foo", 10, 10)
if not value then ngx.say("failed to incr: ", err) return end
ngx.say("incr ok, value: ", value, ", forcible: ", forcible)`, "failed to incr: not found\nincr ok, value: 20, forcible: false\n"),
		cErr("TEST 30: incr, init is not number", `local value, err = ngx.shared.dogs:incr("foo", 10, "bar")
if not ok then ngx.say("failed to incr: ", err) end`, "number expected, got string"),
		c("TEST 31: capacity", `local capacity = ngx.shared.cats:capacity()
ngx.say("capacity type: ", type(capacity))
ngx.say("capacity: ", capacity)`, "capacity type: number\ncapacity: 16384\n"),
		c("TEST 32: free_space, empty (16k zone)", `local cats = ngx.shared.cats
cats:flush_all()
cats:flush_expired()
local free_page_bytes = cats:free_space()
ngx.say("free_page_bytes type: ", type(free_page_bytes))
ngx.say("free_page_bytes: ", free_page_bytes)`, "free_page_bytes type: number\nfree_page_bytes: 4096\n"),
		cRe("TEST 33: free_space, empty (100k zone)", `local birds = ngx.shared.birds
birds:flush_all()
birds:flush_expired()
local free_page_bytes = birds:free_space()
ngx.say("free_page_bytes type: ", type(free_page_bytes))
ngx.say("free_page_bytes: ", free_page_bytes)`, `\Afree_page_bytes type: number\nfree_page_bytes: (?:90112|94208)\n\z`),
		c("TEST 34: free_space, about half full, one page left", catsFill("31"), "free_page_bytes type: number\nfree_page_bytes: 4096\n"),
		cRe("TEST 35: free_space, about half full, no page left", catsFill("32"), `\Afree_page_bytes type: number\nfree_page_bytes: (?:0|4096)\n\z`),
		c("TEST 36: free_space, full", catsFill("63"), "free_page_bytes type: number\nfree_page_bytes: 0\n"),
		cRe("TEST 37: free_space, got forcible", catsFill("64"), `\A(?:got forcible, i=64\n)?free_page_bytes type: number\nfree_page_bytes: 0\n\z`),
		cRe("TEST 38: free_space, full (100k)", `local birds = ngx.shared.birds
birds:flush_all()
birds:flush_expired()
for i = 1, 1000 do
	local key = string.format("key%05d", i)
	local val = string.format("val%05d", i)
	local ok, err, forcible = birds:set(key, val)
	if err ~= nil then ngx.say(string.format("got error, i=%d, err=%s", i, err)) end
	if forcible then ngx.say(string.format("got forcible, i=%d", i)) break end
	if not ok then ngx.say(string.format("got not ok, i=%d", i)) break end
end
local free_page_bytes = birds:free_space()
ngx.say("free_page_bytes type: ", type(free_page_bytes))
ngx.say("free_page_bytes: ", free_page_bytes)`, `\A(?:got forcible, i=736\n)?free_page_bytes type: number\nfree_page_bytes: (?:0|32768)\n\z`),
		c("TEST 39: incr bad init_ttl argument", pcallIncr(`"foo", 1, 0, -1`), "not ok: bad \"init_ttl\" argument\n"),
		c("TEST 40: incr init_ttl argument is not a number", pcallIncr(`"foo", 1, 0, "bar"`), "not ok: bad init_ttl arg: number expected, got string\n"),
		c("TEST 41: incr init_ttl argument without init", pcallIncr(`"foo", 1, nil, 0.01`), "not ok: must provide \"init\" when providing \"init_ttl\"\n"),
		c("TEST 42: incr key with init_ttl (key exists)", `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", 10502, 0, 0.01)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))
ngx.update_time()
ngx.sleep(0.02)
ngx.say("foo after incr init_ttl = ", dogs:get("foo"))`, "incr: 10534 nil\nfoo = 10534\nfoo after incr init_ttl = 10534\n"),
		c("TEST 43: incr key with init and init_ttl (key not exists)", initTTL(`dogs:flush_all()`, `"foo", 10502, 1, 0.01`), "incr: 10503 nil\nfoo = 10503\nfoo after init_ttl = nil\n"),
		c("TEST 44: incr key with init and init_ttl as string (key not exists)", initTTL(`dogs:flush_all()`, `"foo", 10502, 1, "0.01"`), "incr: 10503 nil\nfoo = 10503\nfoo after init_ttl = nil\n"),
		c("TEST 45: incr key with init and init_ttl (key expired and size matched)", initTTL(`for i = 1, 20 do dogs:set("bar" .. i, i, 0.02) end
dogs:set("foo", 32, 0.02)
ngx.update_time()
ngx.sleep(0.03)`, `"foo", 10502, 0, 0.01`), "incr: 10502 nil\nfoo = 10502\nfoo after init_ttl = nil\n"),
		c("TEST 46: incr key with init and init_ttl (forcibly override other valid entries)", `local dogs = ngx.shared.dogs
dogs:flush_all()
local long_prefix = string.rep("1234567890", 100)
for i = 1, 1000 do
	local success, err, forcible = dogs:set(long_prefix .. i, i)
	if forcible then dogs:delete(long_prefix .. i) break end
end
local res, err, forcible = dogs:incr(long_prefix .. "bar", 10502, 0)
ngx.say("incr: ", res, " ", err, " ", forcible)
res, err, forcible = dogs:incr(long_prefix .. "foo", 10502, 0, 0.01)
ngx.say("incr: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get(long_prefix .. "foo"))
ngx.update_time()
ngx.sleep(0.02)
ngx.say("foo after init_ttl = ", dogs:get("foo"))`, "incr: 10502 nil false\nincr: 10502 nil true\nfoo = 10502\nfoo after init_ttl = nil\n"),
		c("TEST 47: exptime uses long type to avoid overflow in set() + ttl()", strings.ReplaceAll(hugeTTL(`local ok, err = dogs:set("huge_ttl", true, 2 ^ 31)
if not ok then ngx.say("err setting: ", err) return end`), "KEY", `"huge_ttl"`), "ttl: 2147483648\n"),
		c("TEST 48: exptime uses long type to avoid overflow in expire() + ttl()", strings.ReplaceAll(hugeTTL(`local ok, err = dogs:set("updated_huge_ttl", true)
if not ok then ngx.say("err setting: ", err) return end
ok, err = dogs:expire("updated_huge_ttl", 2 ^ 31)
if not ok then ngx.say("err expire: ", err) return end`), "KEY", `"updated_huge_ttl"`), "ttl: 2147483648\n"),
		c("TEST 49: init_ttl uses long type to avoid overflow in incr() + ttl()", strings.ReplaceAll(hugeTTL(`local ok, err = dogs:incr("incr_huge_ttl", 1, 0, 2 ^ 31)
if not ok then ngx.say("err incr: ", err) return end`), "KEY", `"incr_huge_ttl"`), "ttl: 2147483648\n"),
		c("TEST 50: check zone argument", zone, "ok\nbad \"zone\" argument\nbad \"zone\" argument\nbad \"zone\" argument\n"),
	})
	orSuite(t, global, cases)
}
