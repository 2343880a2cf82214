# caddy-resty: build, run and test.
#
#   make build   builds ./caddy with xcaddy (Caddy v2.11.9 + this plugin)
#   make run     builds and starts the gateway on examples/Caddyfile
#   make test    unit and integration tests (race detector on), then the
#                OpenResty differential suite against ./caddy

CADDY_VERSION ?= v2.11.9
XCADDY_VERSION ?= v0.4.5
GOBIN := $(shell go env GOPATH)/bin
XCADDY := $(GOBIN)/xcaddy
MODULE := github.com/caddy-resty/caddy-resty
# Our module path is not published: the first proxy answers 403 for it, so
# fall back to the local replacement instead of failing ("|off").
BUILD_GOPROXY := $(shell go env GOPROXY | cut -d, -f1)|off
COMPAT := ../shared/compat/run.py
FUZZTIME ?= 20s

.PHONY: build run test unit compat bench fuzz fmt vet clean

$(XCADDY):
	go install github.com/caddyserver/xcaddy/cmd/xcaddy@$(XCADDY_VERSION)

build: $(XCADDY)
	GOPROXY="$(BUILD_GOPROXY)" $(XCADDY) build $(CADDY_VERSION) --with $(MODULE)=. --output ./caddy

run: build
	@bash examples/run.sh ./caddy

# The integration tests run after the others, not beside them: the hostile
# suite and the load tests measure a real Caddy and must not share the
# machine's cores with the other packages' tests.
unit:
	go test -race -count=1 $$(go list ./... | grep -v /integration)
	# Allocation budgets: the race detector allocates, so these run without it.
	go test -count=1 -run 'Allocs' ./proxypass/
	go test -race -count=1 ./integration/

compat: build
	@if [ -f $(COMPAT) ]; then python3 $(COMPAT) --target caddy --caddy-bin $(CURDIR)/caddy; \
	else echo "compat suite not found at $(COMPAT); skipped"; fi

test: vet unit fuzz compat

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet ./...

# A bounded fuzz run of the dyups body parser (its seed corpus also runs in unit).
fuzz:
	go test -run '^$$' -fuzz FuzzParseDyups -fuzztime $(FUZZTIME) ./dynupstream/

bench:
	go test -run '^$$' -bench . -benchmem ./...

clean:
	rm -f ./caddy
