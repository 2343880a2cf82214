package integration

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReloadInFlight: requests in flight during a config reload finish on
// the config they started with; new requests see the new config.
func TestReloadInFlight(t *testing.T) {
	for _, v := range []struct {
		name           string
		oldLua, newLua string
	}{
		{"same Lua runtime", "lua_timeout 1s", "lua_timeout 1s"},
		{"Lua runtime replaced", "lua_timeout 1s", "lua_timeout 2s"},
	} {
		t.Run(v.name, func(t *testing.T) {
			const inFlight = 20
			gt := newGate(t, inFlight)
			be := newBackend(t, false, func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/slow/") {
					gt.hold(15 * time.Second)
				}
				fmt.Fprintf(w, "%s:%s", r.Method, r.URL.Path)
			})
			conf := func(lua, version string) cfg {
				return cfg{
					global:  "shared_dict keep 1m\n" + lua,
					backend: be.addr,
					site: proxied(
						luaHF(version),
						luaBF(version),
						logIncr("keep", "logged")),
				}
			}
			g := newGateway(t)
			g.load(conf(v.oldLua, "v1"))

			replies := make([]reply, inFlight)
			var wg sync.WaitGroup
			for i := range inFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest("GET", fmt.Sprintf("%s/slow/%d", gwURL, i), nil)
					replies[i] = doRequest(req)
				}()
			}
			if got := gt.waitArrived(inFlight, 10*time.Second); got < inFlight {
				t.Fatalf("only %d of %d requests reached the backend", got, inFlight)
			}

			g.load(conf(v.newLua, "v2"))
			r := get(t, "/fast")
			r.expect(t, 200, "GET:/fast|v2")
			if got := r.Header.Get("X-Config"); got != "v2" {
				t.Errorf("new request: X-Config %q, want v2", got)
			}

			gt.open()
			wg.Wait()
			for i, r := range replies {
				r.expect(t, 200, fmt.Sprintf("GET:/slow/%d|v1", i))
				if got := r.Header.Get("X-Config"); r.Err == nil && got != "v1" {
					t.Errorf("in-flight request %d: X-Config %q, want v1 (the config it started on)", i, got)
				}
			}
			// Every request ran its log phase, the old ones included.
			waitDict(t, "keep", "logged", strconv.Itoa(inFlight+1))
		})
	}
}

func luaHF(version string) string {
	return lua("header_filter", fmt.Sprintf(`ngx.header["X-Config"] = %q
ngx.header.content_length = nil`, version))
}

func luaBF(version string) string {
	return lua("body_filter", fmt.Sprintf(`if ngx.arg[2] then ngx.arg[1] = ngx.arg[1] .. "|" .. %q end`, version))
}

func logIncr(dict, key string) string {
	return lua("log", fmt.Sprintf(`ngx.shared[%q]:incr(%q, 1, 0)`, dict, key))
}

// setter is a site whose content sets ngx.shared[dict][key] = val from the
// query string and reports the config generation in X-Gen.
func setter(gen string) string {
	return resty(lua("content", fmt.Sprintf(`local a = ngx.req.get_uri_args()
ngx.header["X-Gen"] = %q
local ok, err = ngx.shared[a.dict]:set(a.key, a.val)
ngx.say(tostring(ok), " ", tostring(err))`, gen)))
}

// TestReloadKeepsSharedDicts: a dict keeps its contents across reloads
// while its name and size stay, and starts empty when its size changes or
// it is new.
func TestReloadKeepsSharedDicts(t *testing.T) {
	g := newGateway(t)
	g.load(cfg{global: "shared_dict kept 1m\nshared_dict other 64k", site: setter("1")})
	for _, d := range []string{"kept", "other"} {
		get(t, "/set?dict="+d+"&key=k&val=v-"+d).expect(t, 200, "true nil\n")
	}
	steps := []struct {
		name   string
		global string
		want   map[string]string
	}{
		{"same dicts, changed site", "shared_dict kept 1m\nshared_dict other 64k",
			map[string]string{"kept": "v-kept", "other": "v-other"}},
		{"same dicts in another notation", "shared_dict kept 1024k\nshared_dict other 65536",
			map[string]string{"kept": "v-kept", "other": "v-other"}},
		{"kept resized", "shared_dict kept 2m\nshared_dict other 64k",
			map[string]string{"kept": "<nil>", "other": "v-other"}},
		{"other renamed", "shared_dict kept 2m\nshared_dict renamed 64k",
			map[string]string{"kept": "<nil>", "renamed": "<nil>"}},
	}
	for i, s := range steps {
		gen := strconv.Itoa(i + 2)
		g.load(cfg{global: s.global, site: setter(gen)})
		if r := get(t, "/probe?dict=kept&key=probe&val=1"); r.Header.Get("X-Gen") != gen {
			t.Fatalf("%s: config generation %q, want %s (reply %d %q, %v)", s.name, r.Header.Get("X-Gen"), gen, r.Status, r.Body, r.Err)
		}
		for d, want := range s.want {
			if got := dict(t, d, "k"); got != want {
				t.Errorf("%s: ngx.shared.%s k = %q, want %q", s.name, d, got, want)
			}
		}
	}
}

// TestReloadUnderLoad: reloads under concurrent incr traffic lose no
// increment and drop no request; every reply carries a distinct counter
// value.
func TestReloadUnderLoad(t *testing.T) {
	const (
		workers     = 4
		perPhase    = 60  // successful requests between reloads
		maxRequests = 800 // bound on the load
	)
	site := func(gen string) string {
		return resty(lua("content", fmt.Sprintf(`local n, err = ngx.shared.counter:incr("n", 1, 0)
if not n then return ngx.exit(500) end
ngx.header["X-Gen"] = %q
ngx.print(n)`, gen)))
	}
	configs := []cfg{
		{global: "shared_dict counter 1m", site: site("1")},
		{global: "shared_dict counter 1m", site: site("2")},
		{global: "shared_dict counter 1m\nlua_timeout 3s", site: site("3")},
	}
	g := newGateway(t)
	g.load(configs[0])

	var (
		stop      atomic.Bool
		sent      atomic.Int64
		successes atomic.Int64
		mu        sync.Mutex
		values    []int
		failures  []string
		gens      = map[string]int{}
		wg        sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && sent.Add(1) <= maxRequests {
				req, _ := http.NewRequest("GET", gwURL+"/incr", nil)
				r := doRequest(req)
				mu.Lock()
				if n, err := strconv.Atoi(r.Body); r.Err == nil && r.Status == 200 && err == nil {
					values = append(values, n)
					gens[r.Header.Get("X-Gen")]++
					successes.Add(1)
				} else {
					failures = append(failures, fmt.Sprintf("%d %q %v", r.Status, r.Body, r.Err))
				}
				mu.Unlock()
			}
		}()
	}
	waitFor := func(n int64) {
		deadline := time.Now().Add(30 * time.Second)
		for successes.Load() < n && sent.Load() <= maxRequests && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i, c := range configs[1:] {
		waitFor(int64((i + 1) * perPhase))
		g.load(c)
	}
	waitFor(int64(len(configs) * perPhase))
	stop.Store(true)
	wg.Wait()

	if len(failures) > 0 {
		t.Errorf("%d requests failed during reloads, first: %s", len(failures), failures[0])
	}
	n := int(successes.Load())
	if got := dict(t, "counter", "n"); got != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d successful increments", got, n)
	}
	sort.Ints(values)
	for i, v := range values {
		if v != i+1 {
			t.Errorf("replies carry counter values %v…, want 1..%d each once", values[max(0, i-2):min(len(values), i+3)], n)
			break
		}
	}
	if gens["3"] == 0 {
		t.Errorf("no request saw the last config: %v", gens)
	}
	t.Logf("%d requests, by config generation: %v", n, gens)
}
