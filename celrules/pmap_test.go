package celrules

import (
	"fmt"
	"maps"
	"math/rand"
	"testing"
)

// checkPmap checks that m holds exactly want, and its structure: bitmaps
// match the slots, no empty node, no subtree holding a single key.
func checkPmap(t *testing.T, m *pmap[int], want map[string]int) {
	t.Helper()
	if m.len() != len(want) {
		t.Fatalf("len %d, want %d", m.len(), len(want))
	}
	for k, v := range want {
		if got, ok := m.get(k); !ok || got != v {
			t.Fatalf("get(%q) = %d, %v; want %d", k, got, ok, v)
		}
	}
	got := map[string]int{}
	m.all(func(k string, v int) bool { got[k] = v; return true })
	if !maps.Equal(got, want) {
		t.Fatalf("all: %v, want %v", got, want)
	}
	var walk func(n *hnode[int], shift uint, root bool)
	walk = func(n *hnode[int], shift uint, root bool) {
		if len(n.slots) == 0 || !root && len(n.slots) == 1 && n.slots[0].sub == nil {
			t.Fatalf("shift %d: node of %d slots", shift, len(n.slots))
		}
		if shift < hmaxBits && countBits(n.bitmap) != len(n.slots) {
			t.Fatalf("shift %d: bitmap %b for %d slots", shift, n.bitmap, len(n.slots))
		}
		for _, s := range n.slots {
			if s.sub != nil {
				walk(s.sub, shift+hbits, false)
			}
		}
	}
	if m.root != nil {
		walk(m.root, 0, true)
	}
}

func countBits(x uint32) (n int) {
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

func TestPmap(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	seed := newSeed()
	type version struct {
		m    pmap[int]
		want map[string]int
	}
	var versions []version
	var m pmap[int]
	want := map[string]int{}
	for step := 0; step < 5000; step++ {
		// Each step is one builder: it may modify its own nodes in place,
		// never those of the versions kept.
		id := new(buildID)
		want = maps.Clone(want)
		for k := rng.Intn(4); k >= 0; k-- {
			key := fmt.Sprint("k", rng.Intn(600))
			if rng.Intn(3) == 0 {
				m = m.del(id, key)
				delete(want, key)
			} else {
				m = m.set(id, seed, key, step)
				want[key] = step
			}
		}
		if step%50 == 0 {
			checkPmap(t, &m, want)
			versions = append(versions, version{m, want})
		}
	}
	for _, v := range versions {
		checkPmap(t, &v.m, v.want)
	}
	// Deleting everything leaves an empty map.
	id := new(buildID)
	for k := range want {
		m = m.del(id, k)
	}
	if m.root != nil || m.len() != 0 {
		t.Fatalf("not empty: %+v", m)
	}
}

// TestPmapCollisions drives the nodes with chosen hashes: keys sharing all
// 64 bits end in a collision node, keys sharing a prefix in deep subtrees.
func TestPmapCollisions(t *testing.T) {
	hashes := map[string]uint64{
		"a": 0x1234, "b": 0x1234, "c": 0x1234, // full collisions
		"d": 0x1234 | 1<<62, // differs at the last level
		"e": 0x5,
	}
	id := new(buildID)
	var root *hnode[int]
	for k, h := range hashes {
		root, _ = root.set(id, h, 0, k, len(k))
	}
	old := root
	id2 := new(buildID)
	root, added := root.set(id2, hashes["b"], 0, "b", 42)
	if added {
		t.Fatal("b added twice")
	}
	for k, h := range hashes {
		want := 1
		if k == "b" {
			want = 42
		}
		if v, ok := root.get(h, k); !ok || v != want {
			t.Fatalf("get(%q) = %d, %v", k, v, ok)
		}
		if v, _ := old.get(h, k); v != 1 {
			t.Fatalf("old get(%q) = %d", k, v)
		}
	}
	if _, ok := root.get(0x1234, "z"); ok {
		t.Fatal("z found")
	}
	for _, k := range []string{"a", "c", "d", "e", "b"} {
		var removed bool
		root, removed = root.del(id2, hashes[k], 0, k)
		if !removed {
			t.Fatalf("del(%q) not removed", k)
		}
		if root == nil {
			continue
		}
		if _, ok := root.get(hashes[k], k); ok {
			t.Fatalf("%q still there", k)
		}
		if _, again := root.del(id2, hashes[k], 0, k); again {
			t.Fatalf("del(%q) twice", k)
		}
	}
	if root != nil {
		t.Fatalf("not empty")
	}
	for k, h := range hashes {
		if _, ok := old.get(h, k); !ok {
			t.Fatalf("old lost %q", k)
		}
	}
}
