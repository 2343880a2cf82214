package proxypass

import "runtime"

type runtimeMemStats = runtime.MemStats

func readMemStats(ms *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(ms)
}
