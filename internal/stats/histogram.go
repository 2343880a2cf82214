// Package stats keeps the request statistics of the resty handlers: the
// counters and histograms the Prometheus collector exposes and the ring
// buffers /resty/status summarizes. It has no Lua and no Prometheus in it:
// the request path only does atomic additions on memory that already
// exists, and the collector turns a snapshot into metrics at scrape time.
//
// A Store lives as long as the process's resty app does (in a
// caddy.UsagePool), so that counts survive config reloads.
package stats

import (
	"math"
	"sync/atomic"
	"time"
)

// maxBounds is the most bucket bounds a Histogram can have.
const maxBounds = 16

// Bounds are a histogram's bucket upper bounds, in seconds, ascending.
type Bounds struct {
	seconds []float64
	ns      [maxBounds]int64
	n       int
}

// NewBounds makes bucket bounds from upper bounds in seconds (ascending,
// at most 16).
func NewBounds(seconds ...float64) *Bounds {
	if len(seconds) > maxBounds {
		panic("stats: too many histogram bounds")
	}
	b := &Bounds{seconds: seconds, n: len(seconds)}
	for i, s := range seconds {
		if i > 0 && s <= seconds[i-1] {
			panic("stats: histogram bounds not ascending")
		}
		b.ns[i] = int64(math.Round(s * 1e9))
	}
	return b
}

// Seconds returns the upper bounds in seconds.
func (b *Bounds) Seconds() []float64 { return b.seconds }

// The histograms' bucket bounds, in seconds.
var (
	// RequestBounds: request and upstream latency.
	RequestBounds = NewBounds(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
	// LuaBounds: one Lua run (a phase of a request).
	LuaBounds = NewBounds(.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1)
)

// Histogram is a latency histogram updated with atomic additions only.
// The zero value is unusable: make it with Init.
type Histogram struct {
	bounds *Bounds
	counts [maxBounds + 1]atomic.Uint64
	sumNs  atomic.Int64
}

// Init sets the histogram's bounds; call it before any Observe.
func (h *Histogram) Init(b *Bounds) { h.bounds = b }

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	ns := int64(d)
	b := h.bounds
	i := 0
	for i < b.n && ns > b.ns[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(ns)
}

// HistogramSnapshot is a histogram read at one time, in Prometheus's
// terms: Buckets maps each upper bound to the cumulative count.
type HistogramSnapshot struct {
	Count   uint64
	Sum     float64 // seconds
	Buckets map[float64]uint64
}

// Snapshot reads the histogram. Observations that race it may be in the
// count and not the buckets' total, or the other way round, by a few.
func (h *Histogram) Snapshot() HistogramSnapshot {
	b := h.bounds
	s := HistogramSnapshot{Buckets: make(map[float64]uint64, b.n)}
	var cum uint64
	for i := 0; i < b.n; i++ {
		cum += h.counts[i].Load()
		s.Buckets[b.seconds[i]] = cum
	}
	s.Count = cum + h.counts[b.n].Load()
	s.Sum = float64(h.sumNs.Load()) / 1e9
	return s
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := 0; i <= h.bounds.n; i++ {
		n += h.counts[i].Load()
	}
	return n
}
