package luaplugin

import (
	"net/http"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// newHeaderTable builds ngx.header: response headers by name, case- and
// underscore-insensitive; a table sets several lines, nil removes.
func (vm *VM) newHeaderTable() *lua.LTable {
	return vm.newProxyTable(vm.headerIndex, vm.headerNewIndex)
}

// newProxyTable returns an empty table whose reads and writes go to Go
// (ngx.var, ngx.header, ngx.arg).
func (vm *VM) newProxyTable(index, newindex lua.LGFunction) *lua.LTable {
	L := vm.L
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(index))
	mt.RawSetString("__newindex", L.NewFunction(newindex))
	L.SetMetatable(t, mt)
	return t
}

func (vm *VM) headerIndex(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	name := ToString(L.Get(2))
	if req.W == nil {
		L.Push(lua.LNil)
		return 1
	}
	vals := lookupHeader(req.W.Header(), name)
	switch len(vals) {
	case 0:
		L.Push(lua.LNil)
	case 1:
		L.Push(lua.LString(vals[0]))
	default:
		t := L.CreateTable(len(vals), 0)
		for _, v := range vals {
			t.Append(lua.LString(v))
		}
		L.Push(t)
	}
	return 1
}

func (vm *VM) headerNewIndex(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	key := luaHeaderKey(L.Get(2))
	vals := headerValues(L.Get(3))
	if req.W == nil {
		return 0
	}
	if req.W.HeadersSent() || req.Phase&(PhaseBodyFilter|PhaseLog) != 0 {
		vm.log(L, levelErr, "attempt to set ngx.header.HEADER after sending out response headers")
		return 0
	}
	if !setResponseHeader(req.W.Header(), key, vals) {
		raiseError(L, "failed to set header")
	}
	return 0
}

// singleHeaders are the response headers nginx keeps one value of: a
// table sets the last one.
var singleHeaders = map[string]bool{
	"Server": true, "Date": true, "Content-Encoding": true, "Location": true, "Refresh": true,
	"Last-Modified": true, "Content-Range": true, "Accept-Ranges": true, "Expires": true,
	"Etag": true, "E-Tag": true, "Content-Length": true, "Content-Type": true,
}

// setResponseHeader sets (or, with no values, removes) a response
// header; it reports false for a value nginx refuses (a Content-Length
// that is not a number).
func setResponseHeader(h http.Header, key string, vals []string) bool {
	if len(vals) == 0 {
		if key == "Content-Type" {
			// Present without a value: no default type is added (nginx's
			// default_type) and Go does not sniff one.
			h[key] = nil
			return true
		}
		delete(h, key)
		return true
	}
	if singleHeaders[key] && len(vals) > 1 {
		vals = vals[len(vals)-1:]
	}
	if key == "Content-Length" {
		if _, err := strconv.ParseUint(vals[0], 10, 63); err != nil {
			return false
		}
	}
	h[key] = vals
	return true
}

func (vm *VM) newRespTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("get_headers", L.NewFunction(vm.respGetHeaders))
	t.RawSetString("add_header", L.NewFunction(vm.respAddHeader))
	return t
}

func (vm *VM) respGetHeaders(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	var h http.Header
	if req.W != nil {
		h = req.W.Header()
	}
	hb := vm.newHeaderBuilder(L, argMax(L, 1), lua.LVAsBool(L.Get(2)), len(h))
	for name, vals := range h {
		for _, v := range vals {
			hb.add(name, v)
		}
	}
	return hb.push()
}

// respAddHeader is ngx.resp.add_header: adds a line without replacing.
func (vm *VM) respAddHeader(L *lua.LState) int {
	if vm.req != nil && vm.req.Phase == PhaseTimer {
		// lua-resty-core raises it in ngx/resp.lua's add_header: the
		// position is its own, not the caller's.
		L.Error(lua.LString(errFakeRequest), 0)
	}
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseHeaderFilter)
	key := luaHeaderKey(L.Get(1))
	if L.Get(2) == lua.LNil {
		raiseError(L, "invalid header value")
	}
	vals := headerValues(L.Get(2))
	if req.W == nil || req.W.HeadersSent() {
		vm.log(L, levelErr, "attempt to set ngx.header.HEADER after sending out response headers")
		return 0
	}
	h := req.W.Header()
	h[key] = append(h[key], vals...)
	return 0
}

// newArgTable builds ngx.arg, meaningful in body_filter: [1] is the chunk,
// [2] the eof flag.
func (vm *VM) newArgTable() *lua.LTable {
	return vm.newProxyTable(vm.argIndex, vm.argNewIndex)
}

// argIndex reads ngx.arg outside the values body_filter and set_by_lua put
// in the table (see VM.setArgs): nil past set_by_lua's arguments; in
// body_filter [1] or [2] only reach here after the script assigned nil to
// them; in the other phases (and timers) lua-resty-core's error.
func (vm *VM) argIndex(L *lua.LState) int {
	req := vm.req
	if req == nil {
		L.Error(lua.LString("no request found"), 0)
	}
	if req.Phase != PhaseBodyFilter {
		if req.Phase != PhaseSet {
			// lua-resty-core's resty/core/param.lua raises it itself (its
			// own position, not the caller's) outside set and body_filter.
			L.Error(lua.LString(errFakeRequest), 0)
		}
		L.Push(lua.LNil)
		return 1
	}
	switch L.Get(2) {
	case lua.LNumber(1):
		L.Push(lua.LString(""))
	case lua.LNumber(2):
		L.Push(lua.LFalse)
	default:
		L.Push(lua.LNil)
	}
	return 1
}

// argNewIndex stores ngx.arg[1] or [2] after the script assigned nil to
// them (the entry is gone, so the assignment comes here), checking the
// chunk's type early.
func (vm *VM) argNewIndex(L *lua.LState) int {
	vm.checkPhase(L, PhaseBodyFilter)
	t := L.CheckTable(1)
	switch k := L.Get(2); k {
	case lua.LNumber(1):
		switch v := L.Get(3).(type) {
		case lua.LString, *lua.LNilType, lua.LNumber:
			t.RawSet(k, v)
		case *lua.LTable:
			if _, msg := AppendValue(nil, v); msg != "" {
				L.RaiseError("bad chunk data type: %s", msg)
			}
			t.RawSet(k, v)
		default:
			L.RaiseError("bad chunk data type: %s", v.Type())
		}
	case lua.LNumber(2):
		t.RawSet(k, lua.LBool(lua.LVAsBool(L.Get(3))))
	default:
		L.RaiseError("bad index: %s", L.Get(2))
	}
	return 0
}
