package luaplugin

import (
	"sync"
	"sync/atomic"
	"time"
)

// stateLock is a Lua state's lock: a sync.Mutex (a few ns when free, as it
// is for most runs) whose waiters can give up after a timeout. A waiter
// that finds it held hands the blocking Lock to a helper goroutine and
// waits for either the handover or its timer; if it gives up first, the
// helper releases the lock as soon as it gets it.
type stateLock struct {
	mu sync.Mutex
	// waiting counts the goroutines waiting for the lock, held is 1 while
	// someone holds it: Pool.pick balances on both.
	waiting atomic.Int32
	held    atomic.Int32
}

// Handover states of one slow-path wait.
const (
	waitPending int32 = iota
	waitHanded
	waitAbandoned
)

// lock takes the lock, waiting at most timeout; it reports whether it got
// it.
func (l *stateLock) lock(timeout time.Duration) bool {
	if l.mu.TryLock() {
		l.held.Store(1)
		return true
	}
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	var state atomic.Int32
	got := make(chan struct{}, 1)
	go func() {
		l.mu.Lock()
		if state.CompareAndSwap(waitPending, waitHanded) {
			got <- struct{}{}
			return
		}
		l.mu.Unlock() // the waiter gave up
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-got:
	case <-t.C:
		if state.CompareAndSwap(waitPending, waitAbandoned) {
			return false
		}
		<-got // handed over just as the timer fired
	}
	l.held.Store(1)
	return true
}

// unlock releases the lock.
func (l *stateLock) unlock() {
	l.held.Store(0)
	l.mu.Unlock()
}

// load is how busy the lock is: its holder plus its waiters.
func (l *stateLock) load() int32 { return l.held.Load() + l.waiting.Load() }
