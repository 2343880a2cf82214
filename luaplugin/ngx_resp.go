package luaplugin

import (
	"net/http"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// newHeaderTable builds ngx.header: response headers by name, case- and
// underscore-insensitive; a table sets several lines, nil removes.
func (vm *VM) newHeaderTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(vm.headerIndex))
	mt.RawSetString("__newindex", L.NewFunction(vm.headerNewIndex))
	L.SetMetatable(t, mt)
	return t
}

func (vm *VM) headerIndex(L *lua.LState) int {
	req := vm.checkPhase(L, phasesRequest)
	name := L.CheckString(2)
	if req.W == nil {
		L.Push(lua.LNil)
		return 1
	}
	vals := req.W.Header()[headerKey(name)]
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
	req := vm.checkPhase(L, phasesRequest)
	name := L.CheckString(2)
	vals := headerValues(L, L.Get(3), 3)
	if req.W == nil {
		return 0
	}
	if req.W.HeadersSent() || req.Phase&(PhaseBodyFilter|PhaseLog) != 0 {
		vm.log(L, levelErr, "attempt to set ngx.header."+name+" after sending out response headers")
		return 0
	}
	setResponseHeader(req.W.Header(), name, vals)
	return 0
}

func setResponseHeader(h http.Header, name string, vals []string) {
	key := headerKey(name)
	if len(vals) == 0 {
		delete(h, key)
		return
	}
	h[key] = vals
}

func (vm *VM) newRespTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	t.RawSetString("get_headers", L.NewFunction(vm.respGetHeaders))
	t.RawSetString("add_header", L.NewFunction(vm.respAddHeader))
	return t
}

func (vm *VM) respGetHeaders(L *lua.LState) int {
	req := vm.checkPhase(L, phasesRequest)
	max := argMax(L, 1)
	raw := lua.LVAsBool(L.Get(2))
	t := L.NewTable()
	if req.W == nil {
		L.Push(t)
		return 1
	}
	count := 0
	truncated := false
	for name, vals := range req.W.Header() {
		key := name
		if !raw {
			key = strings.ToLower(name)
		}
		for _, v := range vals {
			if max > 0 && count >= max {
				truncated = true
				break
			}
			count++
			switch cur := t.RawGetString(key).(type) {
			case *lua.LNilType:
				t.RawSetString(key, lua.LString(v))
			case lua.LString:
				arr := L.CreateTable(2, 0)
				arr.Append(cur)
				arr.Append(lua.LString(v))
				t.RawSetString(key, arr)
			case *lua.LTable:
				cur.Append(lua.LString(v))
			}
		}
	}
	if !raw {
		L.SetMetatable(t, vm.headersMT)
	}
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

// respAddHeader is ngx.resp.add_header: adds a line without replacing.
func (vm *VM) respAddHeader(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseHeaderFilter)
	name := L.CheckString(1)
	vals := headerValues(L, L.Get(2), 2)
	if req.W == nil || req.W.HeadersSent() {
		vm.log(L, levelErr, "attempt to add ngx.header."+name+" after sending out response headers")
		return 0
	}
	key := headerKey(name)
	h := req.W.Header()
	h[key] = append(h[key], vals...)
	return 0
}

// newArgTable builds ngx.arg, meaningful in body_filter: [1] is the chunk,
// [2] the eof flag.
func (vm *VM) newArgTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(vm.argIndex))
	mt.RawSetString("__newindex", L.NewFunction(vm.argNewIndex))
	L.SetMetatable(t, mt)
	return t
}

func (vm *VM) argIndex(L *lua.LState) int {
	req := vm.req
	if req == nil || req.Phase != PhaseBodyFilter {
		L.Push(lua.LNil)
		return 1
	}
	switch L.Get(2) {
	case lua.LNumber(1):
		if req.Arg1 == nil {
			L.Push(lua.LString(""))
		} else {
			L.Push(req.Arg1)
		}
	case lua.LNumber(2):
		L.Push(lua.LBool(req.Arg2))
	default:
		L.Push(lua.LNil)
	}
	return 1
}

func (vm *VM) argNewIndex(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseBodyFilter)
	switch L.Get(2) {
	case lua.LNumber(1):
		switch v := L.Get(3).(type) {
		case lua.LString:
			req.Arg1 = v
		case *lua.LNilType:
			req.Arg1 = lua.LString("")
		case lua.LNumber:
			req.Arg1 = lua.LString(FormatNumber(float64(v)))
		case *lua.LTable:
			b, msg := AppendValue(nil, v)
			if msg != "" {
				L.RaiseError("bad chunk data type: %s", msg)
			}
			req.Arg1 = lua.LString(b)
		default:
			L.RaiseError("bad chunk data type: %s", v.Type())
		}
	case lua.LNumber(2):
		req.Arg2 = lua.LVAsBool(L.Get(3))
	default:
		L.RaiseError("bad index: %s", L.Get(2))
	}
	return 0
}
