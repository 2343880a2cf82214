// Package caddyresty registers every caddy-resty module with Caddy. Import it
// (xcaddy build --with github.com/caddy-resty/caddy-resty) to get the resty
// app, the resty HTTP handler, the Caddyfile directives and the Go-backed
// Lua libraries (cjson, resty.http, resty.redis, resty.mysql,
// resty.limit.*, resty.lrucache, resty.lock, resty.string and the digests).
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
	// The `caddy resty` command (run Lua, import nginx.conf).
	_ "github.com/caddy-resty/caddy-resty/restycmd"
	// The bundled gateway plugins (resty.plugins.*, embedded Lua).
	_ "github.com/caddy-resty/caddy-resty/plugins"

	// The Go-backed Lua libraries: each registers its modules with the
	// Lua engine (luaplugin.RegisterModule) for `require`.
	_ "github.com/caddy-resty/caddy-resty/cjson"
	_ "github.com/caddy-resty/caddy-resty/restycrypto"
	_ "github.com/caddy-resty/caddy-resty/restyhttp"
	_ "github.com/caddy-resty/caddy-resty/restyipmatcher"
	_ "github.com/caddy-resty/caddy-resty/restyjsonschema"
	_ "github.com/caddy-resty/caddy-resty/restyjwt"
	_ "github.com/caddy-resty/caddy-resty/restylimit"
	_ "github.com/caddy-resty/caddy-resty/restylock"
	_ "github.com/caddy-resty/caddy-resty/restylrucache"
	_ "github.com/caddy-resty/caddy-resty/restymysql"
	_ "github.com/caddy-resty/caddy-resty/restyredis"
	_ "github.com/caddy-resty/caddy-resty/restystring"
)
