// Package luaplugin is caddy-resty's Lua engine: gopher-lua states run the
// way OpenResty's workers run LuaJIT, with the ngx API installed. It knows
// nothing of Caddy; the phases package drives it for HTTP requests through
// the Request and Response types, and Go-backed Lua libraries (cjson,
// resty.http, resty.redis, …, each a package of its own) plug in through
// the host API.
//
// The engine:
//
//	pool.go      Pool: the states (workers), picking a state per request, retirement, the watchdog
//	vm.go        VM (one state) and its threads: a thread per request, Suspend, runs,
//	             lua-nginx-module's tracebacks
//	statelock.go a state's lock: a mutex whose waiters can time out
//	budget.go    the per-run time budget (a context gopher-lua checks between instructions)
//	memguard.go  lua_max_memory: stopping the runs in progress when the heap passes it
//	concat.go    the `..` guard against oversized strings (lua_max_string_size)
//	logqueue.go  the bounded log-phase queue
//	timer.go     ngx.timer.at/every, running_count, pending_count; premature runs
//	config.go    Config and its defaults
//	compile.go   compiling chunks (and loadstring/load); syntax errors naming chunk and
//	             line; multiple assignments rewritten around gopher-lua's bug
//	coroutine.go the coroutine library as lua-nginx-module gives it: status checks,
//	             per-request ownership, entry-thread yield, the yield boundary, the
//	             nesting bound; tail calls of Go functions run as calls
//	errnames.go  LuaJIT's runtime error messages naming the variable at fault
//	reload.go    *_by_lua_file scripts recompiled in place (POST /resty/lua/reload)
//	plugin.go    route plugins (resty.plugins.NAME: LoadPlugin, PluginConf, RunPlugin)
//	             and route conditions (EvalCondition)
//	require.go   require (Lua 5.1's, with its messages): package.path/loaders, built-in
//	             modules, resty.core preloaded, read-only package.path
//	sandbox.go   the standard library as scripts see it: pcall/xpcall and ngx.exit,
//	             error with Lua 5.1's levels, os.getenv (lua_env), no dofile/loadfile,
//	             the global-write warning, the protected string metatable, print
//	numbers.go   tonumber with Lua 5.1's rules, collectgarbage without a process GC
//	host.go      the host API for Go-backed libraries (RegisterModule, CheckPhase,
//	             Suspend, Context, AtRunEnd, Resource, Dict, MaxString, CheckBudget)
//	values.go    LuaJIT's number format, value conversions, ngx.null
//	testing.go   a test hook for the libraries' tests (luatest runs Lua on a real pool)
//
// The ngx API, by area:
//
//	ngx.go         the ngx table: constants, exit/redirect, say/print/flush/eof,
//	               sleep, log, get_phase, worker, config, location, exec
//	ngx_var.go     ngx.var
//	ngx_req.go     ngx.req (headers, URI, args, method, body data)
//	body.go        ngx.req.read_body/discard_body/get_body_file: bounded, spooled, timed
//	ngx_resp.go    ngx.header, ngx.status, ngx.resp, ngx.arg
//	ngx_time.go    ngx.time/now/today/localtime/utctime/http_time/cookie_time
//	ngx_encode.go  base64, md5, sha1, hmac, crc32, escape/unescape_uri, args, quote_sql_str
//	ngxre.go       ngx.re (the PCRE→RE2 translation is internal/pcre)
//	ngxshared.go   ngx.shared (the dicts are package shdict)
//
// The worker model: a few states (two per GOMAXPROCS by default), each
// serving many requests at once. A request is bound to one state for its
// life and runs on a thread of its own there; only one thread of a state
// runs at a time, under the state's lock. Every wait (ngx.sleep, body
// reads, output to the client, cosockets) releases the lock and takes it
// back when the wait is over (VM.Suspend), so waits never hold a state —
// also inside pcall, which gopher-lua cannot yield across: nothing yields,
// the waiting goroutine lets go of the lock. The budget counts a run's Lua
// time; a run over it is stopped alone (its thread is dropped; the state,
// its module state and its timers go on).
package luaplugin
