package luaplugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// This file is the engine side of route plugins and route conditions.
//
// A route plugin is an APISIX-style Lua module, `resty.plugins.NAME` on
// lua_package_path, returning a table:
//
//	return {
//	    name = "key-auth", priority = 2500, schema = {...},
//	    init = function(conf) ... end,          -- once per conf and state
//	    rewrite = function(conf, ctx) ... end,  -- and access, header_filter,
//	    ...                                     -- body_filter, log
//	}
//
// Every field is optional. Pool.LoadPlugin reads a module's metadata once
// (config load); VM.RunPlugin runs one of its phase functions for a
// request with a configuration (PluginConf), which each state converts to
// a Lua table once. VM.EvalCondition runs a route's Lua condition.

// PluginPhases are the request phases a plugin may have a function for.
const PluginPhases = PhaseRewrite | PhaseAccess | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog

// Bounds of the per-state plugin caches and of converted values.
const (
	// maxPluginName bounds a plugin's name.
	maxPluginName = 128
	// maxPluginModules bounds the plugin modules a state keeps in its
	// by-name cache (cleared past it; package.loaded still has them).
	maxPluginModules = 1024
	// maxPluginConfs bounds the converted configurations a state keeps:
	// past it the cache is cleared and the configurations in use are
	// converted again (and their init run again) on their next use.
	maxPluginConfs = 4096
	// maxValueDepth bounds the nesting of a schema or a configuration.
	maxValueDepth = 64
)

// PluginInfo describes a plugin module, as Pool.LoadPlugin read it. It is
// shared by every state and must not be changed once loaded.
type PluginInfo struct {
	// Name is the plugin's name: the module is resty.plugins.NAME.
	Name string
	// Priority orders the plugins of a phase (APISIX runs higher first);
	// 0 when the module gives none.
	Priority int
	// Schema is the module's schema table as encoding/json would decode
	// it as JSON (map[string]any, []any, float64, string, bool, nil), or
	// nil when the module has none.
	Schema any
	// Phases are the request phases (of PluginPhases) the module has a
	// function for.
	Phases Phase
	// HasInit tells whether the module has an init function, called once
	// per configuration and state (see PluginConf).
	HasInit bool
	// HasCheck tells whether the module has a check_schema function,
	// which Pool.CheckPluginConf runs when a configuration loads.
	HasCheck bool

	// chunks are the names runs of the plugin get in errors, by phase
	// bit: "plugin NAME PHASE".
	chunks [8]string
}

// chunkName is how a run of the plugin in phase is named in errors.
func (i *PluginInfo) chunkName(phase Phase) string {
	if n := bits.TrailingZeros16(uint16(phase)); n < len(i.chunks) && i.chunks[n] != "" {
		return i.chunks[n]
	}
	return "plugin " + i.Name + " " + phase.String()
}

// PluginConf is one configuration of a plugin (a route's, or a global
// one), shared by every state. Each state converts it to a Lua table once,
// on its first run there, and keeps the table in a cache keyed by the
// *PluginConf: a caller keeps the same pointer across config reloads for a
// configuration that did not change, and makes a new one when it did. The
// cache holds at most a few thousand configurations per state; past that
// it is cleared and configurations are converted again on their next use.
//
// When the module has an init function, it is called with the table once
// per state, when the table is built (if init returns a table, that table
// is the configuration on this state). An init that fails is not cached:
// the run fails with init's error and the next run retries the
// conversion and init. An init that waits (ngx.sleep, a cosocket) lets
// other requests of the state run meanwhile, and those may run init for
// the same configuration too; the last one to finish is kept.
type PluginConf struct {
	info *PluginInfo
	conf any
}

// NewPluginConf returns the configuration conf of the plugin info. conf is
// a JSON-decoded value with its defaults filled in: map[string]any, []any,
// float64 (or json.Number, int, int64), string, bool, nil. JSON null
// becomes ngx.null in Lua, except a nil conf, which becomes an empty
// table. conf must not be changed afterwards: states read it concurrently.
func NewPluginConf(info *PluginInfo, conf any) *PluginConf {
	return &PluginConf{info: info, conf: conf}
}

// Info returns the plugin the configuration is of.
func (pc *PluginConf) Info() *PluginInfo { return pc.info }

// Conf returns the configuration as given to NewPluginConf.
func (pc *PluginConf) Conf() any { return pc.conf }

// pluginOp is what the state's plugin entry function does on its next
// call.
type pluginOp uint8

const (
	opLoad  pluginOp = iota // require a module (LoadPlugin)
	opRun                   // run a plugin's phase function (RunPlugin)
	opCond                  // evaluate a route condition (EvalCondition)
	opCheck                 // run a module's check_schema (CheckPluginConf)
)

// pluginState is a state's part of route plugins: its entry function, its
// caches, and the operands of the next run. The entry function is one
// LGFunction per state, so that a run allocates no closure: RunPlugin and
// the others set the operands, then vm.call the entry, which copies them
// before running any Lua (a nested run may set them again).
type pluginState struct {
	entry   *lua.LFunction
	require *lua.LFunction // the state's own require, as at setup
	modules map[string]*lua.LTable
	confs   map[*PluginConf]lua.LValue
	// loading counts the requires of each plugin module in progress.
	loading map[string]int

	// Operands of the next entry call.
	op    pluginOp
	name  string
	pc    *PluginConf
	route string
	fn    *lua.LFunction

	// ctxMetas are the plugin ctx metatables by route (see pluginCtx).
	ctxMetas map[string]*lua.LTable

	// Results of the last entry call.
	module *lua.LTable
	cond   bool
	// checkErr is check_schema's refusal (opCheck).
	checkErr string
	// inInit is set while a plugin's init runs (so that an error there
	// is reported as init's).
	inInit bool
}

// initPlugins sets up the state's plugin support; setup calls it once the
// standard library is open.
func (vm *VM) initPlugins() {
	ps := &vm.plug
	ps.entry = vm.L.NewFunction(vm.pluginEntry)
	ps.require, _ = vm.L.GetGlobal("require").(*lua.LFunction)
	ps.modules = make(map[string]*lua.LTable)
	ps.confs = make(map[*PluginConf]lua.LValue)
	ps.loading = make(map[string]int)
	ps.ctxMetas = make(map[string]*lua.LTable)
}

// pluginEntry is the state's entry function for plugin runs and route
// conditions; see pluginState.
func (vm *VM) pluginEntry(L *lua.LState) int {
	ps := &vm.plug
	switch ps.op {
	case opLoad:
		name := ps.name
		ps.module = vm.pluginModule(L, name)
	case opRun:
		pc, route := ps.pc, ps.route
		vm.runPluginPhase(L, pc, route)
	case opCheck:
		pc := ps.pc
		vm.checkPluginConf(L, pc)
	case opCond:
		fn := ps.fn
		L.Push(fn)
		L.Call(0, 1)
		ps.cond = lua.LVAsBool(L.Get(-1))
		L.Pop(1)
	}
	return 0
}

// pluginModule returns the module of plugin name on this state, requiring
// and checking it on first use.
func (vm *VM) pluginModule(L *lua.LState, name string) *lua.LTable {
	ps := &vm.plug
	if m, ok := ps.modules[name]; ok {
		return m
	}
	if ps.require == nil {
		L.Error(lua.LString("require is not available"), 0)
	}
	mod := "resty.plugins." + name
	ps.loading[name]++
	L.Push(ps.require)
	L.Push(lua.LString(mod))
	err := L.PCall(1, 1, nil)
	if ps.loading[name]--; ps.loading[name] <= 0 {
		delete(ps.loading, name)
		if err != nil {
			vm.forgetFailedModule(L, mod)
		}
	}
	if err != nil {
		vm.reraise(L) // ngx.exit, the budget
		L.Error(errorObject(err), 0)
	}
	v := L.Get(-1)
	L.Pop(1)
	m, err := checkPluginModule(name, v)
	if err != nil {
		L.Error(lua.LString(err.Error()), 0)
	}
	if len(ps.modules) >= maxPluginModules {
		clear(ps.modules)
	}
	ps.modules[name] = m
	return m
}

// forgetFailedModule clears what a failed require of mod left in
// package.loaded (Lua 5.1's "loading" sentinel), so that the next run
// loads the module again and fails with its own error instead of "loop or
// previous error loading module". It is called only when no other request
// of the state is inside that require (one waiting in the module's main
// chunk, say).
func (vm *VM) forgetFailedModule(L *lua.LState, mod string) {
	loaded, ok := L.G.Registry.RawGetString("_LOADED").(*lua.LTable)
	if !ok {
		return
	}
	if _, isTable := loaded.RawGetString(mod).(*lua.LTable); !isTable {
		loaded.RawSetString(mod, lua.LNil)
	}
}

// checkPluginModule checks what require returned for plugin name: a table
// whose name, if any, is name, and whose phase and init fields, if any,
// are functions.
func checkPluginModule(name string, v lua.LValue) (*lua.LTable, error) {
	m, ok := v.(*lua.LTable)
	if !ok {
		if v == lua.LTrue {
			return nil, errors.New("the module returned true (or nothing), not a table")
		}
		return nil, fmt.Errorf("the module returned a %s, not a table", v.Type())
	}
	switch n := m.RawGetString("name").(type) {
	case *lua.LNilType:
	case lua.LString:
		if string(n) != name {
			return nil, fmt.Errorf("name is %q", string(n))
		}
	default:
		return nil, fmt.Errorf("name must be a string, not a %s", n.Type())
	}
	for _, key := range [...]string{"init", "check_schema", "rewrite", "access", "header_filter", "body_filter", "log"} {
		switch f := m.RawGetString(key); f.(type) {
		case *lua.LNilType, *lua.LFunction:
		default:
			return nil, fmt.Errorf("%s must be a function, not a %s", key, f.Type())
		}
	}
	return m, nil
}

// runPluginPhase calls the plugin's function for the running phase with
// the state's table of pc and the request's plugin ctx.
func (vm *VM) runPluginPhase(L *lua.LState, pc *PluginConf, route string) {
	req := vm.req
	m := vm.pluginModule(L, pc.info.Name)
	fn, ok := m.RawGetString(req.Phase.String()).(*lua.LFunction)
	if !ok {
		return
	}
	conf := vm.pluginConf(L, pc, m)
	ctx := vm.pluginCtx(L, req, route)
	L.Push(fn)
	L.Push(conf)
	L.Push(ctx)
	L.Call(2, 0)
}

// pluginConf returns this state's table of pc, building it (and running
// the module's init) on first use.
func (vm *VM) pluginConf(L *lua.LState, pc *PluginConf, m *lua.LTable) lua.LValue {
	ps := &vm.plug
	if c, ok := ps.confs[pc]; ok {
		return c
	}
	var c lua.LValue
	if pc.conf == nil {
		c = L.NewTable()
	} else {
		var err error
		if c, err = goToLua(L, pc.conf, "conf", 0); err != nil {
			L.Error(lua.LString(err.Error()), 0)
		}
	}
	if init, ok := m.RawGetString("init").(*lua.LFunction); ok {
		ps.inInit = true
		L.Push(init)
		L.Push(c)
		L.Call(1, 1)
		ps.inInit = false
		if t, ok := L.Get(-1).(*lua.LTable); ok {
			c = t
		}
		L.Pop(1)
	}
	if len(ps.confs) >= maxPluginConfs {
		clear(ps.confs)
	}
	ps.confs[pc] = c
	return c
}

// pluginCtx returns the plugin ctx of req, creating it on first use. Its
// var and route_name come from a metatable shared by the requests of a
// route on this state ({__index = {var = ngx.var, route_name = ROUTE}}),
// so that making a request's ctx allocates one table and nothing more.
func (vm *VM) pluginCtx(L *lua.LState, req *Request, route string) *lua.LTable {
	ctx := req.PluginCtx
	if ctx == nil {
		// Room for a few keys: a table made without a hash part gets
		// gopher-lua's default of 32 on its first string key.
		ctx = L.CreateTable(0, 4)
		req.PluginCtx = ctx
		ctx.Metatable = vm.ctxMeta(L, route)
		return ctx
	}
	if route != "" {
		if mt, ok := ctx.Metatable.(*lua.LTable); ok && mt == vm.plug.ctxMetas[route] {
			return ctx
		}
		if cur, ok := ctx.RawGetString("route_name").(lua.LString); !ok || string(cur) != route {
			// A route set after the ctx was made (or a ctx whose
			// metatable a plugin replaced).
			ctx.RawSetString("route_name", lua.LString(route))
		}
	}
	return ctx
}

// maxCtxMetas bounds the per-route ctx metatables a state keeps.
const maxCtxMetas = 4096

// ctxMeta returns the metatable of the plugin ctxs of route's requests on
// this state.
func (vm *VM) ctxMeta(L *lua.LState, route string) *lua.LTable {
	ps := &vm.plug
	if mt := ps.ctxMetas[route]; mt != nil {
		return mt
	}
	if len(ps.ctxMetas) >= maxCtxMetas {
		clear(ps.ctxMetas)
	}
	idx := L.CreateTable(0, 2)
	idx.RawSetString("var", vm.ngx.RawGetString("var"))
	if route != "" {
		idx.RawSetString("route_name", lua.LString(route))
	}
	mt := L.CreateTable(0, 1)
	mt.RawSetString("__index", idx)
	ps.ctxMetas[route] = mt
	return mt
}

// LoadPlugin loads the plugin module resty.plugins.NAME on one of the
// pool's states, outside any request (in the init phase, as APISIX loads
// its plugins in init_worker, with the usual run budget), and returns its
// metadata. The other states load the module on their first run of the
// plugin. The module's fields are read raw (no metamethods).
//
// The compiled module file is cached by the pool: after the file changed,
// Reset the pool (see FilesChanged) before loading the plugin again.
func (p *Pool) LoadPlugin(name string) (*PluginInfo, error) {
	if err := checkPluginName(name); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	vm, err := p.pick(nil)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	defer p.unbind(vm)
	if err := vm.enter(); err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	defer vm.leave()
	m, err := vm.loadPlugin(name)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	info, err := pluginInfo(name, m)
	if err != nil {
		return nil, fmt.Errorf("plugin %q: %w", name, err)
	}
	return info, nil
}

// loadPlugin requires and checks the module of plugin name on a thread of
// its own. The lock must be held.
func (vm *VM) loadPlugin(name string) (*lua.LTable, error) {
	th := vm.newThread()
	req := &Request{Logger: vm.pool.Logger(), Start: time.Now(), th: th}
	ps := &vm.plug
	ps.op, ps.name, ps.module = opLoad, name, nil
	res := vm.call(ps.entry, "resty.plugins."+name, req, PhaseInit)
	m := ps.module
	ps.name, ps.module = "", nil
	if th.reset() {
		vm.putThread(th)
	}
	switch {
	case res.Err != nil:
		if e, ok := res.Err.(*Error); ok {
			e.Message = cleanMessage(e.Message)
		}
		return nil, res.Err
	case res.Exited:
		return nil, fmt.Errorf("the module called ngx.exit(%d) while loading", res.Code)
	}
	return m, nil
}

// cleanMessage tidies an error message of require: gopher-lua's start
// with a space when raised from Go, and its "module … not found" ends
// with ", ".
func cleanMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	if strings.HasPrefix(msg, "module ") && strings.Contains(msg, " not found:") {
		msg = strings.TrimSuffix(msg, ",")
	}
	return msg
}

// checkPluginName accepts the names a plugin module may have: letters,
// digits, '-' and '_' (APISIX's key-auth is resty/plugins/key-auth.lua).
func checkPluginName(name string) error {
	if name == "" || len(name) > maxPluginName {
		return fmt.Errorf("a plugin name must be 1 to %d characters long", maxPluginName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return errors.New("a plugin name may have only letters, digits, '-' and '_'")
		}
	}
	return nil
}

// pluginInfo reads the metadata of the checked module m of plugin name.
func pluginInfo(name string, m *lua.LTable) (*PluginInfo, error) {
	info := &PluginInfo{Name: name}
	switch pr := m.RawGetString("priority").(type) {
	case *lua.LNilType:
	case lua.LNumber:
		f := float64(pr)
		if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return nil, errors.New("priority must be an integer")
		}
		info.Priority = int(f)
	default:
		return nil, errors.New("priority must be an integer")
	}
	if s := m.RawGetString("schema"); s != lua.LNil {
		if _, ok := s.(*lua.LTable); !ok {
			return nil, fmt.Errorf("schema must be a table, not a %s", s.Type())
		}
		schema, err := luaToGo(s, "schema", 0)
		if err != nil {
			return nil, err
		}
		info.Schema = schema
	}
	for ph := PhaseInit; ph <= PhaseTimer; ph <<= 1 {
		if ph&PluginPhases == 0 {
			continue
		}
		if _, ok := m.RawGetString(ph.String()).(*lua.LFunction); ok {
			info.Phases |= ph
		}
		info.chunks[bits.TrailingZeros16(uint16(ph))] = "plugin " + name + " " + ph.String()
	}
	_, info.HasInit = m.RawGetString("init").(*lua.LFunction)
	_, info.HasCheck = m.RawGetString("check_schema").(*lua.LFunction)
	return info, nil
}

// CheckPluginConf runs the module's check_schema(conf) for pc, as APISIX
// runs a plugin's check_schema when a configuration loads: for the checks
// a schema cannot express (a regex that must compile, a key that must
// parse, fields that depend on each other). It runs on one of the pool's
// states, outside any request, with the run budget; conf is a fresh
// table of pc's configuration. check_schema returns true, or false (or
// nil) and a message; a Lua error in it refuses the configuration too.
// A module without check_schema accepts every configuration.
func (p *Pool) CheckPluginConf(pc *PluginConf) error {
	if !pc.info.HasCheck {
		return nil
	}
	vm, err := p.pick(nil)
	if err != nil {
		return err
	}
	defer p.unbind(vm)
	if err := vm.enter(); err != nil {
		return err
	}
	defer vm.leave()
	th := vm.newThread()
	req := &Request{Logger: p.Logger(), Start: time.Now(), th: th}
	ps := &vm.plug
	ps.op, ps.pc, ps.checkErr = opCheck, pc, ""
	res := vm.call(ps.entry, "plugin "+pc.info.Name+" check_schema", req, PhaseInit)
	msg := ps.checkErr
	ps.pc, ps.checkErr = nil, ""
	if th.reset() {
		vm.putThread(th)
	}
	switch {
	case res.Err != nil:
		if e, ok := res.Err.(*Error); ok {
			return errors.New(cleanMessage(strings.TrimPrefix(e.Message, "plugin "+pc.info.Name+" check_schema: ")))
		}
		return res.Err
	case res.Exited:
		return fmt.Errorf("check_schema called ngx.exit(%d)", res.Code)
	case msg != "":
		return errors.New(msg)
	}
	return nil
}

// checkPluginConf calls the module's check_schema with a table of pc's
// configuration and keeps its refusal in ps.checkErr.
func (vm *VM) checkPluginConf(L *lua.LState, pc *PluginConf) {
	ps := &vm.plug
	m := vm.pluginModule(L, pc.info.Name)
	fn, ok := m.RawGetString("check_schema").(*lua.LFunction)
	if !ok {
		return
	}
	var conf lua.LValue = L.NewTable()
	if pc.conf != nil {
		var err error
		if conf, err = goToLua(L, pc.conf, "conf", 0); err != nil {
			L.Error(lua.LString(err.Error()), 0)
		}
	}
	L.Push(fn)
	L.Push(conf)
	L.Call(1, 2)
	ok2, msg := L.Get(-2), L.Get(-1)
	L.Pop(2)
	if lua.LVAsBool(ok2) {
		return
	}
	if s, isStr := msg.(lua.LString); isStr && s != "" {
		ps.checkErr = string(s)
		return
	}
	ps.checkErr = "refused by check_schema"
}

// RunPlugin runs the function of plugin configuration pc for phase (one
// of PluginPhases) for req, as Run runs a chunk: under the state's lock
// (Pool.Acquire), on req's thread, with the run budget, ngx.exit giving an
// Exited result and errors as *Error. It calls module[phase](conf, ctx):
// conf is this state's table of pc (see PluginConf), ctx the request's
// plugin ctx (Request.PluginCtx: shared by every plugin and phase of the
// request, ctx.var is ngx.var, ctx.route_name is route when not empty).
// The module is required on this state on its first run here. A plugin
// with no function for phase is not run (a zero Result). In body_filter,
// ngx.arg is the chunk and eof flag, as for body_filter scripts.
//
// Errors are named "plugin NAME PHASE: …"; an error of the module's init
// is named "plugin NAME PHASE: init: …".
func (vm *VM) RunPlugin(pc *PluginConf, req *Request, phase Phase, route string) Result {
	info := pc.info
	if phase&PluginPhases == 0 || phase&(phase-1) != 0 {
		name := "plugin " + info.Name
		return Result{Err: &Error{Chunk: name, Message: fmt.Sprintf("%s: plugins do not run in the %s phase", name, phase)}}
	}
	if info.Phases&phase == 0 {
		return Result{}
	}
	name := info.chunkName(phase)
	ps := &vm.plug
	prevInit := ps.inInit
	ps.op, ps.pc, ps.route, ps.inInit = opRun, pc, route, false
	res := vm.call(ps.entry, name, req, phase)
	inInit := ps.inInit
	ps.pc, ps.route, ps.inInit = nil, "", prevInit
	if e, ok := res.Err.(*Error); ok {
		msg := cleanMessage(strings.TrimPrefix(e.Message, name+": "))
		if inInit {
			msg = "init: " + msg
		}
		e.Message = name + ": " + msg
	}
	return res
}

// EvalCondition runs chunk c as a route condition for req, in the rewrite
// phase (the ngx API is there, the run budget applies), and returns the
// truth of its first return value by Lua's rules (nil and false are false).
// The state's lock must be held (Pool.Acquire). A runtime error, the
// budget or an ngx.exit in the condition give an error, to be treated as
// no match. A condition must not produce output.
func (vm *VM) EvalCondition(c *Chunk, req *Request) (bool, error) {
	ps := &vm.plug
	ps.op, ps.fn, ps.cond = opCond, vm.function(c), false
	prevExit := req.ExitCode
	res := vm.call(ps.entry, c.Name, req, PhaseRewrite)
	ok := ps.cond
	ps.fn, ps.cond = nil, false
	switch {
	case res.Err != nil:
		return false, res.Err
	case res.Exited:
		req.ExitCode = prevExit
		return false, &Error{Chunk: c.Name, Message: fmt.Sprintf("%s: ngx.exit(%d) in a route condition", c.Name, res.Code)}
	}
	return ok, nil
}

// luaToGo converts v as encoding/json would decode the JSON cjson encodes
// it to: tables with the keys 1..n are []any, other tables map[string]any
// (number keys as text; an empty table is an empty map), numbers float64,
// ngx.null nil. path names v in errors.
func luaToGo(v lua.LValue, path string, depth int) (any, error) {
	switch lv := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(lv), nil
	case lua.LNumber:
		f := float64(lv)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%s: %s is not a JSON number", path, FormatNumber(f))
		}
		return f, nil
	case lua.LString:
		return string(lv), nil
	case *lua.LUserData:
		if lv == Null {
			return nil, nil
		}
	case *lua.LTable:
		if depth >= maxValueDepth {
			return nil, fmt.Errorf("%s: nested deeper than %d levels", path, maxValueDepth)
		}
		return tableToGo(lv, path, depth+1)
	}
	return nil, fmt.Errorf("%s: a %s is not a JSON value", path, v.Type())
}

// tableToGo converts a table for luaToGo.
func tableToGo(t *lua.LTable, path string, depth int) (any, error) {
	n, maxIndex, array := 0, 0, true
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n++
		if !array {
			continue
		}
		i, ok := k.(lua.LNumber)
		if !ok || float64(i) != math.Trunc(float64(i)) || i < 1 || float64(i) > float64(math.MaxInt32) {
			array = false
			continue
		}
		maxIndex = max(maxIndex, int(i))
	}
	if n > 0 && array && maxIndex == n {
		a := make([]any, n)
		for i := 1; i <= n; i++ {
			v, err := luaToGo(t.RawGetInt(i), path+"["+strconv.Itoa(i)+"]", depth)
			if err != nil {
				return nil, err
			}
			a[i-1] = v
		}
		return a, nil
	}
	m := make(map[string]any, n)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		var key string
		switch lk := k.(type) {
		case lua.LString:
			key = string(lk)
		case lua.LNumber:
			key = FormatNumber(float64(lk))
		default:
			return nil, fmt.Errorf("%s: a %s key is not a JSON object key", path, k.Type())
		}
		gv, err := luaToGo(v, path+"."+key, depth)
		if err != nil {
			return nil, err
		}
		m[key] = gv
	}
	return m, nil
}

// goToLua converts a JSON-decoded Go value to Lua on L, as cjson.decode
// would the JSON: objects and arrays are tables, null is ngx.null. path
// names v in errors.
func goToLua(L *lua.LState, v any, path string, depth int) (lua.LValue, error) {
	switch gv := v.(type) {
	case nil:
		return Null, nil
	case bool:
		return lua.LBool(gv), nil
	case float64:
		return lua.LNumber(gv), nil
	case int:
		return lua.LNumber(gv), nil
	case int64:
		return lua.LNumber(gv), nil
	case json.Number:
		f, err := gv.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return lua.LNumber(f), nil
	case string:
		return lua.LString(gv), nil
	case map[string]any:
		if depth >= maxValueDepth {
			return nil, fmt.Errorf("%s: nested deeper than %d levels", path, maxValueDepth)
		}
		t := L.CreateTable(0, len(gv))
		for k, ev := range gv {
			lv, err := goToLua(L, ev, path+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetString(k, lv)
		}
		return t, nil
	case []any:
		if depth >= maxValueDepth {
			return nil, fmt.Errorf("%s: nested deeper than %d levels", path, maxValueDepth)
		}
		t := L.CreateTable(len(gv), 0)
		for i, ev := range gv {
			lv, err := goToLua(L, ev, path+"["+strconv.Itoa(i+1)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			t.RawSetInt(i+1, lv)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s: a Go %T is not a JSON value", path, v)
}
