package celrules

import (
	"hash/maphash"
	"math/bits"
	"slices"
)

// pmap is a persistent map from strings to V: a hash array mapped trie of
// 32-way nodes (five bits of the key's hash per level). Setting or deleting
// a key copies the nodes on the key's path (at most 13, a few for any real
// size) and shares the rest, so a table derived by With shares its maps'
// untouched parts with the table it came from, and the change costs
// O(log n), where copying a Go map would cost O(n).
//
// Nodes owned by the builder doing the change (created or already copied
// by it) are modified in place, so Compile, which owns everything, does not
// copy. A pmap in a Table is never modified.
//
// Keys are hashed with hashString and a seed chosen by Compile (newSeed)
// and kept by the tables With derives. Keys come from the configuration
// only; a lookup costs at most the depth of the trie whatever the key, so
// the hash needs to spread keys well, not to resist flooding.
//
// The zero pmap is empty; its seed is set by its first set.
type pmap[V any] struct {
	root *hnode[V]
	n    int
	seed uint64
}

const (
	hbits    = 5
	hmask    = 1<<hbits - 1
	hmaxBits = 64 // a node at this shift holds keys of equal hashes, unordered
)

type hnode[V any] struct {
	bitmap uint32     // which of the 32 slots are used
	slots  []hslot[V] // the used slots, in bit order
	owner  *buildID   // the builder that may modify the node in place
}

// hslot is a subtree (sub != nil) or a key, its hash and its value.
type hslot[V any] struct {
	sub  *hnode[V]
	key  string
	hash uint64
	val  V
}

// len returns the number of keys.
func (m *pmap[V]) len() int { return m.n }

// get returns the value of key.
func (m *pmap[V]) get(key string) (v V, ok bool) {
	if m.root == nil {
		return v, false
	}
	return m.root.get(hashString(m.seed, key), key)
}

// get returns the value of key, of hash h, below n (at shift 0).
func (n *hnode[V]) get(h uint64, key string) (v V, ok bool) {
	for shift := uint(0); shift < hmaxBits; shift += hbits {
		bit := uint32(1) << (h >> shift & hmask)
		if n.bitmap&bit == 0 {
			return v, false
		}
		s := &n.slots[bits.OnesCount32(n.bitmap&(bit-1))]
		if s.sub == nil {
			if s.hash == h && s.key == key {
				return s.val, true
			}
			return v, false
		}
		n = s.sub
	}
	for i := range n.slots { // keys of equal hashes
		if n.slots[i].key == key {
			return n.slots[i].val, true
		}
	}
	return v, false
}

// set returns m with key set to v. Nodes of m owned by id are modified in
// place; the others are copied. seed is used when m is empty.
func (m pmap[V]) set(id *buildID, seed uint64, key string, v V) pmap[V] {
	if m.root == nil {
		m.seed = seed
	}
	root, added := m.root.set(id, hashString(m.seed, key), 0, key, v)
	m.root = root
	if added {
		m.n++
	}
	return m
}

// del returns m without key, modifying the nodes owned by id in place.
func (m pmap[V]) del(id *buildID, key string) pmap[V] {
	if m.root == nil {
		return m
	}
	root, removed := m.root.del(id, hashString(m.seed, key), 0, key)
	m.root = root
	if removed {
		m.n--
	}
	return m
}

// all calls yield for each key and value, in no particular order, until it
// returns false.
func (m *pmap[V]) all(yield func(string, V) bool) {
	m.root.all(yield)
}

// own returns n if id owns it, else a copy owned by id.
func (n *hnode[V]) own(id *buildID) *hnode[V] {
	if n.owner == id {
		return n
	}
	c := &hnode[V]{bitmap: n.bitmap, slots: make([]hslot[V], len(n.slots), len(n.slots)+1), owner: id}
	copy(c.slots, n.slots)
	return c
}

// set sets key (of hash h) below n, which is at shift; it returns the node
// to use instead of n and whether the key is new.
func (n *hnode[V]) set(id *buildID, h uint64, shift uint, key string, v V) (*hnode[V], bool) {
	if n == nil {
		n = &hnode[V]{owner: id}
	} else {
		n = n.own(id)
	}
	if shift >= hmaxBits {
		for i := range n.slots {
			if n.slots[i].key == key {
				n.slots[i].val = v
				return n, false
			}
		}
		n.slots = append(n.slots, hslot[V]{key: key, hash: h, val: v})
		return n, true
	}
	bit := uint32(1) << (h >> shift & hmask)
	i := bits.OnesCount32(n.bitmap & (bit - 1))
	if n.bitmap&bit == 0 {
		n.bitmap |= bit
		n.slots = slices.Insert(n.slots, i, hslot[V]{key: key, hash: h, val: v})
		return n, true
	}
	s := &n.slots[i]
	switch {
	case s.sub != nil:
		sub, added := s.sub.set(id, h, shift+hbits, key, v)
		s.sub = sub
		return n, added
	case s.hash == h && s.key == key:
		s.val = v
		return n, false
	}
	// Two keys for the slot: a subtree holds both.
	sub, _ := (*hnode[V])(nil).set(id, s.hash, shift+hbits, s.key, s.val)
	sub, _ = sub.set(id, h, shift+hbits, key, v)
	*s = hslot[V]{sub: sub}
	return n, true
}

// del deletes key (of hash h) below n, which is at shift; it returns the
// node to use instead of n (nil when empty) and whether the key was there.
// A subtree left with a single key is replaced by that key.
func (n *hnode[V]) del(id *buildID, h uint64, shift uint, key string) (*hnode[V], bool) {
	if n == nil {
		return nil, false
	}
	if shift >= hmaxBits {
		i := slices.IndexFunc(n.slots, func(s hslot[V]) bool { return s.key == key })
		if i < 0 {
			return n, false
		}
		n = n.own(id)
		n.slots = slices.Delete(n.slots, i, i+1)
		if len(n.slots) == 0 {
			return nil, true
		}
		return n, true
	}
	bit := uint32(1) << (h >> shift & hmask)
	if n.bitmap&bit == 0 {
		return n, false
	}
	i := bits.OnesCount32(n.bitmap & (bit - 1))
	s := n.slots[i]
	var sub *hnode[V]
	if s.sub == nil {
		if s.hash != h || s.key != key {
			return n, false
		}
	} else {
		var removed bool
		if sub, removed = s.sub.del(id, h, shift+hbits, key); !removed {
			return n, false
		}
	}
	n = n.own(id)
	switch {
	case sub == nil:
		n.bitmap &^= bit
		n.slots = slices.Delete(n.slots, i, i+1)
		if len(n.slots) == 0 {
			return nil, true
		}
	case len(sub.slots) == 1 && sub.slots[0].sub == nil:
		n.slots[i] = sub.slots[0]
	default:
		n.slots[i].sub = sub
	}
	return n, true
}

func (n *hnode[V]) all(yield func(string, V) bool) bool {
	if n == nil {
		return true
	}
	for i := range n.slots {
		s := &n.slots[i]
		if s.sub != nil {
			if !s.sub.all(yield) {
				return false
			}
		} else if !yield(s.key, s.val) {
			return false
		}
	}
	return true
}

// newSeed returns a random seed for hashString.
func newSeed() uint64 { return maphash.String(maphash.MakeSeed(), "celrules") }

// hashString hashes s with seed: wyhash's reading of the bytes and its
// multiply-fold mixing, inlined for the short strings (host names, path
// segments, route names) the tables use. maphash.String is as good but
// costs a call into the runtime.
func hashString(seed uint64, s string) uint64 {
	const m1, m2, m3 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	h := seed ^ uint64(len(s))*m1
	for len(s) > 8 {
		h = mix(h^le64(s), m2)
		s = s[8:]
	}
	var t uint64
	switch n := len(s); {
	case n >= 4:
		t = le32(s)<<32 | le32(s[n-4:])
	case n > 0:
		t = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	}
	return mix(h^t, m3)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}
