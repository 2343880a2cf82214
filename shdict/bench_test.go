package shdict

import (
	"strconv"
	"testing"
	"time"
)

func benchDict(b *testing.B) *Dict {
	d, err := New("bench", 64<<20)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkGet(b *testing.B) {
	d := benchDict(b)
	d.Set("counter", NumberValue(42), 0, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _, err := d.Get("counter")
		if err != nil || v.Num() != 42 {
			b.Fatal(v, err)
		}
	}
}

func BenchmarkGetWithTTL(b *testing.B) {
	d := benchDict(b)
	d.Set("counter", NumberValue(42), time.Hour, 0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if v, _, _ := d.Get("counter"); v.Num() != 42 {
			b.Fatal(v)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	d := benchDict(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Set("key", NumberValue(float64(i)), 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetDeleteNewKey(b *testing.B) {
	d := benchDict(b)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[(i/2)%len(keys)]
		if i%2 == 0 {
			d.Set(k, StringValue("value"), time.Minute, 0)
		} else {
			d.Delete(k)
		}
	}
}

func BenchmarkIncrInitTTL(b *testing.B) {
	d := benchDict(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := d.IncrInit("hits", 1, 0, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIncrParallel(b *testing.B) {
	d := benchDict(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := d.IncrInit("hits", 1, 0, time.Minute); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	d := benchDict(b)
	fn := func(cur Value, _ bool) (Value, time.Duration, UpdateOp) {
		return NumberValue(cur.Num() + 1), time.Minute, UpdateSetKeepTTL
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.Update("bucket", fn); err != nil {
			b.Fatal(err)
		}
	}
}
