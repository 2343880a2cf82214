//go:build linux

package restymysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
	"github.com/caddy-resty/caddy-resty/restymysql/mysqltest"
)

// prelude connects db to the test server over TCP.
func prelude(s *mysqltest.Server, extra string) string {
	return fmt.Sprintf(`
local mysql = require "resty.mysql"
local db = mysql:new()
db:set_timeout(5000)
local ok, err, errno, sqlstate = db:connect({host = "127.0.0.1", port = %d,
    database = "ngx_test", user = "ngx_test", password = "ngx_test"%s})
if not ok then ngx.say("connect: ", err, " ", errno, " ", sqlstate) return end
`, s.Port, extra)
}

func TestQuerySmoke(t *testing.T) {
	s := mysqltest.Start(t, mysqltest.Options{})
	p := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, p, prelude(s, "")+`
ngx.say("ver ", db:server_ver() ~= nil)
local res, err, errno, sqlstate = db:query("select 1 as a, 2.5 as b, null as c, 'x' as d")
ngx.say(res[1].a, " ", res[1].b, " ", tostring(res[1].c), " ", res[1].d, " ", tostring(err))
res, err, errno, sqlstate = db:query("bad sql")
ngx.say(tostring(res), " ", errno, " ", sqlstate)
res, err = db:query("select 1; select 2")
ngx.say(res[1]["1"], " ", err)
res, err = db:read_result()
ngx.say(res[1]["2"], " ", tostring(err))
ngx.say(db:set_keepalive())
`)
	if strings.Contains(out, "connect:") {
		t.Fatal(out)
	}
	luatest.ExpectLines(t, out, "ver true", "1 2.5 userdata: NULL x nil", "nil 1064 42000", "1 again", "2 nil", "1")
}
