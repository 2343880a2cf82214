package restyredis

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// testRedis is a redis-server started for a test.
type testRedis struct {
	port   int
	sock   string
	admin  *redis.Client
	output *bytes.Buffer
}

// startRedis starts a redis-server on a free port (and a unix socket),
// without persistence, stopped when the test ends.
func startRedis(t testing.TB, extra ...string) *testRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server is not on PATH: the resty.redis tests need a real server; " +
			"install it with `apt-get install -y redis-server`")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		dir := t.TempDir()
		sock := filepath.Join(dir, "redis.sock")
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--unixsocket", sock, "--unixsocketperm", "700",
		}, extra...)
		cmd := exec.Command(bin, args...)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Kill()
			<-exited
		}
		password := ""
		for i, a := range extra {
			if a == "--requirepass" && i+1 < len(extra) {
				password = extra[i+1]
			}
		}
		admin := redis.NewClient(&redis.Options{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Password: password,
			Protocol: 2, DisableIdentity: true, PoolSize: 1, MaxRetries: -1,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				lastErr = fmt.Errorf("redis-server exited: %s", out.String())
			default:
				lastErr = admin.Ping(context.Background()).Err()
			}
			if lastErr == nil || strings.Contains(fmt.Sprint(lastErr), "exited") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if lastErr == nil {
			t.Cleanup(func() {
				admin.Close()
				stop()
			})
			return &testRedis{port: port, sock: sock, admin: admin, output: out}
		}
		admin.Close()
		stop()
	}
	t.Fatalf("could not start redis-server: %v", lastErr)
	return nil
}

// info returns a field of INFO.
func (r *testRedis) info(t testing.TB, field string) int {
	t.Helper()
	s, err := r.admin.Info(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no %s in INFO", field)
	return 0
}

// connected is connected_clients without the admin client.
func (r *testRedis) connected(t testing.TB) int { return r.info(t, "connected_clients") - 1 }

// accepted is total_connections_received so far.
func (r *testRedis) accepted(t testing.TB) int { return r.info(t, "total_connections_received") }

// waitConnected waits until Lua's connections number n.
func (r *testRedis) waitConnected(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.connected(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients: %d, want %d", r.connected(t), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redisPrelude(port int) string {
	return fmt.Sprintf(`
		local redis = require "resty.redis"
		local function conn(opts)
			local red = redis:new()
			red:set_timeouts(1000, 1000, 1000)
			local ok, err = red:connect("127.0.0.1", %d, opts)
			assert(ok, err)
			return red
		end
		local function show(...)
			local n = select("#", ...)
			local out = {}
			for i = 1, n do
				local v = select(i, ...)
				if v == ngx.null then
					out[i] = "null"
				elseif type(v) == "table" then
					local parts = {}
					for j = 1, #v do
						local e = v[j]
						if e == ngx.null then
							parts[j] = "null"
						elseif type(e) == "table" then
							parts[j] = "{" .. tostring(e[1]) .. "," .. tostring(e[2]) .. "}"
						else
							parts[j] = tostring(e)
						end
					end
					out[i] = "[" .. table.concat(parts, ",") .. "]"
				else
					out[i] = tostring(v)
				end
			end
			ngx.say(table.concat(out, " "))
		end
	`, port)
}

func TestRestyRedisCommands(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		show(red:set("dog", "an animal"))
		show(red:get("dog"))
		show(red:get("nokey"))
		show(red:set("n", 10, "EX", 100))
		show(red:incr("n"))
		show(red:incrby("n", 1e15) == 1e15 + 11)
		show(red:ttl("n") > 0)
		show(red:incr("dog"))
		show(red:del("dog", "nokey"))
		show(red:rpush("list", "a", "b", "c"))
		show(red:lrange("list", 0, -1))
		show(red:mget("list", "nokey", "n"))
		show(red:hmset("h", { f1 = "v1" }))
		show(red:hmset("h", "f2", "v2", "f3", 3))
		local all = red:hgetall("h")
		local h = red:array_to_hash(all)
		show(#all, h.f1, h.f2, h.f3)
		show(red:hmget("h", { "f1", "nof", "f3" }))
		show(red:hmget("h", "f2"))
		show(red:nosuchcommand("x"))
		show(red:SET("upper", "case"), red:GET("upper"))
		show(red:blpop("list", 1))
		show(red:get_reused_times())
		show(red:close())
		show(red:get("dog"))
		show(red:close())
		show(redis:new():get("x"))
	`)
	want := "OK\n" +
		"an animal\n" +
		"null\n" +
		"OK\n" +
		"11\n" +
		"true\n" +
		"true\n" +
		"false ERR value is not an integer or out of range\n" +
		"1\n" +
		"3\n" +
		"[a,b,c]\n" +
		"[null,null,1000000000000011]\n" +
		"OK\n" +
		"OK\n" +
		"6 v1 v2 3\n" +
		"[v1,null,3]\n" +
		"[v2]\n" +
		"false ERR unknown command 'nosuchcommand', with args beginning with: 'x' \n" +
		"OK case\n" +
		"[list,a]\n" +
		"0\n" +
		"1\n" +
		"nil closed\n" +
		"nil closed\n" +
		"nil closed\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestRestyRedisPipelineAndScripts(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		red:init_pipeline()
		show(red:set("cat", "Marry"))
		red:set("horse", "Bob")
		red:get("cat")
		red:get("nokey")
		red:incr("cat")
		red:lrange("nolist", 0, -1)
		local res, err = red:commit_pipeline()
		show(res)
		show(red:commit_pipeline())
		red:init_pipeline(2)
		red:get("cat")
		red:cancel_pipeline()
		show(red:commit_pipeline())
		red:init_pipeline()
		show(red:commit_pipeline())

		show(red:eval("return {KEYS[1], ARGV[1], {1, 2}, redis.call('get', KEYS[1])}", 1, "cat", "arg"))
		local sha = red:script("load", "return redis.call('get', KEYS[1])")
		show(#sha)
		show(red:evalsha(sha, 1, "horse"))
		show(red:eval("return redis.error_reply('my error')", 0))
		show(red:eval("return {1, redis.error_reply('inner')}", 0))

		show(red:multi())
		show(red:set("a", "abc"))
		show(red:lpop("a"))
		show(red:set_keepalive())
		local ans = red:exec()
		show(ans[1], ans[2][1], ans[2][2])
		show(red:set_keepalive())
	`)
	want := "\n" + // a queued command returns nothing
		"[OK,OK,Marry,null,{false,ERR value is not an integer or out of range},{nil,nil}]\n" +
		"nil no pipeline\n" +
		"nil no pipeline\n" +
		"[]\n" +
		"[cat,arg,{1,2},Marry]\n" +
		"40\n" +
		"Bob\n" +
		"false my error\n" +
		"[1,{false,ERR inner}]\n" + // Redis prefixes nested error replies
		"OK\n" +
		"QUEUED\n" +
		"QUEUED\n" +
		"nil in transaction\n" +
		"OK false WRONGTYPE Operation against a key holding the wrong kind of value\n" +
		"1\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestRestyRedisKeepaliveReuseCountedByServer(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	before := r.accepted(t)
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		for i = 1, 20 do
			local red = conn()
			if i > 1 then assert(red:get_reused_times() == i - 1, red:get_reused_times()) end
			assert(red:set("k" .. i, i))
			assert(red:set_keepalive(10000, 10) == 1)
			local ok, err = red:get("k")
			assert(not ok and err == "closed")
		end
		ngx.print("ok")
	`)
	if out != "ok" {
		t.Fatal(out)
	}
	if n := r.accepted(t) - before; n != 1 {
		t.Fatalf("20 connect/set_keepalive cycles opened %d connections, want 1", n)
	}
	r.waitConnected(t, 1)

	before = r.accepted(t)
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		for i = 1, 5 do
			local red = conn({ pool = "other" })
			assert(red:get_reused_times() == 0)
			assert(red:ping())
			assert(red:close())
		end
	`)
	if n := r.accepted(t) - before; n != 5 {
		t.Fatalf("5 connect/close cycles opened %d connections, want 5", n)
	}
	r.waitConnected(t, 1)
}

func TestRestyRedisPoolSizeAndIdleTimeout(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		local reds = {}
		for i = 1, 5 do reds[i] = conn() assert(reds[i]:ping()) end
		for i = 1, 5 do assert(reds[i]:set_keepalive(0, 2)) end
	`)
	r.waitConnected(t, 2)
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		assert(red:get_reused_times() > 0)
		assert(red:set_keepalive(100))
	`)
	// the idle timeout closes it, the other one stays (no limit)
	r.waitConnected(t, 1)
}

func TestRestyRedisSelectDoesNotLeak(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		show(red:select(2))
		show(red:set("where", "db2"))
		show(red:set_keepalive())

		red = conn()
		show(red:get_reused_times())
		show(red:get("where"))          -- database 0: not there
		show(red:set("where", "db0"))
		show(red:set_keepalive())

		red = conn({ db = 2 })
		show(red:get("where"))
		show(red:select(3), red:set("where", "db3"))
		show(red:set_keepalive())

		red = conn({ db = 2 })
		show(red:get_reused_times(), red:get("where"))
		red:init_pipeline()
		red:get("where")
		show(red:commit_pipeline())
		show(red:set_keepalive())

		red = conn()
		red:init_pipeline()
		red:get("where")
		red:select(3)
		red:get("where")
		show(red:commit_pipeline())
		show(red:set_keepalive())
		red = conn()
		show(red:get("where"))
		show(red:set_keepalive())
	`)
	want := "OK\nOK\n1\n" +
		"1\nnull\nOK\n1\n" +
		"db2\nOK OK\n1\n" +
		"1 db2\n[db2]\n1\n" +
		"[db0,OK,db3]\n1\n" +
		"db0\n1\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	ctx := context.Background()
	for db, want := range map[int]string{0: "db0", 2: "db2", 3: "db3"} {
		got, err := r.admin.Do(ctx, "SELECT", db).Result()
		if err != nil || got != "OK" {
			t.Fatal(got, err)
		}
		v, err := r.admin.Get(ctx, "where").Result()
		if err != nil || v != want {
			t.Fatalf("db %d: %q %v", db, v, err)
		}
	}
}

func TestRestyRedisAuth(t *testing.T) {
	r := startRedis(t, "--requirepass", "s3cret")
	p := luatest.NewPool(t, luaplugin.Config{})
	before := r.accepted(t)
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		show(red:get("k"))
		show(red:auth("wrong"))
		show(red:auth("s3cret"))
		show(red:set("k", "v"))
		show(red:set_keepalive())

		-- the usual pattern: authenticate new connections only
		for i = 1, 5 do
			red = conn()
			if red:get_reused_times() == 0 then
				show("auth", red:auth("s3cret"))
			end
			show(red:get("k"), red:get_reused_times())
			show(red:set_keepalive())
		end

		-- no auth: must not get an authenticated connection
		red = conn()
		show(red:get_reused_times(), red:get("k"))
		red:close()

		-- credentials in the options
		red = redis:new()
		show(red:connect("127.0.0.1", `+strconv.Itoa(r.port)+`, { password = "nope" }))
		red = conn({ password = "s3cret" })
		show(red:get_reused_times(), red:get("k"))
		show(red:set_keepalive())
		red = conn({ password = "s3cret" })
		show(red:get_reused_times(), red:get("k"))
		show(red:set_keepalive())
	`)
	want := "false NOAUTH Authentication required.\n" +
		"false WRONGPASS invalid username-password pair or user is disabled.\n" +
		"OK\nOK\n1\n" +
		"auth OK\nv 1\n1\n" + // bound to the kept-alive authenticated connection
		"auth OK\nv 2\n1\n" +
		"auth OK\nv 3\n1\n" +
		"auth OK\nv 4\n1\n" +
		"auth OK\nv 5\n1\n" +
		"0 false NOAUTH Authentication required.\n" +
		"nil failed to authenticate: WRONGPASS invalid username-password pair or user is disabled.\n" +
		"6 v\n1\n" + // the connection authenticated by red:auth() has the same identity
		"7 v\n1\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	// the first connection, the unauthenticated one, the one that failed
	// to authenticate
	if n := r.accepted(t) - before; n != 3 {
		t.Fatalf("opened %d connections, want 3", n)
	}
}

func TestRestyRedisTimeouts(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		red:set_timeout(200)
		show(red:blpop("nolist", 5))
		show(red:get("x"))
		show(red:set_keepalive())

		red = conn()
		red:set_timeouts(1000, 1000, 200)
		red:init_pipeline()
		red:set("a", 1)
		red:brpop("nolist", 5)
		show(red:commit_pipeline())
		show(red:get_reused_times())
	`)
	if out != "nil timeout\nnil closed\nnil closed\nnil timeout\nnil closed\n" {
		t.Fatalf("got %q", out)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("two 200 ms timeouts took %s", d)
	}
	r.waitConnected(t, 0)
}

func TestRestyRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	host, blackhole := luatest.BlackholeAddr(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	start := time.Now()
	out := luatest.RunOK(t, p, fmt.Sprintf(`
		local redis = require "resty.redis"
		local red = redis:new()
		red:set_timeout(150)
		local ok, err = red:connect("127.0.0.1", %d)
		ngx.say(tostring(ok), " ", err)
		ngx.say(red:get("x"))
		ok, err = red:connect(%q, %d)
		ngx.say(tostring(ok), " ", err)
		ok, err = red:connect("unix:/nonexistent/redis.sock")
		ngx.say(tostring(ok), " ", err)
	`, closedPort, host, blackhole))
	want := "nil connection refused\nnilclosed\nnil timeout\nnil no such file or directory\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestRestyRedisUnixSocketAndMisc(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, `
		local redis = require "resty.redis"
		local red = redis:new()
		assert(red:connect("unix:`+r.sock+`"))
		ngx.say(red:ping())
		ngx.say(red:subscribe("ch"))
		ngx.say(red:read_reply())
		redis.add_commands("echo")
		ngx.say(red:echo("hi"))
		redis.register_module_prefix("json")
		ngx.say(red:json():get("x"))
		ngx.say(red:set_keepalive())
		ngx.say(pcall(red.connect, red, 42))
		ngx.say(pcall(red.connect, red, "127.0.0.1", "x"))
	`)
	want := "PONG\n" +
		"nilPub/Sub is not supported by caddy-resty\n" +
		"nilnot subscribed\n" +
		"hi\n" +
		"falseERR unknown command 'json.get', with args beginning with: 'x' \n" +
		"1\n"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("got\n%s\nwant prefix\n%s", out, want)
	}
	rest := strings.TrimPrefix(out, want)
	if !strings.Contains(rest, "bad argument #1 host: string expected, got number") ||
		!strings.Contains(rest, "bad argument #2 port: number expected, got string") {
		t.Fatalf("argument errors: %q", rest)
	}
}

func TestRestyRedisPhases(t *testing.T) {
	p := luatest.NewPool(t, luaplugin.Config{})
	for _, phase := range []luaplugin.Phase{luaplugin.PhaseLog, luaplugin.PhaseHeaderFilter, luaplugin.PhaseBodyFilter} {
		res, _ := luatest.Run(t, p, phase, `require("resty.redis"):new()`)
		want := "API disabled in the context of " + phase.Context()
		if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
			t.Fatalf("%s: got %v", phase, res.Err)
		}
	}
}

func TestRestyRedisConcurrent(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{MaxStates: 4})
	before := r.accepted(t)
	luatest.RunConcurrently(t, p, redisPrelude(r.port)+`
		local red = conn()
		local k = "c" .. math.random(100)
		assert(red:incr(k))
		red:init_pipeline()
		red:get(k)
		red:select(1)
		red:set(k, "x")
		local res = assert(red:commit_pipeline())
		assert(res[3] == "OK")
		assert(red:set_keepalive(10000, 8))
	`, 8, 25)
	if n := r.accepted(t) - before; n > 16 {
		t.Fatalf("%d connections for 8 concurrent clients", n)
	}
}

func BenchmarkRestyRedisGet(b *testing.B) {
	r := startRedis(b)
	if err := r.admin.Set(context.Background(), "bench", "value", 0).Err(); err != nil {
		b.Fatal(err)
	}
	p := luatest.NewPool(b, luaplugin.Config{})
	c := luatest.Compile(b, fmt.Sprintf(`
		local red = require("resty.redis"):new()
		red:set_timeout(1000)
		local ok, err = red:connect("127.0.0.1", %d)
		if not ok then error(err) end
		local v, err = red:get("bench")
		if v ~= "value" then error(err) end
		red:set_keepalive(10000, 100)
	`, r.port))
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	req, _ := luatest.NewRequest()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
}

// waitClosed waits (up to 2 s) until none of Lua's connections is open.
func (r *testRedis) waitClosed(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for r.connected(t) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connected clients: %d, want 0", r.connected(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// OpenResty closes a cosocket its handler left open when the handler ends:
// so does resty.redis at the end of the run, without waiting for the GC.
func TestRestyRedisRunEndClosesUnclosedConnections(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	for _, c := range []struct{ name, code string }{
		{"connected only", `local red = conn()`},
		{"after a command", `local red = conn() assert(red:set("k", "v"))`},
		{"in a transaction", `local red = conn() assert(red:multi()) assert(red:set("k", "v"))`},
		{"pipeline pending", `local red = conn() red:init_pipeline() red:get("k")`},
		{"error", `local red = conn() assert(red:get("k")) error("boom")`},
		{"ngx.exit in a coroutine", `
			coroutine.wrap(function()
				local red = conn()
				assert(red:get("k"))
				ngx.exit(200)
			end)()`},
		{"two objects", `local a, b = conn(), conn() assert(a:get("k")) assert(b:get("k"))`},
	} {
		before := r.accepted(t)
		res, _ := luatest.Run(t, p, luaplugin.PhaseContent, redisPrelude(r.port)+c.code)
		if res.Err != nil && !strings.Contains(res.Err.Error(), "boom") {
			t.Fatalf("%s: %v", c.name, res.Err)
		}
		want := 1
		if c.name == "two objects" {
			want = 2
		}
		if n := r.accepted(t) - before; n != want {
			t.Fatalf("%s: %d connections opened, want %d", c.name, n, want)
		}
		r.waitClosed(t)
	}
}

func TestRestyRedisRunEndLeavesKeptAliveConnections(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	before := r.accepted(t)
	code := redisPrelude(r.port) + `
		local red = conn()
		ngx.print(red:get_reused_times())
		assert(red:set("k", "v"))
		assert(red:set_keepalive(10000, 10) == 1)
	`
	for i := 0; i < 4; i++ {
		if out := luatest.RunOK(t, p, code); out != strconv.Itoa(i) {
			t.Fatalf("run %d: reused %s times", i+1, out)
		}
		time.Sleep(50 * time.Millisecond)
		if n := r.accepted(t) - before; n != 1 {
			t.Fatalf("run %d: %d connections opened, want 1", i+1, n)
		}
		if n := r.connected(t); n != 1 {
			t.Fatalf("run %d: %d connections open, want 1", i+1, n)
		}
	}
	// Taken from the pool and not put back: closed at the end of the run.
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		assert(red:get_reused_times() == 4)
		assert(red:get("k") == "v")
	`)
	r.waitClosed(t)
	if n := r.accepted(t) - before; n != 1 {
		t.Fatalf("%d connections opened, want 1", n)
	}
}

// A connect that found only connections authenticated as someone else in
// its pool binds one on red:auth(); not kept alive, it is closed at the
// end of the run.
func TestRestyRedisRunEndClosesBoundConnection(t *testing.T) {
	r := startRedis(t, "--requirepass", "s3cret")
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn({ password = "s3cret" })
		assert(red:set_keepalive())
	`)
	r.waitConnected(t, 1)
	before := r.accepted(t)
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn()
		ngx.say(red:auth("s3cret"))
		ngx.say(red:get_reused_times())
	`)
	if out != "OK\n1\n" {
		t.Fatalf("got %q", out)
	}
	r.waitClosed(t)
	if n := r.accepted(t) - before; n != 0 {
		t.Fatalf("%d connections opened, want 0", n)
	}
	// Pending (not bound yet) at the end of the run: nothing to close,
	// the object is closed.
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = conn({ password = "s3cret" })
		assert(red:set_keepalive())
		package.loaded.keep_red = conn()
	`)
	r.waitConnected(t, 1)
	out = luatest.RunOK(t, p, `
		local red = package.loaded.keep_red
		ngx.say(red:get_reused_times())
		ngx.say(red:auth("s3cret"))
	`)
	if out != "nilclosed\nnilclosed\n" {
		t.Fatalf("got %q", out)
	}
	r.waitConnected(t, 1)
}

// An object kept in a module-level table outlives the run that connected
// it, but not its connection: further use reports "closed".
func TestRestyRedisObjectKeptAcrossRuns(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	luatest.RunOK(t, p, redisPrelude(r.port)+`
		package.loaded.keep_red = conn()
		assert(package.loaded.keep_red:set("k", "v"))
	`)
	r.waitClosed(t)
	before := r.accepted(t)
	out := luatest.RunOK(t, p, redisPrelude(r.port)+`
		local red = package.loaded.keep_red
		show(red:get("k"))
		show(red:get_reused_times())
		show(red:set_keepalive())
		show(red:close())
		red:init_pipeline()
		red:get("k")
		show(red:commit_pipeline())
		-- the object can connect again
		red:set_timeouts(1000, 1000, 1000)
		assert(red:connect("127.0.0.1", `+strconv.Itoa(r.port)+`))
		show(red:get("k"))
	`)
	want := "nil closed\nnil closed\nnil closed\nnil closed\nnil closed\nv\n"
	if out != want {
		t.Fatalf("got %q want %q", out, want)
	}
	if n := r.accepted(t) - before; n != 1 {
		t.Fatalf("%d connections opened, want 1", n)
	}
	r.waitClosed(t)
}

func TestRestyRedisRunEndInTimer(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	before := r.accepted(t)
	luatest.RunOK(t, p, `
		assert(ngx.timer.at(0, function()
			`+redisPrelude(r.port)+`
			local red = conn()
			ngx.shared.d:set("timer_get", tostring(red:get("nokey")))
		end))
	`)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if v, _, _ := p.Dict("d").Get("timer_get"); !v.IsNil() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timer did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.waitClosed(t)
	if n := r.accepted(t) - before; n != 1 {
		t.Fatalf("%d connections opened, want 1", n)
	}
}

// runEndHooks installs run_end_hooks(), which returns how many functions
// wait for the end of the current run, in the states of p (one, for
// sequential runs).
func runEndHooks(t *testing.T, p *luaplugin.Pool) {
	t.Helper()
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	vm.L.SetGlobal("run_end_hooks", vm.L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(vm.RunEndPending()))
		return 1
	}))
	p.Release(vm)
}

// The close at the end of the run is registered once per object and run,
// however often the object connects.
func TestRestyRedisRunEndHookOncePerObject(t *testing.T) {
	r := startRedis(t)
	p := luatest.NewPool(t, luaplugin.Config{})
	runEndHooks(t, p)
	code := redisPrelude(r.port) + fmt.Sprintf(`
		local red = redis:new()
		for i = 1, 50 do
			assert(red:connect("127.0.0.1", %d))
			assert(red:set_keepalive())
		end
		local other = conn({ pool = "other" })
		ngx.print(run_end_hooks())
	`, r.port)
	for i := 0; i < 2; i++ {
		if out := luatest.RunOK(t, p, code); out != "2" {
			t.Fatalf("run %d: %s functions registered for the end of the run, want 2", i+1, out)
		}
	}
	if n := r.connected(t); n != 1 {
		t.Fatalf("redis: %d connections open, want 1", n)
	}
}

// slowProxy relays connections to the redis-server on port, starting each
// relay delay after it accepted the connection.
func slowProxy(t *testing.T, port int, delay time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer down.Close()
				time.Sleep(delay)
				up, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, down); up.Close() }()
				_, _ = io.Copy(down, up)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// Every network wait is off the budget: a new connection's handshake
// (here, its first round trip), a command and a pipeline.
func TestRestyRedisEveryWaitIsOffTheBudget(t *testing.T) {
	const wait = 300 * time.Millisecond
	r := startRedis(t)
	port := slowProxy(t, r.port, wait)
	p := luatest.NewPool(t, luaplugin.Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	out := luatest.RunOK(t, p, redisPrelude(port)+`
		local red = conn()
		show(red:blpop("nolist", 0.3))
		red:init_pipeline()
		red:blpop("nolist", 0.3)
		red:set("k", "v")
		show(red:commit_pipeline())
		show(red:set_keepalive())
	`)
	luatest.ExpectLines(t, out, "null", "[null,OK]", "1")
	if d := time.Since(start); d < 3*wait {
		t.Fatalf("the three waits took %s", d)
	}
}
