// Command caddy is Caddy with the standard modules and caddy-resty, for
// development and tests (`go build ./cmd/caddy`). Releases are built with
// xcaddy (`make build`), which produces the same program.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-resty/caddy-resty"
)

func main() {
	caddycmd.Main()
}
