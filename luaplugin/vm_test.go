package luaplugin

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// fakeResponse records what Lua does to the response.
type fakeResponse struct {
	header http.Header
	status int
	sent   bool
	body   strings.Builder
	eof    bool
}

func newFakeResponse() *fakeResponse { return &fakeResponse{header: http.Header{}} }

func (f *fakeResponse) Header() http.Header { return f.header }
func (f *fakeResponse) HeadersSent() bool   { return f.sent }
func (f *fakeResponse) Status() int         { return f.status }
func (f *fakeResponse) SetStatus(c int)     { f.status = c }
func (f *fakeResponse) Print(p []byte) error {
	f.sent = true
	f.body.Write(p)
	return nil
}
func (f *fakeResponse) SendHeaders() error              { f.sent = true; return nil }
func (f *fakeResponse) FlushError() error               { return nil }
func (f *fakeResponse) EOF() error                      { f.eof = true; return nil }
func (f *fakeResponse) SetReadDeadline(time.Time) error { return nil }

func newTestPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p := NewPool(cfg)
	d, err := shdict.New("d", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p.SetDicts(map[string]*shdict.Dict{"d": d})
	t.Cleanup(p.Close)
	return p
}

// run compiles code and runs it in phase on a borrowed state.
func run(t *testing.T, p *Pool, phase Phase, code string) (Result, *fakeResponse) {
	t.Helper()
	c, err := Compile("test", code)
	if err != nil {
		t.Fatal(err)
	}
	w := newFakeResponse()
	req := &Request{R: httptest.NewRequest("GET", "/a/b?x=1&y=%20z", nil), W: w, Start: time.Now()}
	req.R.Header.Set("X-Key", "v1")
	vm, err := p.Acquire(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(vm)
	return vm.Run(c, req, phase), w
}

func TestExitIsNotCaughtByPcall(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseAccess, `
		local ok, err = pcall(function() ngx.exit(403) end)
		ngx.say("after pcall: ", tostring(ok))
	`)
	if !res.Exited || res.Code != 403 {
		t.Fatalf("want exit 403, got %+v", res)
	}
	if w.body.Len() != 0 {
		t.Fatalf("code after the exit ran: %q", w.body.String())
	}
	res, _ = run(t, p, PhaseAccess, `
		local co = coroutine.create(function() ngx.exit(401) end)
		coroutine.resume(co)
		error("not reached")
	`)
	if !res.Exited || res.Code != 401 {
		t.Fatalf("exit inside a coroutine: %+v", res)
	}
	res, _ = run(t, p, PhaseAccess, `xpcall(function() ngx.exit(429) end, function(e) return e end) error("not reached")`)
	if !res.Exited || res.Code != 429 {
		t.Fatalf("exit inside xpcall: %+v", res)
	}
}

func TestPcallStillCatchesErrors(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `
		local ok, err = pcall(function() error({code = 7}) end)
		ngx.say(tostring(ok), " ", err.code)
		ok, err = pcall(function() local t = nil; return t.x end)
		ngx.say(tostring(ok), " ", type(err))
	`)
	if res.Err != nil || res.Exited {
		t.Fatalf("unexpected %+v", res)
	}
	if got := w.body.String(); got != "false 7\nfalse string\n" {
		t.Fatalf("got %q", got)
	}
}

func TestRuntimeErrorHasPlaceAndTraceback(t *testing.T) {
	p := newTestPool(t, Config{})
	res, _ := run(t, p, PhaseAccess, "local x = 1\nlocal t = nil\nreturn t.field\n")
	var le *Error
	if res.Err == nil {
		t.Fatal("no error")
	}
	le, ok := res.Err.(*Error)
	if !ok {
		t.Fatalf("error type %T", res.Err)
	}
	if !strings.Contains(le.Message, "test:3:") {
		t.Fatalf("message without chunk:line: %q", le.Message)
	}
	if !strings.Contains(le.Traceback, "stack traceback") {
		t.Fatalf("no traceback: %q", le.Traceback)
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	_, err := Compile("access[0]", "local a = 1\nlocal b = = 2\n")
	if err == nil || !strings.HasPrefix(err.Error(), "access[0]:2:") {
		t.Fatalf("got %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.lua")
	if err := os.WriteFile(path, []byte("if x then\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = CompileFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v", err)
	}
}

func TestBudgetStopsRunawayScript(t *testing.T) {
	p := newTestPool(t, Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	res, _ := run(t, p, PhaseAccess, `while true do pcall(function() end) end`)
	if res.Err == nil || !res.Err.(*Error).Timeout {
		t.Fatalf("want timeout error, got %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
	// Only the run's thread is dropped: the state, with its module state,
	// keeps serving.
	res, w := run(t, p, PhaseContent, `ngx.print("ok")`)
	if res.Err != nil || w.body.String() != "ok" {
		t.Fatalf("after timeout: %+v %q", res, w.body.String())
	}
	if st := p.Stats(); st.Discarded != 0 || st.Timeouts != 1 || st.States != 1 {
		t.Fatalf("want the state kept and one timeout counted: %+v", st)
	}
}

func TestSleepDoesNotCountAgainstBudget(t *testing.T) {
	p := newTestPool(t, Config{Timeout: 100 * time.Millisecond})
	res, w := run(t, p, PhaseAccess, `ngx.sleep(0.3) ngx.print("woke")`)
	if res.Err != nil || w.body.String() != "woke" {
		t.Fatalf("%+v %q", res, w.body.String())
	}
}

func TestSandbox(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `
		ngx.say(type(io), type(debug.sethook), type(debug.getinfo), type(debug.getupvalue), type(debug.getregistry),
			type(os.execute), type(os.exit), type(os.remove), type(string.dump))
		ngx.say(type(os.time), type(string.format), type(bit.band), type(require("table.new")), type(debug.traceback))
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "nilnilnilnilnilnilnilnilnil\nfunctionfunctionfunctionfunctionfunction\n"
	if w.body.String() != want {
		t.Fatalf("got %q", w.body.String())
	}
}

func TestNumberFormatting(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `
		ngx.say(0.1 + 0.2, " ", 1e15, " ", 2^53, " ", 1/0, " ", -1/0, " ", 42, " ", -7.5)
		ngx.say(tostring(0.1 + 0.2), " ", tostring(1e100))
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "0.3 1e+15 9.007199254741e+15 inf -inf 42 -7.5\n0.3 1e+100\n"
	if w.body.String() != want {
		t.Fatalf("got %q want %q", w.body.String(), want)
	}
}

func TestPhaseContexts(t *testing.T) {
	p := newTestPool(t, Config{})
	for _, tc := range []struct {
		phase Phase
		code  string
		want  string
	}{
		{PhaseLog, `ngx.say("x")`, "API disabled in the context of log_by_lua*"},
		{PhaseBodyFilter, `ngx.exit(200)`, "API disabled in the context of body_filter_by_lua*"},
		{PhaseHeaderFilter, `ngx.sleep(0)`, "API disabled in the context of header_filter_by_lua*"},
		{PhaseLog, `ngx.redirect("/x")`, "API disabled in the context of log_by_lua*"},
		{PhaseTimer, `ngx.say("x")`, "API disabled in the context of ngx.timer"},
		{PhaseTimer, `local x = ngx.var.uri`, "API disabled in the current context"},
		{PhaseContent, `local x = ngx.arg[1]`, "API disabled in the current context"},
	} {
		res, _ := run(t, p, tc.phase, tc.code)
		if res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) {
			t.Errorf("%s in %s: got %v, want %q", tc.code, tc.phase, res.Err, tc.want)
		}
	}
}

func TestRequireUsesPackagePathAndKeepsModuleState(t *testing.T) {
	dir := t.TempDir()
	mod := "local M = {n = 0}\nfunction M.bump() M.n = M.n + 1 return M.n end\nreturn M\n"
	if err := os.WriteFile(filepath.Join(dir, "counter.lua"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	p := newTestPool(t, Config{PackagePath: []string{filepath.Join(dir, "?.lua")}, MaxStates: 1})
	for i, want := range []string{"1", "2", "3"} {
		res, w := run(t, p, PhaseContent, `ngx.print(require("counter").bump())`)
		if res.Err != nil || w.body.String() != want {
			t.Fatalf("run %d: %+v %q", i, res, w.body.String())
		}
	}
	if p.FilesChanged() {
		t.Fatal("files reported changed")
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "counter.lua"), future, future); err != nil {
		t.Fatal(err)
	}
	if !p.FilesChanged() {
		t.Fatal("file change not seen")
	}
	p.Reset()
	res, w := run(t, p, PhaseContent, `ngx.print(require("counter").bump())`)
	if res.Err != nil || w.body.String() != "1" {
		t.Fatalf("after reset: %+v %q", res, w.body.String())
	}
	res, _ = run(t, p, PhaseContent, `require("no.such.module")`)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "no file") {
		t.Fatalf("missing module: %v", res.Err)
	}
}

func TestTimerRunsOffRequest(t *testing.T) {
	p := newTestPool(t, Config{})
	res, _ := run(t, p, PhaseContent, `
		local ok, err = ngx.timer.at(0.01, function(premature, key, val)
			ngx.shared.d:set(key, val .. ":" .. ngx.get_phase() .. ":" .. tostring(premature))
		end, "timer_key", "hello")
		assert(ok, err)
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	d := p.Dict("d")
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		v, _, _ := d.Get("timer_key")
		if !v.IsNil() {
			if v.Str() != "hello:timer:false" {
				t.Fatalf("got %q", v.Str())
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("timer did not run")
}

func TestPendingTimersAreBounded(t *testing.T) {
	p := newTestPool(t, Config{MaxPendingTimers: 2})
	res, w := run(t, p, PhaseContent, `
		for i = 1, 3 do
			local ok, err = ngx.timer.at(60, function() end)
			ngx.say(tostring(ok), " ", tostring(err))
		end
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := w.body.String(); got != "1 nil\n1 nil\nnil too many pending timers\n" { // lua-nginx-module returns 1
		t.Fatalf("got %q", got)
	}
}

func TestConcurrentRunsShareDict(t *testing.T) {
	p := newTestPool(t, Config{MaxStates: 4})
	c, err := Compile("incr", `ngx.shared.d:incr("n", 1, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				vm, err := p.Acquire(nil)
				if err != nil {
					t.Error(err)
					return
				}
				req := &Request{R: httptest.NewRequest("GET", "/", nil), W: newFakeResponse(), Start: time.Now()}
				if res := vm.Run(c, req, PhaseAccess); res.Err != nil {
					t.Error(res.Err)
				}
				p.Release(vm)
			}
		}()
	}
	wg.Wait()
	v, _, _ := p.Dict("d").Get("n")
	if v.Num() != 16*200 {
		t.Fatalf("got %v", v.Num())
	}
	if st := p.Stats(); st.States > 4 {
		t.Fatalf("more states than MaxStates: %+v", st)
	}
}

func TestBodyFilterArgs(t *testing.T) {
	p := newTestPool(t, Config{})
	for _, tc := range []struct {
		code     string
		wantBody string
		wantEOF  bool
		wantErr  string
	}{
		{`ngx.arg[1] = ngx.arg[1]:upper()`, "CHUNK", false, ""},
		{`ngx.arg[1] = nil`, "", false, ""},
		{`ngx.arg[1] = nil; local x = ngx.arg[1]; ngx.arg[1] = x .. "after"`, "after", false, ""},
		{`ngx.arg[1] = {"a", {"b", 1}}`, "ab1", false, ""},
		{`ngx.arg[1] = 2.5`, "2.5", false, ""},
		{`ngx.arg[2] = true`, "chunk", true, ""},
		{`ngx.arg[1] = function() end`, "", false, "bad chunk data type"},
		{`ngx.arg[1] = nil; ngx.arg[1] = {function() end}`, "", false, "bad chunk data type"},
	} {
		c, err := Compile("bf", tc.code)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := p.Acquire(nil)
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{R: httptest.NewRequest("GET", "/", nil), W: newFakeResponse(), Start: time.Now()}
		req.Arg1 = lua.LString("chunk")
		res := vm.Run(c, req, PhaseBodyFilter)
		p.Release(vm)
		if tc.wantErr != "" {
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.wantErr) {
				t.Errorf("%s: got %v, want error %q", tc.code, res.Err, tc.wantErr)
			}
			continue
		}
		if res.Err != nil {
			t.Errorf("%s: %v", tc.code, res.Err)
			continue
		}
		if got := string(req.Arg1.(lua.LString)); got != tc.wantBody || req.Arg2 != tc.wantEOF {
			t.Errorf("%s: got %q eof=%v, want %q eof=%v", tc.code, got, req.Arg2, tc.wantBody, tc.wantEOF)
		}
	}
	// Outside body_filter and set_by_lua, reading ngx.arg raises
	// lua-resty-core's error (checked on nginx 1.22.1 with lua-resty-core
	// 0.1.25: resty/core/param.lua's get_param, in content, rewrite and
	// header_filter alike), with no position of the caller.
	res, w := run(t, p, PhaseContent, `ngx.print(select(2, pcall(function() local v = ngx.arg[1] return v end)))`)
	if res.Err != nil || w.body.String() != "API disabled in the current context" {
		t.Fatalf("content: %v %q", res.Err, w.body.String())
	}
}

func TestLookupHeader(t *testing.T) {
	h := http.Header{"X-Api-Key": {"k"}, "Content-Type": {"t"}, "X-A1-B": {"1"}}
	for name, want := range map[string]string{
		"x_api_key": "k", "X-API-KEY": "k", "x-api-key": "k", "content_type": "t",
		"x_a1_b": "1", "x_missing": "", "x api": "",
	} {
		got := ""
		if v := lookupHeader(h, name); len(v) > 0 {
			got = v[0]
		}
		if got != want {
			t.Errorf("lookupHeader(%q) = %q, want %q", name, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { lookupHeader(h, "x_api_key") }); n != 0 {
		t.Errorf("lookupHeader allocates %v times", n)
	}
}

// ngx.now is nginx's cached time: the same while a run holds its state,
// moved on by ngx.update_time and by a wait (lua-nginx-module's doc of
// ngx.now and ngx.update_time).
func TestCachedTime(t *testing.T) {
	p := newTestPool(t, Config{})
	res, w := run(t, p, PhaseContent, `
		local a, ta = ngx.now(), ngx.time()
		local t0 = os.clock()
		while os.clock() - t0 < 0.03 do end
		ngx.say(ngx.now() == a, " ", ngx.time() == ta)
		ngx.update_time()
		local c = ngx.now()
		ngx.say(c > a)
		ngx.sleep(0.01)
		ngx.say(ngx.now() > c)
	`)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := w.body.String(); got != "true true\ntrue\ntrue\n" {
		t.Fatalf("got %q", got)
	}
}
