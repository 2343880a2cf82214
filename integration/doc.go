// Package integration holds caddy-resty's end-to-end tests: Caddy runs
// in-process (caddytest, admin localhost:2999, HTTP port 9080) with the
// resty app and handler, in front of real net/http backends.
//
// The ports are fixed, so the tests of this package run one at a time:
//
//	go test -race -count=1 ./integration/
//
// The hostile-script suite (hostile_test.go, TestHostile*) instead runs a
// real Caddy process built from this repository (go build ./cmd/caddy,
// once per test binary) under an 8 GiB address-space limit (prlimit, or
// bash's ulimit), on free ports of its own, so that a script that crashes
// or wedges the process shows as a dead process:
//
//	go test -count=1 -run Hostile -v ./integration/
package integration
