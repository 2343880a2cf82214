package luaplugin

// Test hooks: what the tests of Go-backed libraries (packages of their own,
// see host.go) need to observe of the engine and cannot through the host
// API. Not for production code. The helpers that run Lua on a pool for a
// test are in the luatest package.

// RunEndPending returns how many functions registered with AtRunEnd wait
// for the end of the current run (for tests checking that a library does
// not register one per call).
func (vm *VM) RunEndPending() int {
	if vm.cur == nil {
		return 0
	}
	return len(vm.cur.runEnd)
}
