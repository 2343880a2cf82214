package integration

import "testing"

// lua-nginx-module t/062-count.t, rebuilt: the blocks whose tables have
// lua-nginx-module's members here (the others differ: see the README).
func TestOpenRestyCount(t *testing.T) {
	const src = "lua-nginx-module t/062-count.t "
	// count prints the number of entries of a table.
	count := func(expr, label string) string {
		return `
local n = 0
for _ in pairs(` + expr + `) do
    n = n + 1
end
ngx.say("` + label + `", n)`
	}
	engSuite(t, "", nil, []engCase{
		{src: src + "TEST 8: entries under ngx.location",
			content: count("ngx.location", "n = "),
			engReq:  engReq{request: "GET /test", body: "n = 2\n"},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "TEST 12: shdict metatable",
			// The suite's Caddy declares the shared dict d.
			content: `
local dogs = ngx.shared.d
local mt = dogs.__index
local n = 0
for _ in pairs(mt) do
    n = n + 1
end
ngx.say("n = ", n)`,
			engReq: engReq{request: "GET /test", body: "n = 22\n"},
			noLogs: []engLog{elog("error", "")}},
		{src: src + "TEST 14: entries under ngx.timer",
			content: count("ngx.timer", "n = "),
			engReq:  engReq{request: "GET /test", body: "n = 4\n"},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "TEST 15: entries under ngx.config",
			content: count("ngx.config", "n = "),
			engReq:  engReq{request: "GET /test", body: "n = 6\n"},
			noLogs:  []engLog{elog("error", "")}},
	})
}
