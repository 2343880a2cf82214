package phases

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

// testPool returns a Lua pool with one shared dict "d", closed at the end.
func testPool(tb testing.TB) *luaplugin.Pool {
	tb.Helper()
	p := luaplugin.NewPool(luaplugin.Config{Timeout: 2 * time.Second})
	d, err := shdict.New("d", 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	p.SetDicts(map[string]*shdict.Dict{"d": d})
	tb.Cleanup(p.Close)
	return p
}

// newHandler builds a handler as Provision would, on pool.
func newHandler(tb testing.TB, pool *luaplugin.Pool, h Handler) *Handler {
	tb.Helper()
	if err := h.setup(pool, zap.NewNop()); err != nil {
		tb.Fatal(err)
	}
	return &h
}

// caddyRequest makes a request with the context Caddy's server gives one.
func caddyRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	// The replacer Caddy's server gives a request: {http.request.*} work.
	repl := caddyhttp.NewTestReplacer(r)
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl)
	ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
	return r.WithContext(ctx)
}

// backend is a next handler that answers like a small upstream.
type backend struct {
	status int
	body   string
	called int
	seen   *http.Request
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	b.called++
	b.seen = r
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Backend", "yes")
	w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
	if b.status != 0 {
		w.WriteHeader(b.status)
	}
	_, err := io.WriteString(w, b.body)
	return err
}

func scripts(code ...string) []Script {
	out := make([]Script, len(code))
	for i, c := range code {
		out[i] = Script{Lua: strings.TrimSpace(c)}
	}
	return out
}
