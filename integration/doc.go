// Package integration holds caddy-resty's end-to-end tests: Caddy runs
// in-process (caddytest, admin localhost:2999, HTTP port 9080) with the
// resty app and handler, in front of real net/http backends.
//
// The ports are fixed, so the tests of this package run one at a time:
//
//	go test -race -count=1 ./integration/
package integration
