package luaplugin

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// memGuard is the per-run allocation guard (lua_max_memory). Go has no
// per-goroutine allocation limit and a failed allocation kills the process,
// so the watchdog reads the heap size on every tick: when it passes
// MaxMemory, a collection is started, and the runs in progress (the only
// Lua code that can be allocating) are stopped if the heap stays over the
// limit after it (live data), or grows to half as much again meanwhile.
type memGuard struct {
	samples [2]metrics.Sample
	gcBusy  atomic.Bool
	// liveOver is set by the last forced collection when the live heap
	// was still over the limit, with the time it was measured.
	liveOver atomic.Int64
	stops    atomic.Int64
	lastLog  time.Time
}

const (
	metricHeapObjects = "/memory/classes/heap/objects:bytes"
	metricHeapLive    = "/gc/heap/live:bytes"
)

// over reports whether running Lua code must be stopped now. It is called
// only from the watchdog goroutine.
func (g *memGuard) over(p *Pool) bool {
	g.samples[0].Name = metricHeapObjects
	metrics.Read(g.samples[:1])
	if g.samples[0].Value.Kind() != metrics.KindUint64 {
		return false
	}
	heap := int64(g.samples[0].Value.Uint64())
	limit := p.cfg.MaxMemory
	if heap <= limit {
		return false
	}
	if g.gcBusy.CompareAndSwap(false, true) {
		go func() {
			defer g.gcBusy.Store(false)
			runtime.GC()
			s := []metrics.Sample{{Name: metricHeapLive}}
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 && int64(s[0].Value.Uint64()) > limit {
				g.liveOver.Store(time.Now().UnixNano())
			} else {
				g.liveOver.Store(0)
			}
		}()
	}
	recent := time.Now().UnixNano()-g.liveOver.Load() < int64(time.Second)
	if heap <= limit+limit/2 && !recent {
		return false
	}
	g.stops.Add(1)
	if time.Since(g.lastLog) > time.Second {
		g.lastLog = time.Now()
		p.Logger().Warn("Go heap over lua_max_memory: stopping the Lua runs in progress",
			zap.Int64("heap_bytes", heap), zap.Int64("max_memory", limit))
	}
	return true
}
