// Package caddyresty registers every caddy-resty module with Caddy. Import it
// (xcaddy build --with github.com/caddy-resty/caddy-resty) to get the resty
// app, the resty HTTP handler and the Caddyfile directives.
package caddyresty

import (
	_ "github.com/caddyserver/caddy/v2"
)
