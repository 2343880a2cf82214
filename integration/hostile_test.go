//go:build linux

package integration

// The hostile-script acceptance suite: scripts and clients that try to take
// the gateway down (huge strings, huge or deep JSON, catastrophic patterns,
// floods of bodies and slow clients, slow log phases, sandbox escapes) run
// against a real Caddy process (hostile_harness_test.go) with lua_timeout
// 1s. Each test checks that the hostile request is refused or stopped
// within about the budget, that the process survives, that plain routes
// (a `respond` route and a Lua content route) keep answering while the
// attack runs, and that the Go heap comes back under lua_max_memory.
//
//	go test -count=1 -run Hostile -v ./integration/
//
// The items of the acceptance list and their tests:
//
//	 1 pcall(string.rep, "x", 1e10)            TestHostileScripts/01_pcall_rep_1e10
//	 2 string.rep("x", 1e6):rep(5000)          TestHostileScripts/02_rep_rep_5e9
//	 3 loops of 100 MB / 60 MB strings         TestHostileScripts/03a..03d
//	 4 16 MB JSON bodies, cjson.decode, x6     TestHostileJSONBody
//	 5 100,000 nested [ at max depth 2^31-1    TestHostileScripts/05_cjson_depth_100000
//	 6 300 clients sending 16 MB bodies        TestHostileUploadFlood
//	 7 table.concat to 3 GB                    TestHostileScripts/07_table_concat_3GB
//	 8 cjson.decode of 50 MB built in Lua      TestHostileCjsonLarge
//	 9 ("a"):rep(150):find(".-.-.-.-b")        TestHostileScripts/09_find_backtracking
//	10 gsub on 1 MB                            TestHostileScripts/10_gsub_1MB
//	11 body_filter gsub on 20 MB proxied       TestHostileBodyFilterGsub
//	12 520 waiting requests of four kinds      TestHostileWaitsDontHoldStates
//	13 slow log phase under load               TestHostileSlowLogPhase
//	14 timers survive a timeout                TestHostileTimersSurviveTimeout
//	15 sandbox                                 TestHostileSandbox
//	16 health_check interval=1ns refused       TestHostileHealthCheckInterval
//	17 10,000 sleeps; 1,000 slow bodies        TestHostileScale

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// hostileBudget is how long a hostile request may take: lua_timeout is 1s;
// the margin absorbs a loaded 2-core machine. The point is "not 28s, not
// forever".
const hostileBudget = 5 * time.Second

// scriptCase is one hostile content script run alone against a fresh
// Caddy.
type scriptCase struct {
	name     string
	global   string
	memLimit int64
	code     string
	check    func(t *testing.T, p *hproc, r hreply)
}

// expect500 checks a 500 and that Caddy's log names the reason.
func expect500(logSub ...string) func(t *testing.T, p *hproc, r hreply) {
	return func(t *testing.T, p *hproc, r hreply) {
		t.Helper()
		if r.err != nil || r.status != 500 {
			t.Errorf("want 500, got %v", r)
		}
		for _, s := range logSub {
			p.expectLog(t, s)
		}
	}
}

// expectBody checks a 200 whose body satisfies ok.
func expectBody(desc string, ok func(body string) bool) func(t *testing.T, p *hproc, r hreply) {
	return func(t *testing.T, p *hproc, r hreply) {
		t.Helper()
		if r.err != nil || r.status != 200 || !ok(r.body) {
			t.Errorf("want 200 with %s, got %v", desc, r)
		}
	}
}

func TestHostileScripts(t *testing.T) {
	overflow := func(body string) bool {
		return strings.HasPrefix(body, "false ") && strings.Contains(body, "string length overflow")
	}
	cases := []scriptCase{{
		// Item 1.
		name: "01_pcall_rep_1e10",
		code: `local ok, err = pcall(string.rep, "x", 1e10)
ngx.say(tostring(ok), " ", tostring(err))`,
		check: expectBody(`"false …string length overflow"`, overflow),
	}, {
		// Item 2.
		name:  "02_rep_rep_5e9",
		code:  `local s = string.rep("x", 1e6):rep(5000) ngx.say(#s)`,
		check: expect500("string length overflow"),
	}, {
		// Item 3: appending 100 MB strings; string.rep("x", 1e8) is over
		// the default 64m lua_max_string_size and fails first.
		name: "03a_append_100MB_strings",
		code: `local s = ""
for i = 1, 100 do s = s .. string.rep("x", 1e8) end
ngx.say(#s)`,
		check: expect500("string length overflow"),
	}, {
		// Item 3: 60 MB strings (under the string bound) kept in a table
		// until lua_max_memory stops the run. The limit is lowered to 256m
		// so that the memory guard, not the 1s budget, is what stops it
		// (at 1g, filling the heap takes about the budget on a slow
		// machine: 03d).
		name: "03b_table_of_60MB_strings_256m",
		// A budget the memory guard comes well before, however busy the
		// machine: this case is about the memory guard.
		global:   "lua_max_memory 256m\n\t\tlua_timeout 20s",
		memLimit: 256 << 20,
		code: `local t = {}
for i = 1, 1e9 do t[#t+1] = string.rep("x", 6e7) end
ngx.say(#t)`,
		check: expect500("memory limit reached"),
	}, {
		// Item 3 with the string bound raised: 100 MB strings kept in a
		// table, stopped by lua_max_memory.
		name:     "03c_table_of_100MB_strings_128m_256m",
		global:   "lua_max_string_size 128m\n\t\tlua_max_memory 256m\n\t\tlua_timeout 20s",
		memLimit: 256 << 20,
		code: `local t = {}
for i = 1, 1e9 do t[#t+1] = string.rep("x", 1e8) end
ngx.say(#t)`,
		check: expect500("memory limit reached"),
	}, {
		// Item 3 with the defaults (lua_max_memory 1g): the memory guard
		// or the budget stops it, whichever comes first.
		name: "03d_table_of_60MB_strings_defaults",
		code: `local t = {}
for i = 1, 1e9 do t[#t+1] = string.rep("x", 6e7) end
ngx.say(#t)`,
		check: func(t *testing.T, p *hproc, r hreply) {
			t.Helper()
			if r.err != nil || r.status != 500 {
				t.Errorf("want 500, got %v", r)
			}
			switch {
			case p.waitLog("memory limit reached", 5*time.Second):
				t.Log("stopped by the memory guard")
			case p.waitLog("exceeded its time budget", time.Second):
				t.Log("stopped by the time budget before the memory guard")
			default:
				t.Errorf("no memory-limit or budget error in the log; tail:\n%s", p.logTail(3000))
			}
		},
	}, {
		// Item 5.
		name: "05_cjson_depth_100000",
		code: `local cjson = require "cjson"
cjson.decode_max_depth(2^31-1)
local s = string.rep("[", 100000)
local ok, err = pcall(cjson.decode, s)
ngx.say(tostring(ok), " ", tostring(err))
local safe = require "cjson.safe"
safe.decode_max_depth(2^31-1)
local v, err2 = safe.decode(s)
ngx.say(tostring(v), " ", tostring(err2))`,
		check: expectBody("a cjson error from pcall and from cjson.safe", func(b string) bool {
			lines := strings.Split(b, "\n")
			return len(lines) >= 2 && strings.HasPrefix(lines[0], "false ") && lines[0] != "false nil" &&
				strings.HasPrefix(lines[1], "nil ") && lines[1] != "nil nil"
		}),
	}, {
		// Item 7: the result would be 3 GB.
		name: "07_table_concat_3GB",
		code: `local s = string.rep("x", 6e7)
local t = {}
for i = 1, 50 do t[i] = s end
local ok, r = pcall(table.concat, t)
if ok then ngx.say("true ", #r) else ngx.say("false ", tostring(r)) end`,
		check: expectBody(`"false …string length overflow"`, overflow),
	}, {
		// Item 9: a backtracking pattern (O(n^5) in a naive matcher).
		name: "09_find_backtracking",
		code: `local r = ("a"):rep(150):find(".-.-.-.-b")
ngx.say(tostring(r))`,
		check: func(t *testing.T, p *hproc, r hreply) {
			t.Helper()
			switch {
			case r.err == nil && r.status == 200 && r.body == "nil\n":
			case r.err == nil && r.status == 500:
				p.expectLog(t, "exceeded its time budget")
			default:
				t.Errorf("want 500 (budget) or 200 \"nil\", got %v", r)
			}
		},
	}, {
		// Item 10: gsub must be linear in the subject's length.
		name: "10_gsub_1MB",
		code: `local s = string.rep("a", 1048576)
local r, n = s:gsub("a", "b")
ngx.say(n, " ", #r, " ", r:sub(1, 3), " ", tostring(r:find("a", 1, true) == nil))`,
		check: expectBody(`"1048576 1048576 bbb true"`, func(b string) bool { return b == "1048576 1048576 bbb true\n" }),
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := startCaddy(t, hopts{global: c.global, memLimit: c.memLimit, content: map[string]string{"/x": c.code}})
			pr := p.startProbes()
			time.Sleep(100 * time.Millisecond)
			r := timed(t, hostileBudget, "hostile request", func() hreply { return p.get("/x", 10*time.Second) })
			time.Sleep(100 * time.Millisecond)
			pr.report(t)
			c.check(t, p, r)
			p.checkAfter(t)
		})
	}
}

// jsonBody is a JSON array of n small objects.
func jsonBody(size int) ([]byte, int) {
	const elem = `{"id":123456,"name":"caddy-resty","ok":true},`
	n := (size - 4) / len(elem)
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i := 0; i < n; i++ {
		b = append(b, elem...)
	}
	b = append(b, `{}]`...)
	return b, n + 1
}

// Item 4: a 16 MB JSON body through read_body + cjson.decode, six clients
// at once.
func TestHostileJSONBody(t *testing.T) {
	body, n := jsonBody(16 << 20)
	code := `local cjson = require "cjson"
ngx.req.read_body()
local data = ngx.req.get_body_data()
if not data then ngx.say("no body data; file ", tostring(ngx.req.get_body_file())) return end
local t = cjson.decode(data)
ngx.say(#t)`
	run := func(t *testing.T, global string, accept func(r hreply) bool, want string) {
		p := startCaddy(t, hopts{global: global, content: map[string]string{"/json": code}})
		pr := p.startProbes()
		time.Sleep(100 * time.Millisecond)
		s := newLatStats("16 MB JSON clients")
		replies := make([]hreply, 6)
		parallel(6, func(i int) {
			replies[i] = rawDo(p.addr, rawReq{head: postHead(p.addr, "/json", len(body)), body: func(w io.Writer) error {
				_, err := w.Write(body)
				return err
			}}, 30*time.Second)
			if accept(replies[i]) {
				s.add(replies[i].dur, "")
			} else {
				s.add(replies[i].dur, replies[i].String())
			}
		})
		pr.report(t)
		// Six decodes of up to one budget (1s) each share the machine's
		// cores (two on CI) and queue on the Lua states, after reading
		// 96 MB of bodies: bound each client by the whole batch's work,
		// not by one budget.
		bound := 3 * hostileBudget
		for i, r := range replies {
			t.Logf("client %d: %v", i, r)
			if r.dur > bound {
				t.Errorf("client %d took %s, more than %s", i, r.dur.Round(time.Millisecond), bound)
			}
		}
		t.Log(s)
		if s.failures() > 0 {
			t.Errorf("want %s for every client: %s", want, s)
		}
		p.checkAfter(t)
	}
	t.Run("defaults_413", func(t *testing.T) {
		run(t, "", func(r hreply) bool { return r.err == nil && r.status == 413 }, "413")
	})
	t.Run("max_body_size_32m", func(t *testing.T) {
		want := fmt.Sprintf("%d\n", n)
		run(t, "lua_max_body_size 32m", func(r hreply) bool {
			return r.err == nil && (r.status == 500 || (r.status == 200 && r.body == want))
		}, fmt.Sprintf("200 %q or 500", want))
	})
}

// Item 6: 300 clients each sending a 16 MB body to a read_body route (half
// with Content-Length, half chunked) get 413; the process lives and the
// plain routes answer.
func TestHostileUploadFlood(t *testing.T) {
	p := startCaddy(t, hopts{content: map[string]string{"/upload": `ngx.req.read_body()
ngx.say(#(ngx.req.get_body_data() or ""))`}})
	const size = 16 << 20
	chunk := strings.Repeat("u", 64<<10)
	pr := p.startProbes()
	time.Sleep(100 * time.Millisecond)
	s := newLatStats("16 MB uploads")
	start := time.Now()
	parallel(300, func(i int) {
		var rq rawReq
		if i%2 == 0 {
			rq = rawReq{head: postHead(p.addr, "/upload", size), body: func(w io.Writer) error {
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := io.WriteString(w, chunk); err != nil {
						return err
					}
				}
				return nil
			}}
		} else {
			rq = rawReq{head: "POST /upload HTTP/1.1\r\nHost: " + p.addr + "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
				body: func(w io.Writer) error {
					for sent := 0; sent < size; sent += len(chunk) {
						if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
							return err
						}
					}
					_, err := io.WriteString(w, "0\r\n\r\n")
					return err
				}}
		}
		s.check(rawDo(p.addr, rq, 60*time.Second), 413, "")
	})
	t.Logf("300 uploads done in %s", time.Since(start).Round(time.Millisecond))
	pr.report(t)
	t.Log(s)
	s.expectNoFailures(t)
	p.checkAfter(t)
}

// Item 8: cjson.decode of a 50 MB JSON built in Lua is stopped within the
// budget or finishes under it; the plain routes never stall for seconds.
func TestHostileCjsonLarge(t *testing.T) {
	p := startCaddy(t, hopts{global: "lua_max_string_size 128m", content: map[string]string{"/x": `local cjson = require "cjson"
local elem = '{"a":[1,2,3],"b":"xyz"},'
local n = math.floor(50 * 1024 * 1024 / #elem)
local s = "[" .. string.rep(elem, n) .. "{}]"
local t = cjson.decode(s)
ngx.say(#t)`}})
	pr := p.startProbes()
	time.Sleep(100 * time.Millisecond)
	r := timed(t, hostileBudget, "50 MB cjson.decode", func() hreply { return p.get("/x", 30*time.Second) })
	time.Sleep(200 * time.Millisecond)
	plain, lua := pr.report(t)
	for _, s := range []*latStats{plain, lua} {
		if max := s.pct(1); max > 2*time.Second {
			t.Errorf("%s stalled for %s while the decode ran", s.name, max.Round(time.Millisecond))
		}
	}
	switch {
	case r.err == nil && r.status == 200:
		t.Logf("the decode finished within the budget: %q", r.body)
	case r.err == nil && r.status == 500:
		if !p.waitLog("exceeded its time budget", 5*time.Second) && !p.waitLog("memory limit reached", time.Second) {
			t.Errorf("500 without a budget or memory-limit error in the log; tail:\n%s", p.logTail(3000))
		}
	default:
		t.Errorf("want 200 or 500, got %v", r)
	}
	p.checkAfter(t)
}

// Item 11: the README's body_filter gsub on a 20 MB proxied response.
func TestHostileBodyFilterGsub(t *testing.T) {
	const lines = 20 << 20 / 30
	var sb strings.Builder
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&sb, "response from backend %07d\n", i)
	}
	orig := sb.String()
	want := strings.ReplaceAll(orig, "backend", "BACKEND")
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < len(orig); i += 32 << 10 {
			if _, err := io.WriteString(w, orig[i:min(i+32<<10, len(orig))]); err != nil {
				return
			}
		}
	}))
	defer be.Close()
	p := startCaddy(t, hopts{backend: be.Listener.Addr().String(),
		files: map[string]string{"filter.lua": `ngx.arg[1] = ngx.arg[1]:gsub("backend", "BACKEND")`},
		site: `	handle /big {
		resty {
			body_filter_by_lua_file @DIR@/filter.lua
		}
		reverse_proxy @BACKEND@
	}
`})
	pr := p.startProbes()
	time.Sleep(100 * time.Millisecond)
	r := p.get("/big", 60*time.Second)
	pr.report(t)
	t.Logf("20 MB through body_filter gsub: status %d, %d bytes, err %v, in %s", r.status, len(r.body), r.err, r.dur.Round(time.Millisecond))
	if r.dur > hostileBudget {
		t.Errorf("the response took %s, more than %s", r.dur.Round(time.Millisecond), hostileBudget)
	}
	switch {
	case r.err == nil && r.status == 200 && len(r.body) == len(orig):
		// A "backend" split across two chunks is not replaced (as in
		// OpenResty); everything else must be.
		left := strings.Count(r.body, "backend")
		t.Logf("%d of %d occurrences left unreplaced (split across chunks)", left, lines)
		if strings.ReplaceAll(r.body, "backend", "BACKEND") != want || left > lines/100 {
			t.Errorf("wrong body: %d occurrences of \"backend\" left", left)
		}
	case r.err != nil:
		// Cut: allowed when the request's body_filter budget ran out.
		if !p.waitLog("exceeded its time budget", 5*time.Second) {
			t.Errorf("the response was cut (%v) without a budget error in the log; tail:\n%s", r.err, p.logTail(3000))
		} else {
			t.Logf("the response was cut by the body_filter budget after %d bytes", len(r.body))
		}
	default:
		t.Errorf("want 200 with %d bytes (or a cut response), got status %d with %d bytes", len(orig), r.status, len(r.body))
	}
	p.checkAfter(t)
}

// Item 12: requests that wait (ngx.sleep, a slow request body, a client
// that does not read, a cosocket to a slow backend) hold no Lua state: 520
// of each in flight leave the plain Lua route answering within 100ms at
// p99.
func TestHostileWaitsDontHoldStates(t *testing.T) {
	const clients = 520
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Second)
		io.WriteString(w, "slow")
	}))
	defer be.Close()
	p := startCaddy(t, hopts{backend: be.Listener.Addr().String(), content: map[string]string{
		"/sleep": `ngx.shared.d:incr("arr_sleep", 1, 0) ngx.sleep(2) ngx.say("slept")`,
		"/body":  `ngx.shared.d:incr("arr_body", 1, 0) ngx.req.read_body() ngx.say(#(ngx.req.get_body_data() or ""))`,
		"/bigsay": `ngx.shared.d:incr("arr_bigsay", 1, 0)
local P = package.loaded
local big = P["hostile.big"]
if not big then big = string.rep("x", 1048576) P["hostile.big"] = big end
for i = 1, 4 do ngx.say(big) end
ngx.shared.d:incr("say_done", 1, 0)`,
		"/cosocket": `ngx.shared.d:incr("arr_cosocket", 1, 0)
local http = require "resty.http"
local httpc = http.new()
local res, err = httpc:request_uri("http://@BACKEND@/slow")
if not res then ngx.say("error: ", err) return end
ngx.say(res.body)`,
	}})
	// attack runs clients of one kind with the probes on; once all of
	// them reached the server (counter) and until the first one finished,
	// the plain Lua route must answer within 100ms at p99. The arrival
	// burst itself is reported, not asserted. mid, if set, runs on the
	// test's goroutine once all arrived.
	attack := func(t *testing.T, name, counter string, client func(i int, s *latStats), mid func()) {
		pr := p.startProbes()
		time.Sleep(100 * time.Millisecond)
		s := newLatStats(name)
		start := time.Now()
		var firstEnd atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			parallel(clients, func(i int) {
				client(i, s)
				now := time.Now().UnixNano()
				for {
					cur := firstEnd.Load()
					if (cur != 0 && cur <= now) || firstEnd.CompareAndSwap(cur, now) {
						break
					}
				}
			})
		}()
		arrived, _ := p.waitCount(t, counter, clients, 15*time.Second)
		t.Logf("all %d requests reached the server after %s", clients, arrived.Sub(start).Round(time.Millisecond))
		if mid != nil {
			mid()
		}
		<-done
		t.Logf("%d clients done in %s", clients, time.Since(start).Round(time.Millisecond))
		_, lua := pr.report(t)
		t.Log(s)
		s.expectNoFailures(t)
		inFlightP99(t, lua, arrived, time.Unix(0, firstEnd.Load()), 100*time.Millisecond)
	}
	t.Run("a_ngx_sleep", func(t *testing.T) {
		attack(t, "ngx.sleep(2)", "arr_sleep", func(i int, s *latStats) {
			s.check(rawDo(p.addr, getReq(p.addr, "/sleep"), 30*time.Second), 200, "slept\n")
		}, nil)
	})
	t.Run("b_slow_request_body", func(t *testing.T) {
		attack(t, "read_body of slow bodies", "arr_body", func(i int, s *latStats) {
			rq := rawReq{head: postHead(p.addr, "/body", 120), body: slowBody(120, 10, 250*time.Millisecond)}
			s.check(rawDo(p.addr, rq, 30*time.Second), 200, "120\n")
		}, nil)
	})
	t.Run("c_client_not_reading", func(t *testing.T) {
		var mu sync.Mutex
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		release := make(chan struct{})
		// One 1 MB ngx.say fits in the kernel's socket buffers on
		// loopback (its MSS is 64 KB, so the send buffer grows past 1
		// MB): the script says it four times, so that the handlers do
		// wait on their clients.
		attack(t, "ngx.say of 1 MB (x4) to clients that do not read", "arr_bigsay", func(i int, s *latStats) {
			start := time.Now()
			conn, err := d.Dial("tcp", p.addr)
			if err == nil {
				_, err = io.WriteString(conn, getReq(p.addr, "/bigsay").head)
			}
			if err != nil {
				s.add(time.Since(start), err.Error())
				if conn != nil {
					conn.Close()
				}
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			s.add(time.Since(start), "")
			<-release
		}, func() {
			time.Sleep(2 * time.Second)
			t.Logf("2s after all arrived: %d of %d handlers are done with ngx.say (the others wait on their clients)",
				p.dictInt(t, "say_done"), clients)
			close(release)
		})
	})
	t.Run("d_cosocket_slow_backend", func(t *testing.T) {
		attack(t, "resty.http to a 2s backend", "arr_cosocket", func(i int, s *latStats) {
			s.check(rawDo(p.addr, getReq(p.addr, "/cosocket"), 30*time.Second), 200, "slow\n")
		}, nil)
	})
	p.checkAfter(t)
}

// Item 13: a slow log phase (~50ms of busy Lua) under a burst of 2,000
// requests with lua_log_queue 100: the plain routes stay fast, the process
// is idle again within seconds of the burst, and the dropped log phases are
// reported.
func TestHostileSlowLogPhase(t *testing.T) {
	p := startCaddy(t, hopts{global: "lua_log_queue 100",
		files: map[string]string{"slowlog.lua": `local t = ngx.now() + 0.05
while ngx.now() < t do ngx.update_time() end
ngx.shared.d:incr("logs", 1, 0)`},
		site: `	handle /logged {
		resty {
			log_by_lua_file @DIR@/slowlog.lua
		}
		respond "logged" 200
	}
`})
	pr := p.startProbes()
	time.Sleep(100 * time.Millisecond)
	const total, workers = 2000, 50
	s := newLatStats("/logged")
	start := time.Now()
	parallel(workers, func(w int) {
		for i := w; i < total; i += workers {
			s.check(rawDo(p.addr, getReq(p.addr, "/logged"), 30*time.Second), 200, "logged")
		}
	})
	load := time.Since(start)
	plain, lua := pr.report(t)
	t.Logf("%d requests in %s (%.0f/s)", total, load.Round(time.Millisecond), total/load.Seconds())
	t.Log(s)
	s.expectNoFailures(t)
	// The load and the log phases saturate a 2-core machine, so the
	// respond route (no Lua) slows down too; the Lua route must not be
	// slower than it by more than 100ms at p99 (it would be, were it
	// waiting behind log phases for a Lua state), nor ever take 1s.
	// (100ms is the target, reported; CI fails at 1s, which means Lua
	// requests wait behind log phases for their state.)
	t.Logf("Lua route p99 - respond route p99 = %s (target < 100ms)", (lua.pct(0.99) - plain.pct(0.99)).Round(time.Millisecond))
	if lp, pp := lua.pct(0.99), plain.pct(0.99); lp > pp+time.Second || lua.pct(1) > 3*time.Second {
		t.Errorf("under the log-phase load the plain Lua route's p99 was %s (max %s), the respond route's %s",
			lp.Round(time.Millisecond), lua.pct(1).Round(time.Millisecond), pp.Round(time.Millisecond))
	}
	idle := p.waitIdle(10 * time.Second)
	if idle < 0 {
		t.Errorf("the process was still busy 10s after the load stopped")
	} else {
		t.Logf("idle %s after the load stopped", idle.Round(time.Millisecond))
	}
	logs := p.dictInt(t, "logs")
	t.Logf("%d of %d log phases ran", logs, total)
	if logs < total {
		p.expectLog(t, "log phase dropped")
	}
	if r := p.get("/lua", 5*time.Second); r.err != nil || r.status != 200 || r.dur > 250*time.Millisecond {
		t.Errorf("a plain Lua request after the load: %v", r)
	} else {
		t.Logf("a plain Lua request after the load: %v", r)
	}
	p.checkAfter(t)
}

// Item 14: a timer keeps ticking after another request on the same state
// was stopped by the budget.
func TestHostileTimersSurviveTimeout(t *testing.T) {
	p := startCaddy(t, hopts{global: "lua_max_states 1", content: map[string]string{
		"/timer": `local ok, err = ngx.timer.every(0.1, function() ngx.shared.d:incr("ticks", 1, 0) end)
ngx.say(ok and "ok" or err)`,
		"/spin": `while true do end`,
	}})
	if r := p.get("/timer", 5*time.Second); r.err != nil || r.status != 200 || r.body != "ok\n" {
		t.Fatalf("scheduling the timer: %v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.dictInt(t, "ticks") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the timer did not tick 3 times in 5s (ticks %d)", p.dictInt(t, "ticks"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := timed(t, hostileBudget, "while true do end", func() hreply { return p.get("/spin", 15*time.Second) })
	if r.err != nil || r.status != 500 {
		t.Errorf("want 500, got %v", r)
	}
	p.expectLog(t, "exceeded its time budget")
	prev := p.dictInt(t, "ticks")
	for i := 0; i < 3; i++ {
		time.Sleep(500 * time.Millisecond)
		cur := p.dictInt(t, "ticks")
		t.Logf("ticks %d", cur)
		if cur <= prev {
			t.Errorf("the timer stopped ticking after the timeout (ticks %d, then %d)", prev, cur)
		}
		prev = cur
	}
	p.checkAfter(t)
}

// Item 15: the sandbox.
func TestHostileSandbox(t *testing.T) {
	env := []string{"SECRET=s3cr3t-value", "OTHER=other-value"}
	getenv := `ngx.say(tostring(os.getenv("SECRET")), " ", tostring(os.getenv("OTHER")))`
	t.Run("getenv_without_lua_env", func(t *testing.T) {
		p := startCaddy(t, hopts{env: env, content: map[string]string{"/env": getenv}})
		if r := p.get("/env", 5*time.Second); r.err != nil || r.body != "nil nil\n" {
			t.Errorf("os.getenv without lua_env: %v, want \"nil nil\"", r)
		}
	})
	p := startCaddy(t, hopts{env: env, global: "lua_max_states 1\n\t\tlua_env SECRET", content: map[string]string{
		"/env":      getenv,
		"/files":    `ngx.say(type(dofile), " ", type(loadfile))`,
		"/path":     `local ok, err = pcall(function() package.path = "/tmp/?.lua" end) ngx.say(tostring(ok), " ", tostring(err), " | ", package.path)`,
		"/setg":     `foo = "bar" ngx.say("set")`,
		"/getg":     `ngx.say(tostring(foo))`,
		"/strmt":    `local ok, err = pcall(function() getmetatable("").__index = nil end) ngx.say(tostring(ok), " ", tostring(err))`,
		"/strm":     `ngx.say(("abc"):upper(), " ", ("x"):rep(3))`,
		"/setfenv":  `setfenv(0, {}) ngx.say("done")`,
		"/afterenv": `ngx.say(type(ngx), " ", type(string), " ", ("ok"):upper())`,
		"/tonumber": `ngx.say(tostring(tonumber("1e4")), " ", tostring(tonumber("0x10")), " ", tostring(tonumber("1e")), " ", tostring(tonumber("z", 36)))`,
		"/gc": `local t0 = ngx.now()
local r = collectgarbage()
ngx.update_time()
local dt = ngx.now() - t0
local c = collectgarbage("count")
ngx.say(type(c), " ", tostring(c > 0), " ", tostring(dt < 0.5))`,
	}})
	check := func(t *testing.T, path string, ok func(string) bool, want string) hreply {
		t.Helper()
		r := p.get(path, 5*time.Second)
		t.Logf("%s: %v", path, r)
		if r.err != nil || r.status != 200 || !ok(r.body) {
			t.Errorf("%s: %v, want 200 %s", path, r, want)
		}
		return r
	}
	eq := func(want string) func(string) bool { return func(b string) bool { return b == want } }
	t.Run("getenv_with_lua_env", func(t *testing.T) {
		check(t, "/env", eq("s3cr3t-value nil\n"), `"s3cr3t-value nil"`)
	})
	t.Run("no_dofile_loadfile", func(t *testing.T) {
		check(t, "/files", eq("nil nil\n"), `"nil nil"`)
	})
	t.Run("package_path_read_only", func(t *testing.T) {
		check(t, "/path", func(b string) bool {
			return strings.HasPrefix(b, "false ") && strings.Contains(b, "read-only") && !strings.Contains(b, "| /tmp/?.lua")
		}, "an error mentioning read-only, package.path unchanged")
	})
	t.Run("global_write_warns_and_persists", func(t *testing.T) {
		check(t, "/setg", eq("set\n"), `"set"`)
		p.expectLog(t, "writing a global Lua variable ('foo')")
		check(t, "/getg", eq("bar\n"), `"bar" (the same state sees the global)`)
	})
	t.Run("string_metatable", func(t *testing.T) {
		check(t, "/strmt", func(b string) bool { return strings.HasPrefix(b, "false ") }, "an error")
		check(t, "/strm", eq("ABC xxx\n"), `"ABC xxx"`)
	})
	t.Run("setfenv_0", func(t *testing.T) {
		check(t, "/setfenv", eq("done\n"), `"done"`)
		check(t, "/afterenv", eq("table table OK\n"), `"table table OK"`)
	})
	t.Run("tonumber", func(t *testing.T) {
		check(t, "/tonumber", eq("10000 16 nil 35\n"), `"10000 16 nil 35"`)
	})
	t.Run("collectgarbage", func(t *testing.T) {
		r := check(t, "/gc", eq("number true true\n"), `"number true true"`)
		if r.dur > time.Second {
			t.Errorf("collectgarbage took %s", r.dur)
		}
	})
	p.checkAfter(t)
}

// Item 16: an active health check every nanosecond is refused at load.
func TestHostileHealthCheckInterval(t *testing.T) {
	p := startCaddy(t, hopts{noWait: true, global: `upstream hc {
			server 127.0.0.1:9
			health_check /h interval=1ns
		}`})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := p.dead(); err != nil {
			break
		}
		if r := p.get("/plain", time.Second); r.err == nil && r.status == 200 {
			t.Fatalf("Caddy loaded a config with health_check interval=1ns; log tail:\n%s", p.logTail(2000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy neither exited nor served within 20s; log tail:\n%s", p.logTail(2000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("caddy: %v", p.exitErr)
	if p.exitErr == nil {
		t.Errorf("Caddy exited with status 0")
	}
	if log := p.logText(); !strings.Contains(log, "interval") {
		t.Errorf("the error does not name the interval; log tail:\n%s", p.logTail(2000))
	}
}

// Item 17: scale. 10,000 concurrent requests each sleeping 1s (half inside
// pcall) complete in under 3s with the default number of states (counted
// from the first request written on the 10,000 connections opened before,
// as wrk counts on its open connections); 1,000
// slow-body clients leave the plain Lua route under 100ms at p99.
func TestHostileScale(t *testing.T) {
	// The budget counts wall time while a run holds its state, and 10,000
	// requests on 2 cores keep every CPU saturated: a run preempted by Go's
	// scheduler can wait longer than 1s for a CPU (CI saw 1 in 10,000).
	// This case is about concurrency, not budgets, so it gets a roomy one.
	p := startCaddy(t, hopts{global: "lua_timeout 20s", content: map[string]string{
		"/sleep": `if ngx.var.arg_p then
	local ok, err = pcall(ngx.sleep, 1)
	if not ok then ngx.say("pcall: ", tostring(err)) return end
else
	ngx.sleep(1)
end
ngx.say("ok")`,
		"/body": `ngx.shared.d:incr("arr_body", 1, 0) ngx.req.read_body() ngx.say(#(ngx.req.get_body_data() or ""))`,
	}})
	t.Run("sleep_10000", func(t *testing.T) {
		const n = 10000
		reqs := make([]string, n)
		for i := range reqs {
			path := "/sleep"
			if i%2 == 1 {
				path = "/sleep?p=1"
			}
			reqs[i] = getReq(p.addr, path).head
		}
		c0, _ := p.cpuTicks()
		connect, wall, replies := burst(p.addr, reqs, 200, 30*time.Second)
		c1, _ := p.cpuTicks()
		s := newLatStats("ngx.sleep(1) x 10000")
		for _, r := range replies {
			s.check(r, 200, "ok\n")
		}
		t.Logf("%d connections opened in %s; wall time from the first request written to the last answer %s; Caddy used %.2fs of CPU (%.0fµs per request); %s",
			n, connect.Round(time.Millisecond), wall.Round(time.Millisecond), float64(c1-c0)/100, float64(c1-c0)*1e4/n, s)
		s.expectNoFailures(t)
		// The target is < 3s (measured here 2.0-2.6s on a quiet
		// 2-core machine, reported above); CI asserts only what would mean
		// the sleeps hold the states: with 4 states they would take 2,500s.
		t.Logf("target < 3s: %v", wall < 3*time.Second)
		if wall > 15*time.Second {
			t.Errorf("10,000 concurrent 1s sleeps took %s: the sleeps are not concurrent", wall.Round(time.Millisecond))
		}
	})
	t.Run("slow_body_1000", func(t *testing.T) {
		const n = 1000
		pr := p.startProbes()
		time.Sleep(100 * time.Millisecond)
		s := newLatStats("slow bodies x 1000")
		start := time.Now()
		var firstEnd atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			parallel(n, func(i int) {
				rq := rawReq{head: postHead(p.addr, "/body", 120), body: slowBody(120, 10, 250*time.Millisecond)}
				s.check(rawDo(p.addr, rq, 30*time.Second), 200, "120\n")
				firstEnd.CompareAndSwap(0, time.Now().UnixNano())
			})
		}()
		arrived, _ := p.waitCount(t, "arr_body", n, 15*time.Second)
		t.Logf("all %d requests reached the server after %s", n, arrived.Sub(start).Round(time.Millisecond))
		<-done
		_, lua := pr.report(t)
		t.Log(s)
		s.expectNoFailures(t)
		inFlightP99(t, lua, arrived, time.Unix(0, firstEnd.Load()), 100*time.Millisecond)
	})
	p.checkAfter(t)
}
