package dynupstream

import (
	"testing"
	"time"
)

func TestAttempts(t *testing.T) {
	reg := testRegistry(t, map[string]string{"pool": "server 10.0.0.1:80 max_fails=2; server 10.0.0.2:80; server 10.0.0.3:80 backup; server 10.0.0.4:80 down;"})
	c := reg.lookup("pool")
	a, b, bk := c.all[0].st, c.all[1].st, c.all[2].st
	r, _, _ := testRequest()

	var at Attempts
	if reg.Begin(&at, "nope") {
		t.Fatal("Begin of an unknown cluster")
	}
	if _, ok := at.Next(r); ok {
		t.Fatal("Next without a cluster")
	}
	if !reg.Begin(&at, "pool") {
		t.Fatal("Begin failed")
	}
	if n := at.Servers(); n != 3 {
		t.Errorf("Servers = %d, want 3 (down excluded)", n)
	}
	s, ok := at.Next(r)
	if !ok || s.Dial != "10.0.0.1:80" || s.HostPort != "10.0.0.1:80" {
		t.Fatalf("first: %+v %v", s, ok)
	}
	if a.active.Load() != 1 {
		t.Errorf("active %d", a.active.Load())
	}
	at.Done(OutcomeFailure)
	s, _ = at.Next(r)
	if s.Dial != "10.0.0.2:80" {
		t.Fatalf("second: %s, want the other primary", s.Dial)
	}
	at.Done(OutcomeFailure)
	s, _ = at.Next(r)
	if s.Dial != "10.0.0.3:80" {
		t.Fatalf("third: %s, want the backup", s.Dial)
	}
	at.Done(OutcomeSuccess)
	if _, ok := at.Next(r); ok {
		t.Errorf("a fourth attempt: every server was tried")
	}
	if a.fails.Load() != 1 || b.fails.Load() != 1 || bk.fails.Load() != 0 || a.active.Load()+b.active.Load()+bk.active.Load() != 0 {
		t.Errorf("fails %d %d %d", a.fails.Load(), b.fails.Load(), bk.fails.Load())
	}
	now := time.Now().UnixNano()
	if b.passiveAvailable(now, 1) || !a.passiveAvailable(now, 2) {
		t.Errorf("passive: a %v b %v", a.passiveAvailable(now, 2), b.passiveAvailable(now, 1))
	}

	// A new request skips b (out) and starts on a; a neutral outcome
	// (the client went away) fails no one; Reset settles what is open.
	reg.Begin(&at, "pool")
	s, _ = at.Next(r)
	if s.Dial != "10.0.0.1:80" {
		t.Fatalf("next request: %s", s.Dial)
	}
	at.Done(OutcomeNeutral)
	s, _ = at.Next(r)
	if s.Dial != "10.0.0.3:80" {
		t.Fatalf("after a: %s, want the backup (b is out)", s.Dial)
	}
	at.Reset()
	if a.fails.Load() != 1 || bk.active.Load() != 0 {
		t.Errorf("neutral outcomes counted: a fails %d, backup active %d", a.fails.Load(), bk.active.Load())
	}
	if got := a.requests.Load() + b.requests.Load() + bk.requests.Load(); got != 5 {
		t.Errorf("requests %d, want 5", got)
	}
}

func BenchmarkAttempts(b *testing.B) {
	reg := testRegistry(b, map[string]string{"pool": "server 10.0.0.1:80; server 10.0.0.2:80;"})
	r, _, _ := testRequest()
	var at Attempts
	b.ReportAllocs()
	for b.Loop() {
		reg.Begin(&at, "pool")
		at.Next(r)
		at.Done(OutcomeSuccess)
	}
}
