package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The authentication plugins: key-auth, basic-auth, jwt-auth and
// forward-auth, through a real Caddy (see plugins_harness_test.go).

// plJSON is v as JSON between backquotes: a plugin's config in the
// Caddyfile.
func plJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return "`" + string(b) + "`"
}

// authExpectDenied checks a JSON denial: status, {"message": msg}.
func authExpectDenied(t *testing.T, what string, r plReply, status int, msg string) {
	t.Helper()
	plExpect(t, what, r, status)
	var body struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Message != msg {
		t.Fatalf("%s: want message %q, got %s", what, msg, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// authConsumer checks that the backend saw exactly the consumer name (and
// custom id, "" for none) and that {http.vars.consumer_name} was set.
func authConsumer(t *testing.T, what string, r plReply, name, customID string) plEcho {
	t.Helper()
	plExpect(t, what, r, 200)
	e := r.echo(t)
	if got := e.Header["X-Consumer-Username"]; len(got) != 1 || got[0] != name {
		t.Fatalf("%s: X-Consumer-Username %q, want [%s]: %s", what, got, name, r)
	}
	if got := e.Header["X-Consumer-Custom-Id"]; (customID == "" && len(got) != 0) || (customID != "" && (len(got) != 1 || got[0] != customID)) {
		t.Fatalf("%s: X-Consumer-Custom-Id %q, want %q", what, got, customID)
	}
	if got := e.Header["X-Consumer-Var"]; len(got) != 1 || got[0] != name {
		t.Fatalf("%s: {http.vars.consumer_name} gave %q, want %s", what, got, name)
	}
	return e
}

// authProxy is the proxy action of the auth routes: the consumer variable
// goes to the backend, so that the tests see it.
const authProxy = `proxy be {
				header_up X-Consumer-Var {http.vars.consumer_name}
			}`

// forged are consumer fields a client sends to impersonate someone.
var forged = map[string]string{"X-Consumer-Username": "mallory", "X-Consumer-Custom-Id": "root"}

func withHeaders(base map[string]string, more map[string]string) map[string]string {
	h := map[string]string{}
	for k, v := range base {
		h[k] = v
	}
	for k, v := range more {
		h[k] = v
	}
	return h
}

func TestPluginAuthKeyAuth(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route ka {
			path /ka/*
			plugin key-auth ` + plJSON(t, map[string]any{"header": "X-Api-Key", "consumers": []any{
		map[string]any{"name": "alice", "key": "k-alice", "custom_id": "c-1"},
		map[string]any{"name": "bob", "key": "k bob+/%"},
	}}) + `
			` + authProxy + `
		}
		route keep {
			path /keep/*
			plugin key-auth ` + plJSON(t, map[string]any{"hide_credentials": false, "query": "key", "consumers": []any{
		map[string]any{"name": "carol", "key": "k-carol"},
	}}) + `
			` + authProxy + `
		}`})

	// a key in the configured field; forged consumer fields replaced
	r := g.do("GET", "/ka/a", withHeaders(forged, map[string]string{"X-Api-Key": "k-alice"}), "")
	e := authConsumer(t, "header key", r, "alice", "c-1")
	if _, ok := e.Header["X-Api-Key"]; ok {
		t.Fatalf("the key reached the backend (hide_credentials defaults to true): %s", r)
	}
	r = g.do("GET", "/ka/a", withHeaders(forged, map[string]string{"X-Api-Key": "k bob+/%"}), "")
	authConsumer(t, "header key of bob", r, "bob", "")

	// a key in the query (default name apikey), escaped, removed upstream
	r = g.do("GET", "/ka/q?x=1&apikey=k%20bob%2B%2F%25&y=2", nil, "")
	e = authConsumer(t, "query key", r, "bob", "")
	if e.URI != "/ka/q?x=1&y=2" {
		t.Fatalf("query after hide_credentials: %q", e.URI)
	}
	r = g.do("GET", "/ka/q?APIKEY=k-alice&z=%2F", nil, "")
	e = authConsumer(t, "query key, name in another case", r, "alice", "c-1")
	if e.URI != "/ka/q?z=%2F" {
		t.Fatalf("query after hide_credentials: %q", e.URI)
	}

	// denials
	authExpectDenied(t, "no key", g.do("GET", "/ka/a", forged, ""), 401, "Missing API key in request")
	authExpectDenied(t, "empty key", g.do("GET", "/ka/a?apikey=", map[string]string{"X-Api-Key": ""}, ""), 401, "Missing API key in request")
	authExpectDenied(t, "key in the default field, not the configured one", g.do("GET", "/ka/a", map[string]string{"apikey": "k-alice"}, ""), 401, "Missing API key in request")
	authExpectDenied(t, "wrong key", g.do("GET", "/ka/a", map[string]string{"X-Api-Key": "k-alicf"}, ""), 401, "Invalid API key in request")
	authExpectDenied(t, "wrong query key", g.do("GET", "/ka/a?apikey=nope", nil, ""), 401, "Invalid API key in request")
	g.expectLog(t, "key-auth: no API key in request")
	g.expectLog(t, "key-auth: invalid API key")
	if n := g.backend.reqs.Load(); n != 4 {
		t.Fatalf("backend got %d requests, want the 4 allowed ones", n)
	}

	// hide_credentials false: the key goes on; the query name is "key"
	r = g.do("GET", "/keep/a?key=k-carol", nil, "")
	e = authConsumer(t, "kept query key", r, "carol", "")
	if !strings.Contains(e.URI, "key=k-carol") {
		t.Fatalf("query key removed with hide_credentials false: %q", e.URI)
	}
	r = g.do("GET", "/keep/a", map[string]string{"apikey": "k-carol"}, "")
	e = authConsumer(t, "kept header key", r, "carol", "")
	if got := e.Header["Apikey"]; len(got) != 1 || got[0] != "k-carol" {
		t.Fatalf("header key with hide_credentials false: %q", got)
	}

	for _, c := range []struct{ conf, field string }{
		{`{"header": "X-Api-Key"}`, "consumers"},
		{`{"consumers": []}`, "consumers"},
		{`{"consumers": [{"name": "a"}]}`, "key"},
		{`{"consumers": [{"name": "a", "key": ""}]}`, "key"},
		{`{"consumers": [{"name": "a", "key": "k", "secret": "x"}]}`, "secret"},
		{`{"header": "", "consumers": [{"name": "a", "key": "k"}]}`, "header"},
		{`{"headers": "x", "consumers": [{"name": "a", "key": "k"}]}`, "headers"},
	} {
		plRefused(t, "route badka {\n\t\t\tpath /x\n\t\t\tplugin key-auth `"+c.conf+"`\n\t\t\tproxy be\n\t\t}", "badka", "key-auth", c.field)
	}
	// check_schema: two consumers with one key, refused at load naming
	// both consumers but not the key
	authRefused(t, "route dupka {\n\t\t\tpath /x\n\t\t\tplugin key-auth `"+
		`{"consumers": [{"name": "a", "key": "k-shared-1"}, {"name": "b", "key": "k-other"}, {"name": "c", "key": "k-shared-1"}]}`+
		"`\n\t\t\tproxy be\n\t\t}", "k-shared-1", "dupka", "key-auth", "consumers[2].key: the same key as consumers[0] (a)")
}

func TestPluginAuthBasicAuth(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route ba {
			path /ba/*
			plugin basic-auth ` + plJSON(t, map[string]any{"consumers": []any{
		map[string]any{"name": "alice", "username": "alice", "password": "wonder:land", "custom_id": "c-1"},
		map[string]any{"name": "robert", "username": "bob", "password": ""},
	}}) + `
			` + authProxy + `
		}
		route keep {
			path /keep/*
			plugin basic-auth ` + plJSON(t, map[string]any{"hide_credentials": false, "realm": "staff only", "consumers": []any{
		map[string]any{"name": "carol", "username": "carol", "password": "pw"},
	}}) + `
			` + authProxy + `
		}`})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	r := g.do("GET", "/ba/a", withHeaders(forged, map[string]string{"Authorization": basic("alice", "wonder:land")}), "")
	e := authConsumer(t, "alice", r, "alice", "c-1")
	if _, ok := e.Header["Authorization"]; ok {
		t.Fatalf("Authorization reached the backend: %s", r)
	}
	r = g.do("GET", "/ba/a", map[string]string{"Authorization": "basic " + base64.StdEncoding.EncodeToString([]byte("bob:"))}, "")
	authConsumer(t, "bob, empty password, lower-case scheme", r, "robert", "")

	denied := func(what string, r plReply, msg, realm string) {
		t.Helper()
		authExpectDenied(t, what, r, 401, msg)
		if got := r.header.Get("WWW-Authenticate"); got != `Basic realm="`+realm+`"` {
			t.Fatalf("%s: WWW-Authenticate %q", what, got)
		}
	}
	denied("no credentials", g.do("GET", "/ba/a", nil, ""), "Missing authorization in request", "basic")
	denied("not basic", g.do("GET", "/ba/a", map[string]string{"Authorization": "Bearer abc"}, ""), "Invalid authorization in request", "basic")
	denied("not base64", g.do("GET", "/ba/a", map[string]string{"Authorization": "Basic !!!"}, ""), "Invalid authorization in request", "basic")
	denied("no colon", g.do("GET", "/ba/a", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, ""), "Invalid authorization in request", "basic")
	denied("wrong password", g.do("GET", "/ba/a", map[string]string{"Authorization": basic("alice", "wonder")}, ""), "Invalid user authorization", "basic")
	denied("unknown user", g.do("GET", "/ba/a", map[string]string{"Authorization": basic("mallory", "wonder:land")}, ""), "Invalid user authorization", "basic")
	denied("realm", g.do("GET", "/keep/a", nil, ""), "Missing authorization in request", "staff only")
	// nginx's base64 decoding stops at the first '=': what follows must not
	// ride along, nor a second Authorization field (joined with ", "), which
	// an upstream may read instead of the one authenticated
	denied("data after the padding", g.do("GET", "/keep/a", map[string]string{"Authorization": basic("carol", "pw") + "Zm9v"}, ""), "Invalid authorization in request", "staff only")
	denied("data after the credential", g.do("GET", "/keep/a", map[string]string{"Authorization": basic("carol", "pw") + " x"}, ""), "Invalid authorization in request", "staff only")
	two, _ := http.NewRequest("GET", g.base+"/keep/a", nil)
	two.Header.Add("Authorization", basic("carol", "pw"))
	two.Header.Add("Authorization", "Bearer other")
	resp, err := noRetry.Do(two)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("two Authorization fields: %d, want 401", resp.StatusCode)
	}
	// trailing spaces are fine
	authConsumer(t, "trailing spaces", g.do("GET", "/keep/a", map[string]string{"Authorization": basic("carol", "pw") + "  "}, ""), "carol", "")
	g.expectLog(t, "basic-auth: no Authorization in request")
	g.expectLog(t, "basic-auth: malformed Authorization")
	g.expectLog(t, `basic-auth: invalid credentials for user \"mallory\"`)

	r = g.do("GET", "/keep/a", map[string]string{"Authorization": basic("carol", "pw")}, "")
	e = authConsumer(t, "kept", r, "carol", "")
	if got := e.Header["Authorization"]; len(got) != 1 {
		t.Fatalf("Authorization removed with hide_credentials false: %s", r)
	}
	if n := g.backend.reqs.Load(); n != 4 {
		t.Fatalf("backend got %d requests, want 4", n)
	}

	for _, c := range []struct{ conf, field string }{
		{`{}`, "consumers"},
		{`{"consumers": [{"name": "a", "username": "a"}]}`, "password"},
		{`{"consumers": [{"name": "a", "username": "a:b", "password": "p"}]}`, "username"},
		{`{"realm": "a\"b", "consumers": [{"name": "a", "username": "a", "password": "p"}]}`, "realm"},
		{`{"hide_credentials": "yes", "consumers": [{"name": "a", "username": "a", "password": "p"}]}`, "hide_credentials"},
		// check_schema: a username names one consumer only
		{`{"consumers": [{"name": "a", "username": "u", "password": "p"}, {"name": "b", "username": "u", "password": "q"}]}`, "consumers[1].username: the same username as consumers[0] (a)"},
	} {
		plRefused(t, "route badba {\n\t\t\tpath /x\n\t\t\tplugin basic-auth `"+c.conf+"`\n\t\t\tproxy be\n\t\t}", "badba", "basic-auth", c.field)
	}
}

func authPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func authSign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPluginAuthJWT(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPEM, ecPEM := authPEM(t, &rsaKey.PublicKey), authPEM(t, &ecKey.PublicKey)
	b64secret := []byte("\x00binary\xffsecret")
	consumers := []any{
		map[string]any{"name": "alice", "key": "alice-key", "secret": "alice-secret", "custom_id": "c-1"},
		map[string]any{"name": "hs512", "key": "hs512-key", "algorithm": "HS512", "secret": "hs512-secret"},
		map[string]any{"name": "b64", "key": "b64-key", "secret": base64.StdEncoding.EncodeToString(b64secret), "base64_secret": true},
		map[string]any{"name": "rsa", "key": "rsa-key", "algorithm": "RS256", "public_key": rsaPEM},
		map[string]any{"name": "ec", "key": "ec-key", "algorithm": "ES256", "public_key": ecPEM},
		map[string]any{"name": "grace", "key": "grace-key", "secret": "grace-secret", "lifetime_grace_period": 300},
	}
	g := plStartGateway(t, plOptions{routes: `
		route jwt {
			path /jwt/*
			plugin jwt-auth ` + plJSON(t, map[string]any{"consumers": consumers}) + `
			` + authProxy + `
		}
		route iss {
			path /iss/*
			plugin jwt-auth ` + plJSON(t, map[string]any{"issuer": "https://idp.example", "audience": "api", "consumers": consumers[:1]}) + `
			` + authProxy + `
		}`})

	now := time.Now().Unix()
	claims := func(key string, more ...any) jwt.MapClaims {
		c := jwt.MapClaims{"key": key, "exp": now + 600}
		for i := 0; i+1 < len(more); i += 2 {
			if more[i+1] == nil {
				delete(c, more[i].(string))
				continue
			}
			c[more[i].(string)] = more[i+1]
		}
		return c
	}
	hs := func(c jwt.MapClaims) string { return authSign(t, jwt.SigningMethodHS256, []byte("alice-secret"), c) }
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	// valid tokens of each kind, in the Authorization field
	r := g.do("GET", "/jwt/a", withHeaders(forged, bearer(hs(claims("alice-key")))), "")
	e := authConsumer(t, "HS256 bearer", r, "alice", "c-1")
	if _, ok := e.Header["Authorization"]; ok {
		t.Fatalf("the token reached the backend: %s", r)
	}
	r = g.do("GET", "/jwt/a", map[string]string{"Authorization": hs(claims("alice-key"))}, "")
	authConsumer(t, "HS256 bare", r, "alice", "c-1")
	for _, c := range []struct {
		name, token string
	}{
		{"hs512", authSign(t, jwt.SigningMethodHS512, []byte("hs512-secret"), claims("hs512-key"))},
		{"b64", authSign(t, jwt.SigningMethodHS256, b64secret, claims("b64-key"))},
		{"rsa", authSign(t, jwt.SigningMethodRS256, rsaKey, claims("rsa-key"))},
		{"ec", authSign(t, jwt.SigningMethodES256, ecKey, claims("ec-key"))},
		{"grace", authSign(t, jwt.SigningMethodHS256, []byte("grace-secret"), claims("grace-key", "exp", now-120))},
		{"grace", authSign(t, jwt.SigningMethodHS256, []byte("grace-secret"), claims("grace-key", "nbf", now+120))},
	} {
		authConsumer(t, c.name, g.do("GET", "/jwt/a", bearer(c.token), ""), c.name, "")
	}

	// in the query and in a cookie, removed before proxying
	r = g.do("GET", "/jwt/q?x=1&jwt="+hs(claims("alice-key"))+"&y", nil, "")
	e = authConsumer(t, "query token", r, "alice", "c-1")
	if e.URI != "/jwt/q?x=1&y" {
		t.Fatalf("query after hide_credentials: %q", e.URI)
	}
	r = g.do("GET", "/jwt/c", map[string]string{"Cookie": "a=1; jwt=" + hs(claims("alice-key")) + "; b=2"}, "")
	e = authConsumer(t, "cookie token", r, "alice", "c-1")
	if got := e.Header["Cookie"]; len(got) != 1 || got[0] != "a=1; b=2" {
		t.Fatalf("cookies after hide_credentials: %q", got)
	}

	// issuer and audience
	r = g.do("GET", "/iss/a", bearer(hs(claims("alice-key", "iss", "https://idp.example", "aud", []string{"web", "api"}))), "")
	authConsumer(t, "issuer and audience", r, "alice", "c-1")

	denied := func(what string, r plReply, msg string) {
		t.Helper()
		authExpectDenied(t, what, r, 401, msg)
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="jwt"` {
			t.Fatalf("%s: WWW-Authenticate %q", what, got)
		}
	}
	noneTok := authSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("alice-key"))
	for _, c := range []struct {
		what, path string
		header     map[string]string
		msg, log   string
	}{
		{"missing", "/jwt/a", nil, "Missing JWT token in request", "jwt-auth: no token in request"},
		{"empty bearer", "/jwt/a", map[string]string{"Authorization": "Bearer "}, "JWT token invalid", "jwt-auth: malformed token"},
		{"malformed", "/jwt/a", bearer("not-a-token"), "JWT token invalid", "jwt-auth: malformed token"},
		{"malformed json", "/jwt/a", bearer("eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x"), "JWT token invalid", "jwt-auth: malformed token"},
		{"no key claim", "/jwt/a", bearer(hs(claims("alice-key", "key", nil))), "missing user key in JWT token", "jwt-auth: no key claim"},
		{"unknown key", "/jwt/a", bearer(hs(claims("nobody"))), "Invalid user key in JWT token", `jwt-auth: unknown key \"nobody\"`},
		{"expired", "/jwt/a", bearer(hs(claims("alice-key", "exp", now-120))), "failed to verify jwt", "token is expired"},
		{"expired past the grace period", "/jwt/a", bearer(authSign(t, jwt.SigningMethodHS256, []byte("grace-secret"), claims("grace-key", "exp", now-1200))), "failed to verify jwt", "token is expired"},
		{"not yet valid", "/jwt/a", bearer(hs(claims("alice-key", "nbf", now+600))), "failed to verify jwt", "token is not valid yet"},
		{"alg none", "/jwt/a", bearer(noneTok), "failed to verify jwt", "signing method none is invalid"},
		{"other secret", "/jwt/a", bearer(authSign(t, jwt.SigningMethodHS256, []byte("guess"), claims("alice-key"))), "failed to verify jwt", "signature is invalid"},
		{"HS512 for an HS256 consumer", "/jwt/a", bearer(authSign(t, jwt.SigningMethodHS512, []byte("alice-secret"), claims("alice-key"))), "failed to verify jwt", "signing method HS512 is invalid"},
		{"other RSA key", "/jwt/a", bearer(authSign(t, jwt.SigningMethodRS256, otherRSA, claims("rsa-key"))), "failed to verify jwt", "verification error"},
		{"algorithm confusion", "/jwt/a", bearer(authSign(t, jwt.SigningMethodHS256, []byte(rsaPEM), claims("rsa-key"))), "failed to verify jwt", "signing method HS256 is invalid"},
		{"wrong issuer", "/iss/a", bearer(hs(claims("alice-key", "iss", "https://evil.example", "aud", "api"))), "failed to verify jwt", "token has invalid issuer"},
		{"wrong audience", "/iss/a", bearer(hs(claims("alice-key", "iss", "https://idp.example", "aud", "web"))), "failed to verify jwt", "token has invalid audience"},
		{"bad query token", "/jwt/a?jwt=abc", nil, "JWT token invalid", "jwt-auth: malformed token"},
		{"bad cookie token", "/jwt/a", map[string]string{"Cookie": "jwt=" + hs(claims("nobody"))}, "Invalid user key in JWT token", `unknown key \"nobody\"`},
	} {
		denied(c.what, g.do("GET", c.path, c.header, ""), c.msg)
		g.expectLog(t, c.log)
	}
	if n := g.backend.reqs.Load(); n != 11 {
		t.Fatalf("backend got %d requests, want the 11 allowed ones", n)
	}

	for _, c := range []struct{ conf, field string }{
		{`{}`, "consumers"},
		{`{"consumers": [{"name": "a", "secret": "s"}]}`, "key"},
		{`{"consumers": [{"name": "a", "key": "k"}]}`, "consumers"},
		{`{"consumers": [{"name": "a", "key": "k", "secret": "s", "algorithm": "none"}]}`, "algorithm"},
		{`{"consumers": [{"name": "a", "key": "k", "secret": "s", "lifetime_grace_period": -1}]}`, "lifetime_grace_period"},
		{`{"cookie": "", "consumers": [{"name": "a", "key": "k", "secret": "s"}]}`, "cookie"},
	} {
		plRefused(t, "route badjwt {\n\t\t\tpath /x\n\t\t\tplugin jwt-auth `"+c.conf+"`\n\t\t\tproxy be\n\t\t}", "badjwt", "jwt-auth", c.field)
	}
}

// TestPluginAuthJWTBadKey: what the schema cannot check about a
// consumer's key is refused when the config loads (check_schema), naming
// the route, the plugin and the consumer's field, never the secret: a
// public key that is not a PEM key or not of the algorithm's type, a
// base64_secret that is not base64, a key missing for the algorithm, two
// consumers with one key.
func TestPluginAuthJWTBadKey(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := authPEM(t, &ecKey.PublicKey)
	for _, c := range []struct {
		consumers []any
		secret    string // must not appear in the refusal
		want      string
	}{
		{[]any{map[string]any{"name": "broken", "key": "k", "algorithm": "RS256", "public_key": "not a pem"}},
			"", "consumers[0].public_key: not a RS256 key"},
		{[]any{map[string]any{"name": "ok", "key": "k0", "secret": "s"},
			map[string]any{"name": "ec-for-rsa", "key": "k1", "algorithm": "RS256", "public_key": ecPEM}},
			"", "consumers[1].public_key: not a RS256 key"},
		{[]any{map[string]any{"name": "b64", "key": "k", "secret": "not*base64*secret", "base64_secret": true}},
			"not*base64*secret", "consumers[0].secret: not valid base64"},
		{[]any{map[string]any{"name": "hs", "key": "k", "public_key": ecPEM}},
			"", "consumers[0].secret: HS256 needs a secret"},
		{[]any{map[string]any{"name": "es", "key": "k", "algorithm": "ES256", "secret": "hidden-secret-1"}},
			"hidden-secret-1", "consumers[0].public_key: ES256 needs a public_key"},
		{[]any{map[string]any{"name": "a", "key": "k", "secret": "hidden-secret-2"},
			map[string]any{"name": "b", "key": "k", "secret": "hidden-secret-3"}},
			"hidden-secret-", "consumers[1].key: the same key as consumers[0] (a)"},
	} {
		routes := "route badkey {\n\t\t\tpath /x\n\t\t\tplugin jwt-auth " +
			plJSON(t, map[string]any{"consumers": c.consumers}) + "\n\t\t\tproxy be\n\t\t}"
		authRefused(t, routes, c.secret, "route badkey", "jwt-auth", c.want)
	}
}

// authRefused checks, as plRefused, that Caddy refuses a config with these
// routes, naming each of want; and that the refusal does not show secret
// (unless "").
func authRefused(t *testing.T, routes, secret string, want ...string) {
	t.Helper()
	out := plRefused(t, routes, want...)
	if secret != "" && strings.Contains(out, secret) {
		t.Fatalf("refusal shows the secret %q:\n%s", secret, out)
	}
}

// authService is the forward-auth service of the tests.
type authService struct {
	mu   sync.Mutex
	seen []http.Header
	body []string
}

func (a *authService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Clone())
	a.body = append(a.body, r.Method+" "+string(b))
	a.mu.Unlock()
	if r.URL.Path == "/slow" {
		time.Sleep(3 * time.Second)
	}
	uri := r.Header.Get("X-Forwarded-Uri")
	switch {
	case r.Header.Get("Authorization") == "Bearer good" && strings.Contains(uri, "anon"):
		w.WriteHeader(204) // no X-User-Id
	case r.Header.Get("Authorization") == "Bearer good":
		w.Header().Set("X-User-Id", "u-42")
		w.Header().Set("X-Not-Listed", "x")
		w.WriteHeader(200)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="auth"`)
		w.Header().Set("X-Reason", "bad-token")
		w.Header().Set("X-Internal", "secret")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"error":"denied"}`)
	}
}

func (a *authService) last(t *testing.T) (http.Header, string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) == 0 {
		t.Fatal("the auth service got no request")
	}
	return a.seen[len(a.seen)-1], a.body[len(a.body)-1]
}

func TestPluginAuthForwardAuth(t *testing.T) {
	svc := &authService{}
	as := httptest.NewServer(svc)
	t.Cleanup(as.Close)
	// a port nothing listens on: the auth service is down
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/check"
	l.Close()

	conf := func(uri string, more map[string]any) string {
		c := map[string]any{
			"uri":              uri,
			"request_headers":  []string{"Authorization"},
			"upstream_headers": []string{"X-User-Id"},
			"client_headers":   []string{"WWW-Authenticate", "X-Reason"},
		}
		for k, v := range more {
			c[k] = v
		}
		return plJSON(t, c)
	}
	g := plStartGateway(t, plOptions{routes: `
		route fa {
			path /fa/*
			plugin forward-auth ` + conf(as.URL+"/check", nil) + `
			proxy be
		}
		route consumer {
			path /consumer/*
			plugin forward-auth ` + conf(as.URL+"/check", map[string]any{"consumer_header": "X-User-Id", "extra_headers": map[string]string{"X-Route": "$resty_route"}}) + `
			` + authProxy + `
		}
		route post {
			path /post/*
			plugin forward-auth ` + conf(as.URL+"/check", map[string]any{"request_method": "POST"}) + `
			proxy be
		}
		route down {
			path /down/*
			plugin forward-auth ` + conf(down, nil) + `
			proxy be
		}
		route down503 {
			path /down503/*
			plugin forward-auth ` + conf(down, map[string]any{"status_on_error": 503}) + `
			proxy be
		}
		route degrade {
			path /degrade/*
			plugin forward-auth ` + conf(down, map[string]any{"allow_degradation": true}) + `
			proxy be
		}
		route slow {
			path /slow/*
			plugin forward-auth ` + conf(as.URL+"/slow", map[string]any{"timeout": 300}) + `
			proxy be
		}`})

	// allowed: the auth service's X-User-Id replaces the client's
	r := g.do("GET", "/fa/allow?q=1", map[string]string{"Authorization": "Bearer good", "X-User-Id": "forged", "Cookie": "c=1", "Host": "api.example"}, "")
	plExpect(t, "allowed", r, 200)
	e := r.echo(t)
	if got := e.Header["X-User-Id"]; len(got) != 1 || got[0] != "u-42" {
		t.Fatalf("upstream X-User-Id %q", got)
	}
	if _, ok := e.Header["X-Not-Listed"]; ok {
		t.Fatal("a field not in upstream_headers reached the backend")
	}
	h, body := svc.last(t)
	for k, want := range map[string]string{
		"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/fa/allow?q=1", "X-Forwarded-Host": "api.example",
		"X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1", "Authorization": "Bearer good",
	} {
		if h.Get(k) != want {
			t.Fatalf("auth service got %s %q, want %q (%v)", k, h.Get(k), want, h)
		}
	}
	if h.Get("Cookie") != "" || body != "GET " {
		t.Fatalf("auth service got a field not in request_headers, or a body: %v %q", h, body)
	}

	// allowed without X-User-Id: the client's forged value does not pass
	r = g.do("GET", "/fa/anon", map[string]string{"Authorization": "Bearer good", "X-User-Id": "forged"}, "")
	plExpect(t, "allowed, no user id", r, 200)
	if got := r.echo(t).Header["X-User-Id"]; len(got) != 0 {
		t.Fatalf("the client's X-User-Id reached the backend: %q", got)
	}

	// denied: the service's status, body and client_headers only
	r = g.do("GET", "/fa/deny", map[string]string{"Authorization": "Bearer bad"}, "")
	plExpect(t, "denied", r, 401)
	if r.body != `{"error":"denied"}` || r.header.Get("WWW-Authenticate") != `Bearer realm="auth"` || r.header.Get("X-Reason") != "bad-token" {
		t.Fatalf("denial not passed on: %s", r)
	}
	if r.header.Get("X-Internal") != "" {
		t.Fatalf("a field not in client_headers reached the client: %s", r)
	}
	g.expectLog(t, "forward-auth: auth service refused the request with 401")

	// consumer_header: the consumer is the service's X-User-Id
	r = g.do("GET", "/consumer/a", withHeaders(forged, map[string]string{"Authorization": "Bearer good"}), "")
	authConsumer(t, "consumer from the auth service", r, "u-42", "")
	if h, _ := svc.last(t); h.Get("X-Route") != "consumer" {
		t.Fatalf("extra_headers: X-Route %q", h.Get("X-Route"))
	}
	authExpectDenied(t, "consumer header missing", g.do("GET", "/consumer/anon", map[string]string{"Authorization": "Bearer good"}, ""), 403, "consumer header missing in auth response")

	// POST: the request body goes to the service
	r = g.do("POST", "/post/a", map[string]string{"Authorization": "Bearer good", "Content-Type": "text/plain"}, "hello")
	plExpect(t, "post", r, 200)
	if _, body := svc.last(t); body != "POST hello" {
		t.Fatalf("auth service got %q", body)
	}
	if r.echo(t).Body != "hello" {
		t.Fatalf("the backend did not get the body: %s", r)
	}

	// the service down or slow
	plExpect(t, "down", g.do("GET", "/down/a", nil, ""), 403)
	plExpect(t, "down, status_on_error", g.do("GET", "/down503/a", nil, ""), 503)
	g.expectLog(t, "forward-auth: auth service "+down+" failed")
	r = g.do("GET", "/degrade/a", map[string]string{"X-User-Id": "forged"}, "")
	plExpect(t, "down, allow_degradation", r, 200)
	if got := r.echo(t).Header["X-User-Id"]; len(got) != 0 {
		t.Fatalf("the client's X-User-Id reached the backend: %q", got)
	}
	g.expectLog(t, "letting the request through (allow_degradation)")
	start := time.Now()
	plExpect(t, "slow", g.do("GET", "/slow/a", map[string]string{"Authorization": "Bearer good"}, ""), 403)
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Fatalf("timeout 300ms answered after %v", d)
	}

	for _, c := range []struct{ conf, field string }{
		{`{"request_headers": ["a"]}`, "uri"},
		{`{"uri": "ftp://x/"}`, "uri"},
		// check_schema: a URI resty.http cannot parse
		{`{"uri": "http://"}`, "uri: not a valid http(s) URI"},
		{`{"uri": "http://x:99999/"}`, "uri: not a valid http(s) URI"},
		{`{"uri": "https://user:pw@auth/"}`, "uri: not a valid http(s) URI"},
		{`{"uri": "HTTP://auth/"}`, "uri: not a valid http(s) URI"},
		{`{"uri": "http://x/", "timeout": 0}`, "timeout"},
		{`{"uri": "http://x/", "request_method": "PUT"}`, "request_method"},
		{`{"uri": "http://x/", "status_on_error": 100}`, "status_on_error"},
	} {
		plRefused(t, "route badfa {\n\t\t\tpath /x\n\t\t\tplugin forward-auth `"+c.conf+"`\n\t\t\tproxy be\n\t\t}", "badfa", "forward-auth", c.field)
	}
}

// TestPluginAuthForwardAuthForwardedFields: the X-Forwarded-* fields the
// auth service decides on are the gateway's, even when request_headers
// lists one of them in another case: the client's copy never replaces
// them.
func TestPluginAuthForwardAuthForwardedFields(t *testing.T) {
	svc := &authService{}
	as := httptest.NewServer(svc)
	t.Cleanup(as.Close)
	g := plStartGateway(t, plOptions{routes: `
		route fa {
			path /fa/*
			plugin forward-auth ` + plJSON(t, map[string]any{"uri": as.URL + "/check",
		"request_headers": []string{"authorization", "x-forwarded-uri", "X-FORWARDED-METHOD", "x-forwarded-for"}}) + `
			proxy be
		}`})
	for i := 0; i < 10; i++ {
		plExpect(t, "allowed", g.do("GET", "/fa/private", map[string]string{"Authorization": "Bearer good",
			"X-Forwarded-Uri": "/public", "X-Forwarded-Method": "OPTIONS", "X-Forwarded-For": "10.0.0.1"}, ""), 200)
		h, _ := svc.last(t)
		if got := h.Values("X-Forwarded-Uri"); len(got) != 1 || got[0] != "/fa/private" {
			t.Fatalf("auth service got X-Forwarded-Uri %q", got)
		}
		if got := h.Values("X-Forwarded-Method"); len(got) != 1 || got[0] != "GET" {
			t.Fatalf("auth service got X-Forwarded-Method %q", got)
		}
		if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Fatalf("auth service got X-Forwarded-For %q", got)
		}
		if got := h.Values("Authorization"); len(got) != 1 || got[0] != "Bearer good" {
			t.Fatalf("auth service got Authorization %q", got)
		}
	}
}
