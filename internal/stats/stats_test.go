package stats

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"
)

func TestLatencyBin(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{49 * time.Microsecond, 0},
		{50 * time.Microsecond, 1},
		{70 * time.Microsecond, 1},  // < 50·√2 = 70.7
		{71 * time.Microsecond, 2},  // ≥ 70.7
		{100 * time.Microsecond, 3}, // 50·2
		{time.Millisecond, 9},       // 800µs ≤ 1ms < 800µs·√2: bin 1+2·4
		{time.Hour, latBins - 1},
	} {
		if got := latencyBin(int64(tc.d)); got != tc.want {
			t.Errorf("latencyBin(%s) = %d, want %d", tc.d, got, tc.want)
		}
	}
	// Every bin's middle falls in that bin, and bins are monotonic.
	prev := 0
	for d := time.Duration(1); d < 30*time.Second; d = d*11/10 + 1 {
		b := latencyBin(int64(d))
		if b < prev {
			t.Fatalf("bin of %s is %d, below %d", d, b, prev)
		}
		prev = b
	}
	for i := 0; i < latBins-1; i++ {
		if got := latencyBin(int64(binMiddle(i))); got != i {
			t.Errorf("middle of bin %d (%s) falls in bin %d", i, binMiddle(i), got)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h Histogram
	h.Init(NewBounds(.001, .01, .1))
	for _, d := range []time.Duration{500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 50 * time.Millisecond, time.Second} {
		h.Observe(d)
	}
	s := h.Snapshot()
	if s.Count != 5 || h.Count() != 5 {
		t.Fatalf("count %d/%d, want 5", s.Count, h.Count())
	}
	// Prometheus's buckets are cumulative and "less than or equal".
	want := map[float64]uint64{.001: 2, .01: 3, .1: 4}
	for b, n := range want {
		if s.Buckets[b] != n {
			t.Errorf("bucket le=%g: %d, want %d", b, s.Buckets[b], n)
		}
	}
	if math.Abs(s.Sum-1.0535) > 1e-9 {
		t.Errorf("sum %g, want 1.0535", s.Sum)
	}
}

func TestWindowAndHistory(t *testing.T) {
	s := NewStore()
	s.started = time.Unix(1000, 0)
	tr := s.Traffic("api", "be")
	base := time.Unix(2000, 0) // a slot boundary (2000 % 5 == 0)
	// 90 requests of 1ms (10 of them 5xx, 5 of them 4xx) spread over the
	// first 4 minutes, then 10 of 100ms in the last 30 s.
	for i := 0; i < 90; i++ {
		code := 200
		switch {
		case i%9 == 0:
			code = 502
		case i%18 == 1:
			code = 404
		}
		tr.Observe("GET", code, time.Millisecond, base.Add(time.Duration(i)*(240*time.Second)/90).UnixNano())
	}
	for i := 0; i < 10; i++ {
		tr.Observe("POST", 200, 100*time.Millisecond, base.Add(270*time.Second+time.Duration(i)*time.Second).UnixNano())
	}
	now := base.Add(299*time.Second + 500*time.Millisecond)
	sum := s.Summarize(now, func(t *Traffic) (string, bool) { return t.Route, true })["api"]

	w5 := sum.Last5m
	if w5.Requests != 100 || w5.Errors != 10 || w5.ClientErrors != 5 {
		t.Fatalf("5m window: %+v", w5)
	}
	if w5.ErrorRate != 0.1 {
		t.Errorf("5m error rate %g, want 0.1", w5.ErrorRate)
	}
	// 59 whole slots and 4.5 s of the current one.
	if math.Abs(w5.Rate-100/299.5) > 0.001 {
		t.Errorf("5m rate %g, want %g", w5.Rate, 100/299.5)
	}
	// p50 is 1ms, p99 100ms, within a bin's 19%.
	if math.Abs(w5.P50-1) > 0.2 || math.Abs(w5.P99-100) > 19 {
		t.Errorf("5m p50 %g ms p99 %g ms, want about 1 and 100", w5.P50, w5.P99)
	}
	w1 := sum.Last1m
	// The last minute (slots 48-59: from 240s on) has the 10 slow ones
	// and none of the first 90 (the last at 237.3s).
	if w1.Requests != 10 || w1.Errors != 0 || math.Abs(w1.P50-100) > 19 {
		t.Errorf("1m window: %+v", w1)
	}
	var total uint32
	for _, n := range sum.History.Requests {
		total += n
	}
	if len(sum.History.Requests) != Slots || total != 100 {
		t.Errorf("history: %d slots, %d requests", len(sum.History.Requests), total)
	}
	// 270s..279s: slots 54 and 55 have 5 each.
	if h := sum.History.Requests; h[54] != 5 || h[55] != 5 || h[59] != 0 {
		t.Errorf("history tail: %v", h[50:])
	}

	// Five minutes later, everything has left the windows.
	later := s.Summarize(now.Add(5*time.Minute), func(t *Traffic) (string, bool) { return t.Route, true })["api"]
	if later.Last5m.Requests != 0 || later.Last1m.Requests != 0 {
		t.Errorf("stale slots counted: %+v", later)
	}
	// Counters never forget.
	if n := tr.Requests(0, 1); n != 75 {
		t.Errorf("GET 2xx counter %d, want 75", n)
	}
}

func TestRateBeforeAWindowIsFull(t *testing.T) {
	s := NewStore()
	now := time.Now()
	s.started = now.Add(-2 * time.Second)
	tr := s.Traffic("", "")
	for i := 0; i < 10; i++ {
		tr.Observe("GET", 200, time.Millisecond, now.UnixNano())
	}
	w := s.Summarize(now, func(t *Traffic) (string, bool) { return "x", true })["x"].Last1m
	if w.Rate != 5 {
		t.Errorf("rate %g, want 10 requests / 2 s of uptime = 5", w.Rate)
	}
}

func TestLabelsBounded(t *testing.T) {
	s := NewStore()
	tr := s.Traffic("r", "c")
	tr.Observe("BREW", 999, time.Millisecond, time.Now().UnixNano())
	tr.Observe("get", 42, time.Millisecond, time.Now().UnixNano())
	if n := tr.Requests(numMethods-1, numClasses-1); n != 2 {
		t.Errorf("OTHER/other: %d, want 2", n)
	}
	for i := 0; i < MaxTraffic+10; i++ {
		s.Traffic(fmt.Sprint("route", i), "")
	}
	if n := len(s.AllTraffic()); n != MaxTraffic+1 {
		t.Errorf("%d pairs, want %d (the cap plus the overflow pair)", n, MaxTraffic+1)
	}
	if o := s.Traffic("another", ""); o.Route != OverflowLabel {
		t.Errorf("pair beyond the cap is %q, want %q", o.Route, OverflowLabel)
	}
}

func TestPrune(t *testing.T) {
	s := NewStore()
	now := time.Now()
	s.Traffic("gone-idle", "")
	s.Traffic("gone-busy", "").Observe("GET", 200, time.Millisecond, now.UnixNano())
	s.Traffic("kept", "")
	s.Prune(func(route, _ string) bool { return route == "kept" }, now)
	got := map[string]bool{}
	for _, t := range s.AllTraffic() {
		got[t.Route] = true
	}
	if !got["kept"] || !got["gone-busy"] || got["gone-idle"] {
		t.Errorf("after prune: %v", got)
	}
	s.Prune(func(route, _ string) bool { return route == "kept" }, now.Add(6*time.Minute))
	if len(s.AllTraffic()) != 1 {
		t.Errorf("idle pair not pruned after five minutes: %d pairs", len(s.AllTraffic()))
	}
}

func TestConcurrent(t *testing.T) {
	s := NewStore()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				tr := s.Traffic(fmt.Sprint("r", i%3), "")
				tr.Observe("GET", 200+100*(i%4), time.Duration(i)*time.Microsecond, time.Now().UnixNano())
				s.LuaError(tr.Route, i%MaxPhases)
				s.LuaRun(i%MaxPhases, time.Microsecond)
			}
		}(g)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				s.Summarize(time.Now(), func(t *Traffic) (string, bool) { return t.Route, true })
			}
		}
	}()
	wg.Wait()
	close(done)
	var total uint64
	for _, tr := range s.AllTraffic() {
		total += tr.Latency().Count()
	}
	if total != 8000 {
		t.Errorf("%d requests counted, want 8000", total)
	}
	var errs uint64
	for _, c := range s.LuaErrors() {
		for i := range c {
			errs += c[i].Load()
		}
	}
	if errs != 8000 {
		t.Errorf("%d Lua errors counted, want 8000", errs)
	}
}

func BenchmarkObserve(b *testing.B) {
	s := NewStore()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr := s.Traffic("api", "be")
			now := time.Now()
			tr.Observe("GET", 200, 3*time.Millisecond, now.UnixNano())
			tr.ObserveUpstream(2 * time.Millisecond)
		}
	})
}
