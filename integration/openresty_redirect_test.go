package integration

import "testing"

// lua-nginx-module t/022-redirect.t, rebuilt. nginx's redirect and error
// pages ("302 Found" in HTML) are not compared: Caddy sends an empty body.
func TestOpenRestyRedirect(t *testing.T) {
	const f = "lua-nginx-module t/022-redirect.t "
	loc := func(v string) map[string]string { return map[string]string{"Location": v} }
	noLoc := map[string]string{"Location": "<absent>"}
	unsafe := map[string]string{"Location": "<absent>", "Foo": "<absent>", "Bar": "<absent>"}
	coreSuite(t, "", []coreCase{
		{src: f + "TEST 1: default 302", content: `
ngx.redirect("http://agentzh.org/foo");
ngx.say("hi")`, status: 302, anyBody: true, headers: loc("http://agentzh.org/foo")},
		{src: f + "TEST 2: explicit 302", content: `
ngx.redirect("http://agentzh.org/foo", ngx.HTTP_MOVED_TEMPORARILY);
ngx.say("hi")`, status: 302, anyBody: true, headers: loc("http://agentzh.org/foo")},
		{src: f + "TEST 3: explicit 301", content: `
ngx.redirect("http://agentzh.org/foo", ngx.HTTP_MOVED_PERMANENTLY);
ngx.say("hi")`, status: 301, anyBody: true, headers: loc("http://agentzh.org/foo")},
		{src: f + "TEST 4: bad rc", content: `
ngx.redirect("http://agentzh.org/foo", 404);
ngx.say("hi")`, status: 500, anyBody: true, headers: noLoc,
			logs: []string{"only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and ngx.HTTP_TEMPORARY_REDIRECT are allowed"}},
		{src: f + "TEST 5: no args", content: `
ngx.redirect()
ngx.say("hi")`, status: 500, anyBody: true, headers: noLoc},
		{src: f + "TEST 7: default 302 (with uri args)", content: `
ngx.redirect("http://agentzh.org/foo?bar=3");
ngx.say("hi")`, status: 302, anyBody: true, headers: loc("http://agentzh.org/foo?bar=3")},
		{src: f + "TEST 9: explicit 307", content: `
ngx.redirect("http://agentzh.org/foo", ngx.HTTP_TEMPORARY_REDIRECT);
ngx.say("hi")`, status: 307, anyBody: true, headers: loc("http://agentzh.org/foo")},
		{src: f + "TEST 10: explicit 307 with args", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", ngx.HTTP_TEMPORARY_REDIRECT);
ngx.say("hi")`, status: 307, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 11: explicit 307", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", 307);
ngx.say("hi")`, status: 307, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 12: explicit 303", content: `
ngx.redirect("http://agentzh.org/foo", ngx.HTTP_SEE_OTHER);
ngx.say("hi")`, status: 303, anyBody: true, headers: loc("http://agentzh.org/foo")},
		{src: f + "TEST 13: explicit 303 with args", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", ngx.HTTP_SEE_OTHER);
ngx.say("hi")`, status: 303, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 14: explicit 303", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", 303);
ngx.say("hi")`, status: 303, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 15: explicit 308 with args", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", ngx.HTTP_PERMANENT_REDIRECT);
ngx.say("hi")`, status: 308, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 16: explicit 308", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", 308);
ngx.say("hi")`, status: 308, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 17: explicit 308 with args", content: `
ngx.redirect("http://agentzh.org/foo?a=b&c=d", 308);
ngx.say("hi")`, status: 308, anyBody: true, headers: loc("http://agentzh.org/foo?a=b&c=d")},
		{src: f + "TEST 18: unsafe uri (with '\\r')", content: `
ngx.redirect("http://agentzh.org/foo\rfoo:bar\nbar:foo");
ngx.say("hi")`, status: 500, anyBody: true, headers: unsafe,
			logs: []string{`unsafe byte "0x0d" in redirect uri "http://agentzh.org/foo\x0Dfoo:bar\x0Abar:foo"`}},
		{src: f + "TEST 19: unsafe uri (with '\\n')", content: `
ngx.redirect("http://agentzh.org/foo\nfoo:bar\rbar:foo");
ngx.say("hi")`, status: 500, anyBody: true, headers: unsafe,
			logs: []string{`unsafe byte "0x0a" in redirect uri "http://agentzh.org/foo\x0Afoo:bar\x0Dbar:foo"`}},
		{src: f + "TEST 20: unsafe uri (with prefix '\\n')", content: `
ngx.redirect("\nfoo:http://agentzh.org/foo");
ngx.say("hi")`, status: 500, anyBody: true, headers: unsafe,
			logs: []string{`unsafe byte "0x0a" in redirect uri "\x0Afoo:http://agentzh.org/foo"`}},
		{src: f + "TEST 21: unsafe uri (with prefix '\\r')", content: `
ngx.redirect("\rfoo:http://agentzh.org/foo");
ngx.say("hi")`, status: 500, anyBody: true, headers: unsafe,
			logs: []string{`unsafe byte "0x0d" in redirect uri "\x0Dfoo:http://agentzh.org/foo"`}},
		{src: f + "TEST 22: unsafe uri logging escapes '\"' and '\\' characters", content: `
ngx.redirect("\rhttp\\://\"agentzh.org\"/foo");
ngx.say("hi")`, status: 500, anyBody: true, headers: unsafe,
			logs: []string{`unsafe byte "0x0d" in redirect uri "\x0Dhttp\x5C://\x22agentzh.org\x22/foo"`}},
	})
}
