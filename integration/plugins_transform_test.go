package integration

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestPluginRequestID: a request without the field gets a fresh UUID in
// the upstream request and the response; one with it keeps it; the field
// name is configurable; bad config is refused naming the field.
func TestPluginRequestID(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route rid {
			path /rid/*
			plugin request-id
			proxy be
		}
		route named {
			path /named/*
			plugin request-id ` + "`" + `{"header_name": "X-Trace", "include_in_response": false}` + "`" + `
			proxy be
		}`})
	r := g.do("GET", "/rid/a", nil, "")
	plExpect(t, "fresh id", r, 200)
	id := r.header.Get("X-Request-Id")
	if !uuidRE.MatchString(id) {
		t.Fatalf("response id %q is not a v4 UUID: %s", id, r)
	}
	if got := r.echo(t).Header["X-Request-Id"]; len(got) != 1 || got[0] != id {
		t.Fatalf("upstream got id %v, response %q", got, id)
	}
	r2 := g.do("GET", "/rid/a", nil, "")
	if r2.header.Get("X-Request-Id") == id {
		t.Fatalf("two requests share id %q", id)
	}
	r = g.do("GET", "/rid/b", map[string]string{"X-Request-Id": "client-1"}, "")
	plExpect(t, "kept id", r, 200)
	if r.header.Get("X-Request-Id") != "client-1" || r.echo(t).Header["X-Request-Id"][0] != "client-1" {
		t.Fatalf("client id not kept: %s", r)
	}
	r = g.do("GET", "/named/x", nil, "")
	plExpect(t, "named", r, 200)
	if r.header.Get("X-Trace") != "" || r.header.Get("X-Request-Id") != "" {
		t.Fatalf("id in the response with include_in_response false: %s", r)
	}
	if !uuidRE.MatchString(r.echo(t).Header["X-Trace"][0]) {
		t.Fatalf("upstream X-Trace: %s", r)
	}

	plRefused(t, `
		route bad {
			path /x
			plugin request-id `+"`"+`{"algorithm": "snowflake"}`+"`"+`
			proxy be
		}`, "bad", "request-id", "algorithm")
}

// bq wraps a JSON plugin config in the Caddyfile's backquotes.

// TestPluginProxyRewrite: the upstream sees the rewritten URI (template
// with variables and the client's query after the new one), host, method
// and fields (add, remove, set; the flat form); regex_uri takes the first
// matching pair, its captures serve the fields, and no match leaves the
// URI alone; bad configs are refused naming the field, a pattern the
// engine rejects too (check_schema).
func TestPluginProxyRewrite(t *testing.T) {
	g := plStartGateway(t, plOptions{routes: `
		route pr-uri {
			path /pr/uri/*
			plugin proxy-rewrite ` + bq(`{"uri": "/new/$arg_id?x=1", "host": "backend.test:8080", "method": "POST",
				"headers": {"set": {"X-Set": "s-$http_x_in", "X-In": ""}, "add": {"X-Add": "a2"}, "remove": ["X-Drop"]}}`) + `
			proxy be
		}
		route pr-re {
			path /pr/re/*
			plugin proxy-rewrite ` + bq(`{"regex_uri": ["^/pr/re/none$", "/none", "^/pr/re/(\\w+)/(\\w+)$", "/$2-$1"],
				"headers": {"X-From": "$1 via $request_method", "X-Gone": ""}}`) + `
			proxy be
		}
		route pr-any {
			path /pr/any/*
			plugin proxy-rewrite ` + bq(`{"regex_uri": ["^/pr/any/(.*)$", "/any/$1"]}`) + `
			proxy be
		}
		route pr-var {
			path /pr/var
			plugin proxy-rewrite ` + bq(`{"uri": "/user/$http_x_id?t=1"}`) + `
			proxy be
		}`})

	r := g.do("GET", "/pr/uri/a?id=42", map[string]string{"X-Add": "a1", "X-Drop": "d", "X-In": "v"}, "")
	plExpect(t, "uri rewrite", r, 200)
	e := r.echo(t)
	if e.Method != "POST" || e.URI != "/new/42?x=1&id=42" || e.Host != "backend.test:8080" {
		t.Fatalf("upstream saw %s %s host %s", e.Method, e.URI, e.Host)
	}
	if got := e.Header["X-Set"]; len(got) != 1 || got[0] != "s-v" {
		t.Fatalf("X-Set: %v", got)
	}
	if got := e.Header["X-Add"]; len(got) != 2 || got[0] != "a1" || got[1] != "a2" {
		t.Fatalf("X-Add: %v", got)
	}
	if _, ok := e.Header["X-Drop"]; ok {
		t.Fatalf("X-Drop not removed: %v", e.Header)
	}
	if _, ok := e.Header["X-In"]; ok {
		t.Fatalf("X-In (set to \"\") not removed: %v", e.Header)
	}

	r = g.do("GET", "/pr/re/alpha/beta?q=1", map[string]string{"X-Gone": "x"}, "")
	plExpect(t, "regex_uri", r, 200)
	e = r.echo(t)
	if e.URI != "/beta-alpha?q=1" || e.Method != "GET" {
		t.Fatalf("upstream saw %s %s", e.Method, e.URI)
	}
	if got := e.Header["X-From"]; len(got) != 1 || got[0] != "alpha via GET" {
		t.Fatalf("X-From: %v", got)
	}
	if _, ok := e.Header["X-Gone"]; ok {
		t.Fatalf("flat form: X-Gone not removed: %v", e.Header)
	}
	r = g.do("GET", "/pr/re/one", nil, "")
	plExpect(t, "regex_uri without a match", r, 200)
	if e = r.echo(t); e.URI != "/pr/re/one" {
		t.Fatalf("no match: upstream saw %s", e.URI)
	}
	if got := e.Header["X-From"]; len(got) != 1 || got[0] != "via GET" {
		t.Fatalf("no match: X-From %v", got)
	}

	// A "?" the client sent encoded (%3F) is part of the path: neither a
	// capture nor a variable of the new URI starts a query with it.
	r = g.do("GET", "/pr/re/ab%3Fadmin=1/cd", nil, "")
	plExpect(t, "regex_uri with an encoded ?", r, 200)
	if e = r.echo(t); e.URI != "/pr/re/ab%3Fadmin=1/cd" {
		t.Fatalf("no match expected (\\w): upstream saw %s", e.URI)
	}
	r = g.do("GET", "/pr/any/x%3Fadmin=1?q=2", nil, "")
	plExpect(t, "regex_uri capture with an encoded ?", r, 200)
	if e = r.echo(t); e.URI != "/any/x%3Fadmin=1?q=2" {
		t.Fatalf("encoded ? in a capture: upstream saw %s", e.URI)
	}
	// $uri is normalised as nginx's: a space stays a path byte (escaped
	// again), ".." segments (even encoded) are resolved before the
	// pattern sees them, so a capture never carries one upstream.
	for _, c := range []struct{ in, want string }{
		{"/pr/any/a%20b", "/any/a%20b"},
		{"/pr/any/a/../b", "/any/b"},
		{"/pr/any/a%20b/..%2f..%2fetc", "/pr/any/a%20b/..%2f..%2fetc"}, // $uri /pr/etc: no match
	} {
		r = g.do("GET", c.in, nil, "")
		plExpect(t, c.in, r, 200)
		if e = r.echo(t); e.URI != c.want {
			t.Fatalf("%s: upstream saw %s, want %s", c.in, e.URI, c.want)
		}
	}
	r = g.do("GET", "/pr/var?k=v", map[string]string{"X-Id": "7?role=admin&x=1"}, "")
	plExpect(t, "uri variable with a ?", r, 200)
	if e = r.echo(t); e.URI != "/user/7%3Frole=admin&x=1?t=1&k=v" {
		t.Fatalf("? in a variable of uri: upstream saw %s", e.URI)
	}

	for _, c := range []struct{ conf, field string }{
		{`{"regex_uri": ["^/(?=a)", "/b"]}`, "regex_uri[0]"},
		{`{"regex_uri": ["^/(a)\\1", "/b"]}`, "regex_uri[0]"},
		{`{"regex_uri": ["^/a", "/b", "^/c"]}`, "regex_uri"},
		// check_schema: patterns the engine refuses
		{`{"regex_uri": ["(", "/x"]}`, "regex_uri[0]: invalid pattern"},
		{`{"regex_uri": ["^/a", "/b", "^/c(", "/d"]}`, "regex_uri[2]: invalid pattern"},
		{`{"uri": "no-slash"}`, "uri"},
		{`{"host": "bad host"}`, "host"},
		{`{"method": "BREW"}`, "method"},
		{`{"headers": {"set": {"bad name": "v"}}}`, "headers"},
		{`{"headers": {"X-A": "v\r\nX-B: w"}}`, "headers"},
		{`{"scheme": "https"}`, "scheme"},
		{`{}`, "proxy-rewrite"},
	} {
		plRefused(t, `
		route bad {
			path /x
			plugin proxy-rewrite `+bq(c.conf)+`
			proxy be
		}`, "bad", "proxy-rewrite", c.field)
	}
}

// rrBackend answers /text with text and a field of its own, /gzip with a
// gzip-encoded text, anything else with the echo.
func rrBackend(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/text"):
		w.Header().Set("X-Backend", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "23")
		_, _ = io.WriteString(w, "hello world HELLO world")
	case strings.HasSuffix(r.URL.Path, "/gzip"):
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = io.WriteString(zw, "hello world")
		_ = zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(b.Bytes())
	default:
		plEchoHandler(w, r)
	}
}

// noLengthOrRight fails unless a reply's Content-Length is absent or its
// body's length.
func noLengthOrRight(t *testing.T, what string, r plReply) {
	t.Helper()
	if cl := r.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(r.body)) {
		t.Fatalf("%s: Content-Length %s for a body of %d bytes", what, cl, len(r.body))
	}
}

// TestPluginResponseRewrite: status, fields (add, remove, set, the flat
// form, variables), a new body (text, base64), filters (once, global,
// options), vars (met, not met, negated), a compressed body left alone,
// the upstream asked for an uncompressed one; bad configs refused naming
// the field, a pattern the engine rejects too (check_schema).
func TestPluginResponseRewrite(t *testing.T) {
	g := plStartGateway(t, plOptions{backend: rrBackend, routes: `
		route rr-body {
			path /rr/body/*
			plugin response-rewrite ` + bq(`{"status_code": 201, "body": "replaced\n",
				"headers": {"add": ["X-Add: a1", "X-Add: m-$request_method"], "set": {"X-Set": "s", "Content-Type": "text/x-new"}, "remove": ["X-Backend"]}}`) + `
			proxy be
		}
		route rr-b64 {
			path /rr/b64/*
			plugin response-rewrite ` + bq(`{"body": "aGkK", "body_base64": true, "headers": {"X-Flat": "f", "X-Backend": ""}}`) + `
			proxy be
		}
		route rr-filter {
			path /rr/filter/*
			plugin response-rewrite ` + bq(`{"filters": [
				{"regex": "hello", "replace": "bye"},
				{"regex": "world", "replace": "earth", "scope": "global"},
				{"regex": "h(e)llo", "replace": "j$1llo", "options": "ji"}]}`) + `
			proxy be
		}
		route rr-vars {
			path /rr/vars/*
			plugin response-rewrite ` + bq(`{"status_code": 203, "headers": {"set": {"X-Cond": "yes"}},
				"vars": [["arg_x", "==", "1"], ["status", ">=", 200], ["arg_y", "!", "~~", "^no"]]}`) + `
			proxy be
		}`})

	r := g.do("GET", "/rr/body/text", nil, "")
	plExpect(t, "new body", r, 201)
	if r.body != "replaced\n" || r.header.Get("X-Set") != "s" || r.header.Get("Content-Type") != "text/x-new" ||
		r.header.Get("X-Backend") != "" || strings.Join(r.header.Values("X-Add"), ",") != "a1,m-GET" {
		t.Fatalf("new body: %s", r)
	}
	noLengthOrRight(t, "new body", r)

	r = g.do("GET", "/rr/b64/text", nil, "")
	plExpect(t, "base64 body", r, 200)
	if r.body != "hi\n" || r.header.Get("X-Flat") != "f" || r.header.Get("X-Backend") != "" {
		t.Fatalf("base64 body, flat fields: %s", r)
	}
	noLengthOrRight(t, "base64 body", r)

	r = g.do("GET", "/rr/filter/text", nil, "")
	plExpect(t, "filters", r, 200)
	if r.body != "bye earth jEllo earth" {
		t.Fatalf("filters: %s", r)
	}
	noLengthOrRight(t, "filters", r)
	r = g.do("GET", "/rr/filter/echo", map[string]string{"Accept-Encoding": "gzip"}, "")
	plExpect(t, "filters, upstream request", r, 200)
	if _, ok := r.echo(t).Header["Accept-Encoding"]; ok {
		t.Fatalf("the upstream was offered a compressed body to filter: %s", r)
	}
	r = g.do("GET", "/rr/filter/gzip", map[string]string{"Accept-Encoding": "gzip"}, "")
	plExpect(t, "filters, compressed body", r, 200)
	if zr, err := gzip.NewReader(strings.NewReader(r.body)); err != nil {
		t.Fatalf("compressed body changed: %v: %s", err, r)
	} else if b, _ := io.ReadAll(zr); string(b) != "hello world" {
		t.Fatalf("compressed body: %q", b)
	}
	g.expectLog(t, "filters not applied")

	r = g.do("GET", "/rr/vars/echo?x=1&y=yes", nil, "")
	plExpect(t, "vars hold", r, 203)
	if r.header.Get("X-Cond") != "yes" {
		t.Fatalf("vars hold: %s", r)
	}
	for _, q := range []string{"?x=2", "", "?x=1&y=nope"} {
		r = g.do("GET", "/rr/vars/echo"+q, nil, "")
		plExpect(t, "vars do not hold "+q, r, 200)
		if r.header.Get("X-Cond") != "" {
			t.Fatalf("vars do not hold %s: %s", q, r)
		}
	}

	for _, c := range []struct{ conf, field string }{
		{`{"body": "x", "filters": [{"regex": "a", "replace": "b"}]}`, "body"},
		{`{"body": "not base64!", "body_base64": true}`, "body"},
		{`{"filters": [{"regex": "a(?!b)", "replace": "c"}]}`, "filters[0].regex"},
		// check_schema: patterns the engine refuses
		{`{"filters": [{"regex": "a(", "replace": "b"}]}`, "filters[0].regex: invalid pattern"},
		{`{"filters": [{"regex": "a", "replace": "b"}, {"regex": "[b", "replace": "c", "options": "ji"}]}`, "filters[1].regex: invalid pattern"},
		{`{"vars": [["arg_x", "==", "1"], ["arg_y", "!", "~*", "a("]]}`, "vars[1]: invalid pattern"},
		{`{"filters": [{"regex": "a"}]}`, "filters[0].replace"},
		{`{"filters": [{"regex": "a", "replace": "b", "scope": "all"}]}`, "filters[0].scope"},
		{`{"filters": [{"regex": "a", "replace": "b", "options": "jq"}]}`, "filters[0].options"},
		{`{"status_code": 199}`, "status_code"},
		{`{"headers": {"add": ["no colon"]}}`, "headers"},
		{`{"vars": [["arg_x", "=", "1"]]}`, "vars[0]"},
		{`{"body": 5}`, "body"},
	} {
		plRefused(t, `
		route bad {
			path /x
			plugin response-rewrite `+bq(c.conf)+`
			proxy be
		}`, "bad", "response-rewrite", c.field)
	}
}

// bcSeal encrypts pt as body-crypto expects: nonce .. ciphertext .. tag.
func bcSeal(t *testing.T, key []byte, pt string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	return aead.Seal(nonce, nonce, []byte(pt), nil)
}

// bcOpen decrypts a response body of body-crypto.
func bcOpen(t *testing.T, key, data []byte) string {
	t.Helper()
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	if len(data) < aead.NonceSize()+aead.Overhead() {
		t.Fatalf("response body of %d bytes is no sealed message", len(data))
	}
	pt, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], nil)
	if err != nil {
		t.Fatalf("response body does not decrypt: %v", err)
	}
	return string(pt)
}

// TestPluginBodyCrypto: the encrypted version of a location (a body
// sealed by Go's AES-GCM, the key named by X-Key-Id) reaches the upstream
// plain with the right length and comes back sealed with the same key,
// base64 or binary; the plain version (no key id) is unchanged; a wrong
// key, tampered, truncated or non-base64 body and an unknown key id get
// 400 with a JSON message (not sealed) and a log line; bad configs are
// refused naming the field.
func TestPluginBodyCrypto(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(k1)
	_, _ = rand.Read(k2)
	b64 := base64.StdEncoding.EncodeToString
	keys := `{"k1": "` + b64(k1) + `", "k.2": "` + b64(k2) + `"}`
	g := plStartGateway(t, plOptions{global: "\t\tlua_body_buffer_size 1k", routes: `
		route bc {
			path /bc/*
			plugin body-crypto ` + bq(`{"keys": `+keys+`}`) + `
			proxy be
		}
		route bc-bin {
			path /bcbin/*
			plugin body-crypto ` + bq(`{"keys": `+keys+`, "encoding": "binary", "key_id_header": "X-Enc"}`) + `
			proxy be
		}
		route bc-resp {
			path /bcresp/*
			plugin body-crypto ` + bq(`{"keys": `+keys+`, "decrypt_request": false}`) + `
			proxy be
		}`})

	const plain = `{"amount": 42, "to": "alice"}`
	sealed := bcSeal(t, k1, plain)
	r := g.do("POST", "/bc/pay", map[string]string{"X-Key-Id": "k1", "Content-Type": "application/json"}, b64(sealed))
	plExpect(t, "encrypted", r, 200)
	if r.header.Get("X-Key-Id") != "k1" {
		t.Fatalf("encrypted: the response does not name its key: %s", r)
	}
	noLengthOrRight(t, "encrypted", r)
	raw, err := base64.StdEncoding.DecodeString(r.body)
	if err != nil {
		t.Fatalf("encrypted: response not base64: %v: %s", err, r)
	}
	var e plEcho
	if err := json.Unmarshal([]byte(bcOpen(t, k1, raw)), &e); err != nil {
		t.Fatal(err)
	}
	if e.Body != plain || e.Header["Content-Length"][0] != strconv.Itoa(len(plain)) || e.Header["X-Key-Id"] != nil {
		t.Fatalf("encrypted: upstream saw body %q, fields %v", e.Body, e.Header)
	}
	if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "X-Key-Id") {
		t.Fatalf("encrypted: no Vary on the key id: %s", r)
	}

	// Another key, GET without a body: the response is sealed.
	r = g.do("GET", "/bc/get", map[string]string{"X-Key-Id": "k.2"}, "")
	plExpect(t, "encrypted GET", r, 200)
	raw, _ = base64.StdEncoding.DecodeString(r.body)
	if e := bcOpen(t, k2, raw); !strings.Contains(e, `"uri":"/bc/get"`) {
		t.Fatalf("encrypted GET: %s", e)
	}

	// The plain version of the same location.
	r = g.do("POST", "/bc/pay", map[string]string{"Content-Type": "application/json"}, plain)
	plExpect(t, "plain", r, 200)
	if e := r.echo(t); e.Body != plain || r.header.Get("X-Key-Id") != "" {
		t.Fatalf("plain: %s", r)
	}

	// Binary encoding, its own field name.
	r = g.do("PUT", "/bcbin/x", map[string]string{"X-Enc": "k1"}, string(bcSeal(t, k1, "binary body")))
	plExpect(t, "binary", r, 200)
	if r.header.Get("X-Enc") != "k1" {
		t.Fatalf("binary: %s", r)
	}
	if err := json.Unmarshal([]byte(bcOpen(t, k1, []byte(r.body))), &e); err != nil || e.Body != "binary body" {
		t.Fatalf("binary: %v %q", err, e.Body)
	}

	// Response only: the request body goes as sent.
	r = g.do("POST", "/bcresp/x", map[string]string{"X-Key-Id": "k1"}, "as is")
	plExpect(t, "response only", r, 200)
	raw, _ = base64.StdEncoding.DecodeString(r.body)
	if err := json.Unmarshal([]byte(bcOpen(t, k1, raw)), &e); err != nil || e.Body != "as is" {
		t.Fatalf("response only: %v %q", err, e.Body)
	}

	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)/2] ^= 1
	for _, c := range []struct {
		what, id, body, msg, log string
	}{
		{"wrong key", "k.2", b64(sealed), "invalid request body", "authentication failed"},
		{"tampered", "k1", b64(tampered), "invalid request body", "authentication failed"},
		{"truncated", "k1", b64(sealed[:20]), "invalid request body", "ciphertext too short"},
		{"cut tag", "k1", b64(sealed[:len(sealed)-1]), "invalid request body", "authentication failed"},
		{"bad base64", "k1", "%%%not base64%%%", "invalid request body", "the body is not base64"},
		{"unknown key id", "k3", b64(sealed), "unknown key id", "unknown key id (key id k3)"},
	} {
		r := g.do("POST", "/bc/pay", map[string]string{"X-Key-Id": c.id}, c.body)
		plExpect(t, c.what, r, 400, `{"message":"`+c.msg+`"}`)
		if r.header.Get("X-Key-Id") != "" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %s", c.what, r)
		}
		g.expectLog(t, c.log)
	}

	// Two key ids; a body over the in-memory buffer.
	req, _ := http.NewRequest("POST", g.base+"/bc/pay", strings.NewReader(b64(sealed)))
	req.Header.Add("X-Key-Id", "k1")
	req.Header.Add("X-Key-Id", "k.2")
	resp, err := noRetry.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != `{"message":"more than one key id"}`+"\n" {
		t.Fatalf("two key ids: %d %q", resp.StatusCode, body)
	}
	g.expectLog(t, "several X-Key-Id fields")
	r = g.do("POST", "/bc/pay", map[string]string{"X-Key-Id": "k1"}, b64(bcSeal(t, k1, strings.Repeat("x", 2000))))
	plExpect(t, "body over the buffer", r, 413, `{"message":"request body too large to decrypt"}`)
	g.expectLog(t, "over the in-memory buffer")

	short := base64.StdEncoding.EncodeToString(k1[:16])
	for _, c := range []struct{ conf, field string }{
		{`{"keys": {"k1": "` + short + `"}}`, "keys.k1: must not match"},
		{`{"keys": {"k1": "not base64 at all, but forty-four chars long"}}`, "keys.k1"},
		{`{"keys": {}}`, "keys"},
		{`{}`, "keys"},
		{`{"keys": {"bad id": "` + b64(k1) + `"}}`, "keys"},
		{`{"keys": ` + keys + `, "encoding": "hex"}`, "encoding"},
		{`{"keys": ` + keys + `, "key_id_header": "bad header"}`, "key_id_header"},
	} {
		plRefused(t, `
		route bad {
			path /x
			plugin body-crypto `+bq(c.conf)+`
			proxy be
		}`, "bad", "body-crypto", c.field)
	}
}

// TestPluginBodyCryptoUpstreamEdges: an upstream that compresses anyway
// (it was asked not to) and one with a large body: the sealed answer
// decrypts to exactly what the upstream sent, and says how those bytes
// are encoded without claiming the sealed body is.
func TestPluginBodyCryptoUpstreamEdges(t *testing.T) {
	k1 := make([]byte, 32)
	_, _ = rand.Read(k1)
	keys := `{"k1": "` + base64.StdEncoding.EncodeToString(k1) + `"}`
	big := strings.Repeat("0123456789abcdef", 10<<16) // 10 MiB
	g := plStartGateway(t, plOptions{backend: func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gz":
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("\x1f\x8bnot really gzip"))
		case "/big":
			_, _ = io.WriteString(w, big)
		}
	}, routes: `
		route bcedge {
			path /gz /big
			plugin body-crypto ` + bq(`{"keys": `+keys+`, "decrypt_request": false}`) + `
			proxy be
		}`})
	kid := map[string]string{"X-Key-Id": "k1"}
	r := g.do("GET", "/gz", kid, "")
	plExpect(t, "gzip upstream", r, 200)
	if ce := r.header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("the sealed body is not gzip, but Content-Encoding is %q: %s", ce, r)
	}
	if ce := r.header.Get("X-Plain-Content-Encoding"); ce != "gzip" {
		t.Fatalf("X-Plain-Content-Encoding %q: %s", ce, r)
	}
	raw, err := base64.StdEncoding.DecodeString(r.body)
	if err != nil {
		t.Fatalf("gzip upstream: not base64: %v", err)
	}
	if pt := bcOpen(t, k1, raw); pt != "\x1f\x8bnot really gzip" {
		t.Fatalf("gzip upstream: decrypted %q", pt)
	}
	r = g.do("GET", "/big", kid, "")
	plExpect(t, "10 MiB upstream", r, 200)
	raw, err = base64.StdEncoding.DecodeString(r.body)
	if err != nil {
		t.Fatalf("big: not base64: %v", err)
	}
	if pt := bcOpen(t, k1, raw); pt != big {
		t.Fatalf("big: decrypted %d bytes, want %d", len(pt), len(big))
	}
}
