package shdict

import (
	"time"
)

const (
	opAdd     = 1 << iota // fail with ErrExists when the key is live
	opReplace             // fail with ErrNotFound when the key is not live
	opSafe                // never evict live items
)

// Get returns the value and user flags stored under key. A missing or
// expired key yields the nil Value (v.IsNil()) and no error; a list yields
// ErrIsList. Get marks the key most recently used.
func (d *Dict) Get(key string) (v Value, flags uint32, err error) {
	if err := checkKey(key); err != nil {
		return Value{}, 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	if e == nil || e.expired(&c) {
		return Value{}, 0, nil
	}
	if e.list != nil {
		return Value{}, 0, ErrIsList
	}
	return e.val, e.flags, nil
}

// GetStale is like Get but also returns an expired value that has not been
// removed yet, with stale set. A missing key yields the nil Value.
func (d *Dict) GetStale(key string) (v Value, flags uint32, stale bool, err error) {
	if err := checkKey(key); err != nil {
		return Value{}, 0, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	e := d.lookup(key)
	if e == nil {
		return Value{}, 0, false, nil
	}
	if e.list != nil {
		return Value{}, 0, false, ErrIsList
	}
	return e.val, e.flags, e.expired(&c), nil
}

// Set stores v under key with the given time to live (0 or negative: never
// expires) and user flags, whether or not the key exists. A nil v deletes
// the key. When memory is short, expired items and then up to
// MaxForcedEvictions least-recently-used live items are removed, and
// forcible reports whether live items were evicted. err is ErrNoMemory if
// the value still does not fit (as in nginx, an existing value of a
// different size is then already gone).
func (d *Dict) Set(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	return d.store(key, v, ttl, flags, 0)
}

// SafeSet is like Set but never evicts live items: when the value does not
// fit even after removing expired items it returns ErrNoMemory.
func (d *Dict) SafeSet(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	return d.store(key, v, ttl, flags, opSafe)
}

// Add is like Set but fails with ErrExists when key holds a live value. An
// expired value is overwritten.
func (d *Dict) Add(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	return d.store(key, v, ttl, flags, opAdd)
}

// SafeAdd is like Add but never evicts live items (see SafeSet).
func (d *Dict) SafeAdd(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	return d.store(key, v, ttl, flags, opAdd|opSafe)
}

// Replace is like Set but fails with ErrNotFound when key does not hold a
// live value.
func (d *Dict) Replace(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	return d.store(key, v, ttl, flags, opReplace)
}

// Delete removes key (live or expired). Deleting a missing key is not an
// error; only an invalid key is.
func (d *Dict) Delete(key string) error {
	_, err := d.store(key, Value{}, 0, 0, 0)
	return err
}

func (d *Dict) store(key string, v Value, ttl time.Duration, flags uint32, op int) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	if v.k > KindBool {
		return false, ErrBadValue
	}
	if v.k == KindNil && op&(opAdd|opReplace) != 0 {
		return false, ErrNilValue
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	live := e != nil && !e.expired(&c)
	if op&opReplace != 0 && !live {
		return false, ErrNotFound
	}
	if op&opAdd != 0 && live {
		return false, ErrExists
	}
	if v.k == KindNil {
		if e != nil {
			d.remove(e)
		}
		return false, nil
	}
	return d.put(e, key, v, c.deadline(ttl), flags, op&opSafe == 0, &c)
}

// Incr adds delta to the number stored under key and returns the result.
// It fails with ErrNotFound when the key is missing or expired and with
// ErrNotNumber when it holds anything but a number. The item's flags and
// expiry are kept.
func (d *Dict) Incr(key string, delta float64) (float64, error) {
	n, _, err := d.incr(key, delta, false, 0, 0)
	return n, err
}

// IncrInit is like Incr but, when key is missing or expired, creates it with
// the value init+delta, no flags, and the time to live initTTL (0: never
// expires); initTTL is ignored when the key exists. Creating the key may
// evict items like Set does, reported by forcible.
func (d *Dict) IncrInit(key string, delta, init float64, initTTL time.Duration) (n float64, forcible bool, err error) {
	return d.incr(key, delta, true, init, initTTL)
}

func (d *Dict) incr(key string, delta float64, hasInit bool, init float64, initTTL time.Duration) (float64, bool, error) {
	if err := checkKey(key); err != nil {
		return 0, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	if e != nil && !e.expired(&c) {
		if e.list != nil || e.val.k != KindNumber {
			return 0, false, ErrNotNumber
		}
		e.val.n += delta
		return e.val.n, false, nil
	}
	if !hasInit {
		return 0, false, ErrNotFound
	}
	n := delta + init
	forcible, err := d.put(e, key, NumberValue(n), c.deadline(initTTL), 0, true, &c)
	if err != nil {
		return 0, forcible, err
	}
	return n, forcible, nil
}

// TTL returns the time key has left to live, 0 if it never expires, or
// ErrNotFound if it is missing or expired. It does not change the LRU order.
func (d *Dict) TTL(key string) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.items[key]
	if e == nil {
		return 0, ErrNotFound
	}
	if e.expires == 0 {
		return 0, nil
	}
	c := clock{now: d.now}
	if e.expired(&c) {
		return 0, ErrNotFound
	}
	return time.Duration(e.expires - c.get()), nil
}

// Expire sets the time to live of key from now (0 or negative: never
// expires). It fails with ErrNotFound when the key is missing or expired.
// It does not change the LRU order.
func (d *Dict) Expire(key string, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	e := d.items[key]
	if e == nil || e.expired(&c) {
		return ErrNotFound
	}
	d.setExpires(e, c.deadline(ttl))
	return nil
}

// FlushAll marks every item expired, as nginx does: the items become
// invisible to Get but stay readable with GetStale, and their memory is
// reclaimed lazily (by FlushExpired, memory pressure, or overwrites).
func (d *Dict) FlushAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Every entry gets the same expiry time, so any order is a valid heap.
	d.heap = d.heap[:0]
	for e := d.lru.next; e != &d.lru; e = e.next {
		e.expires = 1
		e.hidx = len(d.heap)
		d.heap = append(d.heap, e)
	}
}

// FlushExpired removes up to max expired items (all of them when max <= 0),
// from the least recently used end, and returns how many it removed.
func (d *Dict) FlushExpired(max int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	freed := 0
	for e := d.lru.prev; e != &d.lru; {
		prev := e.prev
		if e.expired(&c) {
			d.remove(e)
			d.expirations++
			freed++
			if freed == max {
				break
			}
		}
		e = prev
	}
	return freed
}

// Keys returns up to max keys that have not expired (all of them when max
// <= 0), least recently used first. It does not change the LRU order.
func (d *Dict) Keys(max int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	n := len(d.items)
	if max > 0 && max < n {
		n = max
	}
	keys := make([]string, 0, n)
	for e := d.lru.prev; e != &d.lru; e = e.prev {
		if e.expired(&c) {
			continue
		}
		keys = append(keys, e.key)
		if len(keys) == max {
			break
		}
	}
	return keys
}

// Capacity returns the configured size of the dictionary in bytes.
func (d *Dict) Capacity() int64 { return d.size }

// FreeSpace returns the free pages of the modelled zone times the page
// size, as nginx reports it (see the package memory model). Expired items
// not yet removed count as used.
func (d *Dict) FreeSpace() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.slab.used >= d.slab.pages {
		return 0
	}
	return (d.slab.pages - d.slab.used) * PageSize
}

// UpdateOp tells Update what to do after its callback returns.
type UpdateOp uint8

const (
	// UpdateKeep leaves the dictionary unchanged (a read, or an abort).
	UpdateKeep UpdateOp = iota
	// UpdateSet stores the returned value with the returned ttl (0: never
	// expires), like Set. A nil value deletes the key.
	UpdateSet
	// UpdateSetKeepTTL stores the returned value but keeps the current
	// expiry time of a live key; a new key gets the returned ttl. This is
	// what a fixed-window counter needs.
	UpdateSetKeepTTL
	// UpdateDelete removes the key.
	UpdateDelete
)

// UpdateFunc is the callback of Update. It receives the current live value
// of the key (the nil Value and exists=false when the key is missing or
// expired) and returns the value to store, its time to live, and what to
// do.
type UpdateFunc func(cur Value, exists bool) (next Value, ttl time.Duration, op UpdateOp)

// Update atomically reads and rewrites key: fn runs with the dictionary
// locked, so no other operation can interleave between the read and the
// write. fn must be quick and must not call methods of the same Dict (that
// would deadlock); it may run once per Update call. Stores keep the user
// flags of a live key (new keys get 0) and may evict items like Set,
// reported by forcible; err is ErrNoMemory when the value does not fit,
// ErrIsList when the key holds a list (fn is not called then), or a key
// error.
func (d *Dict) Update(key string, fn UpdateFunc) (forcible bool, err error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clock{now: d.now}
	d.expireTail(&c)
	e := d.lookup(key)
	live := e != nil && !e.expired(&c)
	if live && e.list != nil {
		return false, ErrIsList
	}
	var cur Value
	if live {
		cur = e.val
	}
	next, ttl, op := fn(cur, live)
	switch op {
	case UpdateKeep:
		return false, nil
	case UpdateDelete:
		if e != nil {
			d.remove(e)
		}
		return false, nil
	case UpdateSet, UpdateSetKeepTTL:
		if next.k > KindBool {
			return false, ErrBadValue
		}
		if next.k == KindNil {
			if e != nil {
				d.remove(e)
			}
			return false, nil
		}
		exp := c.deadline(ttl)
		var flags uint32
		if live {
			flags = e.flags
			if op == UpdateSetKeepTTL {
				exp = e.expires
			}
		}
		return d.put(e, key, next, exp, flags, true, &c)
	}
	return false, ErrBadUpdateOp
}
