package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/celrules"
	"github.com/caddy-resty/caddy-resty/internal/livetable"
)

func init() {
	caddy.RegisterModule(RoutesAdmin{})
}

// RoutesAdmin is the admin API module for the route table
// (admin.api.resty_routes):
//
//	GET    /resty/routes        every route, in table order, with its live version
//	GET    /resty/routes/NAME   one route
//	PUT    /resty/routes/NAME   create or replace a route (a JSON route, as in
//	                            apps.resty.routes; its name defaults to NAME)
//	DELETE /resty/routes/NAME   delete a route
//
// Changes apply in place, without a Caddy config reload: the route is
// validated as config is (CEL and Lua compiled, upstream and plugins
// checked), persisted in Caddy's storage, then swapped into the running
// table atomically; the next request sees it. A replaced route keeps its
// place in the table; a new one goes after the others (use priority to
// place it). The answer is the route with its new version.
//
// Errors change nothing: 400 for a malformed or invalid route (the message
// names the field: `routes/NAME.when: …`), 404 for an unknown route, 503
// when storage fails.
type RoutesAdmin struct{}

// CaddyModule returns the Caddy module information.
func (RoutesAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.resty_routes",
		New: func() caddy.Module { return new(RoutesAdmin) },
	}
}

// Routes returns the admin routes.
func (RoutesAdmin) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: "/resty/routes", Handler: caddy.AdminHandlerFunc(handleRoutes)},
		{Pattern: "/resty/routes/", Handler: caddy.AdminHandlerFunc(handleRoutes)},
	}
}

// maxRouteBody bounds the body of a PUT.
const maxRouteBody = 4 << 20

func apiErr(code int, err error) error { return caddy.APIError{HTTPStatus: code, Err: err} }

// activeRoutes returns the running config's route table.
func activeRoutes() (*RouteTable, error) {
	app, err := caddy.ActiveContext().AppIfConfigured("resty")
	if err != nil {
		return nil, apiErr(http.StatusNotFound, errors.New("no resty app in the running config (add the `resty` global option)"))
	}
	a, ok := app.(*App)
	if !ok || a.routes == nil || a.routes.cur.Load() == nil {
		return nil, apiErr(http.StatusNotFound, errors.New("no route table in the running config"))
	}
	return a.routes, nil
}

func handleRoutes(w http.ResponseWriter, r *http.Request) error {
	rt, err := activeRoutes()
	if err != nil {
		return err
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/resty/routes"), "/")
	if rest == "" {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			return apiErr(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
		}
		t := rt.cur.Load()
		routes := t.Routes()
		out := make([]routeDescription, len(routes))
		for i := range routes {
			out[i] = rt.describe(&routes[i])
			out[i].Index = &i
		}
		return writeJSON(w, http.StatusOK, out)
	}
	name, err := url.PathUnescape(rest)
	if err != nil || checkRouteName(name) != nil {
		return apiErr(http.StatusBadRequest, fmt.Errorf("bad route name in the path %q", rest))
	}
	switch r.Method {
	case http.MethodGet:
		if r, ok := rt.cur.Load().Lookup(name); ok {
			return writeJSON(w, http.StatusOK, rt.describe(r))
		}
		return apiErr(http.StatusNotFound, fmt.Errorf("no route %q", name))
	case http.MethodPut:
		return putRoute(w, r, rt, name)
	case http.MethodDelete:
		return rt.change(w, r, name, nil)
	}
	w.Header().Set("Allow", "GET, PUT, DELETE")
	return apiErr(http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
}

func putRoute(w http.ResponseWriter, r *http.Request, rt *RouteTable, name string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRouteBody+1))
	if err != nil {
		return apiErr(http.StatusBadRequest, fmt.Errorf("reading the body: %w", err))
	}
	if len(body) > maxRouteBody {
		return apiErr(http.StatusRequestEntityTooLarge, fmt.Errorf("route body over %d bytes", maxRouteBody))
	}
	var route celrules.Route
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&route); err != nil {
		return apiErr(http.StatusBadRequest, fmt.Errorf("routes/%s: %w", name, err))
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, fmt.Errorf("routes/%s: trailing data after the route", name))
	}
	switch route.Name {
	case "":
		route.Name = name
	case name:
	default:
		return apiErr(http.StatusBadRequest, fmt.Errorf("routes/%s.name: %q differs from the name in the path", name, route.Name))
	}
	return rt.change(w, r, name, &route)
}

// errNoRoute is what a change function returns to delete an absent route.
var errNoRoute = errors.New("no such route")

// change makes a change in place (next nil deletes) and answers with the
// route's new state.
func (rt *RouteTable) change(w http.ResponseWriter, r *http.Request, name string, next *celrules.Route) error {
	start := time.Now()
	created := false
	res, err := rt.Live().Change(name, livetable.ChangeOptions{Request: r}, func(cur *celrules.Route) (*celrules.Route, error) {
		if next == nil {
			if cur == nil {
				return nil, errNoRoute
			}
			return nil, nil
		}
		created = cur == nil
		if err := rt.Check(name, next); err != nil {
			return nil, apiErr(http.StatusBadRequest, err)
		}
		return next, nil
	})
	if err != nil {
		var ae caddy.APIError
		switch {
		case errors.Is(err, errNoRoute):
			return apiErr(http.StatusNotFound, fmt.Errorf("no route %q", name))
		case errors.As(err, &ae):
			return err
		case errors.Is(err, livetable.ErrStorage), errors.Is(err, livetable.ErrNoConfig):
			rt.logger.Error("route change refused", zap.String("route", name), zap.Error(err))
			return apiErr(http.StatusServiceUnavailable, fmt.Errorf("route %q: %w", name, err))
		}
		return apiErr(http.StatusInternalServerError, err)
	}
	op := "replaced"
	switch {
	case next == nil:
		op = "deleted"
	case created:
		op = "created"
	}
	if res.Changed {
		rt.logger.Info("route changed in place", zap.String("route", name), zap.String("change", op),
			zap.Uint64("version", res.Meta.Version), zap.Duration("took", time.Since(start)))
	}
	out := map[string]any{"name": name, "version": res.Meta.Version, "changed": res.Changed, "change": op}
	if next != nil {
		out["route"] = next
	}
	code := http.StatusOK
	if created && res.Changed {
		code = http.StatusCreated
	}
	return writeJSON(w, code, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// Interface guards.
var _ caddy.AdminRouter = (*RoutesAdmin)(nil)
