package luaplugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/shdict"
)

// This file is the host API: what a Go-backed Lua library (a package of its
// own, such as cjson or resty/http) may use of the engine. A library
// registers its module names at init with RegisterModule; when a script
// requires one, the opener runs on that script's Lua state and gets the
// state's *VM, through which it reaches the rest:
//
//   - CheckPhase: raise OpenResty's "API disabled in the context of …".
//   - Suspend: free the state for other requests while Go code waits
//     (network I/O, sleeps); the wait does not count against the budget.
//   - Context: the request's context (cancelled when the client leaves).
//   - AtRunEnd: close what a script left open when its handler ends.
//   - Resource: pool-wide shared objects (connection pools), closed with it.
//   - Dict, DictGeneration: the shared dicts, for Go-implemented limiters.
//   - MaxString, CheckBudget: bounds for long Go-side operations.
//   - Logger: the pool's logger, for errors outside a request.
//
// Plus the ngx API's own conversions (EncodeArgs, HeaderKey, ToNumber, the
// Dict* helpers, CheckObject) so that a library behaves as the ngx
// functions do. Libraries test themselves through the luatest package.

// Phase masks for CheckPhase.
const (
	// PhasesRequest is every phase of a request.
	PhasesRequest = PhaseSet | PhaseRewrite | PhaseAccess | PhaseContent | PhaseHeaderFilter | PhaseBodyFilter | PhaseLog
	// PhasesOutput are the phases that may produce output.
	PhasesOutput = PhaseRewrite | PhaseAccess | PhaseContent
	// PhasesCosocket are the phases where network calls (and ngx.sleep)
	// are allowed, as cosockets are in OpenResty.
	PhasesCosocket = PhaseRewrite | PhaseAccess | PhaseContent | PhaseTimer
	// PhasesAll is every context, init included.
	PhasesAll = PhasesRequest | PhaseTimer | PhaseInit
)

// ModuleOpener builds the value `require(name)` returns, on the state vm.
// It runs once per state (the result is cached in package.loaded).
type ModuleOpener func(vm *VM, L *lua.LState) lua.LValue

// modules maps module names to their openers. It is written only by
// RegisterModule from init functions, before any state exists, and read
// after: like caddy.RegisterModule's table.
var modules = map[string]ModuleOpener{}

// RegisterModule makes a Go-backed Lua module available to `require`. Call
// it from an init function; a duplicate name panics, as Caddy's own module
// registration does.
func RegisterModule(name string, open ModuleOpener) {
	if name == "" || open == nil {
		panic("luaplugin: RegisterModule needs a name and an opener")
	}
	if _, dup := modules[name]; dup {
		panic(fmt.Sprintf("luaplugin: module %q already registered", name))
	}
	if _, dup := luaSources[name]; dup {
		panic(fmt.Sprintf("luaplugin: module %q already registered as a Lua module", name))
	}
	modules[name] = open
}

// luaSource is a Lua-source module registered with RegisterLuaModule:
// compiled once per process, on first use.
type luaSource struct {
	name, src string
	once      sync.Once
	chunk     *Chunk
	err       error
}

func (s *luaSource) compile() (*Chunk, error) {
	s.once.Do(func() { s.chunk, s.err = Compile("@embedded/"+strings.ReplaceAll(s.name, ".", "/")+".lua", s.src) })
	return s.chunk, s.err
}

// luaSources maps module names to embedded Lua source, written only by
// RegisterLuaModule from init functions.
var luaSources = map[string]*luaSource{}

// RegisterLuaModule makes Lua source (typically embedded in the binary
// with go:embed) available to `require` as module name. Such a module is
// found after the files on lua_package_path, so that a file of the same
// name overrides it, as a file earlier on the path would in OpenResty.
// Call it from an init function; a duplicate name panics.
func RegisterLuaModule(name, src string) {
	if name == "" {
		panic("luaplugin: RegisterLuaModule needs a name")
	}
	if _, dup := luaSources[name]; dup {
		panic(fmt.Sprintf("luaplugin: Lua module %q already registered", name))
	}
	if _, dup := modules[name]; dup {
		panic(fmt.Sprintf("luaplugin: module %q already registered as a Go module", name))
	}
	luaSources[name] = &luaSource{name: name, src: src}
}

// RegisteredModules lists the names of the registered Go-backed modules.
func RegisteredModules() []string {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckPhase returns the request of the running code, raising OpenResty's
// "API disabled in the context of PHASE" when the running phase is not in
// allowed. Outside a request (timers, module load) it returns a Request
// without an HTTP request (timers) or nil (init).
func (vm *VM) CheckPhase(L *lua.LState, allowed Phase) *Request {
	return vm.checkPhase(L, allowed)
}

// Request returns the request of the running code, or nil at module load.
func (vm *VM) Request() *Request { return vm.req }

// Suspend frees the state while the calling Go function waits on something
// other than Lua (a socket, a timer, the client): other requests run on the
// state meanwhile, and the wait does not count against the run's budget.
// The caller must not touch any Lua value until it calls resume, which
// takes the state back.
func (vm *VM) Suspend() (resume func()) {
	return vm.suspend()
}

// SuspendOutput is Suspend for writing a run's output to the client: the
// run's cached time (ngx.now) stays, as a write does not make nginx's
// event loop turn.
func (vm *VM) SuspendOutput() (resume func()) {
	return vm.suspendClock(true)
}

// Context returns the context of the running request (cancelled when its
// client goes away), or the pool's context outside requests.
func (vm *VM) Context() context.Context {
	if vm.req != nil && vm.req.R != nil {
		return vm.req.R.Context()
	}
	return context.Background()
}

// Resource returns the pool-wide resource stored under key, creating it with
// create on first use; one that implements io.Closer is closed with the
// pool.
func (vm *VM) Resource(key string, create func() any) any {
	return vm.pool.Resource(key, create)
}

// Dict returns the shared dict named name, or nil.
func (vm *VM) Dict(name string) *shdict.Dict { return vm.pool.Dict(name) }

// DictGeneration changes whenever the set of shared dicts is replaced (a
// config reload): a library that caches a *shdict.Dict looks it up again
// by name when the generation moved.
func (vm *VM) DictGeneration() uint64 { return vm.pool.dictGen.Load() }

// Logger returns the logger for output outside a request.
func (vm *VM) Logger() *zap.Logger { return vm.pool.Logger() }

// MaxString is the largest string (in bytes) a Go-backed function may
// produce; over it, raise "string length overflow" before allocating.
func (vm *VM) MaxString() int { return vm.pool.cfg.MaxStringSize }

// CheckBudget raises the budget error when the running code is over its
// time or memory budget. Go functions that loop over large inputs call it
// every few thousand iterations, since the VM checks only between Lua
// instructions.
func (vm *VM) CheckBudget(L *lua.LState) {
	if th := vm.cur; th != nil && th.ctx.fired() {
		L.RaiseError("%s", th.ctx.Err())
	}
}

// The ngx API's own conversions, for libraries that must behave as the ngx
// functions do.

// EncodeArgs encodes t as a query string, as ngx.encode_args does (keys
// sorted; raises on a key that is not a string or number).
func EncodeArgs(L *lua.LState, t *lua.LTable) string { return encodeArgs(L, t) }

// HeaderKey normalises a header name given from Lua as ngx.req.set_header
// does: '_' becomes '-', and the result is in canonical form.
func HeaderKey(name string) string { return headerKey(name) }

// ToNumber converts v as Lua's tonumber does (numbers, and strings holding
// a decimal or hexadecimal number).
func ToNumber(v lua.LValue) (float64, bool) { return sharedToNumber(v) }

// DictKey reads the key argument at idx as the ngx.shared.DICT methods do:
// nil is an error, numbers and other values go through tostring, and the
// key must be 1 to 65535 bytes long. It returns the key, or an error
// message ("nil key", "empty key", "key too long") to return as nil, msg.
func DictKey(L *lua.LState, idx int) (key, msg string) { return sharedKey(L, idx) }

// DictValue converts a shared dict value to Lua, as dict:get returns it.
func DictValue(v shdict.Value) lua.LValue { return sharedValue(v) }

// DictTTL converts an exptime in seconds to a time to live as the dict
// methods do: truncated to whole milliseconds, and 0 (never expires) when
// it is under one millisecond.
func DictTTL(sec float64) time.Duration { return sharedSeconds(sec) }

// CheckObject returns the object of type T that a method was called on
// (argument 1, a userdata made with PushObject). When argument 1 is not
// one (the method was called with a dot instead of a colon), it raises
// "bad argument #1 to 'METHOD' (CLASS object expected, got TYPE)".
func CheckObject[T any](L *lua.LState, class, method string) *T {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if o, ok := ud.Value.(*T); ok {
			return o
		}
	}
	L.RaiseError("bad argument #1 to '%s' (%s object expected, got %s)", method, class, L.Get(1).Type().String())
	return nil
}
