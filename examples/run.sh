#!/usr/bin/env bash
# Starts the example gateway (examples/Caddyfile) with the Caddy built by
# `make build`, and says what to curl. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
CADDY=${1:-./caddy}
export NEWLINE=$'\n'
cat <<'TXT'

caddy-resty example gateway
  gateway   http://localhost:8080  (API keys: demo-key, other-key)
  stats     http://localhost:8081
  backends  :9001 and :9002, served by the same Caddy, as upstream cluster "demo" (weights 3:1)

Try:
  curl -i localhost:8080/hello                              # 401: no key (access phase)
  curl -i -H 'X-Api-Key: nope' localhost:8080/hello         # 403: unknown key
  curl -i -H 'X-Api-Key: demo-key' localhost:8080/hello     # 200 via a backend; X-Gateway header,
                                                            # body rewritten by body_filter
  for i in $(seq 12); do curl -s -o /dev/null -w '%{http_code} ' -H 'X-Api-Key: other-key' localhost:8080/; done; echo
                                                            # 429 after 10 in 10s (shared dict)
  curl -i -H 'X-Api-Key: demo-key' localhost:8080/v2/items # route v2: URI rewritten to /items;
                                                            # Server-Timing from a global plugin
  curl -i -H 'X-Api-Key: demo-key' -H 'X-Tenant: acme' localhost:8080/tenant/bob
                                                            # route tenant (CEL condition), answered by the gateway
  curl -s localhost:2019/resty/routes                       # the route table, live
  curl -X PUT localhost:2019/resty/routes/legacy -d '{"match":{"paths":["/old/*"]},"action":{"redirect":{"status":302,"location":"/v2/{path.*}"}}}'
                                                            # change a route in place (no reload)
  curl -s localhost:8081                                    # counters kept by the log phase
  open http://localhost:8081/resty/ui                       # live status page (clusters, routes, dicts)
  curl -s localhost:2019/metrics | grep caddy_resty_        # Prometheus metrics
  curl -s localhost:2019/config/apps/resty                  # the resty app's config (admin API)
  curl -s localhost:2019/resty/upstreams/demo               # the upstream registry, live health
  curl -d 'server localhost:9002;' localhost:2019/resty/upstreams/demo
                                                            # change the cluster at runtime (dyups syntax)

TXT
exec "$CADDY" run --config examples/Caddyfile --adapter caddyfile
