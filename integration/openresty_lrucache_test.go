package integration

import (
	"fmt"
	"strings"
	"testing"
)

// lua-resty-lrucache's t/*.t, rebuilt: the blocks of t/NNN-*.t run with
// resty.lrucache, those of t/100-pureffi/NNN-*.t (the same blocks but for a
// few) with resty.lrucache.pureffi. t/003-init-by-lua.t and
// t/100-pureffi/003-init-by-lua.t need init_by_lua and are not rebuilt.

// lruCase is one block of lua-resty-lrucache; code names the class as
// LRUCACHE.
type lruCase struct {
	file  string // "001-sanity.t"
	test  string // "TEST 1: sanity"
	code  string
	body  string
	plain bool // only in t/ (not in t/100-pureffi/)
	pure  bool // only in t/100-pureffi/
}

// lruCases expands each block into the case of each file that has it.
func lruCases(blocks []lruCase) []orCase {
	var out []orCase
	for _, b := range blocks {
		for _, pure := range []bool{false, true} {
			if (pure && b.plain) || (!pure && b.pure) {
				continue
			}
			mod, dir := "resty.lrucache", "t/"
			if pure {
				mod, dir = "resty.lrucache.pureffi", "t/100-pureffi/"
			}
			out = append(out, orCase{
				src:     fmt.Sprintf("lua-resty-lrucache %s%s %s", dir, b.file, b.test),
				content: strings.ReplaceAll(b.code, "LRUCACHE", `"`+mod+`"`),
				body:    b.body,
			})
		}
	}
	return out
}

func TestOpenRestyLRUCache(t *testing.T) {
	cases := lruCases([]lruCase{
		// t/001-sanity.t, t/100-pureffi/001-sanity.t
		{file: "001-sanity.t", test: "TEST 1: sanity", code: `
			local cache = require(LRUCACHE).new(2)
			collectgarbage()
			for round = 1, 2 do
				cache:set("dog", 32)
				cache:set("cat", 56)
				ngx.say("dog: ", (cache:get("dog")))
				ngx.say("cat: ", (cache:get("cat")))
			end
			cache:delete("dog")
			cache:delete("cat")
			ngx.say("dog: ", (cache:get("dog")))
			ngx.say("cat: ", (cache:get("cat")))`,
			body: "dog: 32\ncat: 56\ndog: 32\ncat: 56\ndog: nil\ncat: nil\n"},
		{file: "001-sanity.t", test: "TEST 2: evict existing items", code: `
			local cache, err = require(LRUCACHE).new(2)
			if not cache then ngx.say("failed to init lrucace: ", err) return end
			cache:set("dog", 32)
			cache:set("cat", 56)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.say("cat: ", (cache:get("cat")))
			cache:set("bird", 76)
			for _, k in ipairs({"dog", "cat", "bird"}) do ngx.say(k, ": ", (cache:get(k))) end`,
			body: "dog: 32\ncat: 56\ndog: nil\ncat: 56\nbird: 76\n"},
		{file: "001-sanity.t", test: "TEST 3: evict existing items (reordered, get should also count)", code: `
			local cache, err = require(LRUCACHE).new(2)
			if not cache then ngx.say("failed to init lrucace: ", err) return end
			cache:set("cat", 56)
			cache:set("dog", 32)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.say("cat: ", (cache:get("cat")))
			cache:set("bird", 76)
			for _, k in ipairs({"dog", "cat", "bird"}) do ngx.say(k, ": ", (cache:get(k))) end`,
			body: "dog: 32\ncat: 56\ndog: nil\ncat: 56\nbird: 76\n"},
		{file: "001-sanity.t", test: "TEST 4: ttl", plain: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32, 0.5)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.25)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.26)
			local val, stale = cache:get("dog")
			ngx.say("dog: ", val, " ", stale)`,
			body: "dog: 32\ndog: 32\ndog: nil 32\n"},
		{file: "001-sanity.t", test: "TEST 4: ttl", pure: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32, 0.6)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.3)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.31)
			local val, stale = cache:get("dog")
			ngx.say("dog: ", val, " ", stale)`,
			body: "dog: 32\ndog: 32\ndog: nil 32\n"},
		// The block counts the entries of the library's internal table
		// c.hasht; the rebuilt one checks count() instead (there is no
		// such table here).
		{file: "001-sanity.t", test: "TEST 5: ttl", plain: true, code: `
			local limit, n = 5, 1000
			local cache = require(LRUCACHE).new(limit)
			for i = 1, n do
				cache:set("dog" .. i, i)
				cache:delete("dog" .. i)
				cache:set("dog" .. i, i)
				assert(cache:count() <= limit)
			end
			for i = 1, n do cache:get("dog" .. math.random(1, n)) end
			for i = 1, n do
				cache:get("dog" .. math.random(1, n))
				cache:set("dog" .. i, i)
				assert(cache:count() <= limit)
				assert(#cache:get_keys() <= limit)
			end
			ngx.say("ok")`,
			body: "ok\n"},
		{file: "001-sanity.t", test: "TEST 5: load factor", pure: true, code: `
			ngx.say(require(LRUCACHE).new(1, 0.25).bucket_sz)`,
			body: "4\n"},
		{file: "001-sanity.t", test: "TEST 6: load factor clamped to 0.1", pure: true, code: `
			ngx.say(require(LRUCACHE).new(3, 0.05).bucket_sz)`,
			body: "32\n"},
		{file: "001-sanity.t", test: "TEST 7: load factor saturated to 1", pure: true, code: `
			ngx.say(require(LRUCACHE).new(3, 2.1).bucket_sz)`,
			body: "4\n"},
		{file: "001-sanity.t", test: "TEST 8: non-string keys", pure: true, code: `
			local cache = require(LRUCACHE).new(2)
			collectgarbage()
			local a, b = {1, 2}, {3, 4}
			for round = 1, 2 do
				cache:set(a, 32)
				cache:set(b, 56)
				ngx.say("tab1: ", (cache:get(a)))
				ngx.say("tab2: ", (cache:get(b)))
			end
			cache:delete(a)
			cache:delete(b)
			ngx.say("tab1: ", (cache:get(a)))
			ngx.say("tab2: ", (cache:get(b)))`,
			body: "tab1: 32\ntab2: 56\ntab1: 32\ntab2: 56\ntab1: nil\ntab2: nil\n"},
		{file: "001-sanity.t", test: "TEST 6: replace value", plain: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32)
			ngx.say("dog: ", (cache:get("dog")))
			cache:set("dog", 33)
			ngx.say("dog: ", (cache:get("dog")))`,
			body: "dog: 32\ndog: 33\n"},
		{file: "001-sanity.t", test: "TEST 9: replace value", pure: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32)
			ngx.say("dog: ", (cache:get("dog")))
			cache:set("dog", 33)
			ngx.say("dog: ", (cache:get("dog")))`,
			body: "dog: 32\ndog: 33\n"},
		{file: "001-sanity.t", test: "TEST 10: replace value 2", pure: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32, 1.0)
			ngx.say("dog: ", (cache:get("dog")))
			cache:set("dog", 33, 0.3)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.4)
			local val, stale = cache:get("dog")
			ngx.say("dog: ", val, " ", stale)`,
			body: "dog: 32\ndog: 33\ndog: nil 33\n"},
		{file: "001-sanity.t", test: "TEST 11: replace value 3 (the old value has longer expire time)", pure: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32, 1.2)
			cache:set("dog", 33, 0.6)
			ngx.sleep(0.2)
			ngx.say("dog: ", (cache:get("dog")))
			ngx.sleep(0.5)
			local val, stale = cache:get("dog")
			ngx.say("dog: ", val, " ", stale)`,
			body: "dog: 33\ndog: nil 33\n"},
		{file: "001-sanity.t", test: "TEST 12: replace value 4", pure: true, code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dog", 32, 0.1)
			ngx.sleep(0.2)
			cache:set("dog", 33)
			ngx.sleep(0.2)
			ngx.say("dog: ", (cache:get("dog")))`,
			body: "dog: 33\n"},

		// t/002-should-store-false.t
		{file: "002-should-store-false.t", test: "TEST 1: should-store-false", code: `
			local cache = require(LRUCACHE).new(2)
			collectgarbage()
			cache:set("false-value", false)
			ngx.say("false-value: ", (cache:get("false-value")))
			cache:delete("false-value")
			ngx.say("false-value: ", (cache:get("false-value")))`,
			body: "false-value: false\nfalse-value: nil\n"},

		// t/004-flush-all.t
		{file: "004-flush-all.t", test: "TEST 1: flush_all() deletes all keys (cache partial occupied)", code: `
			local N = 4
			local cache = require(LRUCACHE).new(N)
			for i = 1, N / 2 do cache:set("key " .. i, i) end
			cache:flush_all()
			for i = 1, N do ngx.say(i, ": ", cache:get("key " .. i)) end
			ngx.say("++")
			for i = 1, N + 1 do cache:set("key " .. i, i) end
			for i = 1, N + 1 do ngx.say(i, ": ", (cache:get("key " .. i))) end`,
			body: "1: nil\n2: nil\n3: nil\n4: nil\n++\n1: nil\n2: 2\n3: 3\n4: 4\n5: 5\n"},
		{file: "004-flush-all.t", test: "TEST 2: flush_all() deletes all keys (cache fully occupied)", code: `
			local N = 4
			local cache = require(LRUCACHE).new(N)
			for i = 1, N + 1 do cache:set("key " .. i, i) end
			ngx.say(cache:count())
			cache:flush_all()
			ngx.say(cache:count())
			for i = 1, N + 1 do ngx.say(i, ": ", cache:get("key " .. i)) end
			ngx.say("++")
			for i = 1, N + 1 do cache:set("key " .. i, i) end
			for i = 1, N + 1 do ngx.say(i, ": ", (cache:get("key " .. i))) end`,
			body: "4\n0\n1: nil\n2: nil\n3: nil\n4: nil\n5: nil\n++\n1: nil\n2: 2\n3: 3\n4: 4\n5: 5\n"},
		{file: "004-flush-all.t", test: "TEST 3: flush_all() flush empty cache store", code: `
			local N = 4
			local cache = require(LRUCACHE).new(4)
			cache:flush_all()
			for i = 1, N do ngx.say(i, ": ", cache:get("key " .. i)) end
			ngx.say("++")
			for i = 1, N + 1 do cache:set("key " .. i, i) end
			for i = 1, N + 1 do ngx.say(i, ": ", (cache:get("key " .. i))) end`,
			body: "1: nil\n2: nil\n3: nil\n4: nil\n++\n1: nil\n2: 2\n3: 3\n4: 4\n5: 5\n"},

		// t/005-capacity.t
		{file: "005-capacity.t", test: "TEST 1: capacity() returns total cache capacity", code: `
			ngx.say("capacity: ", require(LRUCACHE).new(2):capacity())`,
			body: "capacity: 2\n"},

		// t/006-count.t
		{file: "006-count.t", test: "TEST 1: count() returns current cache size", code: `
			local cache = require(LRUCACHE).new(2)
			local function count() ngx.say("count: ", cache:count()) end
			count()
			cache:set("dog", 32) count()
			cache:set("dog", 33) count()
			cache:set("cat", 33) count()
			cache:set("pig", 33) count()
			cache:delete("dog") count()
			cache:delete("pig") count()
			cache:delete("cat") count()`,
			body: "count: 0\ncount: 1\ncount: 1\ncount: 2\ncount: 2\ncount: 2\ncount: 1\ncount: 0\n"},

		// t/007-get-keys.t
		{file: "007-get-keys.t", test: "TEST 1: get_keys() with some keys", code: `
			local cache = require(LRUCACHE).new(100)
			cache:set("hello", true)
			cache:set("world", false)
			local keys = cache:get_keys()
			ngx.say("size: ", #keys)
			for i = 1, #keys do ngx.say(keys[i]) end`,
			body: "size: 2\nworld\nhello\n"},
		{file: "007-get-keys.t", test: "TEST 2: get_keys() with no keys", code: `
			local keys = require(LRUCACHE).new(100):get_keys()
			ngx.say("size: ", #keys)
			for i = 1, #keys do ngx.say(keys[i]) end`,
			body: "size: 0\n"},
		{file: "007-get-keys.t", test: "TEST 3: get_keys() with full cache", code: `
			local cache = require(LRUCACHE).new(100)
			for i = 1, 100 do cache:set("key-" .. i, true) end
			cache:set("extra-key", true)
			local keys = cache:get_keys()
			ngx.say("size: ", #keys)
			ngx.say("MRU: ", keys[1])
			ngx.say("LRU: ", keys[#keys])`,
			body: "size: 100\nMRU: extra-key\nLRU: key-2\n"},
		{file: "007-get-keys.t", test: "TEST 4: get_keys() max_count = 5", code: `
			local cache = require(LRUCACHE).new(100)
			for i = 1, 100 do cache:set("key-" .. i, true) end
			local keys = cache:get_keys(5)
			ngx.say("size: ", #keys)
			ngx.say("MRU: ", keys[1])
			ngx.say("latest: ", keys[#keys])`,
			body: "size: 5\nMRU: key-100\nlatest: key-96\n"},
		{file: "007-get-keys.t", test: "TEST 5: get_keys() max_count = 0 disables max returns", code: `
			local cache = require(LRUCACHE).new(100)
			for i = 1, 100 do cache:set("key-" .. i, true) end
			local keys = cache:get_keys(0)
			ngx.say("size: ", #keys)
			ngx.say("MRU: ", keys[1])
			ngx.say("LRU: ", keys[#keys])`,
			body: "size: 100\nMRU: key-100\nLRU: key-1\n"},
		{file: "007-get-keys.t", test: "TEST 6: get_keys() user-fed res table", code: `
			local lrucache = require(LRUCACHE)
			local one, two = lrucache.new(3), lrucache.new(2)
			for i = 1, 3 do one:set("c1-" .. i, true) end
			for i = 1, 2 do two:set("c2-" .. i, true) end
			local res = {}
			local keys = one:get_keys(0, res)
			ngx.say("res is user-fed: ", keys == res)
			for _, k in ipairs(keys) do ngx.say(k) end
			for _, k in ipairs(two:get_keys(0, {})) do ngx.say(k) end`,
			body: "res is user-fed: true\nc1-3\nc1-2\nc1-1\nc2-2\nc2-1\n"},
		{file: "007-get-keys.t", test: "TEST 7: get_keys() user-fed res table + max_count", code: `
			local cache = require(LRUCACHE).new(3)
			for i = 1, 3 do cache:set("key-" .. i, true) end
			for _, k in ipairs(cache:get_keys(2, {})) do ngx.say(k) end`,
			body: "key-3\nkey-2\n"},
		{file: "007-get-keys.t", test: "TEST 8: get_keys() user-fed res table gets a trailing hole", code: `
			local cache = require(LRUCACHE).new(3)
			for i = 1, 3 do cache:set("key-" .. i, true) end
			local res = {}
			for i = 1, 10 do res[i] = true end
			for _, k in ipairs(cache:get_keys(2, res)) do ngx.say(k) end`,
			body: "key-3\nkey-2\n"},

		// t/008-user-flags.t
		{file: "008-user-flags.t", test: "TEST 1: no user flags by default", code: `
			local cache = require(LRUCACHE).new(2)
			cache:set("dog", 32)
			cache:set("cat", 56)
			for _, k in ipairs({"dog", "cat"}) do
				local val, stale, flags = cache:get(k)
				ngx.say(k, ": ", val, " ", stale, " ", flags)
			end`,
			body: "dog: 32 nil 0\ncat: 56 nil 0\n"},
		{file: "008-user-flags.t", test: "TEST 2: stores user flags if specified", code: `
			local cache = require(LRUCACHE).new(2)
			cache:set("dog", 32, nil, 0x01)
			cache:set("cat", 56, nil, 0x02)
			for _, k in ipairs({"dog", "cat"}) do
				local val, stale, flags = cache:get(k)
				ngx.say(k, ": ", val, " ", stale, " ", flags)
			end`,
			body: "dog: 32 nil 1\ncat: 56 nil 2\n"},
		{file: "008-user-flags.t", test: "TEST 3: user flags cannot be negative", code: `
			local cache = require(LRUCACHE).new(3)
			cache:set("dog", 32, nil, 0)
			cache:set("cat", 56, nil, -1)
			for _, k in ipairs({"dog", "cat"}) do
				local val, stale, flags = cache:get(k)
				ngx.say(k, ": ", val, " ", stale, " ", flags)
			end`,
			body: "dog: 32 nil 0\ncat: 56 nil 0\n"},
		{file: "008-user-flags.t", test: "TEST 4: user flags not number is ignored", code: `
			local cache = require(LRUCACHE).new(2)
			cache:set("dog", 32, nil, "")
			local val, stale, flags = cache:get("dog")
			ngx.say(val, " ", stale, " ", flags)`,
			body: "32 nil 0\n"},
		{file: "008-user-flags.t", test: "TEST 5: all nodes from double-ended queue have flags", code: `
			local n = 10
			local cache = require(LRUCACHE).new(n)
			for i = 1, n do cache:set(i, 32, nil, 1) end
			for i = 1, n do
				local _, _, flags = cache:get(i)
				if not flags then ngx.say("item ", i, " does not have flags") return end
			end
			ngx.say("ok")`,
			body: "ok\n"},
		{file: "008-user-flags.t", test: "TEST 6: user flags are preserved when item is stale", code: `
			local cache = require(LRUCACHE).new(1)
			cache:set("dogs", 32, 0.2, 3)
			ngx.sleep(0.21)
			local val, stale, flags = cache:get("dogs")
			ngx.say(val, " ", stale, " ", flags)`,
			body: "nil 32 3\n"},
		{file: "008-user-flags.t", test: "TEST 7: user flags are not preserved upon eviction", code: `
			local cache = require(LRUCACHE).new(1)
			for i = 1, 10 do
				cache:set(i, true, nil, i % 2 == 0 and i)
				local val, stale, flags = cache:get(i)
				ngx.say(val, " ", stale, " ", flags)
			end`,
			body: "true nil 0\ntrue nil 2\ntrue nil 0\ntrue nil 4\ntrue nil 0\ntrue nil 6\ntrue nil 0\ntrue nil 8\ntrue nil 0\ntrue nil 10\n"},
	})
	cases = append(cases, orCase{
		src: "lua-resty-lrucache t/101-mixed.t TEST 1: sanity",
		content: `
			local c = require("resty.lrucache").new(2)
			collectgarbage()
			c:set("dog", 32)
			c:set("cat", 56)
			ngx.say("dog: ", (c:get("dog")))
			ngx.say("cat: ", (c:get("cat")))
			local p = require("resty.lrucache.pureffi").new(2)
			ngx.say("dog: ", (p:get("dog")))
			ngx.say("cat: ", (p:get("cat")))
			p:set("dog", 9)
			p:set("cat", "hi")
			ngx.say("dog: ", (p:get("dog")))
			ngx.say("cat: ", (p:get("cat")))
			ngx.say("dog: ", (c:get("dog")))
			ngx.say("cat: ", (c:get("cat")))`,
		body: "dog: 32\ncat: 56\ndog: nil\ncat: nil\ndog: 9\ncat: hi\ndog: 32\ncat: 56\n",
	})
	orSuite(t, "", cases)
}
