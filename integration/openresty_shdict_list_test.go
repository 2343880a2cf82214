package integration

import "testing"

// pushSay is the push-and-report prologue of many t/145-shdict-list.t
// blocks.
const pushSay = `local dogs = ngx.shared.dogs
local len, err = dogs:lpush("foo", "bar")
if len then ngx.say("push success") else ngx.say("push err: ", err) end
`

// setSay is its counterpart for a scalar value.
const setSay = `local dogs = ngx.shared.dogs
local ok, err = dogs:set("foo", "bar")
if ok then ngx.say("set success") else ngx.say("set err: ", err) end
`

// lua-nginx-module t/144-shdict-incr-init.t and t/145-shdict-list.t,
// rebuilt; waits through an echo_sleep subrequest are ngx.sleep here.
func TestOpenRestyShdictList(t *testing.T) {
	const fi = "lua-nginx-module t/144-shdict-incr-init.t "
	const fl = "lua-nginx-module t/145-shdict-list.t "
	dogs900k := map[string]string{"dogs": "900k"}
	pushPop := func(push, pop string) string {
		return `local dogs = ngx.shared.dogs
for i = 1, 3 do
	local len, err = dogs:` + push + `("foo", i)
	if len ~= i then ngx.say("push err: ", err) break end
end
for i = 1, 3 do
	local val, err = dogs:` + pop + `("foo")
	if not val then ngx.say("pop err: ", err) break else ngx.say(val) end
end`
	}
	expiredList := `local dogs = ngx.shared.dogs
local len, err = dogs:lpush("cc", "1")
if not len then ngx.say("push cc  err: ", err) end
len, err = dogs:lpush("aa", "1")
if not len then ngx.say("push1 err: ", err) end
local succ, err = dogs:expire("aa", 0.2)
if not succ then ngx.say("expire err: ", err) end
ngx.sleep(0.3)
len, err = dogs:lpush("aa", "2")
if not len then ngx.say("push2 err: ", err) end
`
	global, cases := shdCases([]shdCase{
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 1: incr key with init (key exists)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 32)
local res, err = dogs:incr("foo", 10502, 1)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 10534 nil\nfoo = 10534\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 2: incr key with init (key not exists)",
			content: `local dogs = ngx.shared.dogs
dogs:flush_all()
dogs:set("bah", 32)
local res, err = dogs:incr("foo", 10502, 1)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 10503 nil\nfoo = 10503\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 3: incr key with init (key expired and size not matched)",
			content: `local dogs = ngx.shared.dogs
for i = 1, 20 do dogs:set("bar" .. i, i, 0.001) end
dogs:set("foo", "32", 0.001)
ngx.sleep(0.002)
local res, err = dogs:incr("foo", 10502, 0)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 10502 nil\nfoo = 10502\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 4: incr key with init (key expired and size matched)",
			content: `local dogs = ngx.shared.dogs
for i = 1, 20 do dogs:set("bar" .. i, i, 0.001) end
dogs:set("foo", 32, 0.001)
ngx.sleep(0.002)
local res, err = dogs:incr("foo", 10502, 0)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 10502 nil\nfoo = 10502\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 5: incr key with init (forcibly override other valid entries)",
			content: `local dogs = ngx.shared.dogs
dogs:flush_all()
local prefix = string.rep("1234567890", 100)
for i = 1, 1000 do
	local ok, err, forcible = dogs:set(prefix .. i, i)
	if forcible then dogs:delete(prefix .. i) break end
end
local res, err, forcible = dogs:incr(prefix .. "bar", 10502, 0)
ngx.say("incr: ", res, " ", err, " ", forcible)
res, err, forcible = dogs:incr(prefix .. "foo", 10502, 0)
ngx.say("incr: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get(prefix .. "foo"))`,
			body: "incr: 10502 nil false\nincr: 10502 nil true\nfoo = 10502\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 6: incr key without init (no forcible returned)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", 1)
local res, err, forcible = dogs:incr("foo", 1)
ngx.say("incr: ", res, " ", err, " ", forcible)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: 2 nil nil\nfoo = 2\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 7: incr key (original value is not number)",
			content: `local dogs = ngx.shared.dogs
dogs:set("foo", true)
local res, err = dogs:incr("foo", 1, 0)
ngx.say("incr: ", res, " ", err)
ngx.say("foo = ", dogs:get("foo"))`,
			body: "incr: nil not a number\nfoo = true\n"}},
		{dicts: dogs1m, orCase: orCase{src: fi + "TEST 8: init is not number",
			content: `local dogs = ngx.shared.dogs
local res, err, forcible = dogs:incr("foo", 1, "bar")
ngx.say("incr: ", res, " ", err, " ", forcible)`,
			status: 500, skipBody: true, errLog: []string{"number expected, got string"}}},

		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 1: lpush & lpop",
			content: pushSay + `local val, err = dogs:llen("foo")
ngx.say(val, " ", err)
val, err = dogs:lpop("foo")
ngx.say(val, " ", err)
val, err = dogs:llen("foo")
ngx.say(val, " ", err)
val, err = dogs:lpop("foo")
ngx.say(val, " ", err)`,
			body: "push success\n1 nil\nbar nil\n0 nil\nnil nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 2: get operation on list type",
			content: pushSay + `local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\nnil value is a list\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 3: set operation on list type",
			content: pushSay + `local ok, err = dogs:set("foo", "bar")
ngx.say(ok, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\ntrue nil\nbar nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 4: replace operation on list type",
			content: pushSay + `local ok, err = dogs:replace("foo", "bar")
ngx.say(ok, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\ntrue nil\nbar nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 5: add operation on list type",
			content: pushSay + `local ok, err = dogs:add("foo", "bar")
ngx.say(ok, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\nfalse exists\nnil value is a list\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 6: delete operation on list type",
			content: pushSay + `local ok, err = dogs:delete("foo")
ngx.say(ok, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\ntrue nil\nnil nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 7: incr operation on list type",
			content: pushSay + `local ok, err = dogs:incr("foo", 1)
ngx.say(ok, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "push success\nnil not a number\nnil value is a list\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 8: get_keys operation on list type",
			content: pushSay + `local keys, err = dogs:get_keys()
ngx.say("key: ", keys[1])`,
			body: "push success\nkey: foo\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 9: push operation on key-value type",
			content: setSay + `local len, err = dogs:lpush("foo", "bar")
ngx.say(len, " ", err)
local val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "set success\nnil value not a list\nbar nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 10: pop operation on key-value type",
			content: setSay + `local val, err = dogs:lpop("foo")
ngx.say(val, " ", err)
val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "set success\nnil value not a list\nbar nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 11: llen operation on key-value type",
			content: setSay + `local val, err = dogs:llen("foo")
ngx.say(val, " ", err)
val, err = dogs:get("foo")
ngx.say(val, " ", err)`,
			body: "set success\nnil value not a list\nbar nil\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 12: lpush and lpop", content: pushPop("lpush", "lpop"), body: "3\n2\n1\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 13: lpush and rpop", content: pushPop("lpush", "rpop"), body: "1\n2\n3\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 14: rpush and lpop", content: pushPop("rpush", "lpop"), body: "1\n2\n3\n"}},
		{dicts: dogs900k, orCase: orCase{src: fl + "TEST 15: list removed: expired",
			content: `local dogs = ngx.shared.dogs
local N = 100000
local max = 0
for i = 1, N do
	local len, err = dogs:lpush(string.format("%05d", i), i)
	if not len then max = i break end
end
ngx.say("max - 1 matched keys length: ", max - 1 == #dogs:get_keys(0))
dogs:flush_all()
ngx.say("keys all expired, left number: ", #dogs:get_keys(0))
for i = 100000, 1, -1 do
	local len, err = dogs:lpush(string.format("%05d", i), i)
	if not len then ngx.say("loop again, max matched: ", N + 1 - i == max) break end
end
dogs:flush_all()
dogs:flush_expired()
for i = 1, N do
	local len, err = dogs:lpush(string.format("%05d", i), i)
	if not len then ngx.say("loop again, max matched: ", i == max) break end
end`,
			body: "max - 1 matched keys length: true\nkeys all expired, left number: 0\nloop again, max matched: true\nloop again, max matched: true\n"}},
		{dicts: dogs900k, orCase: orCase{src: fl + "TEST 16: list removed: forcibly",
			content: `local dogs = ngx.shared.dogs
local N = 200000
local max = 0
for i = 1, N do
	local ok, err, forcible = dogs:set(i, i)
	if not ok or forcible then max = i break end
end
ngx.say("two == number 2: ", dogs:get(2) == 2)
dogs:flush_all()
dogs:flush_expired()
ngx.say("no one left: ", #dogs:get_keys(0))
for i = 1, N do
	local len, err = dogs:lpush(string.format("%05d", i), i)
	if not len then break end
end
for i = 1, max do
	local ok, err = dogs:set(i, i)
	if not ok then ngx.say("set err: ", err) break end
end
ngx.say("two == number 2: ", dogs:get(2) == 2)`,
			body: "two == number 2: true\nno one left: 0\ntwo == number 2: true\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 17: expire on all types",
			content: `local dogs = ngx.shared.dogs
local len, err = dogs:lpush("list", "foo")
if not len then ngx.say("push err: ", err) end
local ok, err = dogs:set("key", "bar")
if not ok then ngx.say("set err: ", err) end
ngx.say("keys number: ", #dogs:get_keys(0))
dogs:flush_all()
ngx.say("keys number: ", #dogs:get_keys(0))`,
			body: "keys number: 2\nkeys number: 0\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 18: long list node",
			content: `local dogs = ngx.shared.dogs
local long = string.rep("foo", 10)
for i = 1, 3 do
	local len, err = dogs:lpush("list", long)
	if not len then ngx.say("push err: ", err) end
end
for i = 1, 3 do
	local val, err = dogs:lpop("list")
	if val then ngx.say(val) end
end`,
			body: "foofoofoofoofoofoofoofoofoofoo\nfoofoofoofoofoofoofoofoofoofoo\nfoofoofoofoofoofoofoofoofoofoo\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 19: incr on expired list",
			content: `local dogs = ngx.shared.dogs
local long = string.rep("foo", 10 * 1024)
for i = 1, 100 do
	for j = 1, 10 do
		local len, err = dogs:lpush("list" .. j, long)
		if not len then ngx.say("push err: ", err) end
	end
	dogs:flush_all()
	for j = 10, 1, -1 do
		local v, err = dogs:incr("list" .. j, 1, 0)
		if not v then ngx.say("incr err: ", err) end
	end
	dogs:flush_all()
end
ngx.say("done")`,
			body: "done\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 20: push to an expired list",
			content: expiredList + `len, err = dogs:llen("aa")
if not len then ngx.say("llen err: ", err) else ngx.say("aa:len :", dogs:llen("aa")) end`,
			body: "aa:len :1\n"}},
		{dicts: dogs1m, orCase: orCase{src: fl + "TEST 21: push to an expired list then pop many time (more then list len )",
			content: expiredList + `local val, err = dogs:lpop("aa")
if not val then ngx.say("llen err: ", err) end
val, err = dogs:lpop("aa")
ngx.say("aa list value: ", val)`,
			body: "aa list value: nil\n"}},
		{dicts: dogs100k, orCase: orCase{src: fl + "TEST 22: lpush return nil",
			content: `local dogs = ngx.shared.dogs
for i = 1, 2920 do dogs:lpush("foo", "bar") end
local len, err = dogs:lpush("foo", "bar")
ngx.say(len)`,
			body: "nil\n"}},
	})
	orSuite(t, global, cases)
}
