package integration

import "testing"

// lua-resty-limit-traffic t/req.t, t/conn.t, t/count.t and t/traffic.t,
// rebuilt (on restylimit's Go limiters). Elapsed-time checks keep only
// their lower bound, and the states traffic.t reads after a one-second
// sleep are matched loosely (no timing assertions on a shared machine).
func TestOpenRestyLimit(t *testing.T) {
	const rq = "lua-resty-limit-traffic t/req.t "
	const cn = "lua-resty-limit-traffic t/conn.t "
	const ct = "lua-resty-limit-traffic t/count.t "
	const tr = "lua-resty-limit-traffic t/traffic.t "
	store := map[string]string{"store": "1m"}
	three := map[string]string{"req": "1m", "conn": "1m", "count": "1m"}
	reqBad := func(v string) string {
		return `local limit_req = require "resty.limit.req"
ngx.shared.store:flush_all()
ngx.shared.store:set("bar", ` + v + `)
local lim = limit_req.new("store", 2, 10)
local delay, err = lim:incoming("bar", true)
if not delay then ngx.say("failed to limit request: ", err) else ngx.say("delay: ", delay) end`
	}
	connLoop := func(commit, extra string) string {
		return `local limit_conn = require "resty.limit.conn"
local lim = limit_conn.new("store", 2, 8, 1)
ngx.shared.store:flush_all()
local key = "foo"
for i = 1, 12 do
	local delay, err = lim:incoming(key, ` + commit + `)
	if not delay then
		ngx.say("failed to limit conn: ", err)
	else
		local conn = err
		ngx.say(i, ": ", delay, ", conn: ", conn)
		` + extra + `
	end
end`
	}
	countSay := `if not delay then ngx.say(err) else ngx.say("remaining: ", err) end`
	traffic := func(count string, states bool) string {
		st := `
			local states = {}`
		call := `limit_traffic.combine(limiters, keys, states)`
		say := `ngx.say(i, ": ", delay, ", conn committed: ", lim3:is_committed(), ", states: ", table.concat(states, ", "))`
		fail := `ngx.say("failed to limit traffic: ", err)`
		if !states {
			st = ""
			call = `limit_traffic.combine(limiters, keys)`
			say = `ngx.say(i, ": ", delay, ", conn committed: ", lim3:is_committed())`
		}
		if count == "2" {
			fail += ` ngx.say("states: ", table.concat(states, ", "))`
		}
		sleep := `if i == 4 then ngx.sleep(1) end`
		if count == "2" {
			sleep = ""
		}
		return `local limit_conn = require "resty.limit.conn"
local limit_req = require "resty.limit.req"
local limit_count = require "resty.limit.count"
local limit_traffic = require "resty.limit.traffic"
local lim1 = limit_req.new("req", 3, 2)
local lim2 = limit_req.new("req", 2, 3)
local lim3 = limit_conn.new("conn", 4, 1, 2)
local lim4 = limit_count.new("count", ` + count + `, 100)
local limiters = {lim1, lim2, lim3, lim4}
ngx.shared.req:flush_all()
ngx.shared.conn:flush_all()
ngx.shared.count:flush_all()
local keys = {"foo", "bar", "foo", "bar"}` + st + `
for i = 1, 6 do
	local delay, err = ` + call + `
	if not delay then ` + fail + ` else ` + say + ` end
	` + sleep + `
end`
	}
	mock := `local limit_traffic = require "resty.limit.traffic"
local limit_mock = {}
limit_mock.__index = limit_mock
function limit_mock.new(_, _, reject_on_commit)
	return setmetatable({counters = {}, reject_on_commit = reject_on_commit}, limit_mock)
end
function limit_mock:incoming(key, commit)
	local count = (self.counters[key] or 0) + 1
	if commit then
		self.counters[key] = count
		if self.reject_on_commit then return nil, "rejected by mock limiter" end
	end
	return count
end
function limit_mock:uncommit(key)
	local count = self.counters[key] or 0
	if count > 0 then count = count - 1 end
	self.counters[key] = count
end
`
	global, cases := shdCases([]shdCase{
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 1: a single key (always commit) (elapsed: lower bound)",
			content: `local limit_req = require "resty.limit.req"
ngx.shared.store:flush_all()
local lim = limit_req.new("store", 40, 40)
local begin = ngx.now()
local uri = ngx.var.uri
for i = 1, 80 do
	local delay, err = lim:incoming(uri, true)
	if not delay then ngx.say("failed to limit request: ", err) return end
	ngx.sleep(delay)
end
ngx.say("elapsed at least 1.9 sec.: ", ngx.now() - begin >= 1.9)`,
			body: "elapsed at least 1.9 sec.: true\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 2: multiple keys",
			content: `local limit_req = require "resty.limit.req"
ngx.shared.store:flush_all()
local lim = limit_req.new("store", 2, 10)
local delay1, excess1 = lim:incoming("foo", true)
local delay2, excess2 = lim:incoming("foo", true)
local delay3 = lim:incoming("bar", true)
local delay4 = lim:incoming("bar", true)
ngx.say("delay1: ", delay1)
ngx.say("excess1: ", excess1)
ngx.say("delay2: ", delay2)
ngx.say("excess2: ", excess2)
ngx.say("delay3: ", delay3)
ngx.say("delay4: ", delay4)`,
			body: "delay1: 0\nexcess1: 0\ndelay2: 0.5\nexcess2: 1\ndelay3: 0\ndelay4: 0.5\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 3: burst",
			content: `local limit_req = require "resty.limit.req"
local lim = limit_req.new("store", 2, 0)
for burst = 0, 2 do
	ngx.shared.store:flush_all()
	if burst > 0 then lim:set_burst(burst) end
	for i = 1, 10 do
		local delay, err = lim:incoming("foo", true)
		if not delay then ngx.say(i, ": error: ", err) break end
	end
end`,
			body: "2: error: rejected\n3: error: rejected\n4: error: rejected\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 4: a single key (do not commit since the 3rd time)",
			content: `local limit_req = require "resty.limit.req"
ngx.shared.store:flush_all()
local lim = limit_req.new("store", 2, 10)
for i = 1, 4 do
	local delay, err = lim:incoming("bar", i < 3 and true or false)
	if not delay then ngx.say("failed to limit request: ", err) else ngx.say("delay: ", delay) end
end`,
			body: "delay: 0\ndelay: 0.5\ndelay: 1\ndelay: 1\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 5: bad value in shdict (integer type)",
			content: reqBad("32"), body: "failed to limit request: shdict abused by other users\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 6: bad value in shdict (string type, and wrong size)",
			content: reqBad(`"a"`), body: "failed to limit request: shdict abused by other users\n"}},
		{dicts: store, byName: true, orCase: orCase{src: rq + "TEST 7: a single key (commit & uncommit)",
			content: `local limit_req = require "resty.limit.req"
ngx.shared.store:flush_all()
local lim = limit_req.new("store", 40, 40)
local uri = ngx.var.uri
for i = 1, 5 do
	local delay, err = lim:incoming(uri, true)
	if not delay then ngx.say("failed to limit request: ", err) return end
	ngx.say(i, ": delay: ", delay)
	local ok, err = lim:uncommit(uri)
	if not ok then ngx.say("failed to uncommit: ", err) end
end`,
			body: "1: delay: 0\n2: delay: 0.025\n3: delay: 0.025\n4: delay: 0.025\n5: delay: 0.025\n"}},

		{dicts: store, byName: true, orCase: orCase{src: cn + "TEST 1: a single key (always commit, and no leaving)",
			content: connLoop("true", `ngx.say("committed: ", lim:is_committed())`),
			body: "1: 0, conn: 1\ncommitted: true\n2: 0, conn: 2\ncommitted: true\n3: 1, conn: 3\ncommitted: true\n4: 1, conn: 4\ncommitted: true\n" +
				"5: 2, conn: 5\ncommitted: true\n6: 2, conn: 6\ncommitted: true\n7: 3, conn: 7\ncommitted: true\n8: 3, conn: 8\ncommitted: true\n" +
				"9: 4, conn: 9\ncommitted: true\n10: 4, conn: 10\ncommitted: true\nfailed to limit conn: rejected\nfailed to limit conn: rejected\n"}},
		{dicts: store, byName: true, orCase: orCase{src: cn + "TEST 2: a single key (sometimes not commit, and no leaving)",
			content: connLoop("i == 3 or i == 5", `ngx.say("committed: ", lim:is_committed())`),
			body: "1: 0, conn: 1\ncommitted: false\n2: 0, conn: 1\ncommitted: false\n3: 0, conn: 1\ncommitted: true\n4: 0, conn: 2\ncommitted: false\n" +
				"5: 0, conn: 2\ncommitted: true\n6: 1, conn: 3\ncommitted: false\n7: 1, conn: 3\ncommitted: false\n8: 1, conn: 3\ncommitted: false\n" +
				"9: 1, conn: 3\ncommitted: false\n10: 1, conn: 3\ncommitted: false\n11: 1, conn: 3\ncommitted: false\n12: 1, conn: 3\ncommitted: false\n"}},
		{dicts: store, byName: true, orCase: orCase{src: cn + "TEST 3: a single key (always commit, and with random leaving)",
			content: connLoop("true", `if i == 4 or i == 7 then
			local conn, err = lim:leaving(key)
			if not conn then ngx.say("leaving failed: ", err) else ngx.say("leaving. conn: ", conn) end
		end`),
			body: "1: 0, conn: 1\n2: 0, conn: 2\n3: 1, conn: 3\n4: 1, conn: 4\nleaving. conn: 3\n5: 1, conn: 4\n6: 2, conn: 5\n7: 2, conn: 6\n" +
				"leaving. conn: 5\n8: 2, conn: 6\n9: 3, conn: 7\n10: 3, conn: 8\n11: 4, conn: 9\n12: 4, conn: 10\n"}},
		{dicts: store, byName: true, orCase: orCase{src: cn + "TEST 4: a single key (commit & uncommit)",
			content: `local limit_conn = require "resty.limit.conn"
local lim = limit_conn.new("store", 2, 8, 1)
ngx.shared.store:flush_all()
local key = "foo"
for i = 1, 3 do
	local delay, err = lim:incoming(key, true)
	if not delay then
		ngx.say("failed to limit conn: ", err)
	else
		ngx.say(i, ": ", delay, ", conn: ", err)
		ngx.say("committed: ", lim:is_committed())
	end
	local ok, err = lim:uncommit(key)
	if not ok then ngx.say("failed to uncommit: ", err) end
end`,
			body: "1: 0, conn: 1\ncommitted: true\n2: 0, conn: 1\ncommitted: true\n3: 0, conn: 1\ncommitted: true\n"}},
		{dicts: store, byName: true, orCase: orCase{src: cn + "TEST 5: a single key (set_conn && set_burst)",
			content: `local limit_conn = require "resty.limit.conn"
local lim = limit_conn.new("store", 2, 1, 1)
ngx.shared.store:flush_all()
local key = "foo"
for i = 1, 10 do
	local delay, err = lim:incoming(key, true)
	if not delay then ngx.say("failed to limit conn: ", err) else ngx.say(i, ": ", delay, ", conn: ", err) end
	if i == 4 then
		ngx.say("set_conn() && set_burst()")
		lim:set_conn(5)
		lim:set_burst(2)
	end
end`,
			body: "1: 0, conn: 1\n2: 0, conn: 2\n3: 1, conn: 3\nfailed to limit conn: rejected\nset_conn() && set_burst()\n5: 0, conn: 4\n6: 0, conn: 5\n7: 1, conn: 6\n8: 1, conn: 7\nfailed to limit conn: rejected\nfailed to limit conn: rejected\n"}},

		{dicts: store, byName: true, orCase: orCase{src: ct + "TEST 1: a single key (always commit)",
			content: `local limit_count = require "resty.limit.count"
ngx.shared.store:flush_all()
local lim = limit_count.new("store", 10, 100)
local uri = ngx.var.uri
for i = 1, 12 do
	local delay, err = lim:incoming(uri, true)
	` + countSay + `
end`,
			body: "remaining: 9\nremaining: 8\nremaining: 7\nremaining: 6\nremaining: 5\nremaining: 4\nremaining: 3\nremaining: 2\nremaining: 1\nremaining: 0\nrejected\nrejected\n"}},
		{dicts: store, byName: true, orCase: orCase{src: ct + "TEST 2: multiple keys",
			content: `local limit_count = require "resty.limit.count"
ngx.shared.store:flush_all()
local lim = limit_count.new("store", 1, 10)
local d1, e1 = lim:incoming("foo", true)
local d2, e2 = lim:incoming("foo", true)
local d3, e3 = lim:incoming("bar", true)
local d4, e4 = lim:incoming("bar", true)
if not d1 then ngx.say(e1) else ngx.say("remaining1: ", e1) end
if not d2 then ngx.say(e2) else ngx.say("remaining2: ", e2) end
if not d3 then ngx.say(e3) else ngx.say("remaining3: ", e3) end
if not d4 then ngx.say(e4) else ngx.say("remaining4: ", e4) end`,
			body: "remaining1: 0\nrejected\nremaining3: 0\nrejected\n"}},
		{dicts: store, byName: true, orCase: orCase{src: ct + "TEST 3: reset limit window",
			content: `local limit_count = require "resty.limit.count"
ngx.shared.store:flush_all()
local lim = limit_count.new("store", 1, 1)
local uri = ngx.var.uri
for i = 1, 2 do
	local delay, err = lim:incoming(uri, true)
	` + countSay + `
	delay, err = lim:incoming(uri, true)
	` + countSay + `
	ngx.sleep(1)
end`,
			body: "remaining: 0\nrejected\nremaining: 0\nrejected\n"}},
		{dicts: store, byName: true, orCase: orCase{src: ct + "TEST 4: a single key (do not commit since the 3rd time)",
			content: `local limit_count = require "resty.limit.count"
ngx.shared.store:flush_all()
local lim = limit_count.new("store", 5, 10)
for i = 1, 4 do
	local delay, err = lim:incoming("foo", i < 3)
	` + countSay + `
end`,
			body: "remaining: 4\nremaining: 3\nremaining: 2\nremaining: 2\n"}},
		{dicts: store, byName: true, orCase: orCase{src: ct + "TEST 5: a single key (commit & uncommit)",
			content: `local limit_count = require "resty.limit.count"
local lim = limit_count.new("store", 2, 10)
ngx.shared.store:flush_all()
for i = 1, 3 do
	local delay, err = lim:incoming("foo", true)
	if not delay then ngx.say("failed to limit count: ", err) else ngx.say("remaining: ", err) end
	local ok, err = lim:uncommit("foo")
	if not ok then ngx.say("failed to uncommit: ", err) end
end`,
			body: "remaining: 1\nremaining: 1\nremaining: 1\n"}},

		{dicts: three, byName: true, orCase: orCase{src: tr + "TEST 1: sanity (output states)",
			content: traffic("10", true),
			bodyRe: `^1: 0, conn committed: true, states: 0, 0, 1, 9\n2: 0\.5, conn committed: true, states: 1, 1, 2, 8\n3: 1, conn committed: true, states: 2, 2, 3, 7\nfailed to limit traffic: rejected\n` +
				`5: 0(?:\.\d+)?, conn committed: true, states: [\d.]+, [\d.]+, 4, 6\n6: [\d.]+, conn committed: true, states: [\d.]+, [\d.]+, 5, 5\n$`}},
		{dicts: three, byName: true, orCase: orCase{src: tr + "TEST 2: sanity (no output states)",
			content: traffic("10", false),
			bodyRe:  `^1: 0, conn committed: true\n2: 0\.5, conn committed: true\n3: 1, conn committed: true\nfailed to limit traffic: rejected\n5: 0(?:\.\d+)?, conn committed: true\n6: [\d.]+, conn committed: true\n$`}},
		{dicts: three, byName: true, orCase: orCase{src: tr + "TEST 3: block by limit-count (output states)",
			content: traffic("2", true),
			body: "1: 0, conn committed: true, states: 0, 0, 1, 1\n2: 0.5, conn committed: true, states: 1, 1, 2, 0\n" +
				"failed to limit traffic: rejected\nstates: 1, 1, 2, 0\nfailed to limit traffic: rejected\nstates: 1, 1, 2, 0\n" +
				"failed to limit traffic: rejected\nstates: 1, 1, 2, 0\nfailed to limit traffic: rejected\nstates: 1, 1, 2, 0\n"}},
		{orCase: orCase{src: tr + "TEST 4: sanity (uncommit() previous limiters if a limiter rejects while committing a state)",
			content: mock + `local lim1 = limit_mock.new(nil, 2)
local lim2 = limit_mock.new(nil, 2)
local lim3 = limit_mock.new(nil, 2, true)
local lim4 = limit_mock.new(nil, 2)
local limiters = {lim1, lim2, lim3, lim4}
local keys = {"foo", "bar", "baz", "bat"}
local delay, err = limit_traffic.combine(limiters, keys)
if not delay then ngx.say(err) end
ngx.say("state lim1: ", lim1:incoming(keys[1]))
ngx.say("state lim2: ", lim2:incoming(keys[2]))
ngx.say("state lim3: ", lim3:incoming(keys[3]))`,
			body: "rejected by mock limiter\nstate lim1: 1\nstate lim2: 1\nstate lim3: 2\n"}},
		{orCase: orCase{src: tr + "TEST 5: sanity (uncommit() the previous limiters and the last limiter if a limiter rejects while committing a state)",
			content: mock + `local lim1 = limit_mock.new(nil, 2)
local lim2 = limit_mock.new(nil, 2, true)
local lim3 = limit_mock.new(nil, 2)
local lim4 = limit_mock.new(nil, 2)
local limiters = {lim1, lim2, lim3, lim4}
local keys = {"foo", "bar", "baz", "bat"}
local delay, err = limit_traffic.combine(limiters, keys)
if not delay then ngx.say(err) end
ngx.say("state lim1: ", lim1:incoming(keys[1]))
ngx.say("state lim2: ", lim2:incoming(keys[2]))
ngx.say("state lim3: ", lim3:incoming(keys[3]))
ngx.say("state lim4: ", lim4:incoming(keys[4]))`,
			body: "rejected by mock limiter\nstate lim1: 1\nstate lim2: 2\nstate lim3: 1\nstate lim4: 1\n"}},
	})
	orSuite(t, global, cases)
}
