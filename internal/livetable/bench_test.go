package livetable

import (
	"testing"

	"github.com/caddyserver/certmagic"
)

func BenchmarkChangeFileStorage(b *testing.B) {
	store := &certmagic.FileStorage{Path: b.TempDir()}
	c := &consumer{vals: make(map[string]*val), meta: make(map[string]Meta)}
	v, err := Open(Options[val]{Name: "t", Key: "bench", Storage: store, Config: map[string]*val{"a": {}}, Apply: c.apply})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	v.Start()
	i := 0
	for b.Loop() {
		i++
		if _, err := v.Table().Change("a", ChangeOptions{}, set(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChangeMemory(b *testing.B) {
	c := &consumer{vals: make(map[string]*val), meta: make(map[string]Meta)}
	v, err := Open(Options[val]{Name: "t", Key: "bench-mem", Config: map[string]*val{"a": {}}, Apply: c.apply})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	v.Start()
	i := 0
	for b.Loop() {
		i++
		if _, err := v.Table().Change("a", ChangeOptions{}, set(i)); err != nil {
			b.Fatal(err)
		}
	}
}
