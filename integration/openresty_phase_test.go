package integration

import "testing"

// lua-nginx-module t/089-phase.t, rebuilt.
func TestOpenRestyPhase(t *testing.T) {
	const f = "lua-nginx-module t/089-phase.t "
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 3: get_phase in rewrite_by_lua", rewrite: `
ngx.say(ngx.get_phase())
ngx.exit(200)`, body: "rewrite\n"},
		{src: f + "TEST 4: get_phase in access_by_lua", access: `
ngx.say(ngx.get_phase())
ngx.exit(200)`, body: "access\n"},
		{src: f + "TEST 5: get_phase in content_by_lua", content: `ngx.say(ngx.get_phase())`, body: "content\n"},
		{src: f + "TEST 6: get_phase in header_filter_by_lua", content: `ngx.say("OK")`,
			hf: `ngx.header.Phase = ngx.get_phase()`, headers: map[string]string{"Phase": "header_filter"}, body: "OK\n"},
		{src: f + "TEST 7: get_phase in body_filter_by_lua", content: `ngx.exit(200)`,
			bf: `ngx.arg[1] = ngx.get_phase()`, body: "body_filter"},
		{src: f + "TEST 8: get_phase in log_by_lua", content: `ngx.say("OK")`,
			log: `ngx.log(ngx.ERR, ngx.get_phase())`, body: "OK\n", logs: []string{"msg=log |"}},
		{src: f + "TEST 9: get_phase in ngx.timer callback", content: `ngx.say("OK")`, log: `
local function f()
    ngx.log(ngx.WARN, "current phase: ", ngx.get_phase())
end
local ok, err = ngx.timer.at(0, f)
if not ok then
    ngx.log(ngx.ERR, "failed to add timer: ", err)
end`, body: "OK\n", logs: []string{"current phase: timer"}, noLogs: []string{"failed to add timer"}},
	})
}
