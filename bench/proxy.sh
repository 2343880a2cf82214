#!/usr/bin/env bash
# bench/proxy.sh: the proxy_pass benchmark set, in one interleaved run of the
# shared side-by-side harness (../shared/bench): wrk straight at the backend,
# nginx proxy_pass, nginx + lua access check + proxy_pass, Caddy's
# reverse_proxy, and this project's proxy_pass alone and after an
# access_by_lua key check. The gateway runs on one core (GOMAXPROCS=1 /
# worker_processes 1); the report's "gateway CPU µs/req" is the measure.
#
#   bash bench/proxy.sh            # builds ./caddy first if needed
#   REPS=5 bash bench/proxy.sh     # the harness's knobs pass through
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-../shared/bench}
[ -x ./caddy ] || make build
bash "$HARNESS/setup.sh"
PROJECT_CADDY=$PWD/caddy NAME=${NAME:-proxy-pass-$(date +%F)} \
	bash "$HARNESS/run.sh" direct nginx-proxy nginx-lua-access caddy-proxy resty-proxy-pass resty-proxy-pass-access
