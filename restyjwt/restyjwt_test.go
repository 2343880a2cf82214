package restyjwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// keys made once for the package's tests.
var (
	rsaKey, _    = rsa.GenerateKey(rand.Reader, 2048)
	rsaKey2, _   = rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _     = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, ed, _ = ed25519.GenerateKey(rand.Reader)
)

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lq quotes s as a Lua long string.
func lq(s string) string { return "[==[" + s + "]==]" }

func run(t *testing.T, code string) string {
	t.Helper()
	return luatest.RunOK(t, luatest.NewPool(t, luaplugin.Config{}), code)
}

func TestVerifyAlgorithms(t *testing.T) {
	now := time.Now().Unix()
	base := jwt.MapClaims{"key": "alice", "exp": now + 600, "n": 1.5, "list": []any{"a", nil, true}, "obj": map[string]any{"x": "y"}}
	rsaPEM, ecPEM, edPEM := pemOf(t, &rsaKey.PublicKey), pemOf(t, &ecKey.PublicKey), pemOf(t, edPub)
	cases := []struct {
		alg, token, keyField string
	}{
		{"HS256", sign(t, jwt.SigningMethodHS256, []byte("s3cret"), base), `secret = "s3cret"`},
		{"HS384", sign(t, jwt.SigningMethodHS384, []byte("s3cret"), base), `secret = "s3cret"`},
		{"HS512", sign(t, jwt.SigningMethodHS512, []byte("s3cret"), base), `secret = "s3cret"`},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, base), "public_key = " + lq(rsaPEM)},
		{"PS256", sign(t, jwt.SigningMethodPS256, rsaKey, base), "public_key = " + lq(rsaPEM)},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, base), "public_key = " + lq(ecPEM)},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, ed, base), "public_key = " + lq(edPEM)},
	}
	for _, c := range cases {
		out := run(t, fmt.Sprintf(`
			local jwt = require "resty.jwt"
			local tok = %s
			local h, cl = jwt.parse(tok)
			ngx.say(h.alg, " ", cl.key)
			local claims, err = jwt.verify(tok, {alg = %q, %s})
			ngx.say(claims and claims.key, " ", err, " ", claims.n, " ", claims.list[1], claims.list[2] == ngx.null, claims.list[3], " ", claims.obj.x)
			local v = assert(jwt.verifier({alg = %q, %s}))
			ngx.say(v:verify(tok).key, " ", tostring(v))
		`, lq(c.token), c.alg, c.keyField, c.alg, c.keyField))
		luatest.ExpectLines(t, out, c.alg+" alice", "alice nil 1.5 atruetrue y", "alice resty.jwt verifier "+c.alg)
	}
}

func TestVerifyRefusals(t *testing.T) {
	now := time.Now().Unix()
	hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, []byte("s3cret"), c) }
	rsaPEM := pemOf(t, &rsaKey.PublicKey)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"key": "alice"})
	// Algorithm confusion: an HS256 token whose secret is the RSA public
	// key's PEM text, presented to an RS256 verifier of that key.
	confused := sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), jwt.MapClaims{"key": "alice"})
	cases := []struct {
		what, token, opts, want string
	}{
		{"expired", hs(jwt.MapClaims{"exp": now - 120}), `alg = "HS256", secret = "s3cret"`, "token is expired"},
		{"expired within leeway", hs(jwt.MapClaims{"exp": now - 120}), `alg = "HS256", secret = "s3cret", leeway = 300`, "ok"},
		{"expired past leeway", hs(jwt.MapClaims{"exp": now - 1200}), `alg = "HS256", secret = "s3cret", leeway = 300`, "token is expired"},
		{"not yet valid", hs(jwt.MapClaims{"nbf": now + 600}), `alg = "HS256", secret = "s3cret"`, "token is not valid yet"},
		{"nbf within leeway", hs(jwt.MapClaims{"nbf": now + 60}), `alg = "HS256", secret = "s3cret", leeway = 300`, "ok"},
		{"no exp", hs(jwt.MapClaims{}), `alg = "HS256", secret = "s3cret", require_exp = true`, "token is missing required claim: exp claim is required"},
		{"issuer ok", hs(jwt.MapClaims{"iss": "idp"}), `alg = "HS256", secret = "s3cret", issuer = "idp"`, "ok"},
		{"wrong issuer", hs(jwt.MapClaims{"iss": "evil"}), `alg = "HS256", secret = "s3cret", issuer = "idp"`, "token has invalid issuer"},
		{"missing issuer", hs(jwt.MapClaims{}), `alg = "HS256", secret = "s3cret", issuer = "idp"`, "iss claim is required"},
		{"audience in list", hs(jwt.MapClaims{"aud": []string{"x", "api"}}), `alg = "HS256", secret = "s3cret", audience = "api"`, "ok"},
		{"audience any of", hs(jwt.MapClaims{"aud": "b"}), `alg = "HS256", secret = "s3cret", audience = {"a", "b"}`, "ok"},
		{"wrong audience", hs(jwt.MapClaims{"aud": "other"}), `alg = "HS256", secret = "s3cret", audience = "api"`, "token has invalid audience"},
		{"wrong secret", hs(jwt.MapClaims{}), `alg = "HS256", secret = "other"`, "signature is invalid"},
		{"other algorithm", sign(t, jwt.SigningMethodHS512, []byte("s3cret"), jwt.MapClaims{}), `alg = "HS256", secret = "s3cret"`, "signing method HS512 is invalid"},
		{"alg none", none, `alg = "HS256", secret = "s3cret"`, "signing method none is invalid"},
		{"confusion", confused, "alg = \"RS256\", public_key = " + lq(rsaPEM), "signing method HS256 is invalid"},
		{"other RSA key", sign(t, jwt.SigningMethodRS256, rsaKey2, jwt.MapClaims{}), "alg = \"RS256\", public_key = " + lq(rsaPEM), "crypto/rsa: verification error"},
		{"malformed", "not.a.token", `alg = "HS256", secret = "s3cret"`, "token is malformed"},
		{"two parts", "abc.def", `alg = "HS256", secret = "s3cret"`, "token is malformed"},
		{"too long", strings.Repeat("a", 70000), `alg = "HS256", secret = "s3cret"`, "token too long"},
	}
	for _, c := range cases {
		out := run(t, fmt.Sprintf(`
			local jwt = require "resty.jwt"
			local claims, err = jwt.verify(%s, {%s})
			ngx.say(claims and "ok" or err)
		`, lq(c.token), c.opts))
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: got %q, want %q", c.what, out, c.want)
		}
	}
}

func TestParseAndBadOptions(t *testing.T) {
	out := run(t, `
		local jwt = require "resty.jwt"
		ngx.say(select(2, jwt.parse("garbage")))
		ngx.say(select(2, jwt.parse("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x")))
		for _, o in ipairs({
			{},
			{alg = "none"},
			{alg = "HS256"},
			{alg = "RS256", public_key = "not a pem"},
			{alg = "HS256", secret = "x", leeway = -1},
			{alg = "HS256", secret = "x", audience = 5},
		}) do
			local v, err = jwt.verifier(o)
			ngx.say(v, " ", err)
		end
		local ok, err = pcall(jwt.verify, "a.b.c", {alg = "XX"})
		ngx.say(ok, " ", err)
		ok, err = pcall(jwt.verifier({alg = "HS256", secret = "x"}).verify, "a.b.c")
		ngx.say(ok)
	`)
	luatest.ExpectLines(t, out,
		"token is malformed: token contains an invalid number of segments",
		"token is malformed: could not JSON decode claim: invalid character 'o' in literal null (expecting 'u')",
		"nil opts.alg must be a string",
		`nil unsupported algorithm "none"`,
		"nil opts.secret (a non-empty string) is required for HS256",
		"nil opts.public_key for RS256: invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key",
		"nil opts.leeway must be between 0 and 86400 seconds",
		"nil opts.audience must be a string or a list of strings",
		`false test:16: resty.jwt.verify: unsupported algorithm "XX"`,
		"false",
	)
}

// TestKeyCacheBounded: more distinct keys than the cache holds all verify.
func TestKeyCacheBounded(t *testing.T) {
	kc := keyCache{}
	for i := 0; i < maxKeys+10; i++ {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if _, err := kc.publicKey("ecdsa", pemOf(t, &k.PublicKey)); err != nil {
			t.Fatal(err)
		}
		if len(kc) > maxKeys {
			t.Fatalf("cache has %d keys", len(kc))
		}
	}
}

// BenchmarkVerifyHS256 runs 100 verifications per op (a run has a time
// budget): ns/verify is the figure.
func BenchmarkVerifyHS256(b *testing.B) {
	p := luatest.NewPool(b, luaplugin.Config{})
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"key": "alice", "exp": time.Now().Unix() + 3600}).SignedString([]byte("s3cret"))
	c := luatest.Compile(b, fmt.Sprintf(`
		local jwt = require "resty.jwt"
		V = V or jwt.verifier({alg = "HS256", secret = "s3cret"})
		for i = 1, 100 do assert(V:verify(%s)) end`, lq(tok)))
	vm, err := p.Acquire(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release(vm)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := luatest.NewRequest()
		if res := vm.Run(c, req, luaplugin.PhaseContent); res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/verify")
}
