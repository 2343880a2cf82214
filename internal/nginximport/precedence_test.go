package nginximport

import (
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-resty/caddy-resty/internal/nginxconf"
)

// TestLocationPrecedence checks that the first location of locItems'
// order whose matcher (path_regexp and its `not` exclusion) matches is
// the one nginx picks (the rules of ngx_http_core_module's location
// docs); the integration test checks the same on real nginx and Caddy.
func TestLocationPrecedence(t *testing.T) {
	src := `
location = / { }
location / { }
location /documents/ { }
location ^~ /images/ { }
location ~* \.(gif|jpg|jpeg)$ { }
location ^~ /a/ { }
location /a/b/ { }
location ~ ^/a/b/c { }
location = /exact { }
location /exact { }
location ~ /Case$ { }
`
	ds, err := nginxconf.Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tr := &translator{files: map[string][]byte{}}
	items := tr.locItems("s", ds, &out{})
	pick := func(path string) string {
		for _, it := range items {
			if !regexp.MustCompile(it.re).MatchString(path) {
				continue
			}
			if len(it.excl) > 0 && regexp.MustCompile("^("+strings.Join(it.excl, "|")+")").MatchString(path) {
				continue
			}
			return strings.TrimSpace(it.mod + " " + it.pat)
		}
		return "none"
	}
	for _, c := range []struct{ path, want string }{
		// The examples of nginx's location documentation.
		{"/", "= /"},
		{"/index.html", "/"},
		{"/documents/document.html", "/documents/"},
		{"/images/1.gif", "^~ /images/"},
		{"/documents/1.jpg", `~* \.(gif|jpg|jpeg)$`},
		{"/DOCUMENTS/1.JPG", `~* \.(gif|jpg|jpeg)$`},
		// ^~ only stops the regexes when it is the longest prefix.
		{"/a/x.gif", "^~ /a/"},
		{"/a/b/x.gif", `~* \.(gif|jpg|jpeg)$`},
		{"/a/b/c", "~ ^/a/b/c"},
		{"/a/b/c.gif", `~* \.(gif|jpg|jpeg)$`}, // regexes in config order
		{"/a/b/d", "/a/b/"},
		{"/exact", "= /exact"},
		{"/exactly", "/exact"},
		{"/x/Case", "~ /Case$"},
		{"/x/case", "/"},
	} {
		if got := pick(c.path); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
}
