package integration

import "testing"

// lua-nginx-module t/133-worker-count.t, t/134-worker-count-5.t,
// t/135-worker-id.t and t/122-worker.t, rebuilt. ngx.worker.count() is
// GOMAXPROCS here (the blocks' nginx runs 1 or 5 workers: Caddy runs with
// GOMAXPROCS=1 or 5) and ngx.worker.id() is 0.
func TestOpenRestyWorker(t *testing.T) {
	const src = "lua-nginx-module "
	workers := `ngx.say("workers: ", ngx.worker.count())`
	engSuiteEnv(t, "", nil, []string{"GOMAXPROCS=1"}, []engCase{
		{src: src + "t/133-worker-count.t TEST 1: content_by_lua",
			content: workers,
			engReq:  engReq{body: "workers: 1\n"},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/135-worker-id.t TEST 1: sanity",
			content: `ngx.say("worker id: ", ngx.worker.id())`,
			engReq:  engReq{bodyRe: `^worker id: [0-1]\n$`},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/122-worker.t TEST 1: content_by_lua + ngx.worker.exiting",
			content: `ngx.say("worker exiting: ", ngx.worker.exiting())`,
			engReq:  engReq{body: "worker exiting: false\n"},
			noLogs:  []engLog{elog("error", "")}},
		{src: src + "t/122-worker.t TEST 2: content_by_lua + ngx.worker.pid",
			content: `
local pid = ngx.worker.pid()
ngx.say("worker pid: ", pid)
if pid ~= tonumber(ngx.var.pid) then
    ngx.say("worker pid is wrong.")
else
    ngx.say("worker pid is correct.")
end`,
			engReq: engReq{bodyRe: `^worker pid: \d+\nworker pid is correct\.\n$`},
			noLogs: []engLog{elog("error", "")}},
	})
	engSuiteEnv(t, "", nil, []string{"GOMAXPROCS=5"}, []engCase{
		{src: src + "t/134-worker-count-5.t TEST 1: content_by_lua",
			content: workers,
			engReq:  engReq{body: "workers: 5\n"},
			noLogs:  []engLog{elog("error", "")}},
	})
}
