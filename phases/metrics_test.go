package phases

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-resty/caddy-resty/internal/stats"
)

type errorNext struct{ err error }

func (n errorNext) ServeHTTP(http.ResponseWriter, *http.Request) error { return n.err }

// TestMetricsStatus: the status class the metrics count, for responses
// that pass through to the next handler (status recorded by statusWriter),
// go through the filters, or are made by Lua.
func TestMetricsStatus(t *testing.T) {
	pool := testPool(t)
	for _, tc := range []struct {
		name  string
		h     Handler
		next  caddyhttp.Handler
		class int // index of stats.ClassNames
	}{
		{"pass-through 200", Handler{Access: scripts(`local x = 1`)}, &backend{body: "ok"}, 1},
		{"pass-through 404", Handler{Access: scripts(`local x = 1`)}, &backend{status: 404, body: "no"}, 3},
		{"pass-through error 502", Handler{Access: scripts(`local x = 1`)}, errorNext{caddyhttp.Error(502, errors.New("bad gateway"))}, 4},
		{"pass-through plain error", Handler{Access: scripts(`local x = 1`)}, errorNext{errors.New("oops")}, 4},
		{"filtered 201", Handler{HeaderFilter: scripts(`ngx.header["X-F"] = "1"`)}, &backend{status: 201, body: "made"}, 1},
		{"lua exit 403", Handler{Access: scripts(`ngx.exit(403)`)}, &backend{body: "ok"}, 3},
		{"lua error", Handler{Access: scripts(`error("x")`)}, &backend{body: "ok"}, 4},
		{"lua content 302", Handler{Content: scripts(`ngx.redirect("/elsewhere")`)}, &backend{body: "ok"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := newHandler(t, pool, tc.h)
			st := stats.NewStore()
			hh.stats = st
			r := caddyRequest("POST", "/x", nil)
			_ = hh.ServeHTTP(httptest.NewRecorder(), r, tc.next)
			tr := st.Traffic("", "")
			for c := range stats.ClassNames {
				want := uint64(0)
				if c == tc.class {
					want = 1
				}
				if got := tr.Requests(2, c); got != want {
					t.Errorf("POST %s: %d, want %d", stats.ClassNames[c], got, want)
				}
			}
			if tr.Latency().Count() != 1 {
				t.Errorf("latency count %d", tr.Latency().Count())
			}
		})
	}
}
