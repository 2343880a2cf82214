package stats

import (
	"math"
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The ring buffers behind /resty/status: the last five minutes in slots
// of five seconds.
const (
	// SlotSeconds is the width of one slot.
	SlotSeconds = 5
	// Slots is the number of slots kept.
	Slots     = 60
	slotNanos = SlotSeconds * int64(time.Second)
)

// Latency bins of the ring, for percentiles: bin 0 holds durations under
// binBase, bin i ≥ 1 those in [binBase·√2^(i-1), binBase·√2^i), the last
// everything longer (about 26 s and up). A percentile is reported as the
// geometric middle of its bin: within 19% of the true value.
const (
	latBins = 40
	binBase = int64(50 * time.Microsecond)
)

// latencyBin returns the ring bin of a duration.
func latencyBin(ns int64) int {
	if ns < binBase {
		return 0
	}
	x := uint64(ns / binBase)
	k := bits.Len64(x) - 1 // floor(log2(ns/binBase))
	half := float64(binBase<<k) * math.Sqrt2
	i := 1 + 2*k
	if float64(ns) >= half {
		i++
	}
	if i >= latBins {
		return latBins - 1
	}
	return i
}

// binMiddle returns the value a percentile falling in bin i reports.
func binMiddle(i int) time.Duration {
	if i == 0 {
		return time.Duration(binBase / 2)
	}
	lo := float64(binBase) * math.Pow(math.Sqrt2, float64(i-1))
	return time.Duration(lo * math.Pow(2, 0.25)) // geometric middle of [lo, lo·√2)
}

// slot is one SlotSeconds of traffic.
type slot struct {
	// epoch is the slot number (unix time / SlotSeconds) the counts are of.
	epoch        atomic.Int64
	requests     atomic.Uint32
	errors       atomic.Uint32 // 5xx
	clientErrors atomic.Uint32 // 4xx
	bins         [latBins]atomic.Uint32
}

// ring is the last Slots slots of one series.
type ring struct {
	mu    sync.Mutex // serializes slot resets
	slots [Slots]slot
}

func (r *ring) add(nowNs int64, code int, d time.Duration) {
	n := nowNs / slotNanos
	s := &r.slots[n%Slots]
	if s.epoch.Load() != n {
		r.advance(s, n)
	}
	s.requests.Add(1)
	switch {
	case code >= 500 && code < 600:
		s.errors.Add(1)
	case code >= 400 && code < 500:
		s.clientErrors.Add(1)
	}
	s.bins[latencyBin(int64(d))].Add(1)
}

// advance resets a slot that holds an older period for period n. A
// request late enough to find its slot already holding a newer period
// adds to it: the counts can be off by the few requests that straddle a
// slot boundary, never more.
func (r *ring) advance(s *slot, n int64) {
	r.mu.Lock()
	if s.epoch.Load() < n {
		s.requests.Store(0)
		s.errors.Store(0)
		s.clientErrors.Store(0)
		for i := range s.bins {
			s.bins[i].Store(0)
		}
		s.epoch.Store(n)
	}
	r.mu.Unlock()
}

// Window summarizes the traffic of a series over a time window.
type Window struct {
	// Requests counts the requests that ended in the window.
	Requests uint64 `json:"requests"`
	// Rate is Requests per second.
	Rate float64 `json:"rate"`
	// Errors counts the 5xx responses.
	Errors uint64 `json:"errors"`
	// ErrorRate is Errors / Requests (0 without requests).
	ErrorRate float64 `json:"error_rate"`
	// ClientErrors counts the 4xx responses.
	ClientErrors uint64 `json:"client_errors"`
	// P50 and P99 are latency percentiles in milliseconds (0 without
	// requests), estimated from bins √2 apart.
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
}

// History is a per-slot history: Requests and Errors (5xx) per slot,
// oldest first; the last slot is the current one, still filling.
type History struct {
	Requests []uint32 `json:"requests"`
	Errors   []uint32 `json:"errors"`
}

// acc accumulates rings for a summary.
type acc struct {
	requests, errors, clientErrors uint64
	bins                           [latBins]uint64
}

// addRing adds the slots of r in the last k slots up to slot n.
func (a *acc) addRing(r *ring, n int64, k int) {
	for i := range r.slots {
		s := &r.slots[i]
		e := s.epoch.Load()
		if e <= n-int64(k) || e > n {
			continue
		}
		a.requests += uint64(s.requests.Load())
		a.errors += uint64(s.errors.Load())
		a.clientErrors += uint64(s.clientErrors.Load())
		for j := range s.bins {
			a.bins[j] += uint64(s.bins[j].Load())
		}
	}
}

func (a *acc) window(elapsed time.Duration) Window {
	w := Window{Requests: a.requests, Errors: a.errors, ClientErrors: a.clientErrors}
	if a.requests == 0 {
		return w
	}
	if elapsed > 0 {
		w.Rate = round3(float64(a.requests) / elapsed.Seconds())
	}
	w.ErrorRate = round3(float64(a.errors) / float64(a.requests))
	w.P50 = a.percentile(0.50)
	w.P99 = a.percentile(0.99)
	return w
}

func (a *acc) percentile(q float64) float64 {
	rank := uint64(math.Ceil(q * float64(a.requests)))
	var cum uint64
	for i, c := range a.bins {
		cum += c
		if cum >= rank && c > 0 {
			return round3(float64(binMiddle(i)) / 1e6)
		}
	}
	return round3(float64(binMiddle(latBins-1)) / 1e6)
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// history returns the per-slot history of rings, oldest first.
func history(rings []*ring, n int64) History {
	s := History{Requests: make([]uint32, Slots), Errors: make([]uint32, Slots)}
	for _, r := range rings {
		for i := range r.slots {
			sl := &r.slots[i]
			e := sl.epoch.Load()
			if e <= n-Slots || e > n {
				continue
			}
			j := Slots - 1 - int(n-e)
			s.Requests[j] += sl.requests.Load()
			s.Errors[j] += sl.errors.Load()
		}
	}
	return s
}

// Summary is what /resty/status shows of a group of series.
type Summary struct {
	Last1m  Window  `json:"1m"`
	Last5m  Window  `json:"5m"`
	History History `json:"series"`
}

// summarize sums rings over the last minute and five minutes at now;
// started bounds the windows (a window cannot reach before it).
func summarize(rings []*ring, now, started time.Time) Summary {
	n := now.UnixNano() / slotNanos
	// The current slot is partial: a window of k slots covers
	// (k-1) whole slots and the current one's elapsed part.
	inSlot := time.Duration(now.UnixNano() - n*slotNanos)
	span := func(k int) time.Duration {
		d := time.Duration(k-1)*time.Duration(slotNanos) + inSlot
		if up := now.Sub(started); up < d {
			d = up
		}
		return d
	}
	var a1, a5 acc
	for _, r := range rings {
		a1.addRing(r, n, 60/SlotSeconds)
		a5.addRing(r, n, Slots)
	}
	return Summary{
		Last1m:  a1.window(span(60 / SlotSeconds)),
		Last5m:  a5.window(span(Slots)),
		History: history(rings, n),
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
