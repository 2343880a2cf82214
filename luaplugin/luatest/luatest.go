// Package luatest runs Lua on a real luaplugin.Pool, as a request would,
// for the tests of the Go-backed Lua libraries (cjson, resty.*) that live
// in packages of their own. A library's test imports the library (which
// registers its modules) and this package, and checks what Lua printed.
package luatest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/shdict"
)

// Response is a luaplugin.Response that records what Lua sent.
type Response struct {
	header http.Header
	status int
	sent   bool
	eof    bool
	// Body is what Lua printed (ngx.say, ngx.print).
	Body strings.Builder
}

// NewResponse returns an empty Response.
func NewResponse() *Response { return &Response{header: http.Header{}} }

// Header implements luaplugin.Response.
func (r *Response) Header() http.Header { return r.header }

// HeadersSent implements luaplugin.Response.
func (r *Response) HeadersSent() bool { return r.sent }

// Status implements luaplugin.Response.
func (r *Response) Status() int { return r.status }

// SetStatus implements luaplugin.Response.
func (r *Response) SetStatus(code int) { r.status = code }

// Print implements luaplugin.Response.
func (r *Response) Print(p []byte) error {
	r.sent = true
	r.Body.Write(p)
	return nil
}

// SendHeaders implements luaplugin.Response.
func (r *Response) SendHeaders() error { r.sent = true; return nil }

// FlushError implements luaplugin.Response.
func (r *Response) FlushError() error { return nil }

// EOF implements luaplugin.Response.
func (r *Response) EOF() error { r.eof = true; return nil }

// SetReadDeadline implements luaplugin.Response (request bodies here are
// in memory: nothing to time out).
func (r *Response) SetReadDeadline(time.Time) error { return nil }

// Interface guard.
var _ luaplugin.Response = (*Response)(nil)

// NewPool returns a pool configured by cfg, with one 1 MiB shared dict
// named "d", closed when the test ends.
func NewPool(tb testing.TB, cfg luaplugin.Config) *luaplugin.Pool {
	tb.Helper()
	p := luaplugin.NewPool(cfg)
	d, err := shdict.New("d", 1<<20)
	if err != nil {
		tb.Fatal(err)
	}
	p.SetDicts(map[string]*shdict.Dict{"d": d})
	tb.Cleanup(p.Close)
	return p
}

// NewRequest returns a request for GET /a/b?x=1&y=%20z (with header
// X-Key: v1, from 192.0.2.1) and its Response.
func NewRequest() (*luaplugin.Request, *Response) {
	w := NewResponse()
	r := httptest.NewRequest("GET", "/a/b?x=1&y=%20z", nil)
	r.Header.Set("X-Key", "v1")
	return &luaplugin.Request{R: r, W: w, Start: time.Now()}, w
}

// Compile compiles code as the chunk "test", failing the test on a syntax
// error.
func Compile(tb testing.TB, code string) *luaplugin.Chunk {
	tb.Helper()
	c, err := luaplugin.Compile("test", code)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Run compiles code and runs it in phase on a state borrowed from p, for a
// new request (see NewRequest).
func Run(tb testing.TB, p *luaplugin.Pool, phase luaplugin.Phase, code string) (luaplugin.Result, *Response) {
	tb.Helper()
	c := Compile(tb, code)
	req, w := NewRequest()
	vm, err := p.Acquire(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Release(vm)
	return vm.Run(c, req, phase), w
}

// RunOK runs code in the content phase and returns what it printed,
// failing the test on a Lua error or an ngx.exit.
func RunOK(tb testing.TB, p *luaplugin.Pool, code string) string {
	tb.Helper()
	res, w := Run(tb, p, luaplugin.PhaseContent, code)
	if res.Err != nil || res.Exited {
		tb.Fatalf("run: %+v (output %q)", res, w.Body.String())
	}
	return w.Body.String()
}

// RunConcurrently runs code in the content phase runs times from each of
// goroutines goroutines, failing the test on a Lua error.
func RunConcurrently(tb testing.TB, p *luaplugin.Pool, code string, goroutines, runs int) {
	tb.Helper()
	c := Compile(tb, code)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < runs; i++ {
				vm, err := p.Acquire(nil)
				if err != nil {
					tb.Error(err)
					return
				}
				req, _ := NewRequest()
				res := vm.Run(c, req, luaplugin.PhaseContent)
				p.Release(vm)
				if res.Err != nil {
					tb.Error(res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// ExpectLines fails the test unless got is the lines want, each ended by
// a newline.
func ExpectLines(tb testing.TB, got string, want ...string) {
	tb.Helper()
	w := strings.Join(want, "\n") + "\n"
	if got != w {
		tb.Fatalf("got:\n%s\nwant:\n%s", got, w)
	}
}
