package dynupstream

import (
	"strings"
	"testing"
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
