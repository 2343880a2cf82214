package restystring

import (
	"crypto/sha512"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// cryptoRun runs code in the content phase.
func cryptoRun(t *testing.T, code string) (luaplugin.Result, string) {
	t.Helper()
	res, w := luatest.Run(t, luatest.NewPool(t, luaplugin.Config{}), luaplugin.PhaseContent, code)
	return res, w.Body.String()
}

func cryptoOut(t *testing.T, code string) string {
	t.Helper()
	return luatest.RunOK(t, luatest.NewPool(t, luaplugin.Config{}), code)
}

func TestRestyStringToHexAtoi(t *testing.T) {
	out := cryptoOut(t, `
		local str = require "resty.string"
		ngx.say(str.to_hex("\0\1\255abc"), "|", str.to_hex(""), "|", str._VERSION ~= nil)
		ngx.say(1 + str.atoi("32"))
		for _, s in ipairs({"", "0", "007", "-1", "+1", " 1", "12a", "1.5",
				"9223372036854775807", "9223372036854775808", "99999999999999999999"}) do
			ngx.say(s, "=", str.atoi(s))
		end
	`)
	luatest.ExpectLines(t, out,
		"0001ff616263||true",
		"33",
		"=-1", "0=0", "007=7", "-1=-1", "+1=-1", " 1=-1", "12a=-1", "1.5=-1",
		"9223372036854775807=9.2233720368548e+18",
		"9223372036854775808=-1",
		"99999999999999999999=-1",
	)
	for _, c := range []struct{ code, want string }{
		{`require("resty.string").to_hex(nil)`, "attempt to get length of local 's' (a nil value)"},
		{`require("resty.string").to_hex(12)`, "attempt to get length of local 's' (a number value)"},
		{`require("resty.string").atoi({})`, "attempt to get length of local 's' (a table value)"},
	} {
		res, _ := cryptoRun(t, c.code)
		if res.Err == nil || !strings.Contains(res.Err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.code, res.Err, c.want)
		}
	}
}

func TestRestyDigests(t *testing.T) {
	out := cryptoOut(t, `
		local str = require "resty.string"
		for _, name in ipairs({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"}) do
			local mod = require("resty." .. name)
			local h = mod:new()
			assert(h:update("hel") == true)
			assert(h:update("lo") == true)
			local d1 = h:final()
			local d2 = h:final()
			assert(h:reset() == true)
			local d0 = h:final()
			h:update("hello")
			ngx.say(name, " ", str.to_hex(d1), " ", d1 == d2, " ", d1 == h:final(), " ", #d0)
		end
		local sha256 = require "resty.sha256"
		local a, b = sha256.new(), sha256:new()
		a:update("x")
		b:update("y")
		ngx.say(a:final() ~= b:final(), " ", a.update == sha256.update, " ", sha256._VERSION ~= nil)
		ngx.say(type(require("resty.sha")._VERSION))
	`)
	h512 := sha512.Sum512([]byte("hello"))
	h384 := sha512.Sum384([]byte("hello"))
	luatest.ExpectLines(t, out,
		"md5 5d41402abc4b2a76b9719d911017c592 true true 16",
		"sha1 aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d true true 20",
		"sha224 ea09ae9cc6768c50fcee903ed054556e5bfc8347907f12598aa24193 true true 28",
		"sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 true true 32",
		"sha384 "+hex.EncodeToString(h384[:])+" true true 48",
		"sha512 "+hex.EncodeToString(h512[:])+" true true 64",
		"true true true",
		"string",
	)
	for _, c := range []struct{ code, want string }{
		{`require("resty.sha256"):new():update(nil)`, "attempt to get length of local 's' (a nil value)"},
		{`require("resty.md5"):new():update(5)`, "attempt to get length of local 's' (a number value)"},
		{`require("resty.sha1").final({})`, "bad argument #1 to 'final' (resty.sha1 object expected, got table)"},
	} {
		res, _ := cryptoRun(t, c.code)
		if res.Err == nil || !strings.Contains(res.Err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.code, res.Err, c.want)
		}
	}
}

func TestRestyRandom(t *testing.T) {
	out := cryptoOut(t, `
		local rand = require "resty.random"
		local str = require "resty.string"
		local a, b = rand.bytes(16), rand.bytes(16, true)
		ngx.say(#a, " ", #b, " ", a ~= b, " ", #rand.bytes(0), " ", #rand.bytes(5.9))
		ngx.say(str.to_hex(rand.bytes(5)):match("^[0-9a-f]+$") ~= nil)
		local seen, ok = {}, true
		for i = 1, 2000 do
			local n = rand.number(6)
			if n ~= math.floor(n) or n < 1 or n > 6 then ok = false end
			seen[n] = true
			local m = rand.number(-3, 3, true)
			if m ~= math.floor(m) or m < -3 or m > 3 then ok = false end
			seen["m" .. m] = true
			local f = rand.number()
			if f < 0 or f >= 1 then ok = false end
		end
		local all = true
		for i = 1, 6 do all = all and seen[i] end
		for i = -3, 3 do all = all and seen["m" .. i] end
		ngx.say(ok, " ", all, " ", rand.number(5, 5), " ", rand.number(1), " ", rand.number(2.9, 2.9))
		local big = rand.number(0, 2^63)
		ngx.say(big >= 0 and big <= 2^63)
	`)
	luatest.ExpectLines(t, out,
		"16 16 true 0 5",
		"true",
		"true true 5 1 2",
		"true",
	)
	for _, c := range []struct{ code, want string }{
		{`require("resty.random").bytes(-1)`, "bad argument #1 to 'bytes'"},
		{`require("resty.random").bytes()`, "number expected, got nil"},
		{`require("resty.random").number(5, 1)`, "bad argument #2 to 'number' (interval is empty)"},
		{`require("resty.random").number(0)`, "bad argument #1 to 'number' (interval is empty)"},
	} {
		res, _ := cryptoRun(t, c.code)
		if res.Err == nil || !strings.Contains(res.Err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.code, res.Err, c.want)
		}
	}
}

func BenchmarkRestySHA256Lua(b *testing.B) {
	p := luatest.NewPool(b, luaplugin.Config{Timeout: time.Hour})
	c := luatest.Compile(b, `
		local sha256 = require "resty.sha256"
		for i = 1, N do
			local h = sha256:new()
			h:update("the quick brown fox jumps over the lazy dog")
			local d = h:final()
		end`)
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	vm.L.SetGlobal("N", lua.LNumber(b.N))
	req, _ := luatest.NewRequest()
	b.ReportAllocs()
	b.ResetTimer()
	if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
		b.Fatal(res.Err)
	}
}
