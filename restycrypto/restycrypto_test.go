package restycrypto_test

import (
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"

	_ "github.com/caddy-resty/caddy-resty/restycrypto"
	_ "github.com/caddy-resty/caddy-resty/restystring"
)

func TestCrypto(t *testing.T) {
	pool := luatest.NewPool(t, luaplugin.Config{})
	out := luatest.RunOK(t, pool, `
		local crypto = require "resty.crypto"
		local str = require "resty.string"
		ngx.say(tostring(crypto.equal("abc", "abc")), " ", tostring(crypto.equal("abc", "abd")), " ", tostring(crypto.equal("abc", "ab")))
		-- RFC 4231 test case 2
		ngx.say(str.to_hex(crypto.hmac("sha256", "Jefe", "what do ya want for nothing?")))
		ngx.say(str.to_hex(crypto.hmac("sha512", "Jefe", "what do ya want for nothing?")):sub(1, 16))
		local key = string.rep("k", 32)
		local ct = crypto.aes_gcm_encrypt(key, "hello", "aad")
		ngx.say(#ct, " ", crypto.aes_gcm_decrypt(key, ct, "aad"))
		ngx.say(tostring(crypto.aes_gcm_decrypt(key, ct, "other")))
		local bad = ct:sub(1, 20) .. string.char((ct:byte(21) + 1) % 256) .. ct:sub(22)
		ngx.say(select(2, crypto.aes_gcm_decrypt(key, bad, "aad")))
		ngx.say(select(2, crypto.aes_gcm_decrypt(key, "short")))
		ngx.say(crypto.aes_gcm_encrypt(key, "x") ~= crypto.aes_gcm_encrypt(key, "x"))
		ngx.say(select(2, pcall(crypto.aes_gcm_encrypt, "short key", "x")))
		ngx.say(select(2, pcall(crypto.hmac, "sha3", "k", "m")))
		ngx.say(#crypto.uuid(), " ", crypto.uuid() ~= crypto.uuid())
	`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"true false false",
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		"164b7a7bfcf819e2",
		"33 hello",
		"nil",
		"authentication failed",
		"ciphertext too short",
		"true",
		"an AES key must be 16, 24 or 32 bytes long",
		"unknown hash algorithm sha3",
		"36 true",
	}
	if len(lines) != len(want) {
		t.Fatalf("got:\n%s", out)
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], want[i])
		}
	}
}
