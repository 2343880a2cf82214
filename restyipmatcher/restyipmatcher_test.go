package restyipmatcher

import (
	"fmt"
	"testing"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

func run(t *testing.T, code string) string {
	t.Helper()
	return luatest.RunOK(t, luatest.NewPool(t, luaplugin.Config{}), code)
}

func TestMatch(t *testing.T) {
	out := run(t, `
local ipmatcher = require "resty.ipmatcher"
local m = assert(ipmatcher.new({"10.0.0.0/8", "192.168.1.7", "172.16.1.2/12", "2001:db8::/32", "::1"}))
for _, ip in ipairs({"10.1.2.3", "11.0.0.1", "192.168.1.7", "192.168.1.8",
		"172.31.255.255", "172.32.0.0", "2001:db8:1::5", "2001:db9::1", "::1", "::2",
		"::ffff:10.9.9.9", "fe80::1%eth0"}) do
	ngx.say(ip, " ", tostring(m:match(ip)))
end
local ok, err = m:match("10.0.0.300")
ngx.say(tostring(ok), " ", err)
ok, err = m:match("")
ngx.say(tostring(ok), " ", err)
ok, err = m:match(nil)
ngx.say(tostring(ok), " ", err)
ok, err = ipmatcher.match(m, "10.0.0.1")
ngx.say(tostring(ok))
`)
	luatest.ExpectLines(t, out,
		"10.1.2.3 true",
		"11.0.0.1 false",
		"192.168.1.7 true",
		"192.168.1.8 false",
		"172.31.255.255 true",
		"172.32.0.0 false",
		"2001:db8:1::5 true",
		"2001:db9::1 false",
		"::1 true",
		"::2 false",
		"::ffff:10.9.9.9 true",
		"fe80::1%eth0 false",
		`nil invalid IP address: "10.0.0.300"`,
		`nil invalid IP address: ""`,
		"nil invalid IP address: a nil",
		"true",
	)
}

func TestNewErrors(t *testing.T) {
	out := run(t, `
local ipmatcher = require "resty.ipmatcher"
for _, list in ipairs({{"10.0.0.0/33"}, {"10.0.0.1", "300.1.1.1"}, {"2001:db8::/129"}, {"abc"}, {"10.0.0.0/"}, {1}}) do
	local m, err = ipmatcher.new(list)
	ngx.say(tostring(m), " ", err)
end
local m = assert(ipmatcher.new({}))
ngx.say(tostring(m:match("1.2.3.4")))
m = assert(ipmatcher.new({"0.0.0.0/0"}))
ngx.say(tostring(m:match("1.2.3.4")), " ", tostring(m:match("::1")))
`)
	luatest.ExpectLines(t, out,
		`nil invalid IP address or CIDR: "10.0.0.0/33"`,
		`nil invalid IP address or CIDR: "300.1.1.1"`,
		`nil invalid IP address or CIDR: "2001:db8::/129"`,
		`nil invalid IP address or CIDR: "abc"`,
		`nil invalid IP address or CIDR: "10.0.0.0/"`,
		"nil invalid IP address or CIDR: item 1 is a number",
		"false",
		"true false",
	)
}

// A matcher's cost depends on the distinct prefix lengths, not on the
// number of entries.
func BenchmarkMatch(b *testing.B) {
	var list []string
	for i := 0; i < 1000; i++ {
		list = append(list, fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))
	}
	list = append(list, "192.168.0.0/16", "172.16.0.1")
	m, err := New(list)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, _ := m.Match("10.3.200.7"); !ok {
			b.Fatal("no match")
		}
	}
}
