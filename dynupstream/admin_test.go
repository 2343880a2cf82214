package dynupstream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestParseUpdateBody(t *testing.T) {
	for _, c := range []struct{ ct, body, want string }{
		{"", "server 10.0.0.1:80;", ""},
		{"text/plain", "  server 10.0.0.1:80 weight=2;\n", ""},
		{"application/json", `{"servers":[{"address":"10.0.0.1:80"}]}`, ""},
		{"", ` {"servers":[]}`, ""},
		{"application/json; charset=utf-8", `{"servers":[]} {}`, "data after the cluster object"},
		{"application/json", `{"servers":[{"address":"10.0.0.1:80","wieght":2}]}`, `unknown field "wieght"`},
		{"application/json", `server 10.0.0.1:80;`, "decoding the JSON body"},
		{"", "   ", "empty body"},
	} {
		_, err := parseUpdateBody(c.ct, []byte(c.body))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%q %q: %v, want %q", c.ct, c.body, err, c.want)
		}
	}
}

func TestRelayError(t *testing.T) {
	err := relayError(500, []byte(`{"error":"loading new config: bad"}`))
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 400 || apiErr.Err.Error() != "loading new config: bad" {
		t.Errorf("refused config: %#v", err)
	}
	err = relayError(409, []byte("conflict\n"))
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 409 || apiErr.Err.Error() != "conflict" {
		t.Errorf("other error: %#v", err)
	}
}

func TestConfigRequestGoesThroughTheServingHandler(t *testing.T) {
	var got *http.Request
	var body string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "brewed")
	})}
	r := httptest.NewRequest("POST", "/resty/upstreams/x", nil)
	r.Host = "localhost:2019"
	r.Header.Set("Origin", "http://localhost:2019")
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("If-Match", `"x y"`)
	r = r.WithContext(context.WithValue(r.Context(), http.ServerContextKey, srv))
	status, out, err := configRequest(r, "PUT", "/config/apps/resty/upstreams/x", []byte(`{}`))
	if err != nil || status != http.StatusTeapot || string(out) != "brewed" {
		t.Fatalf("%d %q %v", status, out, err)
	}
	if got.Method != "PUT" || got.URL.Path != "/config/apps/resty/upstreams/x" || got.Host != "localhost:2019" ||
		got.Header.Get("Origin") != "http://localhost:2019" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("If-Match") != "" || body != "{}" || got.RemoteAddr != r.RemoteAddr {
		t.Errorf("forwarded request %s %s host %s headers %v body %q", got.Method, got.URL, got.Host, got.Header, body)
	}
	if _, _, err := configRequest(httptest.NewRequest("GET", "/", nil), "GET", "/config/", nil); err == nil {
		t.Errorf("no serving handler: no error")
	}
}
