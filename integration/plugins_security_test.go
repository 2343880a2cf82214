package integration

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The security plugins: ip-restriction, uri-blocker, request-validation,
// cors, csrf.

// bq wraps JSON in backquotes for a Caddyfile plugin line.

// plNoCORS fails the test if r has any Access-Control-* header.
func plNoCORS(t *testing.T, what string, r plReply) {
	t.Helper()
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Fatalf("%s: CORS header %s in %s", what, k, r)
		}
	}
}

// plJSON checks that r is JSON.
func plIsJSON(t *testing.T, what string, r plReply) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q: %s", what, ct, r)
	}
}

const ipRoutes = `
		route wl {
			path /wl/*
			plugin ip-restriction ` + "`" + `{"whitelist": ["127.0.0.0/8", "::1"]}` + "`" + `
			proxy be
		}
		route bl {
			path /bl/*
			plugin ip-restriction ` + "`" + `{"blacklist": ["10.0.0.0/8", "127.0.0.1", "2001:db8::/32"]}` + "`" + `
			proxy be
		}
		route wl10 {
			path /wl10/*
			plugin ip-restriction ` + "`" + `{"whitelist": ["10.0.0.0/8", "2001:db8::1"], "message": "not you", "response_code": 404}` + "`" + `
			proxy be
		}`

// TestPluginIPRestriction: whitelist and blacklist on Caddy's client IP;
// without trusted_proxies a forged X-Forwarded-For changes nothing; with
// them the forwarded address (IPv4 and IPv6) is the one matched; bad
// config refused at load.
func TestPluginIPRestriction(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: ipRoutes})
	plExpect(t, "whitelisted", g.do("GET", "/wl/a", nil, ""), 200)
	r := g.do("GET", "/bl/a", nil, "")
	plExpect(t, "blacklisted", r, 403, `{"message":"Your IP address is not allowed"}`)
	plIsJSON(t, "blacklisted", r)
	r = g.do("GET", "/wl10/a", nil, "")
	plExpect(t, "not whitelisted", r, 404, `{"message":"not you"}`)
	// no trusted proxies: the forged X-Forwarded-For is ignored both ways
	plExpect(t, "forged XFF into the whitelist", g.do("GET", "/wl10/a", map[string]string{"X-Forwarded-For": "10.1.2.3"}, ""), 404)
	plExpect(t, "forged XFF out of the blacklist", g.do("GET", "/bl/a", map[string]string{"X-Forwarded-For": "192.0.2.1"}, ""), 403)
	g.expectLog(t, "ip-restriction: denied 127.0.0.1")

	// trusted proxies at 127.0.0.0/8: the forwarded address counts
	tg := plStartGateway(t, plOptions{routes: ipRoutes + ppTrust})
	xff := func(path, ip string) plReply { return tg.do("GET", path, map[string]string{"X-Forwarded-For": ip}, "") }
	plExpect(t, "forwarded into the whitelist", xff("/wl10/a", "10.1.2.3"), 200)
	plExpect(t, "forwarded v6 into the whitelist", xff("/wl10/a", "2001:db8::1"), 200)
	plExpect(t, "forwarded out of the whitelist", xff("/wl10/a", "11.0.0.1"), 404, "not you")
	plExpect(t, "forwarded v6 out of the whitelist", xff("/wl10/a", "2001:db8::2"), 404)
	plExpect(t, "forwarded into the blacklist", xff("/bl/a", "10.9.9.9"), 403)
	plExpect(t, "forwarded v6 into the blacklist", xff("/bl/a", "2001:db8:5::7"), 403)
	plExpect(t, "forwarded out of the blacklist", xff("/bl/a", "192.0.2.1"), 200)
	plExpect(t, "forwarded, localhost whitelist", xff("/wl/a", "192.0.2.1"), 403)

	plRefused(t, `
		route bad {
			path /x
			plugin ip-restriction `+bq(`{"whitelist": ["10.0.0.0/8", "10.0.0.0/33"]}`)+`
			proxy be
		}`, "bad", "ip-restriction", "whitelist", "10.0.0.0/33")
	plRefused(t, `
		route badv6 {
			path /x
			plugin ip-restriction `+bq(`{"blacklist": ["2001:db8:::1"]}`)+`
			proxy be
		}`, "badv6", "ip-restriction", "blacklist", "2001:db8:::1")
	plRefused(t, `
		route both {
			path /x
			plugin ip-restriction `+bq(`{"whitelist": ["10.0.0.1"], "blacklist": ["10.0.0.2"]}`)+`
			proxy be
		}`, "both", "ip-restriction", "oneOf")
	plRefused(t, `
		route neither {
			path /x
			plugin ip-restriction `+bq(`{"message": "x"}`)+`
			proxy be
		}`, "neither", "ip-restriction", "whitelist")
	plRefused(t, `
		route code {
			path /x
			plugin ip-restriction `+bq(`{"whitelist": ["10.0.0.1"], "response_code": 500}`)+`
			proxy be
		}`, "code", "ip-restriction", "response_code")
}

// TestPluginURIBlocker: the rules match path and query, case-sensitively
// unless case_insensitive; rejected_msg gives a JSON body; a bad regex is
// refused at load.
func TestPluginURIBlocker(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route ub {
			path /ub/*
			plugin uri-blocker ` + bq(`{"block_rules": ["root\\.exe", "^/ub/admin"], "rejected_msg": "access is not allowed"}`) + `
			proxy be
		}
		route ubi {
			path /ubi/*
			plugin uri-blocker ` + bq(`{"block_rules": ["secret"], "case_insensitive": true, "rejected_code": 410}`) + `
			proxy be
		}`})
	plExpect(t, "allowed", g.do("GET", "/ub/ok", nil, ""), 200)
	r := g.do("GET", "/ub/root.exe", nil, "")
	plExpect(t, "blocked path", r, 403, `{"error_msg":"access is not allowed"}`)
	plIsJSON(t, "blocked path", r)
	plExpect(t, "blocked query", g.do("GET", "/ub/x?f=root.exe", nil, ""), 403)
	plExpect(t, "anchored rule", g.do("GET", "/ub/admin/x", nil, ""), 403)
	plExpect(t, "anchored rule elsewhere", g.do("GET", "/ub/x/admin", nil, ""), 200)
	plExpect(t, "case-sensitive", g.do("GET", "/ub/ROOT.EXE", nil, ""), 200)
	r = g.do("GET", "/ubi/a/SeCrEt", nil, "")
	plExpect(t, "case-insensitive", r, 410)
	if r.body != "" {
		t.Fatalf("no rejected_msg, got a body: %s", r)
	}
	plExpect(t, "case-insensitive allowed", g.do("GET", "/ubi/a/public", nil, ""), 200)
	g.expectLog(t, "uri-blocker: blocked /ub/root.exe")

	plRefused(t, `
		route bad {
			path /x
			plugin uri-blocker `+bq(`{"block_rules": ["ok", "(unclosed"]}`)+`
			proxy be
		}`, "bad", "uri-blocker", "block_rules[2]", "(unclosed")
	plRefused(t, `
		route empty {
			path /x
			plugin uri-blocker `+bq(`{"block_rules": []}`)+`
			proxy be
		}`, "empty", "uri-blocker", "block_rules")
}

// TestPluginRequestValidation: header and JSON body schemas; every
// rejection (missing or bad header, schema failure, broken JSON, two
// Content-Types, an oversized body) and the form body; bad schemas are
// refused at load.
func TestPluginRequestValidation(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route rv {
			path /rv/*
			plugin request-validation ` + bq(`{
				"header_schema": {"type": "object", "required": ["x-api-version"],
					"properties": {"x-api-version": {"type": "string", "enum": ["1", "2"]}}},
				"body_schema": {"type": "object", "required": ["name"],
					"properties": {"name": {"type": "string", "minLength": 1}, "age": {"type": "integer", "minimum": 0}}},
				"max_req_body_size": 1000}`) + `
			proxy be
		}
		route rvmsg {
			path /rvmsg/*
			plugin request-validation ` + bq(`{"body_schema": {"type": "array", "items": {"type": "number"}},
				"rejected_code": 422, "rejected_msg": "bad request"}`) + `
			proxy be
		}`})
	ok := map[string]string{"X-Api-Version": "1", "Content-Type": "application/json"}
	body := `{"name": "alice", "age": 30}`
	r := g.do("POST", "/rv/a", ok, body)
	plExpect(t, "valid", r, 200)
	if e := r.echo(t); e.Body != body {
		t.Fatalf("upstream body %q", e.Body)
	}
	plExpect(t, "missing header", g.do("POST", "/rv/a", map[string]string{"Content-Type": "application/json"}, body), 400, "x-api-version")
	plExpect(t, "bad header", g.do("POST", "/rv/a", map[string]string{"X-Api-Version": "3"}, body), 400, "x-api-version")
	plExpect(t, "missing property", g.do("POST", "/rv/a", ok, `{"age": 3}`), 400, "name")
	plExpect(t, "bad property", g.do("POST", "/rv/a", ok, `{"name": "a", "age": -1}`), 400, "age")
	plExpect(t, "broken JSON", g.do("POST", "/rv/a", ok, `{"name": "a"`), 400, "invalid JSON")
	plExpect(t, "no body", g.do("POST", "/rv/a", ok, ""), 400, "invalid JSON")
	form := map[string]string{"X-Api-Version": "2", "Content-Type": "application/x-www-form-urlencoded"}
	plExpect(t, "form body", g.do("POST", "/rv/a", form, "name=bob"), 200)
	plExpect(t, "bad form body", g.do("POST", "/rv/a", form, "nick=bob"), 400, "name")

	big := `{"name": "` + strings.Repeat("x", 2000) + `"}`
	r = g.do("POST", "/rv/a", ok, big)
	plExpect(t, "oversized", r, 413, "larger than 1000")
	g.expectLog(t, "is larger than 1000")
	// the same without a Content-Length (chunked)
	req, _ := http.NewRequest("POST", g.base+"/rv/a", struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("X-Api-Version", "1")
	resp, err := noRetry.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked oversized: %d", resp.StatusCode)
	}

	// two Content-Types
	req, _ = http.NewRequest("POST", g.base+"/rv/a", strings.NewReader(body))
	req.Header.Set("X-Api-Version", "1")
	req.Header.Add("Content-Type", "application/json")
	req.Header.Add("Content-Type", "application/x-www-form-urlencoded")
	resp, err = noRetry.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("two Content-Types: %d", resp.StatusCode)
	}

	r = g.do("POST", "/rvmsg/a", nil, `[1, "x"]`)
	plExpect(t, "rejected_msg", r, 422)
	if strings.TrimSpace(r.body) != "bad request" {
		t.Fatalf("rejected_msg body: %s", r)
	}
	plExpect(t, "empty array", g.do("POST", "/rvmsg/a", nil, `[]`), 200)
	g.expectLog(t, "request-validation: body: ")

	plRefused(t, `
		route bad {
			path /x
			plugin request-validation `+bq(`{"body_schema": {"type": "objekt"}}`)+`
			proxy be
		}`, "bad", "request-validation", "body_schema", "objekt")
	plRefused(t, `
		route badh {
			path /x
			plugin request-validation `+bq(`{"header_schema": {"properties": {"a": {"pattern": "("}}}}`)+`
			proxy be
		}`, "badh", "request-validation", "header_schema", "pattern")
	plRefused(t, `
		route none {
			path /x
			plugin request-validation `+bq(`{"rejected_code": 400}`)+`
			proxy be
		}`, "none", "request-validation", "header_schema")
}

// TestPluginCORS: preflights answered by the gateway (the backend sees
// none), headers on actual responses, disallowed origins get none, the
// origin list, regexes and credentials; '*' with credentials refused.
func TestPluginCORS(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route any {
			path /any/*
			plugin cors
			proxy be
		}
		route list {
			path /list/*
			plugin cors ` + bq(`{"allow_origins": "https://a.example,https://b.example", "allow_methods": "GET,POST",
				"allow_headers": "X-Foo", "expose_headers": "X-Bar", "max_age": 60, "allow_credential": true}`) + `
			proxy be
		}
		route re {
			path /re/*
			plugin cors ` + bq(`{"allow_origins_by_regex": ["^https://[a-z]+\\.example\\.org$"]}`) + `
			proxy be
		}`})
	origin := func(o string) map[string]string { return map[string]string{"Origin": o} }
	pre := func(o string) map[string]string {
		return map[string]string{"Origin": o, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "X-Foo"}
	}
	want := func(what string, r plReply, h map[string]string) {
		t.Helper()
		for k, v := range h {
			if got := r.header.Get(k); got != v {
				t.Fatalf("%s: %s is %q, want %q: %s", what, k, got, v, r)
			}
		}
	}

	r := g.do("GET", "/any/a", origin("https://x.example"), "")
	plExpect(t, "default", r, 200)
	want(t.Name()+" default", r, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*",
		"Access-Control-Allow-Headers": "*", "Access-Control-Max-Age": "5", "Access-Control-Allow-Credentials": "", "Vary": ""})
	before := g.backend.reqs.Load()
	r = g.do("OPTIONS", "/any/a", pre("https://x.example"), "")
	plExpect(t, "preflight", r, 200)
	want("preflight", r, map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*"})
	r = g.do("OPTIONS", "/list/a", pre("https://a.example"), "")
	plExpect(t, "listed preflight", r, 200)
	want("listed preflight", r, map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Access-Control-Allow-Methods": "GET,POST",
		"Access-Control-Allow-Headers": "X-Foo", "Access-Control-Max-Age": "60", "Access-Control-Allow-Credentials": "true", "Vary": "Origin"})
	r = g.do("OPTIONS", "/list/a", pre("https://evil.example"), "")
	plExpect(t, "unlisted preflight", r, 200)
	plNoCORS(t, "unlisted preflight", r)
	if n := g.backend.reqs.Load(); n != before {
		t.Fatalf("preflights reached the backend: %d requests", n-before)
	}
	plExpect(t, "plain OPTIONS", g.do("OPTIONS", "/any/a", origin("https://x.example"), ""), 200)
	if n := g.backend.reqs.Load(); n != before+1 {
		t.Fatalf("an OPTIONS without Access-Control-Request-Method was not proxied: %d", n-before)
	}

	r = g.do("GET", "/list/a", origin("https://b.example"), "")
	plExpect(t, "listed", r, 200)
	want("listed", r, map[string]string{"Access-Control-Allow-Origin": "https://b.example", "Access-Control-Expose-Headers": "X-Bar",
		"Access-Control-Allow-Credentials": "true", "Vary": "Origin"})
	r = g.do("GET", "/list/a", origin("https://evil.example"), "")
	plExpect(t, "unlisted", r, 200)
	plNoCORS(t, "unlisted", r)
	r = g.do("GET", "/list/a", nil, "")
	plExpect(t, "no origin", r, 200)
	plNoCORS(t, "no origin", r)

	r = g.do("GET", "/re/a", origin("https://api.example.org"), "")
	plExpect(t, "regex", r, 200)
	want("regex", r, map[string]string{"Access-Control-Allow-Origin": "https://api.example.org"})
	r = g.do("GET", "/re/a", origin("https://api.example.org.evil.com"), "")
	plExpect(t, "regex miss", r, 200)
	plNoCORS(t, "regex miss", r)

	plRefused(t, `
		route bad {
			path /x
			plugin cors `+bq(`{"allow_credential": true}`)+`
			proxy be
		}`, "bad", "cors", "allow_origins", "allow_credential")
	plRefused(t, `
		route badm {
			path /x
			plugin cors `+bq(`{"allow_credential": true, "allow_origins": "https://a.example"}`)+`
			proxy be
		}`, "badm", "cors", "allow_methods", "allow_credential")
	plRefused(t, `
		route badre {
			path /x
			plugin cors `+bq(`{"allow_origins_by_regex": ["(x"]}`)+`
			proxy be
		}`, "badre", "cors", "allow_origins_by_regex[1]")
	plRefused(t, `
		route bado {
			path /x
			plugin cors `+bq(`{"allow_origins": "a.example"}`)+`
			proxy be
		}`, "bado", "cors", "allow_origins")
}

// csrfCookie returns the token of the csrf cookie name a response set.
func csrfCookie(t *testing.T, r plReply, name string) string {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	t.Fatalf("no %s cookie: %s", name, r)
	return ""
}

// TestPluginCSRF: safe methods get a token cookie; unsafe ones need the
// token in the header and the cookie, equal, signed with the key and not
// expired; each refusal has APISIX's message; no key is refused at load.
func TestPluginCSRF(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route cs {
			path /cs/*
			plugin csrf ` + bq(`{"key": "secret-key"}`) + `
			proxy be
		}
		route other {
			path /other/*
			plugin csrf ` + bq(`{"key": "another-key"}`) + `
			proxy be
		}
		route short {
			path /short/*
			plugin csrf ` + bq(`{"key": "secret-key", "expires": 1, "name": "tok"}`) + `
			proxy be
		}`})
	const name = "apisix-csrf-token"
	r := g.do("GET", "/cs/a", nil, "")
	plExpect(t, "safe method", r, 200)
	sc := r.header.Get("Set-Cookie")
	if !strings.Contains(sc, "; Path=/; SameSite=Lax; Expires=") {
		t.Fatalf("cookie %q", sc)
	}
	tok := csrfCookie(t, r, name)
	both := func(header, cookie string) map[string]string {
		h := map[string]string{}
		if header != "" {
			h[name] = header
		}
		if cookie != "" {
			h["Cookie"] = name + "=" + cookie
		}
		return h
	}
	deny := func(what string, r plReply, msg string) {
		t.Helper()
		plExpect(t, what, r, 401, `{"error_msg":"`+msg+`"}`)
		plIsJSON(t, what, r)
	}
	r = g.do("POST", "/cs/a", both(tok, tok), "x")
	plExpect(t, "valid token", r, 200)
	if csrfCookie(t, r, name) == "" {
		t.Fatal("no fresh token")
	}
	deny("no header", g.do("POST", "/cs/a", both("", tok), "x"), "no csrf token in headers")
	deny("no cookie", g.do("POST", "/cs/a", both(tok, ""), "x"), "no csrf cookie")
	deny("mismatch", g.do("PUT", "/cs/a", both(tok, tok+"0"), "x"), "csrf token mismatch")
	forged := tok[:strings.LastIndex(tok, ".")+1] + strings.Repeat("0", 64)
	deny("forged", g.do("DELETE", "/cs/a", both(forged, forged), ""), "Failed to verify the csrf token signature")
	deny("garbage", g.do("PATCH", "/cs/a", both("abc", "abc"), "x"), "Failed to verify the csrf token signature")
	other := csrfCookie(t, g.do("GET", "/other/a", nil, ""), name)
	deny("another key", g.do("POST", "/cs/a", both(other, other), "x"), "Failed to verify the csrf token signature")
	g.expectLog(t, "csrf: bad signature")

	short := csrfCookie(t, g.do("HEAD", "/short/a", nil, ""), "tok")
	h := map[string]string{"tok": short, "Cookie": "tok=" + short}
	plExpect(t, "fresh short token", g.do("POST", "/short/a", h, "x"), 200)
	time.Sleep(2200 * time.Millisecond)
	deny("expired", g.do("POST", "/short/a", h, "x"), "Failed to verify the csrf token signature")
	g.expectLog(t, "csrf: token expired")

	plRefused(t, `
		route bad {
			path /x
			plugin csrf `+bq(`{"expires": 10}`)+`
			proxy be
		}`, "bad", "csrf", "key")
}

// TestPluginRequestValidationManyHeaders: a request with more than 100
// header lines (ngx.req.get_headers' default limit) still has every
// header validated: the extra lines must not push the checked header out
// of the table (a bypass of header_schema), whichever order Go's header
// map gives.
func TestPluginRequestValidationManyHeaders(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route rvh {
			path /rvh/*
			plugin request-validation ` + bq(`{"header_schema": {"type": "object",
				"properties": {"x-role": {"type": "string", "enum": ["user"]}}}}`) + `
			proxy be
		}`})
	h := map[string]string{"X-Role": "admin"}
	for i := 0; i < 150; i++ {
		h[fmt.Sprintf("X-Pad-%d", i)] = "1"
	}
	// Go's map order is random: enough tries to see a dropped X-Role
	for i := 0; i < 20; i++ {
		plExpect(t, "150 header lines and a bad X-Role", g.do("GET", "/rvh/a", h, ""), 400, "x-role")
	}
	h["X-Role"] = "user"
	plExpect(t, "150 header lines and a good X-Role", g.do("GET", "/rvh/a", h, ""), 200)
}

// TestPluginIPRestrictionProxyChain: behind a trusted proxy that appends
// the peer to the client's X-Forwarded-For (nginx's
// $proxy_add_x_forwarded_for, Caddy's reverse_proxy), the client writes
// the leftmost entries. With trusted_proxies_strict the client IP is the
// rightmost untrusted entry: a forged leftmost address (or one that does
// not parse) gets neither into the whitelist nor out of the blacklist.
// Without it Caddy takes the leftmost entry (documented in security.md).
func TestPluginIPRestrictionProxyChain(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: ipRoutes + ppTrust + "\t\ttrusted_proxies_strict\n"})
	xff := func(path, v string) plReply { return g.do("GET", path, map[string]string{"X-Forwarded-For": v}, "") }
	// the real client 11.0.0.1 forged 10.1.2.3 in front
	plExpect(t, "forged leftmost into the whitelist", xff("/wl10/a", "10.1.2.3, 11.0.0.1"), 404, "not you")
	plExpect(t, "real client in the whitelist", xff("/wl10/a", "11.0.0.1, 10.1.2.3"), 200)
	// the real client 10.9.9.9 (blacklisted) forged an address in front
	plExpect(t, "forged leftmost out of the blacklist", xff("/bl/a", "192.0.2.1, 10.9.9.9"), 403)
	plExpect(t, "garbage leftmost out of the blacklist", xff("/bl/a", "garbage, 10.9.9.9"), 403)
	plExpect(t, "v6 behind the proxy", xff("/bl/a", "192.0.2.1, 2001:db8::7"), 403)
	plExpect(t, "an allowed client behind the proxy", xff("/bl/a", "10.0.0.1, 192.0.2.1"), 200)
}
