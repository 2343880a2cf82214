package celrules

import "encoding/json"

// Route is one rule of the route table (`apps.resty.routes[i]`): where it
// applies (Match), an optional condition (When or Lua), per-route plugins and
// what to do with the request (Action).
type Route struct {
	// Name identifies the route. It is required, unique in the table, and is
	// what `ngx.var.resty_route` and `{http.vars.resty_route}` report for a
	// request the route matched. It may not contain `/` or white space.
	Name string `json:"name"`

	// ID is Caddy's `@id`, so the route can be addressed as `/id/ID` through
	// Caddy's config API. Usually the same as Name.
	ID string `json:"@id,omitempty"`

	// Match restricts the route to hosts, paths and methods. An empty
	// list matches anything.
	Match Match `json:"match,omitempty"`

	// When is an optional CEL expression of type bool, evaluated when Match
	// holds. It is type-checked and compiled when the table is loaded. The
	// environment is described in the package documentation (`req.method`,
	// `req.host`, `req.headers`, `vars`, `now`, `ip_in_cidr`, ...).
	// At most one of When and Lua may be set.
	When string `json:"when,omitempty"`

	// Lua is an optional Lua chunk returning a boolean, evaluated in the
	// rewrite phase when Match holds. It is carried by this package, not
	// compiled here: the handler evaluates it.
	Lua string `json:"lua,omitempty"`

	// Priority orders routes whose match holds: the lowest value is tried
	// first; routes of equal priority are tried in table order. Default 0.
	Priority int `json:"priority,omitempty"`

	// Plugins maps a plugin name to its configuration. The plugins run for
	// the route before its action. Carried by this package, not checked here.
	Plugins map[string]json.RawMessage `json:"plugins,omitempty"`

	// Action is what happens to a request the route matched. Exactly one of
	// its members must be set.
	Action Action `json:"action"`
}

// Match is the indexed part of a route: hosts, paths and methods. A request
// matches when its host matches one of Hosts (or Hosts is empty), its path
// matches one of Paths (or Paths is empty) and its method is one of Methods
// (or Methods is empty).
type Match struct {
	// Hosts are exact host names (`api.example.com`) or wildcards
	// (`*.example.com`, which matches any name ending in `.example.com`, at
	// any depth, but not `example.com` itself). `*` matches any host.
	// Compared case-insensitively, without the port.
	Hosts []string `json:"hosts,omitempty"`

	// Paths are path patterns: exact (`/a/b`), prefix (`/api/*`, which
	// matches `/api/` and everything below it, but not `/api`), and named
	// segments (`/user/{id}`, where `{id}` matches one non-empty segment
	// and captures it as `id`). A prefix's remainder is captured as `*`.
	// `/*` matches every path. Compared case-sensitively.
	Paths []string `json:"paths,omitempty"`

	// Methods are HTTP methods (`GET`, `POST`, ...), compared
	// case-sensitively as HTTP does; they are stored upper-cased.
	Methods []string `json:"methods,omitempty"`
}

// Action is what a matched route does. Exactly one member is set.
type Action struct {
	// Proxy sends the request to an upstream registry cluster.
	Proxy *ProxyAction `json:"proxy,omitempty"`

	// Respond answers the request directly.
	Respond *RespondAction `json:"respond,omitempty"`

	// Redirect answers the request with a redirection.
	Redirect *RedirectAction `json:"redirect,omitempty"`
}

// ProxyAction proxies the request to a cluster of the upstream registry
// (`apps.resty.upstreams`); it sets what `dynamic resty` uses.
type ProxyAction struct {
	// Upstream is the name of the upstream registry cluster. Required.
	Upstream string `json:"upstream"`

	// URI optionally rewrites the request URI sent upstream. It may use
	// Caddy placeholders and captured segments (`{path.id}`, `{path.*}`).
	URI string `json:"uri,omitempty"`

	// Headers are request headers to set on the upstream request; an empty
	// value removes the header.
	Headers map[string]string `json:"headers,omitempty"`
}

// RespondAction answers the request without proxying it.
type RespondAction struct {
	// Status is the response status code, 100 to 599. Default 200.
	Status int `json:"status,omitempty"`

	// Body is the response body. It may use placeholders.
	Body string `json:"body,omitempty"`

	// Headers are response headers to set.
	Headers map[string]string `json:"headers,omitempty"`
}

// RedirectAction answers the request with a redirection.
type RedirectAction struct {
	// Status is the redirection status code, 300 to 399. Default 302.
	Status int `json:"status,omitempty"`

	// Location is the target of the redirection. Required. It may use
	// placeholders and captured segments.
	Location string `json:"location"`
}
