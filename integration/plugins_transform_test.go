package integration

import (
	"regexp"
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
