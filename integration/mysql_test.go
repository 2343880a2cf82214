//go:build linux

package integration

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/restymysql/mysqltest"
)

// The acceptance tests of resty.mysql through a real Caddy and a private
// MariaDB: queries and types, multi-statements, errors with codes and
// SQLSTATEs, keepalive reuse, pcall, waits that free the Lua state (1,000
// concurrent queries on one state), backlog queues, and a server killed
// in the middle of a query.

// myLua prefixes a script with a connect to s: `db` is connected (TCP, or
// the unix socket when opts has path = SOCK), or the script answers
// "connect: ERR CODE SQLSTATE". opts are more connect options (Lua).
func myLua(s *mysqltest.Server, opts, body string) string {
	return fmt.Sprintf(`
local mysql = require "resty.mysql"
local SOCK = %q
local function json(v)
    if v == nil or v == ngx.null then return "null" end
    if type(v) == "string" then return '"' .. v .. '"' end
    if type(v) ~= "table" then return tostring(v) end
    local n, arr = 0, true
    for k in pairs(v) do n = n + 1; if k ~= n then arr = false end end
    local out = {}
    if arr then
        for i = 1, n do out[i] = json(v[i]) end
        return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do out[i] = '"' .. k .. '":' .. json(v[k]) end
    return "{" .. table.concat(out, ",") .. "}"
end
local db = mysql:new()
db:set_timeout(30000)
local conf = {host = "127.0.0.1", port = %d, database = "ngx_test", user = "ngx_test", password = "ngx_test"}
for k, v in pairs(%s) do conf[k] = v end
if conf.path then conf.host = nil end
local ok, err, errno, sqlstate = db:connect(conf)
if not ok then
    ngx.say("connect: ", err, " ", tostring(errno), " ", tostring(sqlstate))
    return
end
`, s.Socket, s.Port, opts) + body
}

// myGet sends a GET and returns the reply, failing the test on a transport
// error or a status other than 200.
func myGet(t *testing.T, p *hproc, path string) string {
	t.Helper()
	r := p.get(path, 60*time.Second)
	if r.err != nil || r.status != 200 {
		t.Fatalf("GET %s: %v\nlog tail:\n%s", path, r, p.logTail(3000))
	}
	return r.body
}

func myExpect(t *testing.T, p *hproc, path, want string) {
	t.Helper()
	if got := myGet(t, p, path); got != want {
		t.Errorf("GET %s:\n%s\nwant\n%s", path, got, want)
	}
}

// TestMySQL checks resty.mysql's API through a real Caddy with one Lua
// state.
func TestMySQL(t *testing.T) {
	s := mysqltest.Start(t, mysqltest.Options{})
	s.Exec("CREATE TABLE ngx_test.kv (id int PRIMARY KEY, v varchar(20) UNIQUE, n decimal(10,2), big bigint unsigned, f double, d date, dt datetime, b blob, bits bit(8), ti tinyint unsigned, y year)",
		"INSERT INTO ngx_test.kv VALUES (1, 'one', 1.50, 18446744073709551615, 0.25, '2024-02-29', '2024-02-29 12:34:56', x'00ff', b'101', 255, 2024), (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
	content := map[string]string{
		"/types": myLua(s, "{}", `
local res, err = db:query("select * from kv order by id")
for _, row in ipairs(res) do
    local keys = {}
    for k in pairs(row) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
        local v = row[k]
        if k == "b" and v ~= ngx.null then v = ngx.encode_base64(v) end
        if k == "bits" and v ~= ngx.null then v = string.byte(v) end
        ngx.say(row.id, " ", k, " ", type(v) == "userdata" and "null" or type(v), " ", tostring(v))
    end
end
db:set_keepalive()`),
		"/crud": myLua(s, "{}", `
local r = db:query("drop table if exists crud")
r = db:query("create table crud (id serial primary key, name varchar(10), score int)")
r = db:query("insert into crud (name, score) values ('a', 1), ('b', 2), (" .. ngx.quote_sql_str("it's") .. ", NULL)")
ngx.say("insert ", r.affected_rows, " ", r.insert_id, " ", r.server_status, " ", r.warning_count, " ", r.message)
r = db:query("update crud set score = score + 10 where score is not null")
ngx.say("update ", r.affected_rows, " ", r.message)
r = db:query("delete from crud where name = 'a'")
ngx.say("delete ", r.affected_rows, " ", tostring(r.message))
r = db:query("select name, score from crud order by id")
ngx.say(#r, " ", r[1].name, " ", r[1].score, " ", r[2].name, " ", tostring(r[2].score == ngx.null))
db:set_compact_arrays(true)
r = db:query("select name, score from crud order by id")
ngx.say(json(r))
db:set_keepalive()`),
		"/multi": myLua(s, "{}", `
local res, err = db:query("insert into kv (id, v) values (10, 'ten'); select v from kv where id = 10; update kv set v = 'TEN' where id = 10; select 1 as a, 2 as b")
local n = 1
while true do
    ngx.say(n, ": ", json(res), " ", tostring(err))
    if err ~= "again" then break end
    res, err = db:read_result()
    n = n + 1
end
db:query("delete from kv where id = 10")
-- an error in the second statement: the first result, then the error
res, err = db:query("select 1 as x; select * from no_such_table; select 2")
ngx.say(json(res), " ", err)
local res2, err2, errno, sqlstate = db:read_result()
ngx.say(tostring(res2), " ", err2, " ", errno, " ", sqlstate)
res2, err2 = db:read_result()
ngx.say(tostring(res2), " ", err2)
res = db:query("select 3 as y")
ngx.say(json(res))
ngx.say(db:set_keepalive())`),
		"/errors": myLua(s, "{}", `
for _, q in ipairs{"select from", "select * from no_such_table", "insert into kv (id, v) values (1, 'dup')", "insert into kv (id, v) values (3, 'one')"} do
    local res, err, errno, sqlstate = db:query(q)
    ngx.say(tostring(res), " | ", err, " | ", errno, " | ", sqlstate)
end
-- the connection stays usable after errors
local res = db:query("select 'ok' as s")
ngx.say(res[1].s)
ngx.say(db:set_keepalive())
local db2 = mysql:new()
db2:set_timeout(5000)
ngx.say(db2:connect{host = "127.0.0.1", port = conf.port, database = "no_such_db", user = "ngx_test", password = "ngx_test"})
ngx.say(db2:connect{host = "127.0.0.1", port = conf.port, database = "ngx_test", user = "ngx_test", password = "wrong"})
ngx.say(db2:connect{host = "127.0.0.1", port = conf.port, user = "ngx_test", password = "ngx_test", charset = "klingon"})
ngx.say(db2:connect{user = "ngx_test"})
ngx.say(db2:query("select 1"))
ngx.say(db2:read_result())
ngx.say(db2:close())`),
		"/reuse": myLua(s, `{pool_size = 4}`, `
ngx.say(db:get_reused_times())
local res = db:query("select connection_id() as id")
ngx.say(res[1].id)
ngx.say(db:set_keepalive(10000, 4))
ngx.say(db:get_reused_times())
ngx.say(db:query("select 1"))`),
		"/reuse_unix": myLua(s, `{path = SOCK}`, `
ngx.say(db:get_reused_times())
ngx.say(db:set_keepalive(0))`),
		"/pcall": myLua(s, "{}", `
local ok, res, err = pcall(db.query, db, "select sleep(0.2) as s, 'in pcall' as w")
ngx.say(ok, " ", res[1].w, " ", tostring(err))
ok, err = pcall(function()
    local r = db:query("select 'inner' as w")
    error("after " .. r[1].w)
end)
ngx.say(ok, " ", err:match("after inner"))
ok, res, err = pcall(db.query, db, "select * from no_such_table")
ngx.say(ok, " ", tostring(res), " ", err)
ok, err = pcall(db.query, nil, "select 1")
ngx.say(ok)
ngx.say(db:set_keepalive())`),
		"/sleep": myLua(s, "{}", `
local res, err = db:query("select sleep(0.05) as s, " .. ngx.var.arg_i .. " as i")
if not res then ngx.say("query: ", err) return end
ngx.print(res[1].i)
db:set_keepalive(10000, 100)`),
		"/timeout": myLua(s, "{}", `
db:set_timeout(100)
local res, err = db:query("select sleep(0.6) as s")
ngx.say(tostring(res), " ", err)
ngx.say(db:query("select 1"))
db:set_timeout(5000)
res, err = db:read_result()
ngx.say(json(res), " ", tostring(err))
ngx.say(db:set_keepalive())`),
		"/tx": myLua(s, `{pool = "tx"}`, `
ngx.say(db:get_reused_times())
if ngx.var.arg_begin then db:query("start transaction") end
ngx.say(db:set_keepalive())`),
		"/leftopen": myLua(s, `{pool = "left"}`, `
ngx.say(db:get_reused_times())
-- neither closed nor kept alive: closed when the handler ends`),
		"/backlog": myLua(s, `{pool = "bl", pool_size = 5, backlog = 5}`, `
ngx.sleep(2)
db:close()
ngx.say("ok")`),
	}
	// the backlog connects fail in the prelude: give them a short timeout
	content["/backlog"] = strings.Replace(content["/backlog"], "db:set_timeout(30000)", "db:set_timeout(1000)", 1)
	p := startCaddy(t, hopts{global: "\t\tlua_max_states 1\n\t\tlua_timeout 5s", content: content})

	t.Run("types", func(t *testing.T) {
		myExpect(t, p, "/types", strings.Join([]string{
			"1 b string AP8=", "1 big string 18446744073709551615", "1 bits number 5", "1 d string 2024-02-29",
			"1 dt string 2024-02-29 12:34:56", "1 f number 0.25", "1 id number 1", "1 n number 1.5",
			"1 ti number 255", "1 v string one", "1 y number 2024",
			"2 b null userdata: NULL", "2 big null userdata: NULL", "2 bits null userdata: NULL", "2 d null userdata: NULL",
			"2 dt null userdata: NULL", "2 f null userdata: NULL", "2 id number 2", "2 n null userdata: NULL",
			"2 ti null userdata: NULL", "2 v null userdata: NULL", "2 y null userdata: NULL", ""}, "\n"))
	})
	t.Run("crud", func(t *testing.T) {
		myExpect(t, p, "/crud", "insert 3 1 2 0 Records: 3  Duplicates: 0  Warnings: 0\n"+
			"update 2 Rows matched: 2  Changed: 2  Warnings: 0\ndelete 1 nil\n2 b 12 it's true\n"+
			`[["b",12],["it's",null]]`+"\n")
	})
	t.Run("multi", func(t *testing.T) {
		myExpect(t, p, "/multi", `1: {"affected_rows":1,"insert_id":0,"server_status":10,"warning_count":0} again`+"\n"+
			`2: [{"v":"ten"}] again`+"\n"+
			`3: {"affected_rows":1,"insert_id":0,"message":"Rows matched: 1  Changed: 1  Warnings: 0","server_status":10,"warning_count":0} again`+"\n"+
			`4: [{"a":1,"b":2}] nil`+"\n"+
			`[{"x":1}] again`+"\n"+
			"nil Table 'ngx_test.no_such_table' doesn't exist 1146 42S02\n"+
			"nil cannot read result in the current context: 1\n"+
			`[{"y":3}]`+"\n1\n")
	})
	t.Run("errors", func(t *testing.T) {
		got := myGet(t, p, "/errors")
		want := []string{
			"nil | You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'from' at line 1 | 1064 | 42000",
			"nil | Table 'ngx_test.no_such_table' doesn't exist | 1146 | 42S02",
			"nil | Duplicate entry '1' for key 'PRIMARY' | 1062 | 23000",
			"nil | Duplicate entry 'one' for key 'v' | 1062 | 23000",
			"ok", "1",
			"nilUnknown database 'no_such_db'104942000",
			"nilAccess denied for user 'ngx_test'@'127.0.0.1' (using password: YES)104528000",
			"nilcharset 'klingon' is not supported",
			`nilneither "host" nor "path" options are specified`,
			"nilfailed to send query: cannot send query in the current context: nil",
			"nilcannot read result in the current context: nil",
			"1", ""}
		if got != strings.Join(want, "\n") {
			t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
		}
	})
	t.Run("keepalive reuse", func(t *testing.T) {
		first := strings.Split(myGet(t, p, "/reuse"), "\n")
		second := strings.Split(myGet(t, p, "/reuse"), "\n")
		if len(first) < 5 || len(second) < 5 {
			t.Fatalf("replies: %q %q", first, second)
		}
		if second[0] == "0" {
			t.Errorf("second request: get_reused_times 0, want > 0 (%q)", second)
		}
		if first[1] != second[1] {
			t.Errorf("second request used connection %s, the first kept %s alive", second[1], first[1])
		}
		if first[2] != "1" || first[3] != "nilclosed" || !strings.HasPrefix(first[4], "nilfailed to send query: cannot send query in the current context: nil") {
			t.Errorf("after set_keepalive: %q", first)
		}
		myExpect(t, p, "/reuse_unix", "0\n1\n")
		if got := myGet(t, p, "/reuse_unix"); got != "1\n1\n" {
			t.Errorf("unix socket reuse: %q", got)
		}
	})
	t.Run("transaction not pooled", func(t *testing.T) {
		myExpect(t, p, "/tx", "0\n1\n")
		myExpect(t, p, "/tx?begin=1", "1\n1\n")
		// the connection inside a transaction was closed, not pooled
		myExpect(t, p, "/tx", "0\n1\n")
	})
	t.Run("left open is closed", func(t *testing.T) {
		myExpect(t, p, "/leftopen", "0\n")
		myExpect(t, p, "/leftopen", "0\n")
	})
	t.Run("pcall", func(t *testing.T) {
		myExpect(t, p, "/pcall", "true in pcall nil\nfalse after inner\ntrue nil Table 'ngx_test.no_such_table' doesn't exist\ntrue\n1\n")
	})
	t.Run("timeout", func(t *testing.T) {
		myExpect(t, p, "/timeout", "nil failed to receive packet header: timeout\n"+
			"nilfailed to send query: cannot send query in the current context: 2\n"+
			`[{"s":0}] nil`+"\n1\n")
	})
	t.Run("backlog", func(t *testing.T) {
		// t/sanity.t TEST 26 (set the pool_size and backlog options at the
		// same time) with requests instead of ngx.thread: 5 connect, 5
		// queue and time out, 5 find the queue full.
		var mu sync.Mutex
		count := map[string]int{}
		parallel(15, func(int) {
			r := p.get("/backlog", 30*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if r.err != nil || r.status != 200 {
				count[r.String()]++
				return
			}
			count[strings.TrimSpace(r.body)]++
		})
		want := map[string]int{"ok": 5, "connect: failed to connect: timeout nil nil": 5,
			"connect: failed to connect: too many waiting connect operations nil nil": 5}
		for k, n := range want {
			if count[k] != n {
				t.Errorf("backlog: %v, want %v", count, want)
				break
			}
		}
	})
	t.Run("1000 concurrent queries on one state", func(t *testing.T) {
		const n = 1000
		client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: n, DisableCompression: true}, Timeout: 120 * time.Second}
		defer client.CloseIdleConnections()
		var done, plainBad atomic.Int64
		stopPlain := make(chan struct{})
		plainDone := make(chan int)
		go func() {
			// plain Lua requests keep being answered meanwhile
			answered := 0
			for {
				select {
				case <-stopPlain:
					plainDone <- answered
					return
				default:
				}
				r := p.get("/lua", 10*time.Second)
				if r.err != nil || r.status != 200 || r.body != "lua\n" {
					plainBad.Add(1)
				} else {
					answered++
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		start := time.Now()
		var failures []string
		var mu sync.Mutex
		parallel(n, func(i int) {
			resp, err := client.Get(fmt.Sprintf("%s/sleep?i=%d", p.base, i))
			body := ""
			if err == nil {
				var b strings.Builder
				buf := make([]byte, 256)
				for {
					k, rerr := resp.Body.Read(buf)
					b.Write(buf[:k])
					if rerr != nil {
						break
					}
				}
				resp.Body.Close()
				body = b.String()
			}
			if err != nil || resp.StatusCode != 200 || body != fmt.Sprint(i) {
				mu.Lock()
				if len(failures) < 5 {
					failures = append(failures, fmt.Sprintf("%d: %v %q", i, err, body))
				}
				mu.Unlock()
				return
			}
			done.Add(1)
		})
		wall := time.Since(start)
		close(stopPlain)
		answered := <-plainDone
		t.Logf("%d queries of SLEEP(0.05) on one Lua state in %s; %d plain Lua requests answered meanwhile", done.Load(), wall.Round(time.Millisecond), answered)
		if done.Load() != n {
			t.Fatalf("%d of %d answered; first failures: %q\nlog tail:\n%s", done.Load(), n, failures, p.logTail(3000))
		}
		// held states would serialize the queries: 1,000 × 50 ms = 50 s
		if wall > 40*time.Second {
			t.Errorf("1,000 queries took %s: the waits seem to hold the state", wall)
		}
		if plainBad.Load() > 0 || answered == 0 {
			t.Errorf("plain Lua requests: %d answered, %d failed", answered, plainBad.Load())
		}
	})
}

// TestMySQLServerKilled kills MariaDB while a query runs: the query gets
// nil, err, the request answers, no state stays stuck; connects fail
// cleanly while the server is down and work again after it restarts.
func TestMySQLServerKilled(t *testing.T) {
	s := mysqltest.Start(t, mysqltest.Options{})
	content := map[string]string{
		"/long": myLua(s, "{}", `
local res, err, errno, sqlstate = db:query("select sleep(30) as s")
ngx.say("query: ", tostring(res), " ", tostring(err), " ", tostring(errno))
ngx.say("again: ", tostring(db:query("select 1")))
ngx.say("close: ", tostring(db:close()))`),
		"/quick": myLua(s, `{pool = "quick"}`, `
local res, err = db:query("select 42 as v")
if not res then ngx.say("query: ", err) return end
ngx.say("v ", res[1].v, " reused ", db:get_reused_times())
db:set_keepalive()`),
		"/quick_unix": myLua(s, `{path = SOCK}`, `
local res, err = db:query("select 43 as v")
if not res then ngx.say("query: ", err) return end
ngx.say("v ", res[1].v)
db:set_keepalive()`),
	}
	p := startCaddy(t, hopts{global: "\t\tlua_max_states 1\n\t\tlua_timeout 5s", content: content})
	if got := myGet(t, p, "/quick"); got != "v 42 reused 0\n" {
		t.Fatalf("/quick: %q", got)
	}
	myExpect(t, p, "/quick_unix", "v 43\n")

	long := make(chan hreply, 1)
	go func() { long <- p.get("/long", 60*time.Second) }()
	// wait until the query runs on the server
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.Exec("SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'select sleep(30)%'"), "1") {
		if time.Now().After(deadline) {
			t.Fatal("the long query did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// the state is free while the query waits
	if r := p.get("/lua", 5*time.Second); r.err != nil || r.body != "lua\n" {
		t.Fatalf("plain Lua request during the query: %v", r)
	}
	s.Kill()
	var r hreply
	select {
	case r = <-long:
	case <-time.After(20 * time.Second):
		t.Fatal("the request of the killed query did not answer")
	}
	if r.err != nil || r.status != 200 {
		t.Fatalf("/long: %v", r)
	}
	lines := strings.Split(r.body, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "query: nil failed to r") ||
		lines[1] != "again: nil" || lines[2] != "close: nil" {
		t.Errorf("/long after the kill: %q", r.body)
	}
	if !strings.Contains(lines[0], "closed") && !strings.Contains(lines[0], "connection reset by peer") {
		t.Errorf("/long error: %q", lines[0])
	}
	// down: connects fail cleanly, the state serves
	for _, path := range []string{"/quick", "/quick_unix"} {
		got := myGet(t, p, path)
		if !strings.HasPrefix(got, "connect: failed to connect: ") {
			t.Errorf("%s with the server down: %q", path, got)
		}
	}
	if r := p.get("/lua", 5*time.Second); r.err != nil || r.body != "lua\n" {
		t.Fatalf("plain Lua request with the server down: %v", r)
	}
	s.Restart()
	// the kept-alive connections died with the server: new ones are made
	myExpect(t, p, "/quick", "v 42 reused 0\n")
	myExpect(t, p, "/quick", "v 42 reused 1\n")
	myExpect(t, p, "/quick_unix", "v 43\n")
}
