package phases

import (
	"fmt"
	"net/http"
	"path"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/app"
)

func init() {
	caddy.RegisterModule(StatusHandler{})
}

// StatusHandler serves the status page and JSON of /resty/ui and
// /resty/status on a site (http.handlers.resty_status), for browsers:
// Caddy's admin listener refuses a browser's navigation that carries no
// Origin or Referer (a typed URL, a bookmark), so the page there opens
// only from a same-origin link. Mount it where your own access control
// (basic_auth, forward_auth, a client-certificate site, a private
// listener) protects it:
//
//	ops.example.com {
//		basic_auth { ops $2a$14$… }
//		handle /resty/* {
//			resty_status
//		}
//	}
//
// A request whose path ends in /ui gets the page, one ending in /status
// the JSON; other requests go on to the next handler. Only GET is
// answered (others get 405). Nothing is served on a site unless a config
// mounts this handler.
type StatusHandler struct {
	app *app.App
}

// CaddyModule returns the Caddy module information.
func (StatusHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.resty_status",
		New: func() caddy.Module { return new(StatusHandler) },
	}
}

// Provision binds the handler to the config's resty app.
func (h *StatusHandler) Provision(ctx caddy.Context) error {
	a, err := ctx.App("resty")
	if err != nil {
		return fmt.Errorf("loading resty app: %w", err)
	}
	h.app = a.(*app.App)
	return nil
}

// ServeHTTP serves …/ui and …/status.
func (h *StatusHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	base := path.Base(r.URL.Path)
	if base != "ui" && base != "status" {
		return next.ServeHTTP(w, r)
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
	}
	if base == "ui" {
		return app.WriteStatusPage(w)
	}
	return app.WriteStatus(w, h.app)
}

// UnmarshalCaddyfile sets up the handler: `resty_status` (no arguments).
func (h *StatusHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	if d.NextArg() || d.NextBlock(0) {
		return d.Err("resty_status takes no arguments")
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*StatusHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*StatusHandler)(nil)
	_ caddyfile.Unmarshaler       = (*StatusHandler)(nil)
)
