//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/restymysql/mysqltest"
)

// The rebuilt blocks of lua-resty-mysql's t/*.t (resty.mysql against a
// private MariaDB, see restymysql/mysqltest). The blocks' Lua is
// rewritten here around a small helper module (myt.lua: connect with the
// blocks' options, run a query printing the blocks' failure line, and a
// JSON encoder with sorted keys standing in for the test suite's
// t/lib/ljson.lua); the expected bodies are the blocks'.

// myHelperLua is the helper module of the rebuilt blocks (@PORT@ and
// @SOCK@ are the server's).
const myHelperLua = `
local M = {}

local function encode(v)
    if v == nil or v == ngx.null then return "null" end
    local ty = type(v)
    if ty == "string" then
        return '"' .. v:gsub('[\\"\r\n\t]', {["\\"] = "\\\\", ['"'] = '\\"',
            ["\r"] = "\\r", ["\n"] = "\\n", ["\t"] = "\\t"}) .. '"'
    end
    if ty == "number" or ty == "boolean" then return tostring(v) end
    if ty ~= "table" then return '"<' .. ty .. '>"' end
    local n, isarr = 0, true
    for k in pairs(v) do
        n = n + 1
        if k ~= n then isarr = false end
    end
    local parts = {}
    if isarr then
        for i = 1, n do parts[i] = encode(v[i]) end
        return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    for i, k in ipairs(keys) do parts[i] = encode(k) .. ":" .. encode(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
end
M.json = encode

M.port = @PORT@
M.sock = "@SOCK@"

-- conf returns connect options: TCP unless unix, with more options.
function M.conf(unix, more)
    local c = {database = "ngx_test", user = "ngx_test", password = "ngx_test"}
    if unix then c.path = M.sock else c.host, c.port = "127.0.0.1", M.port end
    for k, v in pairs(more or {}) do c[k] = v end
    return c
end

-- connect returns a connected db, or says why not and returns nil.
function M.connect(unix, more, timeout)
    local mysql = require "resty.mysql"
    local db = mysql:new()
    db:set_timeout(timeout or 10000)
    local ok, err, errno, sqlstate = db:connect(M.conf(unix, more))
    if not ok then
        ngx.say("failed to connect: ", err, ": ", errno, " ", sqlstate)
        return nil
    end
    return db
end

-- q runs a query; on failure it says "bad result: ..." and returns nil.
function M.q(db, sql, say)
    local res, err, errno, sqlstate = db:query(sql)
    if not res then
        ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".")
        return nil
    end
    if say then ngx.say(say) end
    return res, err
end

-- cats makes the blocks' cats table with Bob, "" and NULL.
function M.cats(db, quiet)
    if not M.q(db, "drop table if exists cats", not quiet and "table cats dropped.") then return end
    if not M.q(db, "create table cats (id serial primary key, name varchar(5))",
        not quiet and "table cats created.") then return end
    local res = M.q(db, "insert into cats (name) value ('Bob'),(''),(null)")
    if not res then return end
    ngx.say(res.affected_rows, " rows inserted into table cats (last id: ", res.insert_id, ")")
    return true
end

-- columns builds the SQL of a table with num int columns (the blocks'
-- t/lib/create_sql_by_columns.lua).
function M.columns_create(num, engine)
    local b = {"CREATE TABLE test" .. num .. " (id int(10) AUTO_INCREMENT, "}
    for i = 1, num - 1 do b[#b + 1] = "t" .. i .. " int(1) DEFAULT 0, " end
    b[#b + 1] = "PRIMARY KEY (id)) ENGINE=" .. (engine or "InnoDB")
    return table.concat(b)
end

-- columns_case runs the column-count blocks.
function M.columns_case(num, engine)
    local db = M.connect(true)
    if not db then return end
    if not M.q(db, "drop table if exists test" .. num) then return end
    if not M.q(db, M.columns_create(num, engine)) then return end
    if not M.q(db, "insert into test" .. num .. " (t1) values(1)") then return end
    local res, err, errno, sqlstate = db:query("select * from test" .. num)
    db:close()
    if not res then
        ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".")
        return
    end
    if #res ~= 1 then return ngx.say("bad result, not got 1 rows") end
    local n = 0
    for _ in pairs(res[1]) do n = n + 1 end
    if n ~= num then return ngx.say("bad result, got ", n, " columns") end
    ngx.say("success")
end

return M
`

// myCatsBody is the body of the blocks that make and read the cats table.
const myCatsBody = "connected to mysql.\ntable cats dropped.\ntable cats created.\n3 rows inserted into table cats (last id: 1)\n"

// myAuthLua is t/auth.t's test_suit.run for one user.
const myAuthLua = `
local myt = require "myt"
local function run(user, password)
    local mysql = require "resty.mysql"
    local db = mysql:new()
    db:set_timeout(10000)
    local conf = myt.conf(false, {user = user})
    conf.password = password
    local ok, err, errno, sqlstate = db:connect(conf)
    if not ok then
        ngx.log(ngx.ERR, "failed to connect: ", err, ": ", errno, " ", sqlstate)
        return
    end
    ngx.say("mysql auth successful.")
    for _, order in ipairs{"asc", "desc"} do
        local res, err, errno, sqlstate = db:query("select * from cats order by id " .. order)
        if not res then
            ngx.log(ngx.ERR, "bad result: ", err, ": ", errno, ": ", sqlstate, ".")
            return
        end
        ngx.say("result: ", myt.json(res))
    end
    local ok, err = db:close()
    if not ok then ngx.log(ngx.ERR, "failed to close: ", err) return end
    return true
end
for _, u in ipairs{{"user_native", "pass_native"}, {"nopass_native"},
                   {"ed25519_user", "ed25519_pass"}, {"ed25519_nopass"}} do
    if not run(u[1], u[2]) then ngx.say("failed: ", u[1]) end
end
`

// mySSLLua is t/ssl.t's block with ssl options (@OPTS@).
const mySSLLua = `
local myt = require "myt"
local mysql = require "resty.mysql"
local db = mysql:new()
db:set_timeout(5000)
local ok, err, errno, sqlstate = db:connect(myt.conf(false, @OPTS@))
if not ok then
    ngx.say("failed to connect: ", err, ": ", errno, " ", sqlstate)
    return
end
ngx.say("connected to mysql ", db:server_ver(), ".")
local bytes, err = db:send_query("drop table if exists cats")
if not bytes then ngx.say("failed to send query: ", err) end
ngx.say("sent ", bytes, " bytes.")
local res, err, errno, sqlstate = db:read_result()
if not res then ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".") end
ngx.say("result: ", myt.json(res))
local ok, err = db:close()
if not ok then ngx.say("failed to close: ", err) end
`

// myKeepaliveLua is the body of the set keepalive blocks: connect twice
// with opts (a Lua table expression; @UNIX1@/@UNIX2@ pick the socket),
// then read cats.
const myKeepaliveLua = `
local myt = require "myt"
local db = myt.connect(@UNIX1@, @OPTS@)
if not db then return end
ngx.say("connected to mysql: ", db:get_reused_times())
local ok, err = db:set_keepalive()
if not ok then return ngx.say("failed to set keepalive: ", err) end
ok, err = db:connect(myt.conf(@UNIX2@, @OPTS@))
ngx.say("connected to mysql: ", db:get_reused_times())
local res, err = myt.q(db, "@QUERY@")
if not res then return end
ngx.say("result: ", myt.json(res), ", err:", err)
local ok, err = db:set_keepalive()
if not ok then return ngx.say("failed to set keepalive: ", err) end
`

func myKeepalive(unix1, unix2 bool, opts, query string) string {
	return strings.NewReplacer("@UNIX1@", fmt.Sprint(unix1), "@UNIX2@", fmt.Sprint(unix2),
		"@OPTS@", opts, "@QUERY@", query).Replace(myKeepaliveLua)
}

// mySendDrop is the "send query w/o result set" blocks (over the unix
// socket when unix; more connect options).
func mySendDrop(unix bool, more string) string {
	return fmt.Sprintf(`
local myt = require "myt"
local db = myt.connect(%t, %s)
if not db then return end
ngx.say("connected to mysql ", db:server_ver(), ".")
local bytes, err = db:send_query("drop table if exists cats")
if not bytes then ngx.say("failed to send query: ", err) end
ngx.say("sent ", bytes, " bytes.")
local res, err, errno, sqlstate = db:read_result()
if not res then ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".") end
ngx.say("result: ", myt.json(res))
local ok, err = db:close()
if not ok then ngx.say("failed to close: ", err) end
`, unix, more)
}

// mySelectCats is the blocks that fill cats then print two selects.
func mySelectCats(connectOpts, sqlAsc, sqlDesc, between string) string {
	return fmt.Sprintf(`
local myt = require "myt"
local db = myt.connect(false, %s)
if not db then return end
ngx.say("connected to mysql.")
if not myt.cats(db) then return end
local res = myt.q(db, %q)
if not res then return end
ngx.say("result: ", myt.json(res))
%s
res = myt.q(db, %q)
if not res then return end
ngx.say("result: ", myt.json(res))
local ok, err = db:close()
if not ok then ngx.say("failed to close: ", err) end
`, connectOpts, sqlAsc, between, sqlDesc)
}

const myDropResultRe = `^connected to mysql \d+\.[^\s\x00]+\.\nsent 30 bytes\.\nresult: \{"affected_rows":0,"insert_id":0,"server_status":2,"warning_count":[01]\}\n$`

// myAuthUsers creates t/auth.t's users that MariaDB has (native and
// ed25519; the MySQL-only plugins are not there) and the world database
// of t/world.t (its city table's five columns, 60 rows).
func myAuthUsers(s *mysqltest.Server) {
	var cities []string
	for i := 1; i <= 60; i++ {
		cities = append(cities, fmt.Sprintf("(%d, 'City %d', 'CC%d', 'District %d', %d)", i, i, i%10, i%7, 1000*i))
	}
	s.Exec("INSTALL SONAME 'auth_ed25519'",
		"CREATE USER 'user_native'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('pass_native')",
		"CREATE USER 'nopass_native'@'%' IDENTIFIED VIA mysql_native_password",
		// the Ed25519 public keys of "ed25519_pass" and "" (facts of
		// lua-resty-mysql's .travis/initializedb.sh)
		"CREATE USER 'ed25519_user'@'%' IDENTIFIED VIA ed25519 USING 'STIwVk/F6qiXJuOr8AgPSWVxmiN3rUjEX5DfzGAJ32A'",
		"CREATE USER 'ed25519_nopass'@'%' IDENTIFIED VIA ed25519 USING '4LH+dBF+G5W2CKTyId8xR3SyDqZoQjUNUVNxx8aWbG4'",
		"GRANT ALL ON ngx_test.* TO 'user_native'@'%', 'nopass_native'@'%', 'ed25519_user'@'%', 'ed25519_nopass'@'%'",
		"CREATE DATABASE world",
		"CREATE TABLE world.city (ID int NOT NULL AUTO_INCREMENT PRIMARY KEY, Name char(35) NOT NULL, CountryCode char(3) NOT NULL, District char(20) NOT NULL, Population int NOT NULL)",
		"INSERT INTO world.city VALUES "+strings.Join(cities, ","))
}

// TestOpenRestyMySQL runs the rebuilt blocks of lua-resty-mysql's t/*.t
// against a private MariaDB.
func TestOpenRestyMySQL(t *testing.T) {
	s := mysqltest.Start(t, mysqltest.Options{TLS: true})
	myAuthUsers(s)
	pkg := tempDir(t)
	helper := strings.NewReplacer("@PORT@", fmt.Sprint(s.Port), "@SOCK@", s.Socket).Replace(myHelperLua)
	if err := os.WriteFile(filepath.Join(pkg, "myt.lua"), []byte(helper), 0o644); err != nil {
		t.Fatal(err)
	}
	global := "\t\tlua_package_path " + filepath.Join(pkg, "?.lua") + "\n\t\tlua_timeout 30s"
	cats := `[{"id":"1","name":"Bob"},{"id":"2","name":""},{"id":"3","name":null}]`
	catsDesc := `[{"id":"3","name":null},{"id":"2","name":""},{"id":"1","name":"Bob"}]`
	cases := []orCase{
		{src: "lua-resty-mysql t/sanity.t TEST 1: bad user", content: `
local myt = require "myt"
local db = myt.connect(false, {user = "user_not_found"})
if db then db:close() end`,
			bodyRe: `^failed to connect: Access denied for user 'user_not_found'@'[^\s]+' \(using password: YES\): 1045 28000\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 2: bad host", content: `
local myt = require "myt"
local db = myt.connect(false, {host = "host-not-found.invalid"}, 5000)
if db then db:close() end`,
			bodyRe: `^failed to connect: failed to connect: host-not-found\.invalid could not be resolved(?: \([0-9]+: [^)]+\))?: nil nil\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 3: connected", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql ", db:server_ver())
db:close()`,
			bodyRe: `connected to mysql \d+\.[^\s\x00]+`},
		{src: "lua-resty-mysql t/sanity.t TEST 4: send query w/o result set", content: mySendDrop(false, "nil"), bodyRe: myDropResultRe},
		{src: "lua-resty-mysql t/sanity.t TEST 5: send bad query", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql ", db:server_ver(), ".")
local bytes, err = db:send_query("bad SQL")
if not bytes then ngx.say("failed to send query: ", err) end
ngx.say("sent ", bytes, " bytes.")
local res, err, errno, sqlstate = db:read_result()
if not res then
    ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".")
    return
end
ngx.say("result: ", myt.json(res))`,
			bodyRe: `^connected to mysql \d+\.[^\s\x00]+\.\nsent 12 bytes\.\nbad result: You have an error in your SQL syntax; check the manual that corresponds to your (?:MySQL|MariaDB) server version for the right syntax to use near 'bad SQL' at line 1: 1064: 42000\.\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 6: select query with an non-empty result set",
			content: mySelectCats("nil", "select * from cats order by id asc", "select * from cats order by id desc", ""),
			body:    myCatsBody + "result: " + cats + "\nresult: " + catsDesc + "\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 7: select query with an empty result set", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
if not myt.q(db, "drop table if exists cats", "table cats dropped.") then return end
if not myt.q(db, "create table cats (id serial primary key, name varchar(5))", "table cats created.") then return end
for _, order in ipairs{"asc", "desc"} do
    local res = myt.q(db, "select * from cats order by id " .. order)
    if not res then return end
    ngx.say("result: ", myt.json(res))
end
db:close()`,
			body: "connected to mysql.\ntable cats dropped.\ntable cats created.\nresult: []\nresult: []\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 8: numerical types", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
if not myt.q(db, "drop table if exists foo", "table foo dropped.") then return end
if not myt.q(db, "create table foo (id serial primary key, bar tinyint, baz smallint, bah float, blah double, kah bigint, hah mediumint, haha year, lah int)", "table foo created.") then return end
local res = myt.q(db, "insert into foo (bar, baz, bah, blah, kah, hah, haha, lah) value (3, 4, 3.14, 5.16, 65535, 256, 1998, 579),(null, null, null, null, null, null, null, null)")
if not res then return end
ngx.say(res.affected_rows, " rows inserted into table foo (last id: ", res.insert_id, ")")
for _, order in ipairs{"asc", "desc"} do
    res = myt.q(db, "select * from foo order by id " .. order)
    if not res then return end
    ngx.say("result: ", myt.json(res))
end
db:close()`,
			body: "connected to mysql.\ntable foo dropped.\ntable foo created.\n2 rows inserted into table foo (last id: 1)\n" +
				`result: [{"bah":3.14,"bar":3,"baz":4,"blah":5.16,"hah":256,"haha":1998,"id":"1","kah":"65535","lah":579},{"bah":null,"bar":null,"baz":null,"blah":null,"hah":null,"haha":null,"id":"2","kah":null,"lah":null}]` + "\n" +
				`result: [{"bah":null,"bar":null,"baz":null,"blah":null,"hah":null,"haha":null,"id":"2","kah":null,"lah":null},{"bah":3.14,"bar":3,"baz":4,"blah":5.16,"hah":256,"haha":1998,"id":"1","kah":"65535","lah":579}]` + "\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 9: multiple DDL statements", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
local res, err = myt.q(db, "drop table if exists foo; create table foo (id serial primary key, name text);")
if not res then return end
ngx.say("result: ", myt.json(res), ", err:", err)
res, err = myt.q(db, "select * from foo order by id asc")
if not res then return end
ngx.say("result: ", myt.json(res), ", err:", err)`,
			body: "connected to mysql.\n" + `result: {"affected_rows":0,"insert_id":0,"server_status":10,"warning_count":0}, err:again` + "\n" +
				"bad result: failed to send query: cannot send query in the current context: 2: nil: nil.\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 10: multiple select queries", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
if not myt.cats(db) then return end
local res, err = myt.q(db, "select * from cats order by id asc; select * from cats order by id desc")
if not res then return end
ngx.say("result: ", myt.json(res), ", err:", err)
local res, err, errno, sqlstate = db:read_result()
if not res then return ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".") end
ngx.say("result: ", myt.json(res), ", err:", err)
db:close()`,
			body: myCatsBody + "result: " + cats + ", err:again\nresult: " + catsDesc + ", err:nil\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 11: set_keepalive in the wrong state", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
if not myt.cats(db) then return end
local res, err = myt.q(db, "select * from cats order by id asc; select * from cats order by id desc")
if not res then return end
ngx.say("result: ", myt.json(res), ", err:", err)
local ok, err = db:set_keepalive()
if not ok then ngx.say("failed to set keepalive: ", err) end`,
			body: myCatsBody + "result: " + cats + ", err:again\nfailed to set keepalive: cannot be reused in the current connection state: 2\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 12: set keepalive (tcp)",
			content: myKeepalive(false, false, "nil", "select * from cats order by id asc;"),
			bodyRe:  `^connected to mysql: [02]\nconnected to mysql: [13]\nresult: ` + reQuote(cats) + `, err:nil\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 13: send query w/o result set (unix domain socket)", content: mySendDrop(true, "nil"), bodyRe: myDropResultRe},
		{src: "lua-resty-mysql t/sanity.t TEST 14: null at the beginning of a row",
			content: mySelectCats("nil", "select name from cats order by id asc", "select name from cats order by id desc", ""),
			body:    myCatsBody + "result: [{\"name\":\"Bob\"},{\"name\":\"\"},{\"name\":null}]\nresult: [{\"name\":null},{\"name\":\"\"},{\"name\":\"Bob\"}]\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 15: set keepalive (uds)",
			content: myKeepalive(true, true, "nil", "select * from cats order by id asc;"),
			bodyRe:  `^connected to mysql: [02]\nconnected to mysql: [13]\nresult: ` + reQuote(cats) + `, err:nil\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 16: set keepalive (explicit pool name)",
			content: myKeepalive(true, false, `{pool = "my_pool"}`, "select * from cats order by id asc;"),
			bodyRe:  `^connected to mysql: [02]\nconnected to mysql: [13]\nresult: ` + reQuote(cats) + `, err:nil\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 17: the mysql newdecimal type",
			content: myKeepalive(true, false, `{pool = "my_pool"}`, "select sum(id) from cats"),
			bodyRe:  `^connected to mysql: [02]\nconnected to mysql: [13]\nresult: \[\{"sum\(id\)":6\}\], err:nil\n$`},
		{src: "lua-resty-mysql t/sanity.t TEST 18: large insert_id exceeding a 32-bit integer value", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
local res, err = db:query("DROP TABLE IF EXISTS large_t")
if not res then return ngx.say("drop table error:" .. err) end
res, err = db:query("CREATE TABLE large_t (id bigint(11) NOT NULL AUTO_INCREMENT, PRIMARY KEY (id)) AUTO_INCREMENT=5000000312")
if not res then return ngx.say("create table error:" .. err) end
res, err = db:query("INSERT INTO large_t VALUES(NULL)")
if not res then return ngx.say("insert table error:" .. err) end
ngx.say(res.insert_id)`,
			body: "5000000312\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 19: fix packet number overflow", content: `
local myt = require "myt"
local db = myt.connect(true, {pool = "my_pool"})
if not db then return end
if not myt.q(db, "drop table if exists cats") then return end
if not myt.q(db, "create table cats (id serial primary key, name varchar(5))") then return end
for i = 1, 260 do
    if not myt.q(db, "insert into cats(name) values ('abc')") then return end
end
-- 1 header + 1 field + 1 eof + 251 rows + 1 eof: packet number 255
local res, err, errno, sqlstate = db:query("select id from cats limit 251")
db:close()
if not res then return ngx.say("bad result: ", err, ": ", errno, ": ", sqlstate, ".") end
if #res ~= 251 then return ngx.say("bad result, not got 251 rows") end
ngx.say("success")`,
			body: "success\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 20: 251 columns", content: `require("myt").columns_case(251)`, body: "success\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 21: MySQL has hard limit of 4096 columns per table",
			content: `require("myt").columns_case(4097)`, bodyRe: `bad result: .*Too many columns.*.\n`},
		{src: "lua-resty-mysql t/sanity.t TEST 22: InnoDB has a limit of 1017 columns per table",
			content: `require("myt").columns_case(1018)`,
			bodyRe:  `bad result: .*?(?:Too many columns|Can't create table 'ngx_test\.test1018' \(errno: 139\))`},
		{src: "lua-resty-mysql t/sanity.t TEST 23: MyISAM columns per table > 1017",
			content: `require("myt").columns_case(1018, "MyISAM")`, body: "success\n"},
		{src: "lua-resty-mysql t/sanity.t TEST 24: connected with no error when pool opts are provided", content: `
local myt = require "myt"
local db = myt.connect(false, {pool = "my_pool", pool_size = 10, backlog = 5})
if not db then return end
ngx.say("connected to mysql ", db:server_ver())
db:close()`,
			bodyRe: `connected to mysql \d+\.[^\s\x00]+`},
		{src: "lua-resty-mysql t/sanity.t TEST 25: set pool_size option no backlog option", content: `
local myt = require "myt"
local mysql = require "resty.mysql"
for i = 1, 10 do
    local db = mysql:new()
    db:set_timeout(10000)
    local ok, err = db:connect(myt.conf(false, {pool = "my_pool", pool_size = 5}))
    if not ok then return ngx.say(err) end
end
ngx.say("connected to mysql")`,
			bodyRe: `connected to mysql`},
		{src: "lua-resty-mysql t/sanity.t TEST 27: large insert_id exceeding a 32-bit signed integer value", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
local res, err = db:query("DROP TABLE IF EXISTS large_t")
if not res then return ngx.say("drop table error:" .. err) end
res, err = db:query("CREATE TABLE large_t (id bigint(11) NOT NULL AUTO_INCREMENT, PRIMARY KEY (id)) AUTO_INCREMENT=" .. (math.pow(2, 32) - 1))
if not res then return ngx.say("create table error:" .. err) end
res, err = db:query("INSERT INTO large_t VALUES(NULL)")
if not res then return ngx.say("insert table error:" .. err) end
ngx.say(res.insert_id)`,
			body: "4294967295\n"},

		{src: "lua-resty-mysql t/big.t TEST 1: big field value exceeding 256", content: myBig("nil", 1024, "*"), body: myBigBody(1024, true)},
		{src: "lua-resty-mysql t/big.t TEST 2: big field value exceeding max packet size", content: myBig("{max_packet_size = 1024}", 1024, "*"),
			body: "connected to mysql.\ntable cats dropped.\ntable cats created.\n1 rows inserted into table cats (last id: 1)\nbad result: packet size too big: 1029: nil: nil.\n"},
		{src: "lua-resty-mysql t/big.t TEST 3: big field value exceeding 256 (first field in rows)", content: myBig("nil", 1024, "name"), body: myBigBody(1024, false)},
		{src: "lua-resty-mysql t/big.t TEST 4: big field value exceeding 65536 (first field in rows)", content: myBig("nil", 65540, "name"), body: myBigBody(65540, false)},

		{src: "lua-resty-mysql t/bug.t TEST 1: message in ok packet (github #61)", content: `
local myt = require "myt"
local mysql = require "resty.mysql"
local function query(sql, compact)
    local db, err = mysql:new()
    if not db then return nil, err end
    db:set_timeout(1000)
    local ok, err, errno, sqlstate = db:connect(myt.conf(false))
    if not ok then return nil, err, errno, sqlstate end
    db.compact = compact
    local res, err, errno, sqlstate = db:query(sql)
    if res ~= nil then
        local ok, kerr = db:set_keepalive(10000, 50)
        if not ok then return nil, "fail to set_keepalive:" .. kerr end
    end
    return res, err, errno, sqlstate
end
for _, sql in ipairs{"drop table if exists test_usr", "create table test_usr (name varchar(10))",
                     'insert into test_usr values ("name1")', 'update test_usr set name="foo"'} do
    local res, err = query(sql)
    if not res then return ngx.say(err) end
    if res.message then ngx.say(res.message) end
end`,
			body: "Rows matched: 1  Changed: 1  Warnings: 0\n"},
		{src: "lua-resty-mysql t/bug.t TEST 2: ensure packet_no is not nil before proceeding (gitub #141)", content: `
local mysql = require "resty.mysql"
local ok, err = mysql:close()
ngx.say("mysql connection closed")`,
			bodyRe: `mysql connection closed`},

		{src: "lua-resty-mysql t/charset.t TEST 1: connect db using charset option (utf8)", content: myCharset("utf8"), body: `[{"id":"1","name":"愛麗絲"}]` + "\n"},
		{src: "lua-resty-mysql t/charset.t TEST 2: connect db using charset option (big5)", content: myCharset("big5"), body: "[{\"id\":\"1\",\"name\":\"\xb7R\xc4R\xb5\xb7\"}]\n"},
		{src: "lua-resty-mysql t/charset.t TEST 3: connect db using charset option (gbk)", content: myCharset("gbk"), body: "[{\"id\":\"1\",\"name\":\"\x90\xdb\xfb\x90\xbdz\"}]\n"},

		{src: "lua-resty-mysql t/compact_arrays.t TEST 1: send query w/o result set", content: mySendDrop(false, "{compact_arrays = true}"), bodyRe: myDropResultRe},
		{src: "lua-resty-mysql t/compact_arrays.t TEST 2: select query with an non-empty result set",
			content: mySelectCats("{compact_arrays = true}", "select name, id from cats order by id asc", "select name, id from cats order by id desc", ""),
			body:    myCatsBody + "result: [[\"Bob\",\"1\"],[\"\",\"2\"],[null,\"3\"]]\nresult: [[null,\"3\"],[\"\",\"2\"],[\"Bob\",\"1\"]]\n"},
		{src: "lua-resty-mysql t/compact_arrays.t TEST 3: select query with an empty result set", content: `
local myt = require "myt"
local db = myt.connect(false, {compact_arrays = true}, 1000)
if not db then return end
ngx.say("connected to mysql.")
if not myt.q(db, "drop table if exists cats", "table cats dropped.") then return end
if not myt.q(db, "create table cats (id serial primary key, name varchar(5))", "table cats created.") then return end
for _, order in ipairs{"asc", "desc"} do
    local res = myt.q(db, "select * from cats order by id " .. order)
    if not res then return end
    ngx.say("result: ", myt.json(res))
end
db:close()`,
			body: "connected to mysql.\ntable cats dropped.\ntable cats created.\nresult: []\nresult: []\n"},
		{src: "lua-resty-mysql t/compact_arrays.t TEST 4: select query with an non-empty result set - set_compact_arrays", content: `
local myt = require "myt"
local db = myt.connect(false, nil, 1000)
if not db then return end
ngx.say("connected to mysql.")
if not myt.cats(db) then return end
db:set_compact_arrays(true)
local res = myt.q(db, "select name, id from cats order by id asc")
if not res then return end
ngx.say("result: ", myt.json(res))
db:set_compact_arrays(false)
res = myt.q(db, "select name, id from cats order by id desc")
if not res then return end
ngx.say("result: ", myt.json(res))
db:close()`,
			body: myCatsBody + "result: [[\"Bob\",\"1\"],[\"\",\"2\"],[null,\"3\"]]\nresult: " + catsDesc + "\n"},

		{src: "lua-resty-mysql t/version.t TEST 1: basic", content: `ngx.say(require("resty.mysql")._VERSION)`, bodyRe: `^\d+\.\d+\n$`},
		{src: "lua-resty-mysql t/world.t TEST 1: test an old bug in table.new() on i386 in luajit v2.1", content: `
local myt = require "myt"
local mysql = require "resty.mysql"
local db = mysql:new()
local ok, err = db:connect(myt.conf(false, {database = "world"}))
if not ok then
    ngx.log(ngx.ERR, "failed to connect: ", err)
    return ngx.exit(500)
end
local res, err, errno, sqlstate
for j = 1, 10 do
    res, err, errno, sqlstate = db:query("select * from city order by ID limit 50", 50)
    if not res then
        ngx.log(ngx.ERR, "bad result #1: ", err, ": ", errno, ": ", sqlstate, ".")
        return ngx.exit(500)
    end
end
for _, row in ipairs(res) do
    local n = 0
    for _ in pairs(row) do n = n + 1 end
    ngx.say("ncols: ", n)
end
local ok, err = db:set_keepalive(10000, 50)
if not ok then
    ngx.log(ngx.ERR, "failed to set keepalive: ", err)
    ngx.exit(500)
end`,
			body: strings.Repeat("ncols: 5\n", 50)},
		{src: "lua-resty-mysql t/auth.t TEST 1: test different auth plugin (mysql_native_password, client_ed25519)", content: `
local myt = require "myt"
local db = myt.connect(false)
if not db then return end
ngx.say("connected to mysql.")
if not myt.q(db, "create table if not exists cats (id serial primary key, name varchar(5))", "table cats ready.") then return end
local res = myt.q(db, "insert into cats (name) select * from (select 'Bob' union all select '' union all select null) s where not exists (select 1 from cats)")
if not res then return end
ngx.say(res.affected_rows, " rows inserted into table cats (last id: ", res.insert_id, ")")
db:close()
` + myAuthLua,
			bodyRe: `^connected to mysql\.\ntable cats ready\.\n\d+ rows inserted into table cats \(last id: \d+\)\n(mysql auth successful\.\nresult: \[[^\n]+\]\nresult: \[[^\n]+\]\n){4}$`},
		{src: "lua-resty-mysql t/ed25519.t TEST 5: connect with correct ed25519 password", content: myEd25519("ed25519_user", "ed25519_pass"), body: "user=ed25519_user@%\n"},
		{src: "lua-resty-mysql t/ed25519.t TEST 6: wrong ed25519 password is rejected", content: myEd25519("ed25519_user", "WRONG_PASSWORD"), body: "rejected errno=1045 sqlstate=28000\n"},
		{src: "lua-resty-mysql t/ed25519.t TEST 7: ed25519 user with empty password connects", content: myEd25519("ed25519_nopass", ""), body: "user=ed25519_nopass@%\n"},
		{src: "lua-resty-mysql t/ed25519.t TEST 8: repeated connections use fresh scrambles", content: `
local myt = require "myt"
local mysql = require "resty.mysql"
for i = 1, 3 do
    local db = mysql:new()
    db:set_timeout(10000)
    local conf = myt.conf(false, {user = "ed25519_user"})
    conf.password = "ed25519_pass"
    local ok, err = db:connect(conf)
    if not ok then return ngx.say("connect ", i, " failed: ", err) end
    db:close()
end
ngx.say("ok")`, body: "ok\n"},
		{src: "lua-resty-mysql t/ssl.t TEST 1: send query w/o result set", content: strings.Replace(mySSLLua, "@OPTS@", "{ssl = true}", 1),
			bodyRe: `^connected to mysql \d+\.[^\s\x00]+\.\nsent 30 bytes\.\nresult: \{"affected_rows":0,"insert_id":0,"server_status":2,"warning_count":[01]\}\n$`},
		{src: "lua-resty-mysql t/ssl.t TEST 3: send query w/o result set (verify, failed)", content: strings.Replace(mySSLLua, "@OPTS@", "{ssl = true, ssl_verify = true}", 1),
			bodyRe: `failed to connect: (?:failed to do ssl handshake: 18: self[- ]signed certificate|failed to send client authentication packet: closed): nil nil`},
	}
	orSuite(t, global, cases)
}

// myEd25519 is a t/ed25519.t connect block.
func myEd25519(user, password string) string {
	return fmt.Sprintf(`
local myt = require "myt"
local mysql = require "resty.mysql"
local db = mysql:new()
db:set_timeout(10000)
local conf = myt.conf(false, {user = %q})
conf.password = %q
local ok, err, errno, sqlstate = db:connect(conf)
if not ok then
    if errno then return ngx.say("rejected errno=", errno, " sqlstate=", sqlstate) end
    return ngx.say("connect failed: ", err, ": ", errno, " ", sqlstate)
end
local res = db:query("SELECT CURRENT_USER() AS u")
ngx.say("user=", res[1].u)
db:close()`, user, password)
}

// myBig is a t/big.t block: a name of size bytes, selected with cols.
func myBig(opts string, size int, cols string) string {
	return fmt.Sprintf(`
local myt = require "myt"
local db = myt.connect(false, %s, 2000)
if not db then return end
ngx.say("connected to mysql.")
if not myt.q(db, "drop table if exists cats", "table cats dropped.") then return end
if not myt.q(db, "create table cats (id serial primary key, name %s)", "table cats created.") then return end
local res = myt.q(db, "insert into cats (name) value ('" .. string.rep("B", %d) .. "')")
if not res then return end
ngx.say(res.affected_rows, " rows inserted into table cats (last id: ", res.insert_id, ")")
for _, order in ipairs{"asc", "desc"} do
    res = myt.q(db, "select %s from cats order by id " .. order)
    if not res then return end
    ngx.say("result: ", myt.json(res))
end
db:close()`, opts, map[bool]string{true: "varchar(1024)", false: "text(65540)"}[size <= 1024], size, cols)
}

func myBigBody(size int, withID bool) string {
	row := `{"name":"` + strings.Repeat("B", size) + `"}`
	if withID {
		row = `{"id":"1","name":"` + strings.Repeat("B", size) + `"}`
	}
	return "connected to mysql.\ntable cats dropped.\ntable cats created.\n1 rows inserted into table cats (last id: 1)\n" +
		"result: [" + row + "]\nresult: [" + row + "]\n"
}

// myCharset is a t/charset.t block: 愛麗絲 stored as utf8mb4, read with
// the connection's charset.
func myCharset(charset string) string {
	return fmt.Sprintf(`
local myt = require "myt"
local db = myt.connect(true, {charset = %q, pool = "my_pool"})
if not db then return end
if not myt.q(db, "DROP TABLE IF EXISTS cats") then return end
if not myt.q(db, "CREATE TABLE cats (id serial PRIMARY KEY, name VARCHAR(128)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;") then return end
if not myt.q(db, "INSERT INTO cats(name) VALUES (0xe6849be9ba97e7b5b2)") then return end
local res = myt.q(db, "SELECT * FROM cats")
if not res then return end
db:close()
ngx.say(myt.json(res))`, charset)
}

// reQuote escapes s for a regexp.
func reQuote(s string) string {
	return strings.NewReplacer(`[`, `\[`, `]`, `\]`, `{`, `\{`, `}`, `\}`, `(`, `\(`, `)`, `\)`, `.`, `\.`).Replace(s)
}
