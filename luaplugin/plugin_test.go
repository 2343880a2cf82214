package luaplugin

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// pluginPool returns a pool whose package path has dir/?.lua, with the
// given plugin modules written to dir/resty/plugins/NAME.lua.
func pluginPool(t testing.TB, cfg Config, plugins map[string]string) (*Pool, string) {
	t.Helper()
	dir := t.TempDir()
	pdir := filepath.Join(dir, "resty", "plugins")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range plugins {
		if err := os.WriteFile(filepath.Join(pdir, name+".lua"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.PackagePath = []string{filepath.Join(dir, "?.lua")}
	d, err := shdict.New("d", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(cfg)
	p.SetDicts(map[string]*shdict.Dict{"d": d})
	t.Cleanup(p.Close)
	return p, pdir
}

// loadPlugin loads a plugin, failing the test on an error.
func loadPlugin(t testing.TB, p *Pool, name string) *PluginInfo {
	t.Helper()
	info, err := p.LoadPlugin(name)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// newPluginReq returns a request for GET /a/b?x=1.
func newPluginReq() (*Request, *fakeResponse) {
	w := newFakeResponse()
	return &Request{R: httptest.NewRequest("GET", "/a/b?x=1", nil), W: w, Start: time.Now()}, w
}

// runPlugin runs pc in phase for req on req's state.
func runPlugin(t testing.TB, p *Pool, pc *PluginConf, req *Request, phase Phase, route string) Result {
	t.Helper()
	vm, err := p.Acquire(req)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release(vm)
	return vm.RunPlugin(pc, req, phase, route)
}

func TestLoadPluginMetadata(t *testing.T) {
	p, _ := pluginPool(t, Config{}, map[string]string{
		"key-auth": `
local schema = {
	type = "object",
	properties = {
		header = {type = "string", default = "apikey"},
		hide = {type = "boolean", default = false},
		limit = {type = "number", minimum = 0.5},
		modes = {type = "array", items = {type = "string", enum = {"a", "b"}}},
		extra = {},
		nothing = ngx.null,
		[1] = "one-and-others",
	},
	required = {"header"},
}
return {
	name = "key-auth",
	priority = 2500,
	schema = schema,
	version = 0.1,
	init = function(conf) end,
	rewrite = function(conf, ctx) end,
	access = function(conf, ctx) end,
	log = function(conf, ctx) end,
}`,
		"bare": `return {}`,
	})
	info := loadPlugin(t, p, "key-auth")
	if info.Name != "key-auth" || info.Priority != 2500 || !info.HasInit {
		t.Fatalf("info %+v", info)
	}
	if want := PhaseRewrite | PhaseAccess | PhaseLog; info.Phases != want {
		t.Fatalf("phases %b, want %b", info.Phases, want)
	}
	want := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"header":  map[string]any{"type": "string", "default": "apikey"},
			"hide":    map[string]any{"type": "boolean", "default": false},
			"limit":   map[string]any{"type": "number", "minimum": 0.5},
			"modes":   map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []any{"a", "b"}}},
			"extra":   map[string]any{},
			"nothing": nil,
			"1":       "one-and-others",
		},
		"required": []any{"header"},
	}
	if !reflect.DeepEqual(info.Schema, want) {
		t.Fatalf("schema:\n%#v\nwant:\n%#v", info.Schema, want)
	}

	bare := loadPlugin(t, p, "bare")
	if bare.Name != "bare" || bare.Priority != 0 || bare.Schema != nil || bare.Phases != 0 || bare.HasInit {
		t.Fatalf("bare %+v", bare)
	}
}

func TestLoadPluginErrors(t *testing.T) {
	p, pdir := pluginPool(t, Config{Timeout: 100 * time.Millisecond}, map[string]string{
		"num":        `return 42`,
		"nothing":    `local x = 1`,
		"other":      `return {name = "another"}`,
		"badname":    `return {name = 7}`,
		"prio-str":   `return {priority = "10"}`,
		"prio-frac":  `return {priority = 1.5}`,
		"syntax":     "return {\n  name = = 1\n}",
		"runtime":    "local t = nil\nreturn t.x",
		"fn-schema":  `return {schema = {properties = {f = {default = function() end}}}}`,
		"list-fn":    `return {schema = {required = {"a", print}}}`,
		"deep":       `local t = {} t.self = t return {schema = t}`,
		"str-schema": `return {schema = "x"}`,
		"access-num": `return {access = 5}`,
		"spin":       `while true do end`,
		"var":        `local u = ngx.var.uri return {}`,
	})
	for _, tc := range []struct {
		name, want string
	}{
		{"a.b", `plugin "a.b": a plugin name may have only letters, digits, '-' and '_'`},
		{"../x", `plugin "../x": a plugin name may have only`},
		{"", `plugin "": a plugin name must be 1 to 128 characters long`},
		{"missing", `plugin "missing": module resty.plugins.missing not found:`},
		{"num", `plugin "num": the module returned a number, not a table`},
		{"nothing", `plugin "nothing": the module returned true (or nothing), not a table`},
		{"other", `plugin "other": name is "another"`},
		{"badname", `plugin "badname": name must be a string, not a number`},
		{"prio-str", `plugin "prio-str": priority must be an integer`},
		{"prio-frac", `plugin "prio-frac": priority must be an integer`},
		{"syntax", filepath.Join(pdir, "syntax.lua") + ":2:"},
		{"runtime", `plugin "runtime": ` + filepath.Join(pdir, "runtime.lua") + ":2:"},
		{"fn-schema", `plugin "fn-schema": schema.properties.f.default: a function is not a JSON value`},
		{"list-fn", `plugin "list-fn": schema.required[2]: a function is not a JSON value`},
		{"deep", `plugin "deep": schema.self.self.self`},
		{"str-schema", `plugin "str-schema": schema must be a table, not a string`},
		{"access-num", `plugin "access-num": access must be a function, not a number`},
		{"spin", `plugin "spin": resty.plugins.spin: `},
		{"var", `API disabled in the context of init_by_lua*`},
	} {
		_, err := p.LoadPlugin(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), `plugin "`+tc.name+`": `) {
			t.Errorf("%s: error does not name the plugin: %v", tc.name, err)
		}
	}
	_, err := p.LoadPlugin("spin")
	var le *Error
	if !errors.As(err, &le) || !le.Timeout {
		t.Fatalf("spin: want a budget error, got %v", err)
	}
}

func TestRunPluginPhases(t *testing.T) {
	p, _ := pluginPool(t, Config{}, map[string]string{
		"phases": `
local _M = {name = "phases", priority = 1}
function _M.rewrite(conf, ctx)
	ctx.seen = {"rewrite:" .. conf.greeting}
end
function _M.access(conf, ctx)
	table.insert(ctx.seen, "access:" .. ngx.get_phase())
	ngx.req.set_header("X-From-Plugin", conf.greeting)
end
function _M.header_filter(conf, ctx)
	table.insert(ctx.seen, "header_filter")
	ngx.header[conf.header] = table.concat(ctx.seen, ",")
end
function _M.body_filter(conf, ctx)
	if ngx.arg[1] ~= "" then
		ngx.arg[1] = ngx.arg[1]:upper() .. conf.suffix
	end
	if ngx.arg[2] then table.insert(ctx.seen, "eof") end
end
function _M.log(conf, ctx)
	table.insert(ctx.seen, "log")
	ngx.shared.d:set("log", table.concat(ctx.seen, ","))
end
return _M`,
		"access-only": `return {access = function(conf, ctx) ngx.ctx.ran = true end}`,
	})
	info := loadPlugin(t, p, "phases")
	if info.Phases != PluginPhases {
		t.Fatalf("phases %b", info.Phases)
	}
	pc := NewPluginConf(info, map[string]any{"greeting": "hi", "header": "X-Seen", "suffix": "!"})
	req, w := newPluginReq()
	defer p.Finish(req)
	for _, ph := range []Phase{PhaseRewrite, PhaseAccess, PhaseHeaderFilter} {
		if res := runPlugin(t, p, pc, req, ph, "r1"); res.Err != nil || res.Exited {
			t.Fatalf("%s: %+v", ph, res)
		}
	}
	if got := req.R.Header.Get("X-From-Plugin"); got != "hi" {
		t.Fatalf("request header %q", got)
	}
	if got := w.header.Get("X-Seen"); got != "rewrite:hi,access:access,header_filter" {
		t.Fatalf("response header %q", got)
	}
	req.Arg1, req.Arg2 = lua.LString("body"), false
	if res := runPlugin(t, p, pc, req, PhaseBodyFilter, "r1"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := req.Arg1.(lua.LString); got != "BODY!" || req.Arg2 {
		t.Fatalf("body_filter: %q eof=%v", got, req.Arg2)
	}
	req.Arg1, req.Arg2 = lua.LString(""), true
	if res := runPlugin(t, p, pc, req, PhaseBodyFilter, "r1"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := runPlugin(t, p, pc, req, PhaseLog, "r1"); res.Err != nil {
		t.Fatal(res.Err)
	}
	if v, _, _ := p.Dict("d").Get("log"); v.Str() != "rewrite:hi,access:access,header_filter,eof,log" {
		t.Fatalf("log: %q", v.Str())
	}

	// A phase the plugin has no function for is not run; content is no
	// plugin phase.
	only := NewPluginConf(loadPlugin(t, p, "access-only"), nil)
	if res := runPlugin(t, p, only, req, PhaseRewrite, ""); res != (Result{}) {
		t.Fatalf("rewrite of an access-only plugin: %+v", res)
	}
	if res := runPlugin(t, p, only, req, PhaseContent, ""); res.Err == nil ||
		res.Err.Error() != "plugin access-only: plugins do not run in the content phase" {
		t.Fatalf("content: %+v", res)
	}
}

func TestPluginConfConvertedOncePerState(t *testing.T) {
	p, _ := pluginPool(t, Config{MaxStates: 1}, map[string]string{
		"counted": `
local inits = 0
return {
	init = function(conf)
		inits = inits + 1
		return {limit = conf.limit, inits = inits, from_init = true}
	end,
	access = function(conf, ctx)
		assert(conf.from_init, "init's table is the conf")
		ngx.print(conf.limit, " ", conf.inits, " ", inits)
	end,
}`,
	})
	info := loadPlugin(t, p, "counted")
	pc := NewPluginConf(info, map[string]any{"limit": float64(10)})
	for i := 0; i < 5; i++ {
		req, w := newPluginReq()
		if res := runPlugin(t, p, pc, req, PhaseAccess, ""); res.Err != nil {
			t.Fatal(res.Err)
		}
		p.Finish(req)
		if got := w.body.String(); got != "10 1 1" {
			t.Fatalf("request %d: %q", i, got)
		}
	}
	// Another configuration (even with the same values) is its own.
	pc2 := NewPluginConf(info, map[string]any{"limit": float64(10)})
	req, w := newPluginReq()
	defer p.Finish(req)
	if res := runPlugin(t, p, pc2, req, PhaseAccess, ""); res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := w.body.String(); got != "10 2 2" {
		t.Fatalf("second conf: %q", got)
	}
}

func TestPluginConfValues(t *testing.T) {
	p, _ := pluginPool(t, Config{}, map[string]string{
		"values": `
return {access = function(conf, ctx)
	assert(conf.null == ngx.null, "null is ngx.null")
	assert(conf.t == true and conf.f == false, "booleans")
	assert(conf.n == 1.5 and conf.i == 7 and conf.j == 8 and conf.s == "str", "scalars")
	assert(#conf.arr == 3 and conf.arr[1] == "a" and conf.arr[2] == ngx.null, "array")
	assert(conf.arr[3][1][1] == 1 and conf.arr[3][2].k == "v", "nested array")
	assert(conf.obj.a.b.c == "deep", "nested object")
	assert(type(conf.empty_obj) == "table" and next(conf.empty_obj) == nil, "empty object")
	assert(type(conf.empty_arr) == "table" and #conf.empty_arr == 0, "empty array")
	ngx.print("ok")
end}`,
		"nilconf": `return {access = function(conf) assert(type(conf) == "table" and next(conf) == nil) ngx.print("ok") end}`,
	})
	info := loadPlugin(t, p, "values")
	conf := map[string]any{
		"null": nil, "t": true, "f": false, "n": 1.5, "i": 7, "j": json.Number("8"), "s": "str",
		"arr":       []any{"a", nil, []any{[]any{float64(1)}, map[string]any{"k": "v"}}},
		"obj":       map[string]any{"a": map[string]any{"b": map[string]any{"c": "deep"}}},
		"empty_obj": map[string]any{},
		"empty_arr": []any{},
	}
	for _, tc := range []struct {
		info *PluginInfo
		conf any
	}{{info, conf}, {loadPlugin(t, p, "nilconf"), nil}} {
		req, w := newPluginReq()
		if res := runPlugin(t, p, NewPluginConf(tc.info, tc.conf), req, PhaseAccess, ""); res.Err != nil || w.body.String() != "ok" {
			t.Fatalf("%s: %+v %q", tc.info.Name, res, w.body.String())
		}
		p.Finish(req)
	}

	// A value JSON does not have fails every run of the configuration,
	// naming where it is.
	bad := NewPluginConf(info, map[string]any{"obj": map[string]any{"list": []any{1.0, make(chan int)}}})
	req, _ := newPluginReq()
	defer p.Finish(req)
	res := runPlugin(t, p, bad, req, PhaseAccess, "")
	if res.Err == nil || res.Err.Error() != "plugin values access: conf.obj.list[2]: a Go chan int is not a JSON value" {
		t.Fatalf("got %+v", res)
	}
	deep := any("leaf")
	for i := 0; i < maxValueDepth+1; i++ {
		deep = []any{deep}
	}
	res = runPlugin(t, p, NewPluginConf(info, deep), req, PhaseAccess, "")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "nested deeper than 64 levels") {
		t.Fatalf("deep: %+v", res)
	}
}

func TestPluginCtx(t *testing.T) {
	p, _ := pluginPool(t, Config{MaxStates: 2}, map[string]string{
		"first": `return {
	rewrite = function(conf, ctx)
		ngx.print("first sees ", tostring(ctx.count), ";")
		ctx.count = (ctx.count or 0) + 1
	end,
	log = function(conf, ctx) ngx.shared.d:set("count", ctx.count) end,
}`,
		"second": `return {access = function(conf, ctx)
	ctx.count = ctx.count + 1
	ngx.print(ctx.count, " ", ctx.var.uri, " ", ctx.var.arg_x, " ", ctx.route_name, " ", tostring(ngx.ctx.count))
end}`,
	})
	first := NewPluginConf(loadPlugin(t, p, "first"), nil)
	second := NewPluginConf(loadPlugin(t, p, "second"), nil)
	for i := 0; i < 3; i++ {
		req, w := newPluginReq()
		for _, r := range []struct {
			pc    *PluginConf
			phase Phase
		}{{first, PhaseRewrite}, {second, PhaseAccess}, {first, PhaseLog}} {
			if res := runPlugin(t, p, r.pc, req, r.phase, "my-route"); res.Err != nil {
				t.Fatal(res.Err)
			}
		}
		if got := w.body.String(); got != "first sees nil;2 /a/b 1 my-route nil" {
			t.Fatalf("request %d: %q", i, got)
		}
		if v, _, _ := p.Dict("d").Get("count"); v.Num() != 2 {
			t.Fatalf("log: %v", v.Num())
		}
		p.Finish(req)
		req.Reset()
		if req.PluginCtx != nil {
			t.Fatal("Reset kept the plugin ctx")
		}
	}
}

func TestRunPluginExitAndErrors(t *testing.T) {
	p, pdir := pluginPool(t, Config{Timeout: 100 * time.Millisecond, MaxStates: 1}, map[string]string{
		"deny": `return {access = function(conf) ngx.exit(conf.status) end}`,
		"boom": "return {\n\taccess = function()\n\t\terror(\"boom\")\n\tend,\n\tlog = function() error({}) end,\n}",
		"badinit": `
local calls = 0
return {
	init = function(conf)
		calls = calls + 1
		if calls == 1 then error("init failed") end
	end,
	access = function() ngx.print(calls) end,
}`,
		"spin": `return {access = function() while true do end end}`,
	})
	req, _ := newPluginReq()
	res := runPlugin(t, p, NewPluginConf(loadPlugin(t, p, "deny"), map[string]any{"status": 403.0}), req, PhaseAccess, "")
	if !res.Exited || res.Code != 403 || res.Err != nil {
		t.Fatalf("exit: %+v", res)
	}
	p.Finish(req)

	boom := NewPluginConf(loadPlugin(t, p, "boom"), nil)
	req, _ = newPluginReq()
	res = runPlugin(t, p, boom, req, PhaseAccess, "")
	var le *Error
	if !errors.As(res.Err, &le) {
		t.Fatalf("runtime error: %+v", res)
	}
	if want := "plugin boom access: " + filepath.Join(pdir, "boom.lua") + ":3: boom"; le.Message != want || le.Chunk != "plugin boom access" {
		t.Fatalf("got %q (chunk %q), want %q", le.Message, le.Chunk, want)
	}
	if !strings.Contains(le.Traceback, "boom.lua:3") {
		t.Fatalf("traceback %q", le.Traceback)
	}
	res = runPlugin(t, p, boom, req, PhaseLog, "")
	if res.Err == nil || !strings.HasPrefix(res.Err.Error(), "plugin boom log: table: ") {
		t.Fatalf("error object: %+v", res)
	}
	p.Finish(req)

	// init's error fails the run; the next run retries init.
	badinit := NewPluginConf(loadPlugin(t, p, "badinit"), nil)
	req, w := newPluginReq()
	res = runPlugin(t, p, badinit, req, PhaseAccess, "")
	if want := "plugin badinit access: init: " + filepath.Join(pdir, "badinit.lua") + ":6: init failed"; res.Err == nil || res.Err.Error() != want {
		t.Fatalf("init error: %+v, want %q", res, want)
	}
	res = runPlugin(t, p, badinit, req, PhaseAccess, "")
	if res.Err != nil || w.body.String() != "2" {
		t.Fatalf("init retried: %+v %q", res, w.body.String())
	}
	p.Finish(req)

	spin := NewPluginConf(loadPlugin(t, p, "spin"), nil)
	req, _ = newPluginReq()
	start := time.Now()
	res = runPlugin(t, p, spin, req, PhaseAccess, "")
	if !errors.As(res.Err, &le) || !le.Timeout || !strings.HasPrefix(le.Message, "plugin spin access: ") {
		t.Fatalf("budget: %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
	p.Finish(req)
	// The state goes on.
	req, w = newPluginReq()
	defer p.Finish(req)
	if res := runPlugin(t, p, badinit, req, PhaseAccess, ""); res.Err != nil || w.body.String() != "2" {
		t.Fatalf("after the timeout: %+v %q", res, w.body.String())
	}
}

// A plugin first run on a state other than the one LoadPlugin used is
// loaded there; many requests on several states convert each
// configuration once per state.
func TestRunPluginConcurrently(t *testing.T) {
	const states = 4
	p, _ := pluginPool(t, Config{MaxStates: states}, map[string]string{
		"conc": `
return {
	init = function(conf) ngx.shared.d:incr("inits", 1, 0) end,
	access = function(conf, ctx)
		ctx.n = (ctx.n or 0) + conf.step
		ngx.sleep(0)
	end,
	log = function(conf, ctx)
		if ctx.n ~= conf.step then error("ctx.n is " .. tostring(ctx.n)) end
		ngx.shared.d:incr("runs", 1, 0)
	end,
}`,
	})
	pc := NewPluginConf(loadPlugin(t, p, "conc"), map[string]any{"step": 3.0})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				req, _ := newPluginReq()
				for _, ph := range []Phase{PhaseAccess, PhaseLog} {
					vm, err := p.Acquire(req)
					if err != nil {
						t.Error(err)
						return
					}
					res := vm.RunPlugin(pc, req, ph, "")
					p.Release(vm)
					if res.Err != nil {
						t.Error(res.Err)
					}
				}
				p.Finish(req)
			}
		}()
	}
	wg.Wait()
	d := p.Dict("d")
	if v, _, _ := d.Get("runs"); v.Num() != 16*50 {
		t.Fatalf("runs %v", v.Num())
	}
	if v, _, _ := d.Get("inits"); v.Num() < 1 || v.Num() > states {
		t.Fatalf("init ran %v times on at most %d states", v.Num(), states)
	}
}

func TestEvalCondition(t *testing.T) {
	p, _ := pluginPool(t, Config{Timeout: 100 * time.Millisecond}, nil)
	for _, tc := range []struct {
		code string
		want bool
		err  string
	}{
		{`return true`, true, ""},
		{`return false`, false, ""},
		{`return nil`, false, ""},
		{``, false, ""},
		{`return 0`, true, ""},
		{`return "", false`, true, ""},
		{`return false, true`, false, ""},
		{`return ngx.var.uri == "/a/b" and ngx.var.arg_x == "1"`, true, ""},
		{`return ngx.var.uri == "/other"`, false, ""},
		{`return ngx.get_phase() == "rewrite"`, true, ""},
		{`local t = nil return t.x`, false, "cond:1:"},
		{`ngx.exit(403)`, false, "cond: ngx.exit(403) in a route condition"},
		{`while true do end`, false, "cond: "},
	} {
		c, err := Compile("cond", tc.code)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := newPluginReq()
		vm, err := p.Acquire(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := vm.EvalCondition(c, req)
		p.Release(vm)
		p.Finish(req)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || got {
				t.Errorf("%s: got %v, %v; want error %q", tc.code, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.code, got, err, tc.want)
		}
	}
}

// BenchmarkRunPlugin is one run of a trivial access function of a plugin
// for a request, and around it what the handler does: binding a state,
// the lock, the run, releasing. "request" is a request's first plugin run
// (it creates the request's plugin ctx); "run" is any later run of the
// request (ctx already there).
func BenchmarkRunPlugin(b *testing.B) {
	p, _ := pluginPool(b, Config{}, map[string]string{
		"trivial": `return {access = function(conf, ctx) local x = conf.n end}`,
	})
	pc := NewPluginConf(loadPlugin(b, p, "trivial"), map[string]any{"n": 1.0})
	for _, fresh := range []bool{true, false} {
		name := "run"
		if fresh {
			name = "request"
		}
		b.Run(name, func(b *testing.B) {
			req, _ := newPluginReq()
			b.ReportAllocs()
			for b.Loop() {
				vm, err := p.Acquire(req)
				if err != nil {
					b.Fatal(err)
				}
				if res := vm.RunPlugin(pc, req, PhaseAccess, "route"); res.Err != nil {
					b.Fatal(res.Err)
				}
				p.Release(vm)
				p.Finish(req)
				if fresh {
					req.PluginCtx = nil
				}
			}
		})
	}
}

// TestCheckPluginConf: a module's check_schema accepts or refuses a
// configuration when it loads; its errors and ngx.exit refuse it too; a
// module without one accepts everything.
func TestCheckPluginConf(t *testing.T) {
	p, _ := pluginPool(t, Config{}, map[string]string{
		"re": `return {
	check_schema = function(conf)
		if conf.boom then error("exploded") end
		if conf.exit then ngx.exit(403) end
		local _, _, err = ngx.re.find("", conf.regex or "", "jo")
		if err then return false, "regex: " .. err end
		if conf.plain_false then return false end
		return true
	end,
	access = function() end,
}`,
		"free": `return {access = function() end}`,
	})
	re, free := loadPlugin(t, p, "re"), loadPlugin(t, p, "free")
	if !re.HasCheck || free.HasCheck {
		t.Fatalf("HasCheck: %v %v", re.HasCheck, free.HasCheck)
	}
	for _, c := range []struct {
		conf any
		want string
	}{
		{map[string]any{"regex": "a+"}, ""},
		{nil, ""},
		{map[string]any{"regex": "a("}, "regex: "},
		{map[string]any{"plain_false": true}, "refused by check_schema"},
		{map[string]any{"boom": true}, "exploded"},
		{map[string]any{"exit": true}, "API disabled in the context of init_by_lua*"},
	} {
		err := p.CheckPluginConf(NewPluginConf(re, c.conf))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.conf, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want %q", c.conf, err, c.want)
		}
	}
	if err := p.CheckPluginConf(NewPluginConf(free, map[string]any{"x": 1.0})); err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadPlugin("bad"); err == nil {
		t.Fatal("missing module loaded")
	}
	p2, _ := pluginPool(t, Config{}, map[string]string{"bad": `return {check_schema = 1}`})
	if _, err := p2.LoadPlugin("bad"); err == nil || !strings.Contains(err.Error(), "check_schema must be a function") {
		t.Fatalf("check_schema = 1: %v", err)
	}
}
