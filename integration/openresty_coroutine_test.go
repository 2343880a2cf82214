package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// lua-nginx-module t/091-coroutine.t, rebuilt: user coroutines inside
// requests. The cosocket blocks connect with resty.http (caddy-resty has
// no ngx.socket.tcp) to three local servers instead of public hosts.
func TestOpenRestyCoroutine(t *testing.T) {
	var backends []string
	for i := 0; i < 3; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		u, _ := url.Parse(srv.URL)
		backends = append(backends, fmt.Sprintf("{name = %q, port = %s}", fmt.Sprintf("backend%d", i+1), u.Port()))
	}
	// connectWorker connects to a backend, yielding twice on the way.
	connectWorker := `
local http = require "resty.http"
local function connector(b)
    local httpc = http.new()
    local ok, err = httpc:connect("127.0.0.1", b.port)
    coroutine.yield()
    if not ok then
        ngx.say("failed to connect to: ", b.name, " error: ", err)
        return
    end
    coroutine.yield()
    ngx.say("successfully connected to: ", b.name)
    httpc:close()
end
`
	allBackends := "local targets = {" + strings.Join(backends, ", ") + "}\n"

	const src = "lua-nginx-module t/091-coroutine.t "
	engSuite(t, "", nil, []engCase{
		{src: src + "TEST 1: basic coroutine print",
			content: `
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local function counter()
    local n = 0
    for _ = 1, 20 do
        ngx.say("Hello, ", n)
        yield()
        n = n + 1
    end
end
local co = create(counter)
for _ = 1, 3 do
    resume(co)
    ngx.say("***")
end`,
			engReq: engReq{body: elines("Hello, 0", "***", "Hello, 1", "***", "Hello, 2", "***")},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 2: basic coroutine2",
			content: `
local function loop(id)
    local n = 0
    while true do
        ngx.say("cc", id, ": ", n)
        coroutine.yield()
        n = n + 1
    end
end
local queue = {}
for i = 1, 3 do
    queue[#queue + 1] = coroutine.create(function() loop(i) end)
end
for _ = 1, 9 do
    local co = table.remove(queue, 1)
    coroutine.resume(co)
    queue[#queue + 1] = co
end`,
			engReq: engReq{body: elines("cc1: 0", "cc2: 0", "cc3: 0", "cc1: 1", "cc2: 1", "cc3: 1", "cc1: 2", "cc2: 2", "cc3: 2")}},

		{src: src + "TEST 3: basic coroutine and cosocket (local backends)",
			content: connectWorker + allBackends + `
local queue = {}
for _, b in ipairs(targets) do
    queue[#queue + 1] = coroutine.create(function() connector(b) end)
end
while #queue > 0 do
    local co = table.remove(queue, 1)
    if coroutine.resume(co) then
        queue[#queue + 1] = co
    end
end
ngx.say("*** All Done ***")`,
			engReq: engReq{body: elines("successfully connected to: backend1", "successfully connected to: backend2",
				"successfully connected to: backend3", "*** All Done ***")},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 4: coroutine.wrap(generate prime numbers)",
			content: primeSieve,
			engReq:  engReq{body: elines("2", "3", "5", "7")}},

		{src: src + "TEST 6: coroutine.wrap(generate fib)",
			content: `
local function fibs(limit)
    return coroutine.wrap(function()
        local a, b = 1, 1
        while a <= limit do
            coroutine.yield(a)
            a, b = b, a + b
        end
    end)
end
for v in fibs(1000) do ngx.say(v) end`,
			engReq: engReq{body: elines("1", "1", "2", "3", "5", "8", "13", "21", "34", "55", "89", "144", "233", "377", "610", "987")}},

		{src: src + "TEST 7: coroutine wrap and cosocket (local backends)",
			content: connectWorker + allBackends + `
local fns = {}
for _, b in ipairs(targets) do
    fns[#fns + 1] = coroutine.wrap(function() connector(b) end)
end
for _ = 1, 3 do
    for i = 1, 3 do fns[i]() end
end
ngx.say("*** All Done ***")`,
			engReq: engReq{body: elines("successfully connected to: backend1", "successfully connected to: backend2",
				"successfully connected to: backend3", "*** All Done ***")}},

		{src: src + "TEST 8: coroutine status, running",
			content: `
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local status, running = coroutine.status, coroutine.running
local function body(me)
    if running() ~= me then ngx.say("error"); return end
    ngx.say("running: ", status(me))
    yield()
    local child = create(function(parent)
        ngx.say("normal: ", status(parent))
    end)
    resume(child, me)
end
local co = create(body)
ngx.say("suspended: ", status(co))
resume(co, co)
ngx.say("suspended: ", status(co))
resume(co, co)
ngx.say("dead: ", status(co))`,
			engReq: engReq{body: elines("suspended: suspended", "running: running", "suspended: suspended", "normal: normal", "dead: dead")}},

		{src: src + "TEST 9: entry coroutine yielded will be resumed immediately",
			content: `
ngx.say("[", {coroutine.yield()}, "]")
ngx.say("[", {coroutine.yield(1, "a")}, "]")
ngx.say("done")`,
			engReq: engReq{body: elines("[]", "[]", "done")}},

		{src: src + "TEST 10: thread traceback (multi-thread)",
			content: `
local resumer = function(co) coroutine.resume(co) end
local failing = function() unknown.unknown = 1 end
local w1 = coroutine.wrap(resumer)
local w2 = coroutine.wrap(failing)
local w3 = coroutine.wrap(function() w1(w2) end)
w3()
ngx.say("hello")`,
			engReq: engReq{status: 500, lacks: "hello"},
			logs:   []engLog{elog("error", "bad argument #1 to 'resume' (coroutine expected)"), elog("error", "stack traceback:")}},

		{src: src + "TEST 11: thread traceback (only the entry thread)",
			content: `
unknown.unknown = 1
ngx.say("hello")`,
			engReq: engReq{status: 500, skipBody: true},
			logs:   []engLog{elog("error", "stack traceback:")}},

		{src: src + "TEST 12: bug: resume dead coroutine with args",
			content: `
local function out(...)
    ngx.print(table.concat({...}, " "), "\n")
end
local function show(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
    out(unpack(parts))
end
local function helper(a)
    show("foo", a)
    return coroutine.yield(2 * a)
end
local co = coroutine.create(function(a, b)
    show("co-body", a, b)
    local r = helper(a + 1)
    show("co-body", r)
    local r2, s = coroutine.yield(a + b, a - b)
    show("co-body", r2, s)
    return b, "end"
end)
show("main", coroutine.resume(co, 1, 10))
show("main", coroutine.resume(co, "r"))
show("main", coroutine.resume(co, "x", "y"))
show("main", coroutine.resume(co, "x", "y"))`,
			engReq: engReq{body: elines("co-body 1 10", "foo 2", "main true 4", "co-body r", "main true 11 -9",
				"co-body x y", "main true 10 end", "main false cannot resume dead coroutine")}},

		{src: src + "TEST 13: deeply nested coroutines",
			content: `
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local inner
local function outer()
    ngx.say("f begin")
    yield()
    local c2 = create(inner)
    ngx.say("1: resuming c2")
    resume(c2)
    ngx.say("2: resuming c2")
    resume(c2)
    yield()
    ngx.say("3: resuming c2")
    resume(c2)
    ngx.say("f done")
end
inner = function()
    ngx.say("g begin")
    yield()
    ngx.say("g going")
    yield()
    ngx.say("g done")
end
local c1 = create(outer)
for i = 1, 3 do
    ngx.say(i, ": resuming c1")
    resume(c1)
end
ngx.say("main done")`,
			engReq: engReq{body: elines("1: resuming c1", "f begin", "2: resuming c1", "1: resuming c2", "g begin",
				"2: resuming c2", "g going", "3: resuming c1", "3: resuming c2", "g done", "f done", "main done")}},

		{src: src + "TEST 14: using ngx.exit in user coroutines",
			content: `
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local code = 400
local second
local function first()
    local c2 = create(second)
    yield()
    code = code + 1
    resume(c2)
    yield()
    resume(c2)
end
second = function()
    code = code + 1
    yield()
    code = code + 1
    ngx.exit(code)
end
local c1 = create(first)
resume(c1)
resume(c1)
resume(c1)
ngx.say("done")`,
			engReq: engReq{status: 403, lacks: "done"},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 16: coroutine.create in header_filter_by_lua",
			phases: map[string]string{"header_filter": `
local function f()
    yield()
end
local co = coroutine.create(f)
ngx.say("done")`},
			site:   `respond "hello" 200`,
			engReq: engReq{broken: true},
			logs:   []engLog{elog("error", "API disabled in the context of header_filter_by_lua*")}},

		{src: src + "TEST 17: resume coroutines from within another one that is not its parent",
			content: `
local say = ngx.say
local c1, c2
c1 = coroutine.create(function()
    say("f 1")
    say(coroutine.resume(c2))
    say("f 2")
end)
c2 = coroutine.create(function()
    say("g 1")
    say("g 2")
end)
coroutine.resume(c1)`,
			engReq: engReq{body: elines("f 1", "g 1", "g 2", "true", "f 2")}},

		{src: src + "TEST 18: infinite recursive calls of coroutine.resume",
			content: `
local say = ngx.say
local c1, c2
c1 = coroutine.create(function()
    say("f 1")
    say(coroutine.resume(c2))
    say("f 2")
end)
c2 = coroutine.create(function()
    say("g 1")
    say(coroutine.resume(c1))
    say("g 2")
end)
coroutine.resume(c1)`,
			engReq: engReq{body: elines("f 1", "g 1", "falsecannot resume normal coroutine", "g 2", "true", "f 2")},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 19: resume running (entry) coroutines",
			content: `
local me = coroutine.running()
ngx.say(coroutine.status(me))
ngx.say(coroutine.resume(me))`,
			engReq: engReq{body: elines("running", "falsecannot resume running coroutine")}},

		{src: src + "TEST 20: resume running (user) coroutines",
			content: `
local co
co = coroutine.create(function()
    ngx.say("f: ", coroutine.status(co))
    ngx.say("f: ", coroutine.resume(co))
end)
ngx.say("chunk: ", coroutine.status(co))
ngx.say("chunk: ", coroutine.resume(co))`,
			engReq: engReq{body: elines("chunk: suspended", "f: running", "f: falsecannot resume running coroutine", "chunk: true")}},

		{src: src + "TEST 21: user coroutine end with errors, and the parent coroutine gets the right status",
			content: `
local co = coroutine.create(function()
    error("bad")
end)
ngx.say("child: resume: ", coroutine.resume(co))
ngx.say("child: status: ", coroutine.status(co))
ngx.say("parent: status: ", coroutine.status(coroutine.running()))`,
			engReq: engReq{bodyRe: `^child: resume: false/\S+/c\d+_content\.lua:3: bad\nchild: status: dead\nparent: status: running\n$`},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 22: entry coroutine is yielded by hand and still gets the right status",
			content: `
local me = coroutine.running()
ngx.say("status: ", coroutine.status(me))
coroutine.yield(me)
ngx.say("status: ", coroutine.status(me))`,
			engReq: engReq{body: elines("status: running", "status: running")}},

		{src: src + "TEST 23: github issue #208: coroutine as iterator doesn't work",
			content: `
local wrap, yield = coroutine.wrap, coroutine.yield
local function walk(st)
    for i = 1, st.i do
        yield(st.path, tostring(i))
    end
    return nil
end
local function iterate(path)
    return wrap(walk), { i = 10, path = path }
end
local f, st, ctl = iterate("test")
while true do
    local path, value = f(st, ctl)
    ctl = path
    if ctl == nil then break end
    ngx.say(path, value)
end`,
			engReq: engReq{reqHeaders: map[string]string{"Cookie": "abc=32"},
				body: elines("test1", "test2", "test3", "test4", "test5", "test6", "test7", "test8", "test9", "test10")}},

		{src: src + "TEST 28: coroutine context collicisions",
			content: `
local function three() return 3 end
for _ = 1, 10 do
    collectgarbage()
    local co = coroutine.create(three)
    if coroutine.status(co) == "dead" then
        ngx.say("found a dead coroutine")
        return
    end
    coroutine.resume(co)
end
ngx.say("ok")`,
			engReq: engReq{body: "ok\n"}},

		{src: src + "TEST 29: require \"coroutine\"",
			content: `
local co = require "coroutine"
local create, resume, yield = co.create, co.resume, co.yield
local function counter()
    local n = 0
    for _ = 1, 20 do
        ngx.say("Hello, ", n)
        ngx.sleep(0.001)
        yield()
        n = n + 1
    end
end
local c = create(counter)
for _ = 1, 3 do
    resume(c)
    ngx.say("***")
end`,
			engReq: engReq{body: elines("Hello, 0", "***", "Hello, 1", "***", "Hello, 2", "***")}},

		{src: src + "TEST 30: basic coroutine in header_filter_by_lua",
			phases:   map[string]string{"header_filter": coPrintLoop},
			site:     `respond "ok" 200`,
			engReq:   engReq{body: "ok"},
			grep:     `co (?:yield: \d+|resume\.)`,
			grepWant: []string{"co resume.", "co yield: 0", "co resume.", "co yield: 1", "co resume.", "co yield: 2"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 31: basic coroutine in body_filter_by_lua",
			phases: map[string]string{"body_filter": coPrintLoop},
			site:   `respond "ok" 200`,
			engReq: engReq{body: "ok"},
			grep:   `co (?:yield: \d+|resume\.)`,
			grepWant: []string{"co resume.", "co yield: 0", "co resume.", "co yield: 1", "co resume.", "co yield: 2",
				"co resume.", "co yield: 0", "co resume.", "co yield: 1", "co resume.", "co yield: 2"},
			noLogs: []engLog{elog("error", "")}},

		{src: src + "TEST 32: coroutine.wrap propagates errors to parent coroutine",
			content: `
local co = coroutine.wrap(function()
    print("in wrapped coroutine")
    error("something went wrong")
end)
co()
ngx.say("ok")`,
			engReq: engReq{status: 500, lacks: "ok"},
			logs: []engLog{elog("info", "in wrapped coroutine"),
				elogRe("error", `c\d+_content\.lua:4: something went wrong`), elog("error", "stack traceback:")}},

		{src: src + "TEST 33: coroutine.wrap propagates nested errors to parent coroutine",
			content: `
local inner = coroutine.wrap(function()
    error("something went wrong in co1")
end)
local outer = coroutine.wrap(function()
    inner()
end)
outer()`,
			engReq: engReq{status: 500, skipBody: true},
			logs:   []engLog{elogRe("error", `c\d+_content\.lua:3: something went wrong in co1`), elog("error", "stack traceback:")}},

		{src: src + "TEST 34: coroutine.wrap propagates nested errors with stack level to parent coroutine",
			content: `
local inner = coroutine.wrap(function()
    error("something went wrong in co1", 2)
end)
local outer = coroutine.wrap(function()
    inner()
end)
outer()`,
			engReq: engReq{status: 500, skipBody: true},
			logs:   []engLog{elogRe("error", `(?m)^something went wrong in co1$`), elog("error", "stack traceback:")}},

		{src: src + "TEST 35: coroutine.wrap runtime errors do not log errors",
			content: `
local co = coroutine.wrap(function()
    print("in wrapped coroutine")
    error("something went wrong")
end)
co()`,
			engReq: engReq{status: 500, skipBody: true},
			// One error: the request's, none for the coroutine itself.
			grep:     `something went wrong`,
			grepWant: []string{"something went wrong"},
			noLogs:   []engLog{elog("warn", "")}},

		{src: src + "TEST 36: coroutine.wrap does not return status boolean on yield",
			content: `
local co = coroutine.wrap(function()
    coroutine.yield("ok", "err")
end)
local a, b = co()
ngx.say(a, ", ", b)`,
			engReq: engReq{body: "ok, err\n"}},

		{src: src + "TEST 37: coroutine.wrap does not return status boolean on done",
			content: `
local co = coroutine.wrap(function() end)
local first = co()
ngx.say(first)`,
			engReq: engReq{body: "nil\n"}},

		{src: src + "TEST 39: coroutine.wrap creates different function refs",
			content: `
local body = function() end
local w1 = coroutine.wrap(body)
local w2 = coroutine.wrap(body)
ngx.say("co == co2: ", w1 == w2)`,
			engReq: engReq{body: "co == co2: false\n"}},

		{src: src + "TEST 40: coroutine.wrap supports yielding and resuming",
			content: `
local step = coroutine.wrap(function()
    local n = 0
    for _ = 1, 20 do
        ngx.say("co yield: ", n)
        coroutine.yield()
        n = n + 1
    end
end)
for _ = 1, 3 do
    ngx.say("co resume")
    step()
end`,
			engReq: engReq{body: elines("co resume", "co yield: 0", "co resume", "co yield: 1", "co resume", "co yield: 2")}},

		{src: src + "TEST 41: coroutine.wrap return values",
			content: `
local step = coroutine.wrap(function()
    local n = 0
    for _ = 1, 20 do
        coroutine.yield(n, n + 1)
        n = n + 1
    end
end)
for _ = 1, 3 do
    ngx.say("co resume")
    local a, b = step()
    ngx.say("co yield: ", a, ", ", b)
end`,
			engReq: engReq{body: elines("co resume", "co yield: 0, 1", "co resume", "co yield: 1, 2", "co resume", "co yield: 2, 3")}},

		{src: src + "TEST 42: coroutine.wrap arguments",
			content: `
local step = coroutine.wrap(function(inc)
    local n = 0
    for _ = 1, 20 do
        ngx.say("co yield: ", n)
        coroutine.yield()
        n = n + inc
    end
end)
for i = 1, 3 do
    ngx.say("co resume")
    step(i)
end`,
			engReq: engReq{body: elines("co resume", "co yield: 0", "co resume", "co yield: 1", "co resume", "co yield: 2")}},

		{src: src + "TEST 43: coroutine.wrap in header_filter_by_lua (orig coroutine.wrap)",
			phases: map[string]string{"header_filter": `
local step = coroutine.wrap(function()
    local n = 0
    for _ = 1, 20 do
        print("co yield: ", n)
        coroutine.yield()
        n = n + 1
    end
end)
for _ = 1, 3 do
    print("co resume.")
    step()
end`},
			site:     `respond "" 200`,
			engReq:   engReq{skipBody: true},
			grep:     `co (?:yield: \d+|resume\.)`,
			grepWant: []string{"co resume.", "co yield: 0", "co resume.", "co yield: 1", "co resume.", "co yield: 2"},
			noLogs:   []engLog{elog("error", "")}},

		{src: src + "TEST 44: coroutine.wrap in header_filter_by_lua propagates errors (orig coroutine.wrap)",
			phases: map[string]string{"header_filter": `
local co = coroutine.wrap(function()
    print("in wrapped coroutine")
    error("something went wrong")
end)
local err = co()
ngx.log(ngx.CRIT, "err: ", err)`},
			site:   `respond "" 200`,
			engReq: engReq{broken: true},
			logs: []engLog{elog("info", "in wrapped coroutine"),
				elogRe("error", `c\d+_header_filter\.lua:6: \S+c\d+_header_filter\.lua:4: something went wrong`),
				elog("error", "stack traceback:"), elog("error", "in function 'co'")}},

		{src: src + "TEST 46: coroutine.resume runtime errors do not log errors",
			content: `
local ok, err = coroutine.resume(coroutine.create(function()
    error("something went wrong")
end))
ngx.say(ok)
ngx.say(err)`,
			engReq: engReq{bodyRe: `^false\n\S+c\d+_content\.lua:3: something went wrong\n$`},
			noLogs: []engLog{elog("error", ""), elog("", "stack traceback:")}},

		// Last: it removes coroutine.create and coroutine.resume from the
		// state's coroutine table (OpenResty runs each block in a fresh
		// nginx), so it puts them back.
		{src: src + "TEST 5: coroutine.wrap(generate prime numbers,reset create and resume)",
			content: `
local saved_create, saved_resume = coroutine.create, coroutine.resume
coroutine.create = nil
coroutine.resume = nil
` + primeSieve + `
coroutine.create, coroutine.resume = saved_create, saved_resume`,
			engReq: engReq{body: elines("2", "3", "5", "7")}},
	})
}

// primeSieve prints the primes up to 10 with a chain of coroutine.wrap
// filters.
const primeSieve = `
local function numbers(n)
    return coroutine.wrap(function()
        for i = 2, n do coroutine.yield(i) end
    end)
end
local function sieve(p, source)
    return coroutine.wrap(function()
        while true do
            local n = source()
            if n == nil then return end
            if math.fmod(n, p) ~= 0 then coroutine.yield(n) end
        end
    end)
end
local gen = numbers(10)
while true do
    local n = gen()
    if n == nil then break end
    ngx.say(n)
    gen = sieve(n, gen)
end`

// coPrintLoop resumes a printing coroutine three times (print is
// ngx.log at NOTICE: Caddy's info level).
const coPrintLoop = `
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local co = create(function()
    local n = 0
    for _ = 1, 20 do
        print("co yield: ", n)
        yield()
        n = n + 1
    end
end)
for _ = 1, 3 do
    print("co resume.")
    resume(co)
end`
