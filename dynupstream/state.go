package dynupstream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// pool holds the state that outlives config reloads: the live state of
// each server (keyed by serverKey: cluster name and normalized address)
// and the active health checker of each cluster (keyed by checkerKey).
// A config holds a reference to each entry it uses; an entry goes when
// the last config using it is cleaned up.
var pool = caddy.NewUsagePool()

// serverKey identifies a server's state: the same address in two
// clusters has two states.
type serverKey struct{ cluster, address string }

// serverState is the live state of one server of one cluster: its load,
// its counters and its passive and active health. Every field is safe
// for concurrent use.
type serverState struct {
	cluster, address string

	// active counts the requests proxied to the server right now.
	active atomic.Int64
	// requests counts the requests it was chosen for.
	requests atomic.Uint64
	// failures counts the failed attempts observed (passive).
	failures atomic.Uint64

	// Passive health, nginx style: fails failures within failTimeout of
	// the first take the server out until downUntil; after that, one
	// request probes it. mu serializes the writers; readers load the
	// atomics.
	mu        sync.Mutex
	fails     atomic.Int32
	failStart int64        // unix nanos of the first failure of the window (mu)
	lastFail  atomic.Int64 // unix nanos of the last failure
	downUntil atomic.Int64

	// Active health.
	unhealthy   atomic.Bool
	checked     atomic.Bool
	passes      atomic.Int32 // consecutive passed checks
	checkFails  atomic.Int32 // consecutive failed checks
	lastCheck   atomic.Int64 // unix nanos
	lastProblem atomic.Pointer[string]
}

// Destruct implements caddy.Destructor.
func (*serverState) Destruct() error { return nil }

// loadServerState gets (or creates) the state of a server and takes a
// reference to it.
func loadServerState(cluster, address string) *serverState {
	val, _, _ := pool.LoadOrNew(serverKey{cluster, address}, func() (caddy.Destructor, error) {
		return &serverState{cluster: cluster, address: address}, nil
	})
	return val.(*serverState)
}

// passiveAvailable reports whether the passive check lets the server take
// a request at now (unix nanos).
func (s *serverState) passiveAvailable(now int64, maxFails int32) bool {
	return maxFails <= 0 || s.fails.Load() < maxFails || now >= s.downUntil.Load()
}

// claimProbe is called when a server is chosen. If the passive check had
// taken it out and its time is up, this request is the probe: the server
// stays out for another failTimeout unless the probe succeeds.
func (s *serverState) claimProbe(now int64, maxFails int32, failTimeout time.Duration) {
	if maxFails <= 0 || s.fails.Load() < maxFails {
		return
	}
	if until := s.downUntil.Load(); now >= until {
		s.downUntil.CompareAndSwap(until, now+int64(failTimeout))
	}
}

// failed records a failed attempt (no response from the server).
func (s *serverState) failed(now int64, maxFails int32, failTimeout time.Duration, logger *zap.Logger) {
	s.failures.Add(1)
	if maxFails <= 0 {
		return
	}
	s.mu.Lock()
	s.lastFail.Store(now)
	fails := s.fails.Load()
	if fails == 0 || fails < maxFails && now-s.failStart > int64(failTimeout) {
		fails = 0
		s.failStart = now
	}
	fails++
	s.fails.Store(fails)
	wasOut := fails > maxFails
	if fails >= maxFails {
		s.downUntil.Store(now + int64(failTimeout))
	}
	s.mu.Unlock()
	if fails >= maxFails && !wasOut && logger != nil {
		logger.Warn("upstream server failed; taken out",
			zap.String("upstream", s.cluster),
			zap.String("server", s.address),
			zap.Int32("fails", fails),
			zap.Duration("fail_timeout", failTimeout))
	}
}

// succeeded records an attempt that got a response; began is when the
// attempt chose the server. It brings back a server the passive check
// had taken out (the probe succeeded) and forgets failures whose window
// is over, but only failures older than the attempt: a response to an
// attempt that began before a failure is older news than the failure
// (nginx's rule: a success resets fails only when the server was chosen
// after its last failure). A request's attempt settles when its context
// ends, which can be after the next request already failed there.
func (s *serverState) succeeded(now, began int64, maxFails int32, failTimeout time.Duration, logger *zap.Logger) {
	if s.fails.Load() == 0 || began < s.lastFail.Load() {
		return
	}
	s.mu.Lock()
	fails := s.fails.Load()
	wasOut := maxFails > 0 && fails >= maxFails
	reset := fails > 0 && (wasOut || now-s.failStart > int64(failTimeout))
	if reset {
		s.fails.Store(0)
		s.downUntil.Store(0)
	}
	s.mu.Unlock()
	if reset && wasOut && logger != nil {
		logger.Info("upstream server recovered",
			zap.String("upstream", s.cluster),
			zap.String("server", s.address))
	}
}

// checkResult records the result of an active health check and reports
// a change of health (changed) and the new health.
func (s *serverState) checkResult(ok bool, problem string, now int64, healthyThreshold, unhealthyThreshold int32) (changed, healthy bool) {
	s.lastCheck.Store(now)
	s.checked.Store(true)
	if ok {
		s.lastProblem.Store(nil)
		s.checkFails.Store(0)
		n := s.passes.Add(1)
		if n >= healthyThreshold && s.unhealthy.CompareAndSwap(true, false) {
			return true, true
		}
		return false, !s.unhealthy.Load()
	}
	s.lastProblem.Store(&problem)
	s.passes.Store(0)
	n := s.checkFails.Add(1)
	if n >= unhealthyThreshold && s.unhealthy.CompareAndSwap(false, true) {
		return true, false
	}
	return false, !s.unhealthy.Load()
}

// Interface guards.
var _ caddy.Destructor = (*serverState)(nil)
