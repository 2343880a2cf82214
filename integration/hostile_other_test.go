//go:build !linux

package integration

import "testing"

// The hostile-script suite needs Linux (prlimit or ulimit -v, /proc); say
// so instead of leaving it out without a word.
func TestHostile(t *testing.T) {
	t.Skip("the hostile-script suite (hostile_test.go) runs on Linux only")
}
