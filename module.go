// Package caddyresty registers every caddy-resty module with Caddy. Import it
// (xcaddy build --with github.com/caddy-resty/caddy-resty) to get the resty
// app, the resty HTTP handler and the Caddyfile directives.
package caddyresty

import (
	// The resty app: shared dicts and the Lua runtime.
	_ "github.com/caddy-resty/caddy-resty/app"
	// The Caddyfile global option and handler directive.
	_ "github.com/caddy-resty/caddy-resty/caddyfile"
	// The upstream registry's upstream source and admin routes.
	_ "github.com/caddy-resty/caddy-resty/dynupstream"
	// The http.handlers.resty handler.
	_ "github.com/caddy-resty/caddy-resty/phases"
)
