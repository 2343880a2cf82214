package luaplugin

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// logQueue runs the log phase off the response path with bounded work: at
// most LogQueue finished requests wait, LogWorkers run at once, and a
// request that finds the queue full has its log phase dropped, counted and
// reported (at most once a second) instead of piling up without bound.
type logQueue struct {
	p       *Pool
	once    sync.Once
	mu      sync.RWMutex
	closed  bool
	jobs    chan func()
	dropped atomic.Int64
	lastLog atomic.Int64
	pending atomic.Int64 // queued or running
}

func (q *logQueue) init(p *Pool) { q.p = p }

func (q *logQueue) start() {
	q.jobs = make(chan func(), q.p.cfg.LogQueue)
	for i := 0; i < q.p.cfg.LogWorkers; i++ {
		go func() {
			for job := range q.jobs {
				job()
				q.pending.Add(-1)
			}
		}()
	}
}

// Background queues job (a log phase) to run on one of the pool's log
// workers. It returns false when the job was dropped because the queue is
// full; the caller then cleans up without running it.
func (p *Pool) Background(job func()) bool {
	q := &p.logs
	q.once.Do(q.start)
	q.mu.RLock()
	defer q.mu.RUnlock()
	q.pending.Add(1)
	if q.closed {
		// The runtime was replaced while this request was in flight:
		// its log phase still runs, on the old runtime.
		go func() {
			defer q.pending.Add(-1)
			job()
		}()
		return true
	}
	select {
	case q.jobs <- job:
		return true
	default:
	}
	q.pending.Add(-1)
	n := q.dropped.Add(1)
	now := time.Now().UnixNano()
	if last := q.lastLog.Load(); now-last > int64(time.Second) && q.lastLog.CompareAndSwap(last, now) {
		p.Logger().Warn("log phase dropped: log queue full (lua_log_queue)",
			zap.Int("queue", p.cfg.LogQueue), zap.Int64("dropped_total", n))
	}
	return false
}

// close lets the workers finish what is queued, then exit.
func (q *logQueue) close() {
	q.once.Do(q.start)
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
}

// LogsPending is the number of log phases queued or running.
func (p *Pool) LogsPending() int64 { return p.logs.pending.Load() }
