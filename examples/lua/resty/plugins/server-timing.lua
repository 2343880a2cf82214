-- A route plugin (apps.resty.global_plugins / a route's `plugin`): adds a
-- Server-Timing header with the time the gateway has spent on the request.
local _M = {
	name = "server-timing",
	priority = 1000,
	schema = {
		type = "object",
		properties = {
			metric = {type = "string", default = "gw", pattern = "^[A-Za-z0-9_-]+$"},
		},
	},
}

function _M.header_filter(conf, ctx)
	local ms = (ngx.now() - ngx.req.start_time()) * 1000
	ngx.header["Server-Timing"] = string.format("%s;dur=%.1f;desc=%q", conf.metric, ms, ctx.route_name or "none")
end

return _M
