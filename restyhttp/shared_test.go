package restyhttp_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddy-resty/caddy-resty/luaplugin"
	"github.com/caddy-resty/caddy-resty/luaplugin/luatest"
)

// An httpc kept in a module-level table, used by a second request while the
// first one waits on it (its wait frees the state), gets OpenResty's "bad
// request" instead of racing on the connection.
func TestSharedObjectBadRequest(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	p := luatest.NewPool(t, luaplugin.Config{MaxStates: 1})
	luatest.RunOK(t, p, `shared_httpc = require("resty.http").new()`)

	var wg sync.WaitGroup
	var slowOut string
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowOut = luatest.RunOK(t, p, `local res, err = shared_httpc:request_uri("`+srv.URL+`/slow")
ngx.print(res and res.body or err)`)
	}()
	time.Sleep(200 * time.Millisecond) // the first request now waits on the backend
	got := luatest.RunOK(t, p, `local ok, err = pcall(shared_httpc.request_uri, shared_httpc, "`+srv.URL+`/fast")
local own = require("resty.http").new()
local res = own:request_uri("`+srv.URL+`/fast")
ngx.print(tostring(ok), " ", err, " ", res.body)`)
	close(release)
	wg.Wait()
	if got != "false test:1: bad request ok" {
		t.Errorf("second request: %q", got)
	}
	if slowOut != "ok" {
		t.Errorf("first request: %q", slowOut)
	}
}
