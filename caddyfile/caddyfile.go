// Package caddyfile adapts caddy-resty's Caddyfile syntax: the global
// `resty { … }` option (the resty app) and the `resty { … }` handler
// directive.
package caddyfile

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/dynupstream"
	"github.com/caddy-resty/caddy-resty/phases"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("resty", parseGlobal)
	httpcaddyfile.RegisterHandlerDirective("resty", parseHandler)
	httpcaddyfile.RegisterHandlerDirective("resty_status", parseStatusHandler)
	// resty wraps the handlers that respond (reverse_proxy, respond,
	// file_server, and handle/route blocks), so its filters and log phase
	// see their responses, and sits inside encode, so body_filter sees the
	// body before compression.
	httpcaddyfile.RegisterDirectiveOrder("resty", httpcaddyfile.Before, "invoke")
	httpcaddyfile.RegisterDirectiveOrder("resty_status", httpcaddyfile.Before, "respond")
}

// parseGlobal parses the global option:
//
//	resty {
//		shared_dict <name> <size>
//		lua_package_path <path>[;<path>...] [<path>...]
//		lua_timeout <duration>
//		lua_max_states <n>
//		lua_state_wait_timeout <duration>
//		lua_max_pending_timers <n>
//		lua_max_running_timers <n>
//		lua_max_string_size <size>
//		lua_max_memory <size>
//		lua_max_body_size <size>
//		lua_body_buffer_size <size>
//		lua_body_timeout <duration>
//		lua_env <NAME>[=<value>] ...
//		lua_log_queue <n>
//		lua_log_workers <n>
//		upstream <name> { … }
//		persist_to_config [<interval>]
//		metrics on|off
//		route <name> { … }
//		global_plugin <name> [<json>] [{ … }]
//	}
//
// route adds a route to the route table (apps.resty.routes), in Caddyfile
// order; its grammar is that of parseRoute:
//
//	route <name> {
//		host <host>...                 # repeatable: api.example.com *.example.com
//		path <pattern>...              # repeatable: /user/* /v1/{id}
//		method <method>...             # repeatable: GET POST
//		when <cel>                     # a CEL condition, best in backquotes
//		lua <code>                     # or a Lua condition (heredoc or quoted)
//		priority <n>                   # lowest first; default 0
//		plugin <name> [<json>] [{ … }] # repeatable, once per plugin name
//		# and exactly one action:
//		proxy <upstream> [<uri>] [{
//			uri <uri>                  # rewrite, with {path.id}, {path.*}, placeholders
//			header_up <name> <value>   # set a request header
//			header_up -<name>          # remove it
//		}]
//		respond [<status>|<body> [<status>]|<status> <body>] [{
//			header <name> <value>
//		}]
//		redirect [<status>] <location> # status 300-399, permanent (301) or
//		                               # temporary (302); default 302
//	}
//
// The route's name is also its "@id". At most one of when and lua. In
// respond, a status is an unquoted three-digit number: with one argument,
// it is the status if it is one, else the body; with two, Caddy's order
// (body, then status) unless only the first is a status. Default status
// 200. redirect also takes Caddy's order, <location> <status>.
//
// A plugin's configuration (plugin in a route, global_plugin for
// apps.resty.global_plugins) is a JSON object, written as JSON in
// backquotes or as a block mapped to JSON like this (see parseObject):
//
//	plugin key-auth {
//		header X-Api-Key            # "header": "X-Api-Key"
//		consumers {                 # a key given twice: an array
//			name alice              # "consumers": [{"name": "alice", "key": "k-alice"},
//			key k-alice             #               {"name": "bob", "key": "k-bob"}]
//		}
//		consumers {
//			name bob
//			key k-bob
//		}
//	}
//	plugin limit-count {
//		count 100                   # unquoted JSON number: a number ("100" is a string)
//		time_window 60
//		rejected_code 429
//		policy local
//		show_limit_quota_header true # true, false, null: JSON's
//	}
//	plugin ip-restriction {
//		whitelist 10.0.0.0/8 192.168.0.0/16  # several values: an array
//		blacklist[] 192.0.2.1       # key[]: an array even of one value
//	}
//	plugin cors {
//		allow_origins https://a.example
//		allow_methods GET,POST      # one value: a string (APISIX's form here)
//		max_age 3600
//	}
//	plugin limit-req `{"rate": 10, "burst": 5}`   # JSON in backquotes
//	plugin prometheus               # no configuration: {}
//
// A Caddyfile block cannot open and close on one line, so a one-line
// configuration is written as backquoted JSON.
//
// Placeholders in routes reach the JSON as written: Caddy rewrites
// shorthands like {uri} only in site blocks, not in global options (see
// routes.go); the route table expands both forms.
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	a := new(app.App)
	if existing != nil {
		return nil, d.Err("the resty global option may be given only once")
	}
	d.Next() // option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	lua := func() *app.LuaConfig {
		if a.Lua == nil {
			a.Lua = new(app.LuaConfig)
		}
		return a.Lua
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "shared_dict":
			var name, size string
			if !d.Args(&name, &size) || d.NextArg() {
				return nil, d.Err("usage: shared_dict <name> <size>")
			}
			n, err := app.ParseSize(size)
			if err != nil {
				return nil, d.Errf("shared_dict %s: %v", name, err)
			}
			if err := app.CheckDictSize(n, size); err != nil {
				return nil, d.Errf("shared_dict %s: %v", name, err)
			}
			if a.SharedDicts == nil {
				a.SharedDicts = make(map[string]*app.SharedDictConfig)
			}
			if _, dup := a.SharedDicts[name]; dup {
				return nil, d.Errf("shared_dict %s: declared twice", name)
			}
			a.SharedDicts[name] = &app.SharedDictConfig{Size: app.FormatSize(n)}
		case "lua_package_path":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			for _, arg := range args {
				for _, p := range strings.Split(arg, ";") {
					if p = strings.TrimSpace(p); p != "" {
						lua().PackagePath = append(lua().PackagePath, p)
					}
				}
			}
		case "lua_timeout", "lua_state_wait_timeout", "lua_body_timeout":
			opt := d.Val()
			var v string
			if !d.Args(&v) || d.NextArg() {
				return nil, d.ArgErr()
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return nil, d.Errf("%s: invalid duration %q", opt, v)
			}
			*map[string]*caddy.Duration{
				"lua_timeout":            &lua().Timeout,
				"lua_state_wait_timeout": &lua().StateWaitTimeout,
				"lua_body_timeout":       &lua().BodyTimeout,
			}[opt] = caddy.Duration(dur)
		case "lua_max_states", "lua_max_pending_timers", "lua_max_running_timers", "lua_log_queue", "lua_log_workers":
			opt := d.Val()
			var v string
			if !d.Args(&v) || d.NextArg() {
				return nil, d.ArgErr()
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("%s: invalid number %q", opt, v)
			}
			*map[string]*int{
				"lua_max_states":         &lua().MaxStates,
				"lua_max_pending_timers": &lua().MaxPendingTimers,
				"lua_max_running_timers": &lua().MaxRunningTimers,
				"lua_log_queue":          &lua().LogQueue,
				"lua_log_workers":        &lua().LogWorkers,
			}[opt] = n
		case "lua_max_string_size", "lua_max_memory", "lua_max_body_size", "lua_body_buffer_size":
			opt := d.Val()
			var v string
			if !d.Args(&v) || d.NextArg() {
				return nil, d.ArgErr()
			}
			n, err := app.ParseSize(v)
			if err != nil || n <= 0 {
				return nil, d.Errf("%s: invalid size %q", opt, v)
			}
			*map[string]*string{
				"lua_max_string_size":  &lua().MaxStringSize,
				"lua_max_memory":       &lua().MaxMemory,
				"lua_max_body_size":    &lua().MaxBodySize,
				"lua_body_buffer_size": &lua().BodyBufferSize,
			}[opt] = app.FormatSize(n)
		case "lua_env":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			lua().Env = append(lua().Env, args...)
		case "upstream":
			name, cluster, err := dynupstream.ParseCaddyfileCluster(d)
			if err != nil {
				return nil, err
			}
			if a.Upstreams == nil {
				a.Upstreams = make(map[string]*dynupstream.ClusterConfig)
			}
			if _, dup := a.Upstreams[name]; dup {
				return nil, d.Errf("upstream %s: declared twice", name)
			}
			a.Upstreams[name] = cluster
		case "persist_to_config":
			if a.PersistToConfig != nil {
				return nil, d.Err("persist_to_config: given twice")
			}
			a.PersistToConfig = new(app.PersistToConfig)
			if d.NextArg() {
				dur, err := caddy.ParseDuration(d.Val())
				if err != nil || dur < time.Second {
					return nil, d.Errf("persist_to_config: invalid interval %q (a duration of at least 1s)", d.Val())
				}
				a.PersistToConfig.Interval = caddy.Duration(dur)
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		case "metrics":
			if a.Metrics != nil {
				return nil, d.Err("metrics: given twice")
			}
			if !d.NextArg() {
				return nil, d.ArgErr()
			}
			switch d.Val() {
			case "on":
				a.Metrics = &app.MetricsConfig{}
			case "off":
				a.Metrics = &app.MetricsConfig{Disabled: true}
			default:
				return nil, d.Errf("metrics: want on or off, got %q", d.Val())
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		case "route":
			r, err := parseRoute(d, a.Routes)
			if err != nil {
				return nil, err
			}
			a.Routes = append(a.Routes, r)
		case "global_plugin":
			if !d.NextArg() {
				return nil, d.Err("global_plugin: missing plugin name")
			}
			name := d.Val()
			if _, dup := a.GlobalPlugins[name]; dup {
				return nil, d.Errf("global_plugin %s: given twice (one block per plugin)", name)
			}
			conf, err := parsePluginConfig(d, "global_plugin "+name)
			if err != nil {
				return nil, err
			}
			if a.GlobalPlugins == nil {
				a.GlobalPlugins = make(map[string]json.RawMessage)
			}
			a.GlobalPlugins[name] = conf
		default:
			return nil, d.Errf("unrecognized resty option %q", d.Val())
		}
	}
	return httpcaddyfile.App{Name: "resty", Value: caddyconfig.JSON(a, nil)}, nil
}

// parseHandler parses the handler directive (see
// phases.Handler.UnmarshalCaddyfile).
func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(phases.Handler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}

// parseStatusHandler parses the `resty_status` directive (no arguments):
// the status page and JSON on a site (phases.StatusHandler).
func parseStatusHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	handler := new(phases.StatusHandler)
	if err := handler.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	return handler, nil
}
