// Package restylrucache provides the Lua modules resty.lrucache and
// resty.lrucache.pureffi: the API of lua-resty-lrucache, implemented in Go
// and registered with the engine at init (luaplugin.RegisterModule).
//
// A cache lives in the Lua state that created it, as the library's caches
// live in one nginx worker: a cache made at module level is shared by the
// requests that run on that state, and each state has its own. Its values
// are that state's Lua values, kept as they are (no serialization); the
// cache holds them in a Go map and an intrusive doubly-linked list in
// recency order, touched only by code running on the state (under its
// lock), so it needs no lock of its own.
//
// resty.lrucache keys are compared as Lua table keys are (strings and
// numbers by value, tables, functions and userdata by identity);
// resty.lrucache.pureffi converts every key with tostring first, as that
// class does, so 1 and "1" are one key there. Expiry uses ngx.now()'s
// clock (milliseconds); an expired item stays until it is evicted,
// deleted or replaced, and get returns it as the stale value.
package restylrucache

import (
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

func init() {
	luaplugin.RegisterModule("resty.lrucache", func(_ *luaplugin.VM, L *lua.LState) lua.LValue {
		return openModule(L, false)
	})
	luaplugin.RegisterModule("resty.lrucache.pureffi", func(_ *luaplugin.VM, L *lua.LState) lua.LValue {
		return openModule(L, true)
	})
}

// The _VERSION of each class in the library release whose API this is.
const (
	lruVersion     = "0.14"
	pureffiVersion = "0.13"
)

// className names the cache object in argument errors.
const className = "resty.lrucache"

// node is one item, linked in recency order between a cache's sentinel.
type node struct {
	key, val   lua.LValue
	expire     float64 // in ngx.now() seconds; negative: never expires
	flags      uint32
	prev, next *node
}

// cache is one lrucache instance.
type cache struct {
	// strs indexes the items of string keys, others the rest (made on
	// first use): a string-keyed map hashes and compares faster than one
	// keyed by interface values.
	strs   map[string]*node
	others map[lua.LValue]*node
	// head is the sentinel: head.next is the most recently used item,
	// head.prev the least.
	head node
	// free holds nodes of deleted items for reuse, linked by next.
	free *node
	// n is the number of items (live and expired), slots the most there
	// may be.
	n, slots int
	// size is max_items as given to new, which capacity() returns.
	size lua.LNumber
	// pure: keys go through tostring (resty.lrucache.pureffi).
	pure bool
}

func newCache(size lua.LNumber, pure bool) *cache {
	slots := math.MaxInt32
	if size < math.MaxInt32 {
		slots = int(size)
	}
	c := &cache{strs: make(map[string]*node, min(slots, 64)), slots: slots, size: size, pure: pure}
	c.head.prev, c.head.next = &c.head, &c.head
	return c
}

// find returns the item of k, or nil.
func (c *cache) find(k lua.LValue) *node {
	if s, ok := k.(lua.LString); ok {
		return c.strs[string(s)]
	}
	return c.others[k]
}

// index makes x the item of k.
func (c *cache) index(k lua.LValue, x *node) {
	if s, ok := k.(lua.LString); ok {
		c.strs[string(s)] = x
		return
	}
	if c.others == nil {
		c.others = make(map[lua.LValue]*node)
	}
	c.others[k] = x
}

// unindex forgets the item of k.
func (c *cache) unindex(k lua.LValue) {
	if s, ok := k.(lua.LString); ok {
		delete(c.strs, string(s))
		return
	}
	delete(c.others, k)
}

// unlink takes x out of the recency list.
func unlink(x *node) {
	x.prev.next = x.next
	x.next.prev = x.prev
}

// pushFront makes x the most recently used item.
func (c *cache) pushFront(x *node) {
	x.next = c.head.next
	x.prev = &c.head
	c.head.next.prev = x
	c.head.next = x
}

// touch moves x to the front of the recency list.
func (c *cache) touch(x *node) {
	if c.head.next != x {
		unlink(x)
		c.pushFront(x)
	}
}

// now is ngx.now(): the time in seconds, to the millisecond.
func now() float64 { return float64(time.Now().UnixMilli()) / 1000 }

// openModule builds the module table of one class on L; the table is also
// the __index of its objects, as in the library (`mt = { __index = _M }`).
func openModule(L *lua.LState, pure bool) lua.LValue {
	mod := L.CreateTable(0, 10)
	version := lruVersion
	if pure {
		version = pureffiVersion
	}
	mod.RawSetString("_VERSION", lua.LString(version))
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", mod)
	// pureffi objects show their hash table's bucket_sz field, as the
	// library's do: an index table of their own, falling back to the
	// module.
	fallback := L.CreateTable(0, 1)
	fallback.RawSetString("__index", mod)

	fns := map[string]lua.LGFunction{
		"get":       lruGet,
		"set":       lruSet,
		"delete":    lruDelete,
		"count":     lruCount,
		"capacity":  lruCapacity,
		"get_keys":  lruGetKeys,
		"flush_all": lruFlushAll,
		// new(max_items [, load_factor]) -> cache, or nil, "size too small"
		"new": func(L *lua.LState) int {
			v := L.Get(1)
			size, ok := v.(lua.LNumber)
			if !ok {
				L.RaiseError("attempt to compare %s with number", v.Type().String())
			}
			if !(size >= 1) {
				return luaplugin.PushFail(L, "size too small")
			}
			c := newCache(size, pure)
			if !pure {
				return luaplugin.PushObject(L, c, mt)
			}
			idx := L.CreateTable(0, 1)
			idx.RawSetString("bucket_sz", lua.LNumber(bucketSize(L, float64(size), L.Get(2))))
			idx.Metatable = fallback
			imt := L.CreateTable(0, 1)
			imt.RawSetString("__index", idx)
			return luaplugin.PushObject(L, c, imt)
		},
	}
	for name, fn := range fns {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	return mod
}

// bucketSize is the size of pureffi's hash table for size items at load
// factor lf (default 0.5, clamped to [0.1, 1]): the least power of two,
// at least 2, that is not under size / lf.
func bucketSize(L *lua.LState, size float64, lf lua.LValue) float64 {
	f := 0.5
	if lua.LVAsBool(lf) {
		n, ok := lf.(lua.LNumber)
		if !ok {
			L.RaiseError("attempt to compare number with %s", lf.Type().String())
		}
		f = min(max(float64(n), 0.1), 1)
	}
	minimum, b := size/f, 1.0
	for {
		b *= 2
		if b >= minimum || math.IsInf(b, 1) {
			return b
		}
	}
}

// key returns the cache key of the key argument at idx. For pureffi it is
// tostring(key); otherwise the value itself, which must be usable as a
// table key when store is set (set, delete), as in the library's
// `hasht[key] = value`.
func (c *cache) key(L *lua.LState, idx int, store bool) lua.LValue {
	v := L.Get(idx)
	if c.pure {
		switch k := v.(type) {
		case lua.LString:
			return v // (not k: boxing it again would allocate)
		case lua.LNumber:
			return lua.LString(luaplugin.FormatNumber(float64(k)))
		}
		return lua.LString(luaplugin.ToString(L.ToStringMeta(v)))
	}
	if store {
		switch k := v.(type) {
		case *lua.LNilType:
			L.RaiseError("table index is nil")
		case lua.LNumber:
			if math.IsNaN(float64(k)) {
				L.RaiseError("table index is NaN")
			}
		}
	}
	return v
}

// cache:get(key) -> value, nil, flags; nil, stale_value, flags when the
// item expired; nil when there is none.
func lruGet(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "get")
	x := c.find(c.key(L, 2, false))
	if x == nil || (x.val == lua.LNil && !c.pure) {
		// resty.lrucache finds a nil value as no value (its hash table
		// has no entry); pureffi returns nil, nil, flags for it.
		L.Push(lua.LNil)
		return 1
	}
	c.touch(x)
	if x.expire >= 0 && x.expire < now() {
		L.Push(lua.LNil)
		L.Push(x.val)
	} else {
		L.Push(x.val)
		L.Push(lua.LNil)
	}
	L.Push(lua.LNumber(x.flags))
	return 3
}

// cache:set(key, value, ttl?, flags?): store value as the most recently
// used item, evicting the least recently used one when the cache is full.
func lruSet(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "set")
	k := c.key(L, 2, true)
	expire := -1.0
	if ttl := L.Get(4); lua.LVAsBool(ttl) {
		secs, ok := luaplugin.ToNumber(ttl)
		if !ok {
			L.RaiseError("attempt to perform arithmetic on local 'ttl' (a %s value)", ttl.Type().String())
		}
		expire = now() + secs
	}
	var flags uint32
	if f, ok := L.Get(5).(lua.LNumber); ok && f >= 0 {
		flags = toUint32(float64(f))
	}
	c.put(k, L.Get(3), expire, flags)
	return 0
}

// put stores v under k as the most recently used item.
func (c *cache) put(k, v lua.LValue, expire float64, flags uint32) {
	x := c.find(k)
	if x == nil {
		switch {
		case c.n >= c.slots:
			// Evict the least recently used item and reuse its node.
			x = c.head.prev
			c.unindex(x.key)
			unlink(x)
		case c.free != nil:
			x, c.free = c.free, c.free.next
			c.n++
		default:
			x = &node{}
			c.n++
		}
		x.key = k
		c.index(k, x)
		c.pushFront(x)
	} else {
		c.touch(x)
	}
	x.val, x.expire, x.flags = v, expire, flags
}

// toUint32 converts a non-negative number to the library's uint32_t user
// flags: truncated, modulo 2^32.
func toUint32(f float64) uint32 {
	if f < 1<<63 {
		return uint32(int64(f))
	}
	return 0
}

// cache:delete(key) -> true, or false when there was no such item.
func lruDelete(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "delete")
	L.Push(lua.LBool(c.remove(c.key(L, 2, true))))
	return 1
}

// remove deletes the item of k, reporting whether there was one.
func (c *cache) remove(k lua.LValue) bool {
	x := c.find(k)
	if x == nil {
		return false
	}
	c.unindex(k)
	unlink(x)
	*x = node{next: c.free}
	c.free = x
	c.n--
	return true
}

// cache:count() -> the number of items, expired ones included.
func lruCount(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "count")
	L.Push(lua.LNumber(c.n))
	return 1
}

// cache:capacity() -> max_items as given to new.
func lruCapacity(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "capacity")
	L.Push(c.size)
	return 1
}

// cache:get_keys(max_count?, res?) -> the keys, most recently used first,
// at most max_count of them (all when it is nil or 0), in res when given
// (followed by a nil) or in a new table.
func lruGetKeys(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "get_keys")
	limit := c.n
	if mc := L.Get(2); lua.LVAsBool(mc) {
		n, ok := mc.(lua.LNumber)
		if !ok {
			L.RaiseError("attempt to compare number with %s", mc.Type().String())
		}
		if n != 0 {
			switch {
			case !(n > 0):
				limit = 0
			case float64(n) < float64(c.n):
				limit = int(math.Ceil(float64(n)))
			}
		}
	}
	var res *lua.LTable
	fresh := false
	switch r := L.Get(3).(type) {
	case *lua.LTable:
		res = r
	case *lua.LNilType:
		res, fresh = L.CreateTable(limit+1, 0), true
	case lua.LBool:
		if r {
			L.RaiseError("attempt to index local 'res' (a boolean value)")
		}
		res, fresh = L.CreateTable(limit+1, 0), true
	default:
		L.RaiseError("attempt to index local 'res' (a %s value)", r.Type().String())
	}
	i := 0
	for x := c.head.next; x != &c.head && i < limit; x = x.next {
		i++
		if fresh {
			res.RawSetInt(i, x.key)
		} else {
			L.SetTable(res, lua.LNumber(i), x.key)
		}
	}
	if !fresh {
		L.SetTable(res, lua.LNumber(i+1), lua.LNil)
	}
	L.Push(res)
	return 1
}

// cache:flush_all(): drop every item.
func lruFlushAll(L *lua.LState) int {
	c := luaplugin.CheckObject[cache](L, className, "flush_all")
	clear(c.strs)
	c.others = nil
	c.head.prev, c.head.next = &c.head, &c.head
	c.free = nil
	c.n = 0
	return 0
}
