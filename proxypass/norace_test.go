//go:build !race

package proxypass

const raceEnabled = false
