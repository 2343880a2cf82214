package pcre

import "sync"

// DefaultCacheSize is the default bound of a Cache, the default of
// OpenResty's lua_regex_cache_max_entries.
const DefaultCacheSize = 1024

type cacheKey struct {
	pattern string
	flags   Flags
}

// Cache is a bounded, concurrency-safe cache of compiled patterns keyed by
// (pattern, compile options). One cache is meant to be shared by all the
// Lua states of a server, on any number of goroutines.
//
// Unlike OpenResty, which caches a pattern only when the options contain
// "o", every successfully compiled pattern is cached: translating a PCRE
// pattern and compiling it for RE2 costs far more than a lookup. When the
// cache is full an arbitrary entry is evicted to make room, so a flood of
// one-off patterns cannot grow memory without bound (hot patterns are simply
// recompiled when they were evicted). Compile errors are not cached.
type Cache struct {
	mu  sync.RWMutex
	max int
	m   map[cacheKey]*Regexp
}

// NewCache returns a cache holding at most max compiled patterns
// (DefaultCacheSize when max <= 0).
func NewCache(max int) *Cache {
	if max <= 0 {
		max = DefaultCacheSize
	}
	return &Cache{max: max, m: make(map[cacheKey]*Regexp)}
}

// Len reports how many compiled patterns the cache holds.
func (c *Cache) Len() int {
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	return n
}

// Get returns pattern compiled with flags, from the cache or compiled (see
// Compile) and cached. Only the flags that change the compiled program take
// part in the key ("o" and "j", for instance, do not). On failure it
// returns nil and the error message for the script.
func (c *Cache) Get(pattern string, flags Flags) (re *Regexp, errMsg string) {
	key := cacheKey{pattern, flags & (compileMask | JSCompat)}
	c.mu.RLock()
	re = c.m[key]
	c.mu.RUnlock()
	if re != nil {
		return re, ""
	}
	re, errMsg = Compile(pattern, key.flags)
	if re == nil {
		return nil, errMsg
	}
	c.mu.Lock()
	if old := c.m[key]; old != nil {
		re = old
	} else {
		if len(c.m) >= c.max {
			for k := range c.m {
				delete(c.m, k)
				break
			}
		}
		c.m[key] = re
	}
	c.mu.Unlock()
	return re, ""
}
