// Package shdict implements the shared dictionaries behind OpenResty's
// ngx.shared.DICT API: a bounded, thread-safe key/value store of strings,
// numbers, booleans and lists, with per-item user flags, expiry times and
// least-recently-used eviction, following the semantics of
// lua-nginx-module 0.10.x (with lua-resty-core) as closely as a Go heap
// allows.
//
// # Memory model
//
// nginx keeps a dictionary in a shared memory zone managed by its slab
// allocator, so a dictionary holds as many items as fit in the configured
// size. Dict models that allocator instead of measuring Go heap usage:
//
//   - The zone is laid out as nginx's ngx_slab_init lays it out on 64-bit
//     Linux: a 704-byte pool header (the pool, its slot heads and stats),
//     then one 24-byte descriptor per page, then 4 KiB pages starting on a
//     page boundary, so a 100 KiB dictionary has 24 pages and a 1 MiB one
//     254.
//   - A scalar item costs one allocation of 68 bytes of node overhead (the
//     64-bit size of nginx's rbtree node plus shdict node header) plus the
//     key plus the value (string bytes, 8 for a number, 1 for a boolean).
//   - A list costs one allocation of 68 + key + 16 bytes (8-byte aligned)
//     for its head, plus one allocation of 21 + value bytes per element.
//   - Every allocation is rounded up like nginx's slab classes: a power of
//     two, at least 8 bytes, for requests up to half a page (2048 bytes);
//     larger requests take whole pages. A page holds slots of one class
//     only (4096/size of them, fewer for the classes under 64 bytes whose
//     bitmap takes the first slots), so a class uses ceil(items/slots)
//     pages. Fragmentation is not modelled: a class's items are counted as
//     if packed.
//   - The dictionary's own header (128-byte class) and the zone name nginx
//     keeps for its log messages (32- or 64-byte class) are allocated at
//     creation, as lua-nginx-module does, so they take two pages.
//
// With this model a dictionary holds exactly as many items as nginx's
// before it starts evicting in lua-nginx-module's tests (352 values of
// about 140 bytes in 100 KiB).
//
// Capacity reports the configured size, FreeSpace the free pages times
// 4096 (nginx reports its free pages), and Stats the bytes of the slab
// chunks charged.
//
// When a store does not fit, expired items are removed first; then, unless
// the operation is one of the safe_* variants, up to 30 least-recently-used
// live items are evicted, and the operation reports forcible=true. The
// actual Go memory used per item is higher than the modelled cost (map and
// struct overhead); the model bounds the number and size of items, as in
// nginx, not the process's heap.
//
// # Expiry
//
// Expiry times have nanosecond precision here (nginx uses milliseconds; the
// Lua binding rounds exptime arguments to milliseconds as OpenResty does).
// An item is expired once the clock reaches its expiry time. Expiry is
// lazy: an expired item is invisible to Get, TTL, Keys and friends, but
// stays in memory (and visible to GetStale) until it is removed by memory
// pressure, FlushExpired, being overwritten, or the small amount of cleanup
// every operation does at the cold end of the LRU list (nginx removes up to
// two expired items there per operation, and so does Dict).
//
// # Concurrency
//
// Every method is atomic: each Dict has one mutex, as each nginx zone has
// one lock. Update gives Go callers an atomic read-modify-write.
package shdict

import (
	"errors"
	"math"
	"math/bits"
	"sync"
	"time"
)

const (
	// MaxKeyLen is the longest key accepted (65535 bytes, as in nginx).
	MaxKeyLen = 65535

	// MinSize is the smallest size New accepts; nginx rejects
	// lua_shared_dict sizes below 8 KiB.
	MinSize = 8192

	// PageSize is the page size of the modelled slab allocator.
	PageSize = 4096

	// MaxForcedEvictions is the most live items one store may evict when
	// memory runs out (nginx tries 30 times).
	MaxForcedEvictions = 30

	pageDescSize     = 24  // sizeof(ngx_slab_page_t) on 64-bit
	poolHeaderSize   = 704 // ngx_slab_pool_t (200) + 9 slot heads (216) + 9 stats (288)
	shctxSize        = 80  // ngx_http_lua_shdict_shctx_t: rbtree, sentinel, LRU queue
	nodeOverhead     = 68  // rbtree node header (32) + shdict node header (36)
	listHeadSize     = 16  // ngx_queue_t holding the list elements
	listNodeOverhead = 21  // ngx_queue_t + value_len + value_type
	minSlot          = 8
	halfPage         = PageSize / 2
)

// Errors returned by Dict methods. Their texts are exactly the error strings
// lua-nginx-module returns to Lua, so a binding can hand err.Error() over.
var (
	ErrEmptyKey   = errors.New("empty key")
	ErrKeyTooLong = errors.New("key too long")
	ErrNotFound   = errors.New("not found")
	ErrExists     = errors.New("exists")
	ErrNoMemory   = errors.New("no memory")
	// ErrNoListMemory is what LPush and RPush return when the head of a
	// new list does not fit (ErrNoMemory: its element does not). The text
	// is the same; lua-nginx-module returns false, "no memory" for the
	// first and nil, "no memory" for the second.
	ErrNoListMemory = errors.New("no memory")
	ErrNotNumber    = errors.New("not a number")
	ErrNotList      = errors.New("value not a list")
	ErrIsList       = errors.New("value is a list")
	ErrNilValue     = errors.New("attempt to add or replace nil values")
	ErrBadValue     = errors.New("bad value type")
	// ErrBadUpdateOp is returned by Update when the callback returns an
	// UpdateOp it does not know.
	ErrBadUpdateOp = errors.New("shdict: invalid UpdateOp")
)

// Dict is one shared dictionary. It is safe for concurrent use; every method
// is atomic. Create it with New.
type Dict struct {
	name string
	size int64 // configured size, reported by Capacity
	slab slabs // page accounting of the modelled allocator
	now  func() time.Time

	mu    sync.Mutex
	items map[string]*entry
	lru   entry    // sentinel: lru.next is the most, lru.prev the least recently used
	heap  []*entry // min-heap on expires of the entries that have one
	used  int64    // bytes of the slab chunks charged to the entries in items

	evictions   uint64
	expirations uint64
}

// entry is one key. A scalar entry holds val; a list entry has list != nil.
type entry struct {
	key     string
	val     Value
	list    *deque
	flags   uint32
	hidx    int   // index in Dict.heap, -1 when expires == 0
	expires int64 // Unix nanoseconds; 0 = never
	cost    int64 // bytes charged, including list elements
	prev    *entry
	next    *entry
}

// Option configures a Dict in New.
type Option func(*Dict)

// WithClock makes the Dict read the time from now instead of time.Now. It
// is meant for tests that need to move time forward.
func WithClock(now func() time.Time) Option {
	return func(d *Dict) {
		if now != nil {
			d.now = now
		}
	}
}

// New returns an empty dictionary of the given size in bytes (the size of
// a lua_shared_dict zone). The name is only used for identification. It
// fails if name is empty or size is below MinSize.
func New(name string, size int64, opts ...Option) (*Dict, error) {
	if name == "" {
		return nil, errors.New("shdict: invalid lua shared dict name \"\"")
	}
	if size < MinSize {
		return nil, errors.New("shdict: invalid lua shared dict size for \"" + name + "\" (minimum 8k)")
	}
	d := &Dict{
		name:  name,
		size:  size,
		slab:  slabs{pages: zonePages(size)},
		now:   time.Now,
		items: make(map[string]*entry),
	}
	d.lru.next = &d.lru
	d.lru.prev = &d.lru
	// lua-nginx-module allocates the dict's header and its log context
	// (" in lua_shared_dict zone \"NAME\"") in the zone at start-up.
	d.slab.alloc(slabSize(shctxSize))
	d.slab.alloc(slabSize(len(" in lua_shared_dict zone \"\"") + 1 + len(name)))
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Name returns the name the dictionary was created with.
func (d *Dict) Name() string { return d.name }

// Stats is a snapshot of a dictionary's usage, for metrics.
type Stats struct {
	// Capacity is the configured size in bytes.
	Capacity int64
	// Usable is the pages of the zone times the page size (see the package
	// memory model); the dict's own header takes some of it.
	Usable int64
	// Used is the number of bytes charged to the items held.
	Used int64
	// Items is the number of keys held, including expired ones that have
	// not been removed yet.
	Items int
	// Evictions counts live (unexpired) items evicted to make room.
	Evictions uint64
	// Expirations counts expired items removed (lazily, under memory
	// pressure, by FlushExpired or when overwritten).
	Expirations uint64
}

// Stats returns a snapshot of the dictionary's usage.
func (d *Dict) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{
		Capacity:    d.size,
		Usable:      d.slab.pages * PageSize,
		Used:        d.used,
		Items:       len(d.items),
		Evictions:   d.evictions,
		Expirations: d.expirations,
	}
}

// clock reads the Dict's time source at most once per operation, and only
// when an expiry time actually has to be compared.
type clock struct {
	now func() time.Time
	t   int64
}

func (c *clock) get() int64 {
	if c.t == 0 {
		c.t = c.now().UnixNano()
		if c.t == 0 {
			c.t = 1
		}
	}
	return c.t
}

// deadline returns the expiry time for a ttl from now; 0 (never) when ttl
// is not positive.
func (c *clock) deadline(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	now := c.get()
	if int64(ttl) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(ttl)
}

func (e *entry) expired(c *clock) bool {
	return e.expires != 0 && e.expires <= c.get()
}

func checkKey(key string) error {
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(key) > MaxKeyLen {
		return ErrKeyTooLong
	}
	return nil
}

// slabSize is the size of the slab chunk nginx hands out for an n-byte
// request.
func slabSize(n int) int64 {
	if n <= minSlot {
		return minSlot
	}
	if n <= halfPage {
		return int64(1) << bits.Len(uint(n-1))
	}
	return int64((n + PageSize - 1) / PageSize * PageSize)
}

// zonePages is the number of pages ngx_slab_init finds in a zone of size
// bytes: after the pool header, one descriptor per page, and the pages
// aligned to a page boundary.
func zonePages(size int64) int64 {
	pages := (size - poolHeaderSize) / (PageSize + pageDescSize)
	start := (poolHeaderSize + pages*pageDescSize + PageSize - 1) / PageSize * PageSize
	if m := pages - (size-start)/PageSize; m > 0 {
		pages -= m
	}
	if pages < 0 {
		pages = 0
	}
	return pages
}

// slabs counts the pages the modelled slab allocator uses: the chunks of
// each class (8 to 2048 bytes) packed into pages of that class, plus the
// whole pages of larger allocations.
type slabs struct {
	pages int64    // pages in the zone
	used  int64    // pages in use
	n     [9]int64 // chunks in use per class, 8 << i bytes
	big   int64    // pages held by allocations over half a page
}

// slotsPerPage is how many chunks of class 8<<i fit in a page; classes
// under 64 bytes keep their bitmap in the page's first chunks.
func slotsPerPage(i int) int64 {
	size := int64(minSlot) << i
	n := PageSize / size
	if size < 64 {
		n -= (n/8 + size - 1) / size
	}
	return n
}

func slabClass(size int64) int { return bits.Len64(uint64(size)) - 4 }

// fits reports whether a chunk of size bytes (a slabSize) can be had.
func (s *slabs) fits(size int64) bool {
	if size > halfPage {
		return s.used+size/PageSize <= s.pages
	}
	i := slabClass(size)
	return s.n[i]%slotsPerPage(i) != 0 || s.used < s.pages
}

// alloc takes a chunk of size bytes; the caller checked fits (the
// start-up allocations of New may overcommit a tiny zone).
func (s *slabs) alloc(size int64) {
	if size > halfPage {
		s.used += size / PageSize
		s.big += size / PageSize
		return
	}
	i := slabClass(size)
	if s.n[i]%slotsPerPage(i) == 0 {
		s.used++
	}
	s.n[i]++
}

// free gives a chunk of size bytes back.
func (s *slabs) free(size int64) {
	if size > halfPage {
		s.used -= size / PageSize
		s.big -= size / PageSize
		return
	}
	i := slabClass(size)
	s.n[i]--
	if s.n[i]%slotsPerPage(i) == 0 {
		s.used--
	}
}

func scalarCost(keyLen int, v Value) int64 {
	return slabSize(nodeOverhead + keyLen + v.size())
}

func listHeadCost(keyLen int) int64 {
	return slabSize((nodeOverhead + keyLen + listHeadSize + 7) &^ 7)
}

func listElemCost(v Value) int64 {
	return slabSize(listNodeOverhead + v.size())
}

// ---- LRU list ----

func (d *Dict) lruPushFront(e *entry) {
	e.prev = &d.lru
	e.next = d.lru.next
	d.lru.next.prev = e
	d.lru.next = e
}

func (d *Dict) lruUnlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// lookup finds key and, like nginx, marks it most recently used whether or
// not it has expired.
func (d *Dict) lookup(key string) *entry {
	e := d.items[key]
	if e != nil && d.lru.next != e {
		e.prev.next = e.next
		e.next.prev = e.prev
		d.lruPushFront(e)
	}
	return e
}

// ---- expiry heap ----

func (d *Dict) heapLess(i, j int) bool { return d.heap[i].expires < d.heap[j].expires }

func (d *Dict) heapSwap(i, j int) {
	h := d.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}

func (d *Dict) heapUp(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !d.heapLess(i, p) {
			return
		}
		d.heapSwap(i, p)
		i = p
	}
}

func (d *Dict) heapDown(i int) {
	n := len(d.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && d.heapLess(r, l) {
			m = r
		}
		if !d.heapLess(m, i) {
			return
		}
		d.heapSwap(i, m)
		i = m
	}
}

func (d *Dict) heapRemove(e *entry) {
	i := e.hidx
	last := len(d.heap) - 1
	if i != last {
		d.heapSwap(i, last)
	}
	d.heap[last] = nil
	d.heap = d.heap[:last]
	e.hidx = -1
	if i != last {
		d.heapDown(i)
		d.heapUp(i)
	}
}

// setExpires changes e's expiry time, keeping the heap in order.
func (d *Dict) setExpires(e *entry, exp int64) {
	old := e.expires
	e.expires = exp
	switch {
	case exp == 0:
		if e.hidx >= 0 {
			d.heapRemove(e)
		}
	case e.hidx < 0:
		e.hidx = len(d.heap)
		d.heap = append(d.heap, e)
		d.heapUp(e.hidx)
	case exp < old:
		d.heapUp(e.hidx)
	case exp > old:
		d.heapDown(e.hidx)
	}
}

// ---- allocation ----

// remove deletes e and frees its memory.
func (d *Dict) remove(e *entry) {
	delete(d.items, e.key)
	d.lruUnlink(e)
	if e.hidx >= 0 {
		d.heapRemove(e)
	}
	d.used -= e.cost
	if e.list == nil {
		d.slab.free(e.cost)
		return
	}
	d.slab.free(listHeadCost(len(e.key)))
	q := e.list
	for i := 0; i < q.n; i++ {
		d.slab.free(listElemCost(q.buf[(q.head+i)%len(q.buf)]))
	}
}

// expireTail is nginx's per-operation cleanup: remove up to two expired
// items from the cold end of the LRU list, stopping at the first live one.
func (d *Dict) expireTail(c *clock) {
	for i := 0; i < 2; i++ {
		e := d.lru.prev
		if e == &d.lru || e.expires == 0 || e.expires > c.get() {
			return
		}
		d.remove(e)
		d.expirations++
	}
}

// purgeExpired removes every expired item.
func (d *Dict) purgeExpired(c *clock) {
	for len(d.heap) > 0 && d.heap[0].expires <= c.get() {
		d.remove(d.heap[0])
		d.expirations++
	}
}

// reserve makes room for a chunk of cost bytes (a slabSize); the caller
// allocates it. It drops expired items first and then, if evict is set,
// up to MaxForcedEvictions least-recently-used live items, as nginx does
// even when the chunk is bigger than the whole zone; forcible reports
// whether any live item was evicted (even when room could not be made).
func (d *Dict) reserve(cost int64, evict bool, c *clock) (ok, forcible bool) {
	if d.slab.fits(cost) {
		return true, false
	}
	d.purgeExpired(c)
	if d.slab.fits(cost) {
		return true, false
	}
	if !evict {
		return false, false
	}
	for i := 0; i < MaxForcedEvictions; i++ {
		e := d.lru.prev
		if e == &d.lru {
			break
		}
		d.remove(e)
		d.evictions++
		forcible = true
		if d.slab.fits(cost) {
			return true, true
		}
	}
	return false, forcible
}

// put stores a scalar value under key. e is the entry found for key (live
// or expired) or nil. As in nginx, an entry whose allocation size matches
// is updated in place (this never fails); otherwise the old entry is freed
// first and a new one allocated, so a store that fails for lack of memory
// has still removed the old value.
func (d *Dict) put(e *entry, key string, v Value, exp int64, flags uint32, evict bool, c *clock) (bool, error) {
	cost := scalarCost(len(key), v)
	if e != nil {
		if e.list == nil && e.cost == cost {
			e.val = v
			e.flags = flags
			d.setExpires(e, exp)
			return false, nil
		}
		d.remove(e)
	}
	ok, forcible := d.reserve(cost, evict, c)
	if !ok {
		return forcible, ErrNoMemory
	}
	ne := &entry{key: key, val: v, flags: flags, cost: cost, hidx: -1}
	d.used += cost
	d.slab.alloc(cost)
	d.items[key] = ne
	d.lruPushFront(ne)
	d.setExpires(ne, exp)
	return forcible, nil
}
