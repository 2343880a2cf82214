package integration

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBadConfigRefused: a bad config is refused at load with an error that
// names the place, and the running config keeps serving.
func TestBadConfigRefused(t *testing.T) {
	dir := tempDir(t)
	badFile := filepath.Join(dir, "bad.lua")
	if err := os.WriteFile(badFile, []byte("local ok = true\nlocal x = = 1\nreturn x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := cfg{global: "shared_dict seen 1m", site: resty(lua("content", `ngx.print("good config")`))}
	for _, c := range []struct {
		name   string
		global string
		site   string
		want   string
	}{
		{"inline syntax error", "", resty(lua("access", "local a = 1\nlocal b = 2\nlocal c = = 3")), "access[0]:3:"},
		{"syntax error in the second piece", "", resty(lua("content", `ngx.say("fine")`), lua("content", "ngx.say(1)\nngx.say(2 +)")), "content[1]:2:"},
		// LuaJIT names the line of <eof> for an unfinished chunk.
		{"unclosed block", "", resty(lua("access", "local a = 1\nif a then\nngx.say(a)")), "access[0]:3:"},
		{"header_filter syntax error", "", resty(lua("header_filter", "ngx.header.x = 1\nngx.header.y = = 2")), "header_filter[0]:2:"},
		{"syntax error in a _by_lua_file", "", resty(luaFile("rewrite", badFile)), badFile + ":2:"},
		{"missing _by_lua_file", "", resty(luaFile("log", filepath.Join(dir, "missing.lua"))), filepath.Join(dir, "missing.lua")},
		{"bad shared dict size", "shared_dict seen 10q", resty(lua("content", `ngx.say(1)`)), "shared_dict seen"},
		{"shared dict declared twice", "shared_dict seen 1m\nshared_dict seen 2m", resty(lua("content", `ngx.say(1)`)), "shared_dict seen"},
		{"unknown phase", "", resty(lua("init_worker", `ngx.say(1)`)), "init_worker_by_lua"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t)
			g.load(good)
			get(t, "/").expect(t, 200, "good config")
			status, body := g.tryLoad(cfg{global: c.global, site: c.site})
			if status == http.StatusOK {
				t.Errorf("the bad config was accepted")
			} else if !strings.Contains(body, c.want) {
				t.Errorf("load error %q does not name %q", body, c.want)
			}
			t.Logf("load error: %s", body)
			get(t, "/").expect(t, 200, "good config")
		})
	}
}

// TestLuaTimeout: a run over lua_timeout gets a 500 within a few seconds,
// even inside pcall, while other requests keep being served.
func TestLuaTimeout(t *testing.T) {
	for _, v := range []struct{ name, code string }{
		{"access loop", lua("access", `while true do end`)},
		{"content loop", lua("content", `local n = 0
while true do n = n + 1 end`)},
		{"loop inside pcall", lua("access", `local ok, err = pcall(function() while true do end end)
ngx.say("caught: ", tostring(err))`)},
	} {
		t.Run(v.name, func(t *testing.T) {
			g := newGateway(t)
			g.load(cfg{global: "lua_timeout 200ms", site: `handle /spin {
` + resty(v.code) + `respond "unreachable"
}
handle {
` + resty(lua("content", `ngx.print("ok")`)) + `}`})
			get(t, "/other").expect(t, 200, "ok")

			spun := make(chan reply, 1)
			start := time.Now()
			go func() {
				req, _ := http.NewRequest("GET", gwURL+"/spin", nil)
				spun <- doRequest(req)
			}()
			others, during := 0, 0
			var spin reply
		loop:
			for {
				select {
				case spin = <-spun:
					break loop
				default:
				}
				r := get(t, "/other")
				r.expect(t, 200, "ok")
				others++
				select {
				case spin = <-spun:
					// It ended while this request was served.
					break loop
				default:
					during++
				}
				time.Sleep(10 * time.Millisecond)
			}
			elapsed := time.Since(start)
			if spin.Err != nil || spin.Status != 500 {
				t.Errorf("spinning request: %d %q %v, want 500", spin.Status, spin.Body, spin.Err)
			}
			if elapsed > 5*time.Second || elapsed < 150*time.Millisecond {
				t.Errorf("spinning request ended after %s; the budget is 200ms", elapsed)
			}
			if during == 0 {
				t.Errorf("no other request was served while the script spun (%d in all)", others)
			}
			t.Logf("spin ended after %s; %d other requests served meanwhile", elapsed, during)
			// The state that spun is discarded; the runtime keeps working.
			get(t, "/other").expect(t, 200, "ok")
			g.waitLog("[0]")
		})
	}
}

// patternBlock is the backend's 64 KiB unit of the 100 MB body.
func patternBlock() []byte {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 the quick brown fox\n"
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = alphabet[i%len(alphabet)]
	}
	return b
}

// heapInUse returns HeapInuse after a GC.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestLargeBodyThroughBodyFilter: a 100 MB streamed response through a
// body_filter that upper-cases each chunk arrives complete and correct,
// and the gateway does not hold it in memory.
func TestLargeBodyThroughBodyFilter(t *testing.T) {
	const blocks = 1600 // 1600 × 64 KiB = 100 MiB
	block := patternBlock()
	be := newBackend(t, false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for range blocks {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	})
	g := newGateway(t)
	// A generous budget: the race detector slows Lua down several times,
	// and this test is about memory, not the body_filter budget.
	g.load(cfg{global: "lua_timeout 30s", backend: be.addr, site: proxied(lua("body_filter", `ngx.arg[1] = string.upper(ngx.arg[1])`))})

	want := sha256.New()
	upper := bytes.ToUpper(block)
	for range blocks {
		want.Write(upper)
	}
	const total = int64(blocks) * 64 << 10

	base := heapInUse()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := client.Get(gwURL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := sha256.New()
	// Read 90% of the body, then look at the live heap while the rest is
	// still in flight.
	n, err := io.CopyN(got, resp.Body, total*9/10)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	mid := heapInUse()
	rest, err := io.Copy(got, resp.Body)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n+rest, err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n+rest != total {
		t.Errorf("received %d bytes, want %d", n+rest, total)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("the body is not the upper-cased backend body (sha256 differs)")
	}
	growth := int64(mid) - int64(base)
	t.Logf("live heap %d MB before, %d MB at 90%%; %d MB allocated in all",
		base>>20, mid>>20, (after.TotalAlloc-before.TotalAlloc)>>20)
	if growth > 30<<20 {
		t.Errorf("live heap grew by %d MB while streaming 100 MB: the body is buffered", growth>>20)
	}
}
