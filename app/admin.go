package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(LuaAdmin{})
}

// LuaAdmin is the admin API module for the Lua runtime
// (admin.api.resty_lua):
//
//	POST /resty/lua/reload   recompile the *_by_lua_file scripts that changed
//	                         on disk, in place, and reload changed modules
//	                         (loaded with require) on fresh Lua states
//
// It changes no config and reloads nothing else: requests in flight finish
// on the code they started with, the next ones run the new code. A file
// that no longer compiles refuses the reload (400, naming file and line)
// and nothing changes. `caddy reload --force` has the same effect on the
// files, at the cost of a full config reload.
type LuaAdmin struct{}

// CaddyModule returns the Caddy module information.
func (LuaAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.resty_lua",
		New: func() caddy.Module { return new(LuaAdmin) },
	}
}

// Routes returns the admin routes.
func (LuaAdmin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/resty/lua/reload", Handler: caddy.AdminHandlerFunc(handleLuaReload)},
	}
}

func handleLuaReload(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	app, err := caddy.ActiveContext().AppIfConfigured("resty")
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no resty app in the running config")}
	}
	a, ok := app.(*App)
	if !ok || a.pool == nil {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: errors.New("no Lua runtime in the running config")}
	}
	res, err := a.pool.ReloadFiles()
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("lua reload refused, nothing changed: %w", err)}
	}
	a.logger.Info("Lua files reloaded", zap.Strings("scripts", res.Scripts), zap.Bool("modules", res.Modules))
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(res)
}

// Interface guards.
var _ caddy.AdminRouter = (*LuaAdmin)(nil)
