package dynupstream

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestPassiveCheck(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	logger := zap.New(core)
	s := &serverState{cluster: "c", address: "a:1"}
	const ft = 10 * time.Second
	t0 := time.Now().UnixNano()
	at := func(d time.Duration) int64 { return t0 + int64(d) }

	// Two failures within fail_timeout take it out (max_fails 2).
	s.failed(at(0), 2, ft, logger)
	if !s.passiveAvailable(at(time.Second), 2) {
		t.Fatal("out after one failure")
	}
	s.failed(at(3*time.Second), 2, ft, logger)
	if s.passiveAvailable(at(4*time.Second), 2) {
		t.Fatal("available after max_fails failures")
	}
	if logs.FilterMessage("upstream server failed; taken out").Len() != 1 {
		t.Errorf("logs: %v", logs.All())
	}
	// Out for fail_timeout from the last failure, then one probe.
	if s.passiveAvailable(at(12*time.Second), 2) {
		t.Fatal("back before fail_timeout")
	}
	if !s.passiveAvailable(at(13*time.Second+1), 2) {
		t.Fatal("not back after fail_timeout")
	}
	s.claimProbe(at(14*time.Second), 2, ft)
	if s.passiveAvailable(at(15*time.Second), 2) {
		t.Fatal("a second request while the probe is out")
	}
	// The probe fails: out again; it succeeds: back, failures forgotten.
	s.failed(at(16*time.Second), 2, ft, logger)
	if s.passiveAvailable(at(25*time.Second), 2) {
		t.Fatal("back too early after a failed probe")
	}
	if logs.FilterMessage("upstream server failed; taken out").Len() != 1 {
		t.Errorf("a failed probe logged again")
	}
	// A response to an attempt that began before that failure (settled
	// late) is older news: the server stays out.
	s.succeeded(at(25*time.Second), at(15*time.Second), 2, ft, logger)
	if s.passiveAvailable(at(25*time.Second), 2) || s.fails.Load() < 2 {
		t.Fatal("a late success of an older attempt brought it back")
	}
	s.claimProbe(at(26*time.Second+1), 2, ft)
	s.succeeded(at(27*time.Second), at(26*time.Second+1), 2, ft, logger)
	if !s.passiveAvailable(at(27*time.Second), 2) || s.fails.Load() != 0 {
		t.Fatal("not back after a successful probe")
	}
	if logs.FilterMessage("upstream server recovered").Len() != 1 {
		t.Errorf("logs: %v", logs.All())
	}

	// Failures further apart than fail_timeout do not add up.
	s.failed(at(30*time.Second), 2, ft, logger)
	s.failed(at(41*time.Second), 2, ft, logger)
	if !s.passiveAvailable(at(41*time.Second), 2) {
		t.Fatal("failures 11s apart took it out")
	}
	// A success does not reset failures of the current window (nginx).
	s.succeeded(at(42*time.Second), at(41*time.Second+1), 2, ft, logger)
	s.failed(at(43*time.Second), 2, ft, logger)
	if s.passiveAvailable(at(43*time.Second), 2) {
		t.Fatal("a success in between reset the window")
	}
	// max_fails 0: no passive check.
	z := &serverState{}
	for i := 0; i < 10; i++ {
		z.failed(at(0), 0, ft, logger)
	}
	if !z.passiveAvailable(at(0), 0) || z.failures.Load() != 10 {
		t.Errorf("max_fails 0: available %v failures %d", z.passiveAvailable(at(0), 0), z.failures.Load())
	}
}

func TestCheckThresholds(t *testing.T) {
	s := &serverState{}
	now := time.Now().UnixNano()
	// Unhealthy after 3 consecutive failures; a pass in between resets.
	for i, ok := range []bool{false, false, true, false, false} {
		if changed, _ := s.checkResult(ok, "bad", now, 2, 3); changed {
			t.Fatalf("check %d changed the health", i)
		}
	}
	if changed, healthy := s.checkResult(false, "bad", now, 2, 3); !changed || healthy {
		t.Fatalf("third failure in a row: changed %v healthy %v", changed, healthy)
	}
	if p := s.lastProblem.Load(); p == nil || *p != "bad" {
		t.Errorf("last problem %v", p)
	}
	if changed, _ := s.checkResult(true, "", now, 2, 3); changed {
		t.Fatal("healthy after one pass (threshold 2)")
	}
	if changed, healthy := s.checkResult(true, "", now, 2, 3); !changed || !healthy {
		t.Fatalf("second pass: changed %v healthy %v", changed, healthy)
	}
	if s.lastProblem.Load() != nil || !s.checked.Load() {
		t.Errorf("state after passes: %+v", s)
	}
}
