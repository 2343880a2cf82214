package phases

import (
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// Access-log fields: what the handler did for a request, added to Caddy's
// access log entry through its extra log fields (written when the server
// logs the request, after this handler returns). Only the fields that
// apply are added:
//
//	resty_route             the matched route
//	resty_upstream          the upstream cluster proxied to (proxy_pass)
//	resty_upstream_addr     the server of the last try
//	resty_upstream_status   its status (0: no response)
//	resty_upstream_latency  the last try's duration, in seconds
//	resty_consumer          the consumer an auth plugin matched
//	                        ({http.vars.consumer_name})
//	resty_lua_errors        Lua errors of the request, rewrite to body_filter
const (
	logRoute           = "resty_route"
	logUpstream        = "resty_upstream"
	logUpstreamAddr    = "resty_upstream_addr"
	logUpstreamStatus  = "resty_upstream_status"
	logUpstreamLatency = "resty_upstream_latency"
	logConsumer        = "resty_consumer"
	logLuaErrors       = "resty_lua_errors"
)

// logLuaError logs a Lua error of the request's response path and counts
// it for the access log.
func (rs *reqState) logLuaError(phase luaplugin.Phase, err error) {
	rs.luaErrors++
	rs.countLuaError(phase)
	luaplugin.LogError(rs.errLogger(), phase, err)
}

// addLogFields adds the request's access-log fields.
func (rs *reqState) addLogFields() {
	r := rs.req.R
	if r == nil {
		return
	}
	ctx := r.Context()
	extra, _ := ctx.Value(caddyhttp.ExtraLogFieldsCtxKey).(*caddyhttp.ExtraLogFields)
	if extra == nil {
		return
	}
	if rs.rt.name != "" {
		extra.Set(zap.String(logRoute, rs.rt.name))
	}
	if ps := &rs.px; ps.used {
		if ps.cluster != "" {
			extra.Set(zap.String(logUpstream, ps.cluster))
		}
		if n := len(ps.tries); n > 0 {
			last := ps.tries[n-1]
			extra.Set(zap.String(logUpstreamAddr, last.addr))
			extra.Set(zap.Int(logUpstreamStatus, last.status))
			extra.Set(zap.Float64(logUpstreamLatency, last.total.Seconds()))
		}
	}
	if rs.h.Routes {
		// Only route plugins name consumers.
		if c, ok := caddyhttp.GetVar(ctx, "consumer_name").(string); ok && c != "" {
			extra.Set(zap.String(logConsumer, c))
		}
	}
	if rs.luaErrors > 0 {
		extra.Set(zap.Int(logLuaErrors, rs.luaErrors))
	}
}
