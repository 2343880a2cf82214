package plugins

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	lua "github.com/yuin/gopher-lua"

	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// resty.plugin.native is the Go side of the resty.plugin toolkit: what the
// bundled plugins do on every request and would otherwise take several
// ngx API calls from Lua (each a Go call through the interpreter), done
// in one:
//
//	native.consumer(name [, custom_id])
//	    the request's consumer fields for the upstream: removes the
//	    X-Consumer-* fields the client sent, sets X-Consumer-Username
//	    (and X-Consumer-Custom-Id), and the Caddy variable consumer_name
//	    (ngx.var.consumer_name, {http.vars.consumer_name})
//	native.set_headers(name1, value1, name2, value2, …)
//	    sets response fields as ngx.header[name] = value would (in the
//	    phases before the response is sent); values are strings or numbers
func init() {
	luaplugin.RegisterModule("resty.plugin.native", openNative)
}

// consumerFields are the request fields only set_consumer may set.
var consumerFields = [...]string{"X-Consumer-Username", "X-Consumer-Custom-Id", "X-Credential-Identifier"}

func openNative(vm *luaplugin.VM, L *lua.LState) lua.LValue {
	mod := L.CreateTable(0, 2)
	mod.RawSetString("consumer", L.NewFunction(func(L *lua.LState) int {
		req := vm.CheckPhase(L, luaplugin.PhaseRewrite|luaplugin.PhaseAccess|luaplugin.PhaseContent)
		name := L.CheckString(1)
		r := req.R
		for _, f := range consumerFields {
			delete(r.Header, f)
		}
		r.Header["X-Consumer-Username"] = []string{name}
		switch id := L.Get(2).(type) {
		case lua.LString:
			r.Header["X-Consumer-Custom-Id"] = []string{string(id)}
		case lua.LNumber:
			r.Header["X-Consumer-Custom-Id"] = []string{luaplugin.FormatNumber(float64(id))}
		}
		caddyhttp.SetVar(r.Context(), "consumer_name", name)
		return 0
	}))
	mod.RawSetString("set_headers", L.NewFunction(func(L *lua.LState) int {
		req := vm.CheckPhase(L, luaplugin.PhaseRewrite|luaplugin.PhaseAccess|luaplugin.PhaseContent|luaplugin.PhaseHeaderFilter)
		n := L.GetTop()
		if n%2 != 0 {
			L.RaiseError("set_headers: names and values must come in pairs")
		}
		if req.W == nil || req.W.HeadersSent() {
			return 0
		}
		h := req.W.Header()
		// One backing array for every field's value list.
		vals := make([]string, n/2)
		for i := 1; i < n; i += 2 {
			j := i / 2
			switch lv := L.Get(i + 1).(type) {
			case lua.LString:
				vals[j] = string(lv)
			case lua.LNumber:
				vals[j] = luaplugin.FormatNumber(float64(lv))
			default:
				L.ArgError(i+1, "a string or a number expected")
			}
			h[http.CanonicalHeaderKey(L.CheckString(i))] = vals[j : j+1 : j+1]
		}
		return 0
	}))
	return mod
}
