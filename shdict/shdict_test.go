package shdict

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced time source.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func newDict(t testing.TB, size int64) (*Dict, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	d, err := New("dogs", size, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	return d, clk
}

// check verifies the internal invariants of d.
func check(t testing.TB, d *Dict) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	var used int64
	for e := d.lru.next; e != &d.lru; e = e.next {
		if e.next.prev != e || e.prev.next != e {
			t.Fatalf("broken LRU links at %q", e.key)
		}
		if d.items[e.key] != e {
			t.Fatalf("LRU entry %q not in map", e.key)
		}
		want := scalarCost(len(e.key), e.val)
		if e.list != nil {
			want = listHeadCost(len(e.key))
			for i := 0; i < e.list.n; i++ {
				want += listElemCost(e.list.buf[(e.list.head+i)%len(e.list.buf)])
			}
			if e.list.n == 0 {
				t.Fatalf("empty list %q kept", e.key)
			}
		}
		if e.cost != want {
			t.Fatalf("entry %q cost %d, want %d", e.key, e.cost, want)
		}
		if (e.expires == 0) != (e.hidx < 0) {
			t.Fatalf("entry %q expires %d hidx %d", e.key, e.expires, e.hidx)
		}
		used += e.cost
		n++
	}
	if n != len(d.items) {
		t.Fatalf("LRU has %d entries, map %d", n, len(d.items))
	}
	if used != d.used {
		t.Fatalf("used %d, sum of costs %d", d.used, used)
	}
	if d.slab.used > d.slab.pages {
		t.Fatalf("%d pages used of %d", d.slab.used, d.slab.pages)
	}
	for i, e := range d.heap {
		if e.hidx != i {
			t.Fatalf("heap[%d].hidx = %d", i, e.hidx)
		}
		if i > 0 && d.heap[(i-1)/2].expires > e.expires {
			t.Fatalf("heap order broken at %d", i)
		}
		if d.items[e.key] != e {
			t.Fatalf("heap entry %q not in map", e.key)
		}
	}
}

func mustSet(t testing.TB, d *Dict, key string, v Value, ttl time.Duration, flags uint32) {
	t.Helper()
	if _, err := d.Set(key, v, ttl, flags); err != nil {
		t.Fatalf("set %q: %v", key, err)
	}
}

func wantGet(t testing.TB, d *Dict, key string, want Value, wantFlags uint32) {
	t.Helper()
	v, f, err := d.Get(key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	if v != want || f != wantFlags {
		t.Fatalf("get %q = %+v, %d; want %+v, %d", key, v, f, want, wantFlags)
	}
}

func TestNew(t *testing.T) {
	if _, err := New("", 1<<20); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := New("x", 8191); err == nil {
		t.Error("size 8191 accepted")
	}
	d, err := New("x", 8192)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "x" || d.Capacity() != 8192 {
		t.Errorf("name %q capacity %d", d.Name(), d.Capacity())
	}
	// 8192 bytes hold one page, which nginx's own allocations at start-up
	// overcommit (nginx fails to start with dicts under 12k).
	if d.FreeSpace() != 0 {
		t.Errorf("free space %d, want 0", d.FreeSpace())
	}
	// 1 MiB has 254 pages; the dict's header and log context take two.
	d, _ = New("y", 1<<20)
	if got, want := d.FreeSpace(), int64(252*4096); got != want {
		t.Errorf("free space %d, want %d", got, want)
	}
}

func TestValue(t *testing.T) {
	var z Value
	if !z.IsNil() || z.Kind() != KindNil || z.Kind().String() != "nil" {
		t.Error("zero value not nil")
	}
	s := StringValue("abc")
	if s.Kind() != KindString || s.Str() != "abc" || s.Kind().String() != "string" || s.IsNil() {
		t.Error("string value")
	}
	n := NumberValue(3.5)
	if n.Kind() != KindNumber || n.Num() != 3.5 || n.Kind().String() != "number" {
		t.Error("number value")
	}
	if b := BoolValue(true); b.Kind() != KindBool || !b.Bool() || b.Kind().String() != "boolean" {
		t.Error("true value")
	}
	if b := BoolValue(false); b.Kind() != KindBool || b.Bool() || b.IsNil() {
		t.Error("false value")
	}
	if NumberValue(1).Bool() {
		t.Error("number reported as true boolean")
	}
}

func TestSetGet(t *testing.T) {
	d, _ := newDict(t, 1<<20)
	mustSet(t, d, "s", StringValue("bar"), 0, 72)
	mustSet(t, d, "n", NumberValue(3.1415926), 0, 0)
	mustSet(t, d, "t", BoolValue(true), 0, 5678)
	mustSet(t, d, "f", BoolValue(false), 0, 777)
	mustSet(t, d, "e", StringValue(""), 0, 0)
	big := strings.Repeat("bbbb", 1024) + "a"
	mustSet(t, d, "big", StringValue(big), 0, 912)
	wantGet(t, d, "s", StringValue("bar"), 72)
	wantGet(t, d, "n", NumberValue(3.1415926), 0)
	wantGet(t, d, "t", BoolValue(true), 5678)
	wantGet(t, d, "f", BoolValue(false), 777)
	wantGet(t, d, "e", StringValue(""), 0)
	wantGet(t, d, "big", StringValue(big), 912)
	wantGet(t, d, "missing", Value{}, 0)

	// Overwrite with another type and no flags.
	mustSet(t, d, "s", NumberValue(51203), 0, 0)
	wantGet(t, d, "s", NumberValue(51203), 0)
	// Set nil deletes.
	if f, err := d.Set("s", Value{}, 0, 0); f || err != nil {
		t.Fatalf("set nil: %v %v", f, err)
	}
	wantGet(t, d, "s", Value{}, 0)
	if err := d.Delete("n"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete("never-there"); err != nil {
		t.Fatal(err)
	}
	wantGet(t, d, "n", Value{}, 0)
	if st := d.Stats(); st.Items != 4 {
		t.Errorf("items %d, want 4", st.Items)
	}
	if _, err := d.Set("x", Value{k: 9}, 0, 0); err != ErrBadValue {
		t.Errorf("bad kind: %v", err)
	}
	check(t, d)
}

func TestKeyErrors(t *testing.T) {
	d, _ := newDict(t, 1<<20)
	long := strings.Repeat("k", MaxKeyLen+1)
	for _, tc := range []struct {
		key  string
		want error
	}{{"", ErrEmptyKey}, {long, ErrKeyTooLong}} {
		errs := []error{}
		_, _, err := d.Get(tc.key)
		errs = append(errs, err)
		_, _, _, err = d.GetStale(tc.key)
		errs = append(errs, err)
		_, err = d.Set(tc.key, NumberValue(1), 0, 0)
		errs = append(errs, err)
		_, err = d.SafeSet(tc.key, NumberValue(1), 0, 0)
		errs = append(errs, err)
		_, err = d.Add(tc.key, NumberValue(1), 0, 0)
		errs = append(errs, err)
		_, err = d.SafeAdd(tc.key, NumberValue(1), 0, 0)
		errs = append(errs, err)
		_, err = d.Replace(tc.key, NumberValue(1), 0, 0)
		errs = append(errs, err)
		errs = append(errs, d.Delete(tc.key))
		_, err = d.Incr(tc.key, 1)
		errs = append(errs, err)
		_, _, err = d.IncrInit(tc.key, 1, 0, 0)
		errs = append(errs, err)
		_, err = d.TTL(tc.key)
		errs = append(errs, err)
		errs = append(errs, d.Expire(tc.key, time.Second))
		_, err = d.LPush(tc.key, NumberValue(1))
		errs = append(errs, err)
		_, err = d.RPush(tc.key, NumberValue(1))
		errs = append(errs, err)
		_, err = d.LPop(tc.key)
		errs = append(errs, err)
		_, err = d.RPop(tc.key)
		errs = append(errs, err)
		_, err = d.LLen(tc.key)
		errs = append(errs, err)
		_, err = d.Update(tc.key, func(Value, bool) (Value, time.Duration, UpdateOp) {
			t.Error("callback called for a bad key")
			return Value{}, 0, UpdateKeep
		})
		errs = append(errs, err)
		for i, err := range errs {
			if err != tc.want {
				t.Errorf("key len %d, call %d: err %v, want %v", len(tc.key), i, err, tc.want)
			}
		}
	}
	if ErrEmptyKey.Error() != "empty key" || ErrKeyTooLong.Error() != "key too long" {
		t.Error("key error texts")
	}
	// The longest legal key works.
	max := strings.Repeat("k", MaxKeyLen)
	mustSet(t, d, max, NumberValue(1), 0, 0)
	wantGet(t, d, max, NumberValue(1), 0)
	check(t, d)
}

func TestAddReplace(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	if f, err := d.Add("a", StringValue("x"), 0, 3); f || err != nil {
		t.Fatalf("add: %v %v", f, err)
	}
	if _, err := d.Add("a", StringValue("y"), 0, 0); err != ErrExists || err.Error() != "exists" {
		t.Fatalf("add existing: %v", err)
	}
	if _, err := d.SafeAdd("a", StringValue("y"), 0, 0); err != ErrExists {
		t.Fatalf("safe_add existing: %v", err)
	}
	wantGet(t, d, "a", StringValue("x"), 3)
	if _, err := d.Replace("b", StringValue("y"), 0, 0); err != ErrNotFound || err.Error() != "not found" {
		t.Fatalf("replace missing: %v", err)
	}
	if _, err := d.Replace("a", NumberValue(2), 0, 9); err != nil {
		t.Fatalf("replace: %v", err)
	}
	wantGet(t, d, "a", NumberValue(2), 9)
	if _, err := d.Add("a", Value{}, 0, 0); err != ErrNilValue || err.Error() != "attempt to add or replace nil values" {
		t.Fatalf("add nil: %v", err)
	}
	if _, err := d.Replace("a", Value{}, 0, 0); err != ErrNilValue {
		t.Fatalf("replace nil: %v", err)
	}

	// Expired keys: add succeeds, replace fails.
	mustSet(t, d, "e", StringValue("old"), time.Second, 0)
	clk.Advance(time.Second)
	if _, err := d.Replace("e", StringValue("new"), 0, 0); err != ErrNotFound {
		t.Fatalf("replace expired: %v", err)
	}
	if _, err := d.SafeAdd("e", StringValue("new"), 0, 0); err != nil {
		t.Fatalf("add over expired: %v", err)
	}
	wantGet(t, d, "e", StringValue("new"), 0)
	if ttl, err := d.TTL("e"); ttl != 0 || err != nil {
		t.Fatalf("ttl after add: %v %v", ttl, err)
	}
	check(t, d)
}

func TestExpiry(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	mustSet(t, d, "k", StringValue("v"), 10*time.Second, 5)
	mustSet(t, d, "forever", StringValue("v"), 0, 0)
	if ttl, err := d.TTL("k"); ttl != 10*time.Second || err != nil {
		t.Fatalf("ttl = %v, %v", ttl, err)
	}
	clk.Advance(2500 * time.Millisecond)
	if ttl, err := d.TTL("k"); ttl != 7500*time.Millisecond || err != nil {
		t.Fatalf("ttl = %v, %v", ttl, err)
	}
	if ttl, err := d.TTL("forever"); ttl != 0 || err != nil {
		t.Fatalf("ttl forever = %v, %v", ttl, err)
	}
	if _, err := d.TTL("missing"); err != ErrNotFound {
		t.Fatalf("ttl missing: %v", err)
	}
	clk.Advance(7500*time.Millisecond - 1)
	wantGet(t, d, "k", StringValue("v"), 5)
	clk.Advance(1) // the expiry instant: gone
	wantGet(t, d, "k", Value{}, 0)
	if _, err := d.TTL("k"); err != ErrNotFound {
		t.Fatalf("ttl expired: %v", err)
	}
	if err := d.Expire("k", time.Second); err != ErrNotFound {
		t.Fatalf("expire expired: %v", err)
	}
	if err := d.Expire("missing", time.Second); err != ErrNotFound {
		t.Fatalf("expire missing: %v", err)
	}

	// expire() adds, changes and removes expiry times.
	if err := d.Expire("forever", 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := d.TTL("forever"); ttl != 3*time.Second {
		t.Fatalf("ttl after expire = %v", ttl)
	}
	if err := d.Expire("forever", time.Hour); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := d.TTL("forever"); ttl != time.Hour {
		t.Fatalf("ttl after expire = %v", ttl)
	}
	if err := d.Expire("forever", 0); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	if ttl, err := d.TTL("forever"); ttl != 0 || err != nil {
		t.Fatalf("ttl after expire 0 = %v %v", ttl, err)
	}
	wantGet(t, d, "forever", StringValue("v"), 0)

	// Set with a ttl over a key clears or replaces its expiry.
	mustSet(t, d, "x", NumberValue(1), time.Second, 0)
	mustSet(t, d, "x", NumberValue(2), 0, 0)
	clk.Advance(time.Minute)
	wantGet(t, d, "x", NumberValue(2), 0)
	check(t, d)
}

func TestGetStale(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	mustSet(t, d, "foo", StringValue("bar"), time.Millisecond, 72)
	v, f, stale, err := d.GetStale("foo")
	if v != StringValue("bar") || f != 72 || stale || err != nil {
		t.Fatalf("fresh: %+v %d %v %v", v, f, stale, err)
	}
	clk.Advance(2 * time.Millisecond)
	v, f, stale, err = d.GetStale("foo")
	if v != StringValue("bar") || f != 72 || !stale || err != nil {
		t.Fatalf("stale: %+v %d %v %v", v, f, stale, err)
	}
	wantGet(t, d, "foo", Value{}, 0)
	v, _, stale, err = d.GetStale("missing")
	if !v.IsNil() || stale || err != nil {
		t.Fatalf("missing: %+v %v %v", v, stale, err)
	}
	// The get above also removed foo, the expired item at the cold end of
	// the LRU list (as nginx does), so get_stale now misses too.
	if v, _, _, _ := d.GetStale("foo"); !v.IsNil() {
		t.Fatalf("get_stale after cleanup: %+v", v)
	}
	// Items that are not at the cold end survive get() until flushed.
	mustSet(t, d, "old", StringValue("live"), 0, 0)
	mustSet(t, d, "foo", StringValue("bar"), time.Millisecond, 0)
	clk.Advance(2 * time.Millisecond)
	wantGet(t, d, "foo", Value{}, 0)
	if v, _, stale, _ := d.GetStale("foo"); v != StringValue("bar") || !stale {
		t.Fatalf("get_stale: %+v %v", v, stale)
	}
	if n := d.FlushExpired(0); n != 1 {
		t.Fatalf("flush_expired = %d", n)
	}
	if v, _, _, _ := d.GetStale("foo"); !v.IsNil() {
		t.Fatalf("get_stale after flush_expired: %+v", v)
	}
}

func TestIncr(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	if _, err := d.Incr("n", 1); err != ErrNotFound {
		t.Fatalf("incr missing: %v", err)
	}
	mustSet(t, d, "n", NumberValue(56), 0, 7)
	for i := 0; i < 100; i++ {
		if _, err := d.Incr("n", 2); err != nil {
			t.Fatal(err)
		}
	}
	wantGet(t, d, "n", NumberValue(256), 7) // flags kept
	if n, err := d.Incr("n", -0.5); n != 255.5 || err != nil {
		t.Fatalf("incr = %v %v", n, err)
	}
	mustSet(t, d, "s", StringValue("x"), 0, 0)
	if _, err := d.Incr("s", 1); err != ErrNotNumber || err.Error() != "not a number" {
		t.Fatalf("incr string: %v", err)
	}
	if _, _, err := d.IncrInit("s", 1, 0, 0); err != ErrNotNumber {
		t.Fatalf("incr init string: %v", err)
	}

	// init creates the key with init+delta and the init ttl.
	n, forcible, err := d.IncrInit("c", 1, 10, 5*time.Second)
	if n != 11 || forcible || err != nil {
		t.Fatalf("incr init = %v %v %v", n, forcible, err)
	}
	if ttl, _ := d.TTL("c"); ttl != 5*time.Second {
		t.Fatalf("init ttl = %v", ttl)
	}
	clk.Advance(2 * time.Second)
	// init_ttl does not apply to an existing key.
	n, _, err = d.IncrInit("c", 1, 10, time.Hour)
	if n != 12 || err != nil {
		t.Fatalf("incr existing = %v %v", n, err)
	}
	if ttl, _ := d.TTL("c"); ttl != 3*time.Second {
		t.Fatalf("ttl after incr = %v", ttl)
	}
	clk.Advance(3 * time.Second)
	if _, err := d.Incr("c", 1); err != ErrNotFound {
		t.Fatalf("incr expired: %v", err)
	}
	// An expired key is re-created from init, without flags, with no ttl.
	mustSet(t, d, "c", NumberValue(100), time.Second, 99)
	clk.Advance(time.Second)
	n, _, err = d.IncrInit("c", 2, 0, 0)
	if n != 2 || err != nil {
		t.Fatalf("incr over expired = %v %v", n, err)
	}
	wantGet(t, d, "c", NumberValue(2), 0)
	if ttl, _ := d.TTL("c"); ttl != 0 {
		t.Fatalf("ttl = %v", ttl)
	}
	// An expired string key is replaced by a number.
	mustSet(t, d, "es", StringValue(strings.Repeat("x", 100)), time.Second, 0)
	clk.Advance(time.Second)
	if n, _, err := d.IncrInit("es", 1, 1, 0); n != 2 || err != nil {
		t.Fatalf("incr over expired string = %v %v", n, err)
	}
	if _, err := d.LPush("l", NumberValue(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Incr("l", 1); err != ErrNotNumber {
		t.Fatalf("incr list: %v", err)
	}
	check(t, d)
}

func TestFlushAll(t *testing.T) {
	d, _ := newDict(t, 1<<20)
	free := d.FreeSpace()
	for i := 0; i < 100; i++ {
		mustSet(t, d, fmt.Sprint("k", i), NumberValue(float64(i)), time.Duration(i)*time.Hour, 0)
	}
	if _, err := d.LPush("list", StringValue("a")); err != nil {
		t.Fatal(err)
	}
	d.FlushAll()
	check(t, d)
	wantGet(t, d, "k5", Value{}, 0)
	v, _, stale, _ := d.GetStale("k7")
	if v != NumberValue(7) || !stale {
		t.Fatalf("get_stale after flush_all: %+v %v", v, stale)
	}
	if keys := d.Keys(0); len(keys) != 0 {
		t.Fatalf("keys after flush_all: %v", keys)
	}
	if n, _ := d.LLen("list"); n != 0 {
		t.Fatalf("llen after flush_all: %d", n)
	}
	if _, err := d.Add("k1", StringValue("new"), 0, 0); err != nil {
		t.Fatalf("add after flush_all: %v", err)
	}
	d.FlushExpired(0)
	if st := d.Stats(); st.Items != 1 || st.Expirations != 101 {
		t.Fatalf("stats after flush_expired: %+v", st)
	}
	// k1 takes a chunk of the 128-byte page the dict's header opened.
	if d.FreeSpace() != free {
		t.Fatalf("free space %d, want %d", d.FreeSpace(), free)
	}
	wantGet(t, d, "k1", StringValue("new"), 0)
	check(t, d)
}

func TestFlushExpired(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	if n := d.FlushExpired(0); n != 0 {
		t.Fatalf("empty: %d", n)
	}
	for i := 0; i < 10; i++ {
		mustSet(t, d, fmt.Sprint("e", i), NumberValue(1), time.Second, 0)
		mustSet(t, d, fmt.Sprint("l", i), NumberValue(1), time.Hour, 0)
		mustSet(t, d, fmt.Sprint("p", i), NumberValue(1), 0, 0)
	}
	if n := d.FlushExpired(0); n != 0 {
		t.Fatalf("nothing expired: %d", n)
	}
	clk.Advance(time.Second)
	if n := d.FlushExpired(3); n != 3 {
		t.Fatalf("max 3: %d", n)
	}
	// The least recently used expired items go first.
	if st := d.Stats(); st.Items != 27 {
		t.Fatalf("items %d", st.Items)
	}
	for i := 0; i < 3; i++ {
		if v, _, _, _ := d.GetStale(fmt.Sprint("e", i)); !v.IsNil() {
			t.Fatalf("e%d not flushed first", i)
		}
	}
	if v, _, stale, _ := d.GetStale("e3"); v.IsNil() || !stale {
		t.Fatalf("e3 flushed too early")
	}
	if n := d.FlushExpired(0); n != 7 {
		t.Fatalf("rest: %d", n)
	}
	if st := d.Stats(); st.Items != 20 || st.Expirations != 10 {
		t.Fatalf("stats %+v", st)
	}
	check(t, d)
}

func TestKeys(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	if keys := d.Keys(0); len(keys) != 0 {
		t.Fatalf("empty dict keys %v", keys)
	}
	for i := 0; i < 5; i++ {
		mustSet(t, d, fmt.Sprint("k", i), NumberValue(1), 0, 0)
	}
	mustSet(t, d, "short", NumberValue(1), time.Second, 0)
	d.Get("k0") // most recently used now
	want := []string{"k1", "k2", "k3", "k4", "short", "k0"}
	if got := d.Keys(0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	if got := d.Keys(2); fmt.Sprint(got) != "[k1 k2]" {
		t.Fatalf("keys(2) %v", got)
	}
	// Keys does not touch the LRU order.
	if got := d.Keys(1); fmt.Sprint(got) != "[k1]" {
		t.Fatalf("keys(1) %v", got)
	}
	clk.Advance(time.Second)
	if got := d.Keys(0); len(got) != 5 {
		t.Fatalf("expired key listed: %v", got)
	}
	for i := 0; i < 2000; i++ {
		mustSet(t, d, fmt.Sprint("m", i), NumberValue(1), 0, 0)
	}
	if got := d.Keys(0); len(got) != 2005 {
		t.Fatalf("keys(0) len %d", len(got))
	}
	if got := d.Keys(1024); len(got) != 1024 {
		t.Fatalf("keys(1024) len %d", len(got))
	}
}

func TestMemoryAccounting(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 8}, {8, 8}, {9, 16}, {77, 128}, {128, 128}, {129, 256},
		{2048, 2048}, {2049, 4096}, {4096, 4096}, {4097, 8192},
	} {
		if got := slabSize(tc.n); got != int64(tc.want) {
			t.Errorf("slabSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	d, _ := newDict(t, 1<<20)
	mustSet(t, d, "k", NumberValue(1), 0, 0) // 68+1+8 = 77 -> 128
	if st := d.Stats(); st.Used != 128 || st.Items != 1 {
		t.Fatalf("stats %+v", st)
	}
	mustSet(t, d, "b", BoolValue(true), 0, 0)                      // 68+1+1 = 70 -> 128
	mustSet(t, d, "s", StringValue(strings.Repeat("x", 60)), 0, 0) // 129 -> 256
	if st := d.Stats(); st.Used != 512 {
		t.Fatalf("used %d, want 512", st.Used)
	}
	// Same slab class: updated in place.
	mustSet(t, d, "s", StringValue(strings.Repeat("y", 100)), 0, 0) // 169 -> 256
	if st := d.Stats(); st.Used != 512 {
		t.Fatalf("used %d after same-class overwrite", st.Used)
	}
	mustSet(t, d, "s", StringValue(strings.Repeat("y", 3000)), 0, 0) // 3069 -> 4096
	if st := d.Stats(); st.Used != 256+4096 {
		t.Fatalf("used %d after bigger overwrite", st.Used)
	}
	// Lists: head align8(68+1+16)=88 -> 128, elements 21+8=29 -> 32, 21+3 -> 32.
	d.RPush("l", NumberValue(1))
	d.RPush("l", StringValue("abc"))
	if st := d.Stats(); st.Used != 256+4096+128+64 {
		t.Fatalf("used %d after list", st.Used)
	}
	d.LPop("l")
	d.LPop("l")
	if st := d.Stats(); st.Used != 256+4096 {
		t.Fatalf("used %d after popping the list", st.Used)
	}
	free := d.FreeSpace()
	if free%PageSize != 0 || free != (d.slab.pages-d.slab.used)*PageSize {
		t.Fatalf("free space %d", free)
	}
	check(t, d)
}

func TestLRUEviction(t *testing.T) {
	d, _ := newDict(t, 64*1024)                  // 15 pages, 13 after the dict's header
	val := StringValue(strings.Repeat("v", 900)) // 68+3+900 -> 1024 bytes, 4 a page
	for i := 0; i < 52; i++ {
		f, err := d.Set(fmt.Sprint("k", i+100), val, 0, 0)
		if f || err != nil {
			t.Fatalf("set %d: %v %v", i, f, err)
		}
	}
	if d.FreeSpace() != 0 {
		t.Fatalf("free %d", d.FreeSpace())
	}
	d.Get("k100") // k100 is now the most recently used; k101 the least
	f, err := d.Set("new", val, 0, 0)
	if !f || err != nil {
		t.Fatalf("set in full dict: forcible=%v err=%v", f, err)
	}
	wantGet(t, d, "k100", val, 0)
	wantGet(t, d, "k101", Value{}, 0)
	wantGet(t, d, "k102", val, 0)
	if st := d.Stats(); st.Evictions != 1 || st.Items != 52 {
		t.Fatalf("stats %+v", st)
	}
	// A 4 KiB value needs four 1 KiB items evicted: the least recently used.
	f, err = d.Set("big", StringValue(strings.Repeat("x", 3000)), 0, 0)
	if !f || err != nil {
		t.Fatalf("big: %v %v", f, err)
	}
	for _, k := range []string{"k103", "k104", "k105", "k106"} {
		if v, _, _ := d.Get(k); !v.IsNil() {
			t.Fatalf("%s survived", k)
		}
	}
	if st := d.Stats(); st.Evictions != 5 {
		t.Fatalf("evictions %d", st.Evictions)
	}
	// Incr with init evicts too.
	for i := 0; ; i++ {
		if _, f, err := d.IncrInit(fmt.Sprint("c", i), 1, 0, 0); err != nil {
			t.Fatal(err)
		} else if f {
			break
		}
	}
	check(t, d)
}

func TestEvictionLimit(t *testing.T) {
	d, _ := newDict(t, 1<<20)
	// Fill with small items; a value needing more than 30 evictions fails.
	for i := 0; ; i++ {
		if f, err := d.Set(fmt.Sprint("k", i), NumberValue(1), 0, 0); err != nil || f {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	before := d.Stats().Items
	f, err := d.Set("huge", StringValue(strings.Repeat("x", 100000)), 0, 0)
	if !f || err != ErrNoMemory || err.Error() != "no memory" {
		t.Fatalf("huge: forcible=%v err=%v", f, err)
	}
	if st := d.Stats(); st.Items != before-MaxForcedEvictions {
		t.Fatalf("items %d, want %d", st.Items, before-MaxForcedEvictions)
	}
	check(t, d)
}

func TestTooLarge(t *testing.T) {
	d, _ := newDict(t, 64*1024)
	mustSet(t, d, "a", NumberValue(1), 0, 0)
	mustSet(t, d, "k", StringValue("small"), 0, 0)
	f, err := d.Set("k", StringValue(strings.Repeat("x", 64*1024)), 0, 0)
	if !f || err != ErrNoMemory {
		t.Fatalf("too large: %v %v", f, err)
	}
	// As in nginx (lua-nginx-module t/043-shdict.t TEST 26), the old value
	// of k is gone and every other item was evicted trying to make room.
	wantGet(t, d, "a", Value{}, 0)
	wantGet(t, d, "k", Value{}, 0)
	if f, err := d.Set("k", StringValue(strings.Repeat("x", 64*1024)), 0, 0); f || err != ErrNoMemory {
		t.Fatalf("too large in an empty dict: %v %v", f, err)
	}
	if _, err := d.RPush("l", StringValue(strings.Repeat("x", 64*1024))); err != ErrNoMemory {
		t.Fatalf("too large push: %v", err)
	}
	if _, _, err := d.Get("l"); err != nil {
		t.Fatalf("failed push left a list behind: %v", err)
	}
	check(t, d)
}

func TestExpiredDroppedBeforeLive(t *testing.T) {
	d, clk := newDict(t, 64*1024)
	val := StringValue(strings.Repeat("v", 900))
	for i := 0; i < 52; i++ {
		ttl := time.Duration(0)
		if i%2 == 1 {
			ttl = time.Second
		}
		mustSet(t, d, fmt.Sprint("k", i+100), val, ttl, 0)
	}
	clk.Advance(time.Second)
	// The least recently used item is live: nginx would evict it, but the
	// expired ones are dropped first.
	for i := 0; i < 26; i++ {
		f, err := d.Set(fmt.Sprint("n", i), val, 0, 0)
		if f || err != nil {
			t.Fatalf("set %d: forcible=%v err=%v", i, f, err)
		}
	}
	for i := 0; i < 52; i += 2 {
		wantGet(t, d, fmt.Sprint("k", i+100), val, 0)
	}
	if st := d.Stats(); st.Evictions != 0 || st.Expirations != 26 {
		t.Fatalf("stats %+v", st)
	}
	check(t, d)
}

func TestSafeNoMemory(t *testing.T) {
	d, clk := newDict(t, 64*1024)
	val := StringValue(strings.Repeat("v", 900))
	for i := 0; i < 51; i++ {
		mustSet(t, d, fmt.Sprint("k", i), val, 0, 0)
	}
	mustSet(t, d, "exp", val, time.Second, 0)
	if f, err := d.SafeSet("x", val, 0, 0); f || err != ErrNoMemory {
		t.Fatalf("safe_set full: %v %v", f, err)
	}
	if f, err := d.SafeAdd("x", val, 0, 0); f || err != ErrNoMemory {
		t.Fatalf("safe_add full: %v %v", f, err)
	}
	if st := d.Stats(); st.Evictions != 0 || st.Items != 52 {
		t.Fatalf("stats %+v", st)
	}
	// Pushes never evict live items either. (The head fits in the page of
	// 128-byte chunks the dict's header opened; a 64-byte element needs a
	// page of its own.) A small element still fits in the 32-byte page of
	// the zone name.
	if _, err := d.LPush("list", StringValue(strings.Repeat("e", 20))); err != ErrNoMemory {
		t.Fatalf("lpush full: %v", err)
	}
	if n, err := d.LPush("list2", NumberValue(1)); n != 1 || err != nil {
		t.Fatalf("lpush of a small element: %d %v", n, err)
	}
	d.Delete("list2")
	// Expired items may be reclaimed by safe_set.
	clk.Advance(time.Second)
	if f, err := d.SafeSet("x", val, 0, 0); f || err != nil {
		t.Fatalf("safe_set after expiry: %v %v", f, err)
	}
	if st := d.Stats(); st.Evictions != 0 || st.Items != 52 {
		t.Fatalf("stats %+v", st)
	}
	// safe_set of a same-size value over an existing key needs no memory.
	if f, err := d.SafeSet("k1", StringValue(strings.Repeat("w", 900)), 0, 0); f || err != nil {
		t.Fatalf("safe_set in place: %v %v", f, err)
	}
	check(t, d)
}

func TestExpireTailCleanup(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	mustSet(t, d, "a", NumberValue(1), time.Second, 0)
	mustSet(t, d, "b", NumberValue(1), time.Second, 0)
	mustSet(t, d, "c", NumberValue(1), time.Second, 0)
	mustSet(t, d, "live", NumberValue(1), 0, 0)
	clk.Advance(time.Second)
	// Like nginx, each operation removes up to two expired items from the
	// cold end of the LRU list.
	d.Get("live")
	if st := d.Stats(); st.Items != 2 || st.Expirations != 2 {
		t.Fatalf("stats %+v", st)
	}
	// get_stale does not clean up.
	d.GetStale("live")
	if st := d.Stats(); st.Items != 2 {
		t.Fatalf("stats %+v", st)
	}
	d.Get("live")
	if st := d.Stats(); st.Items != 1 {
		t.Fatalf("stats %+v", st)
	}
	check(t, d)
}

func TestLists(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	for i, v := range []Value{NumberValue(1), StringValue("two"), NumberValue(3)} {
		if n, err := d.RPush("l", v); n != i+1 || err != nil {
			t.Fatalf("rpush: %d %v", n, err)
		}
	}
	if n, err := d.LPush("l", StringValue("zero")); n != 4 || err != nil {
		t.Fatalf("lpush: %d %v", n, err)
	}
	if n, err := d.LLen("l"); n != 4 || err != nil {
		t.Fatalf("llen: %d %v", n, err)
	}
	if _, _, err := d.Get("l"); err != ErrIsList || err.Error() != "value is a list" {
		t.Fatalf("get list: %v", err)
	}
	if _, _, _, err := d.GetStale("l"); err != ErrIsList {
		t.Fatalf("get_stale list: %v", err)
	}
	want := []Value{StringValue("zero"), NumberValue(1), StringValue("two"), NumberValue(3)}
	if v, err := d.LPop("l"); v != want[0] || err != nil {
		t.Fatalf("lpop: %+v %v", v, err)
	}
	if v, err := d.RPop("l"); v != want[3] || err != nil {
		t.Fatalf("rpop: %+v %v", v, err)
	}
	if v, err := d.RPop("l"); v != want[2] || err != nil {
		t.Fatalf("rpop: %+v %v", v, err)
	}
	if v, err := d.LPop("l"); v != want[1] || err != nil {
		t.Fatalf("lpop: %+v %v", v, err)
	}
	// The empty list is gone.
	if v, err := d.LPop("l"); !v.IsNil() || err != nil {
		t.Fatalf("pop empty: %+v %v", v, err)
	}
	if v, err := d.RPop("missing"); !v.IsNil() || err != nil {
		t.Fatalf("pop missing: %+v %v", v, err)
	}
	if n, err := d.LLen("l"); n != 0 || err != nil {
		t.Fatalf("llen missing: %d %v", n, err)
	}
	if st := d.Stats(); st.Items != 0 || st.Used != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Non-list values.
	mustSet(t, d, "s", StringValue("x"), 0, 0)
	if _, err := d.LPush("s", NumberValue(1)); err != ErrNotList || err.Error() != "value not a list" {
		t.Fatalf("lpush string: %v", err)
	}
	if _, err := d.RPush("s", NumberValue(1)); err != ErrNotList {
		t.Fatalf("rpush string: %v", err)
	}
	if _, err := d.LPop("s"); err != ErrNotList {
		t.Fatalf("lpop string: %v", err)
	}
	if _, err := d.RPop("s"); err != ErrNotList {
		t.Fatalf("rpop string: %v", err)
	}
	if _, err := d.LLen("s"); err != ErrNotList {
		t.Fatalf("llen string: %v", err)
	}
	if _, err := d.LPush("x", BoolValue(true)); err != ErrBadValue || err.Error() != "bad value type" {
		t.Fatalf("push bool: %v", err)
	}
	if _, err := d.LPush("x", Value{}); err != ErrBadValue {
		t.Fatalf("push nil: %v", err)
	}

	// Set over a list replaces it; push over an expired value starts a list.
	d.RPush("l2", NumberValue(1))
	mustSet(t, d, "l2", StringValue("now a string"), 0, 0)
	wantGet(t, d, "l2", StringValue("now a string"), 0)
	mustSet(t, d, "s", StringValue("x"), time.Second, 0)
	d.RPush("l3", NumberValue(1))
	d.Expire("l3", time.Second)
	clk.Advance(time.Second)
	if n, err := d.RPush("s", NumberValue(7)); n != 1 || err != nil {
		t.Fatalf("push over expired string: %d %v", n, err)
	}
	if n, err := d.LLen("l3"); n != 0 || err != nil {
		t.Fatalf("llen expired list: %d %v", n, err)
	}
	if v, err := d.LPop("l3"); !v.IsNil() || err != nil {
		t.Fatalf("pop expired list: %+v %v", v, err)
	}
	if n, err := d.RPush("l3", NumberValue(9)); n != 1 || err != nil {
		t.Fatalf("push over expired list: %d %v", n, err)
	}
	// A long list exercises the ring buffer's growth and wrap-around.
	for i := 0; i < 100; i++ {
		if i%2 == 0 {
			d.LPush("ring", NumberValue(float64(i)))
		} else {
			d.RPush("ring", NumberValue(float64(i)))
		}
	}
	for i := 98; i >= 0; i -= 2 {
		if v, _ := d.LPop("ring"); v != NumberValue(float64(i)) {
			t.Fatalf("lpop ring = %+v, want %d", v, i)
		}
	}
	for i := 99; i >= 1; i -= 2 {
		if v, _ := d.RPop("ring"); v != NumberValue(float64(i)) {
			t.Fatalf("rpop ring = %+v, want %d", v, i)
		}
	}
	check(t, d)
}

func TestUpdate(t *testing.T) {
	d, clk := newDict(t, 1<<20)
	inc := func(cur Value, exists bool) (Value, time.Duration, UpdateOp) {
		if !exists {
			return NumberValue(1), 10 * time.Second, UpdateSetKeepTTL
		}
		return NumberValue(cur.Num() + 1), 0, UpdateSetKeepTTL
	}
	for i := 0; i < 3; i++ {
		if f, err := d.Update("w", inc); f || err != nil {
			t.Fatalf("update: %v %v", f, err)
		}
	}
	wantGet(t, d, "w", NumberValue(3), 0)
	if ttl, _ := d.TTL("w"); ttl != 10*time.Second {
		t.Fatalf("ttl kept = %v", ttl)
	}
	clk.Advance(10 * time.Second)
	d.Update("w", inc) // the window expired: starts again
	wantGet(t, d, "w", NumberValue(1), 0)

	// UpdateSet replaces the ttl and keeps flags.
	mustSet(t, d, "f", StringValue("a"), time.Second, 42)
	d.Update("f", func(cur Value, exists bool) (Value, time.Duration, UpdateOp) {
		if !exists || cur != StringValue("a") {
			t.Errorf("cur %+v exists %v", cur, exists)
		}
		return StringValue("b"), 0, UpdateSet
	})
	wantGet(t, d, "f", StringValue("b"), 42)
	if ttl, _ := d.TTL("f"); ttl != 0 {
		t.Fatalf("ttl = %v", ttl)
	}
	// UpdateKeep changes nothing.
	d.Update("f", func(Value, bool) (Value, time.Duration, UpdateOp) {
		return StringValue("c"), 0, UpdateKeep
	})
	wantGet(t, d, "f", StringValue("b"), 42)
	// UpdateDelete and storing nil delete.
	d.Update("f", func(Value, bool) (Value, time.Duration, UpdateOp) { return Value{}, 0, UpdateDelete })
	wantGet(t, d, "f", Value{}, 0)
	mustSet(t, d, "g", NumberValue(1), 0, 0)
	d.Update("g", func(Value, bool) (Value, time.Duration, UpdateOp) { return Value{}, 0, UpdateSet })
	wantGet(t, d, "g", Value{}, 0)
	// Errors.
	d.RPush("list", NumberValue(1))
	if _, err := d.Update("list", func(Value, bool) (Value, time.Duration, UpdateOp) {
		t.Error("callback called for a list")
		return Value{}, 0, UpdateKeep
	}); err != ErrIsList {
		t.Fatalf("update list: %v", err)
	}
	if _, err := d.Update("x", func(Value, bool) (Value, time.Duration, UpdateOp) { return NumberValue(1), 0, 99 }); !errors.Is(err, ErrBadUpdateOp) {
		t.Fatalf("bad op: %v", err)
	}
	// A panicking callback leaves the dict unlocked.
	func() {
		defer func() { recover() }()
		d.Update("x", func(Value, bool) (Value, time.Duration, UpdateOp) { panic("boom") })
	}()
	mustSet(t, d, "after-panic", NumberValue(1), 0, 0)
	check(t, d)
}

func TestUpdateEvicts(t *testing.T) {
	d, _ := newDict(t, 64*1024)
	val := StringValue(strings.Repeat("v", 900))
	for i := 0; i < 60; i++ {
		mustSet(t, d, fmt.Sprint("k", i), val, 0, 0)
	}
	f, err := d.Update("u", func(Value, bool) (Value, time.Duration, UpdateOp) { return val, 0, UpdateSet })
	if !f || err != nil {
		t.Fatalf("update full: %v %v", f, err)
	}
	_, err = d.Update("u", func(Value, bool) (Value, time.Duration, UpdateOp) {
		return StringValue(strings.Repeat("x", 70000)), 0, UpdateSet
	})
	if err != ErrNoMemory {
		t.Fatalf("update too large: %v", err)
	}
	check(t, d)
}

func TestConcurrentIncr(t *testing.T) {
	d, err := New("counters", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	const workers, per = 64, 1000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, _, err := d.IncrInit("total", 1, 0, 0); err != nil {
					t.Error(err)
					return
				}
				if _, err := d.Update("viaupdate", func(cur Value, _ bool) (Value, time.Duration, UpdateOp) {
					return NumberValue(cur.Num() + 1), 0, UpdateSet
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wantGet(t, d, "total", NumberValue(workers*per), 0)
	wantGet(t, d, "viaupdate", NumberValue(workers*per), 0)
}

func TestConcurrentMixed(t *testing.T) {
	d, err := New("mixed", 64*1024)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < 2000; i++ {
				k := fmt.Sprint("k", r.Intn(200))
				switch r.Intn(12) {
				case 0:
					d.Set(k, StringValue(strings.Repeat("x", r.Intn(2000))), time.Duration(r.Intn(3))*time.Millisecond, 1)
				case 1:
					d.Get(k)
				case 2:
					d.IncrInit(k, 1, 0, time.Millisecond)
				case 3:
					d.RPush(k, NumberValue(1))
				case 4:
					d.LPop(k)
				case 5:
					d.SafeAdd(k, NumberValue(2), 0, 0)
				case 6:
					d.Keys(10)
				case 7:
					d.FlushExpired(5)
				case 8:
					d.Expire(k, time.Millisecond)
				case 9:
					d.GetStale(k)
				case 10:
					d.FreeSpace()
					d.Stats()
				case 11:
					d.Delete(k)
				}
			}
		}(int64(w))
	}
	wg.Wait()
	check(t, d)
}

// TestRandomInvariants drives a small dict with random operations and a
// moving clock, checking the internal invariants throughout.
func TestRandomInvariants(t *testing.T) {
	d, clk := newDict(t, 32*1024)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		k := fmt.Sprint("k", r.Intn(100))
		ttl := time.Duration(r.Intn(4)) * time.Second
		switch r.Intn(14) {
		case 0, 1:
			d.Set(k, StringValue(strings.Repeat("x", r.Intn(3000))), ttl, 0)
		case 2:
			d.SafeSet(k, NumberValue(1), ttl, 0)
		case 3:
			d.Add(k, BoolValue(true), ttl, 0)
		case 4:
			d.Replace(k, NumberValue(2), ttl, 0)
		case 5:
			d.IncrInit(k, 1, 0, ttl)
		case 6:
			d.LPush(k, StringValue(strings.Repeat("y", r.Intn(100))))
		case 7:
			d.RPop(k)
		case 8:
			d.Expire(k, ttl)
		case 9:
			d.Delete(k)
		case 10:
			clk.Advance(time.Duration(r.Intn(1000)) * time.Millisecond)
		case 11:
			if r.Intn(50) == 0 {
				d.FlushAll()
			}
		case 12:
			d.FlushExpired(r.Intn(3))
		case 13:
			d.Update(k, func(cur Value, ok bool) (Value, time.Duration, UpdateOp) {
				return NumberValue(cur.Num() + 1), ttl, UpdateOp(r.Intn(4))
			})
		}
		if i%97 == 0 {
			check(t, d)
		}
	}
	check(t, d)
}

// TestSlabModel checks the page model against counts lua-nginx-module's
// tests observe on nginx (t/043-shdict.t TEST 9 and 21, t/145-shdict-list.t
// TEST 22).
func TestSlabModel(t *testing.T) {
	if got := zonePages(100 << 10); got != 24 {
		t.Errorf("100k: %d pages, want 24", got)
	}
	if got := zonePages(1 << 20); got != 254 {
		t.Errorf("1m: %d pages, want 254", got)
	}
	if got := zonePages(50 << 10); got != 11 {
		t.Errorf("50k: %d pages, want 11", got)
	}
	d, _ := New("dogs", 100<<10)
	i := 0
	for ; i < 1000; i++ {
		f, err := d.Set(fmt.Sprint("key_", i+1), StringValue(strings.Repeat(" hello", 10)+fmt.Sprint(i+1)), 0, 0)
		if err != nil || f {
			break
		}
	}
	if i+1 != 353 {
		t.Errorf("first forcible set at %d, want 353", i+1)
	}
	d, _ = New("dogs", 100<<10)
	for i = 0; i < 1000; i++ {
		if f, err := d.Set(fmt.Sprint("key_", i+1), StringValue(strings.Repeat("hello", i+1)), 0, 0); err != nil || f {
			break
		}
	}
	if i+1 != 140 && i+1 != 141 {
		t.Errorf("first forcible set at %d, want 140 or 141", i+1)
	}
	d, _ = New("dogs", 100<<10)
	for i = 0; i < 2920; i++ {
		if _, err := d.LPush("foo", StringValue("bar")); err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
	}
	if _, err := d.LPush("foo", StringValue("bar")); err != ErrNoMemory {
		t.Errorf("push 2921: %v, want ErrNoMemory", err)
	}
	// No room for a new list's head either: the 128-byte page is full.
	for i = 0; i < 100; i++ {
		if _, err := d.SafeSet(fmt.Sprint("n", i), NumberValue(1), 0, 0); err != nil {
			break
		}
	}
	if _, err := d.LPush("other", StringValue("bar")); err != ErrNoListMemory {
		t.Errorf("push to a new list in a full dict: %v, want ErrNoListMemory", err)
	}
	check(t, d)
}
