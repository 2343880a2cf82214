package luaplugin

import (
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

var methodConstants = map[int]string{
	2: "GET", 4: "HEAD", 8: "POST", 16: "PUT", 32: "DELETE", 64: "MKCOL", 128: "COPY",
	256: "MOVE", 512: "OPTIONS", 1024: "PROPFIND", 2048: "PROPPATCH", 4096: "LOCK",
	8192: "UNLOCK", 16384: "PATCH", 32768: "TRACE",
}

const phasesReqWrite = PhaseSet | PhaseRewrite | PhaseAccess | PhaseContent | PhaseHeaderFilter | PhaseBodyFilter

func (vm *VM) newReqTable() *lua.LTable {
	L := vm.L
	t := L.NewTable()
	for name, fn := range map[string]lua.LGFunction{
		"get_method":    vm.reqGetMethod,
		"set_method":    vm.reqSetMethod,
		"get_headers":   vm.reqGetHeaders,
		"set_header":    vm.reqSetHeader,
		"clear_header":  vm.reqClearHeader,
		"get_uri_args":  vm.reqGetURIArgs,
		"set_uri_args":  vm.reqSetURIArgs,
		"set_uri":       vm.reqSetURI,
		"read_body":     vm.reqReadBody,
		"discard_body":  vm.reqDiscardBody,
		"get_body_data": vm.reqGetBodyData,
		"get_body_file": vm.reqGetBodyFile,
		"set_body_data": vm.reqSetBodyData,
		"init_body":     vm.reqInitBody,
		"append_body":   vm.reqAppendBody,
		"finish_body":   vm.reqFinishBody,
		"get_post_args": vm.reqGetPostArgs,
		"http_version":  vm.reqHTTPVersion,
		"start_time":    vm.reqStartTime,
		"raw_header":    vm.reqRawHeader,
		"is_internal":   vm.reqIsInternal,
		"socket":        vm.reqSocket,
	} {
		t.RawSetString(name, L.NewFunction(fn))
	}
	vm.headersMT = L.NewTable()
	vm.headersMT.RawSetString("__index", L.NewFunction(headersIndex))
	return t
}

// headersIndex makes get_headers() tables case- and underscore-insensitive.
func headersIndex(L *lua.LState) int {
	t := L.CheckTable(1)
	key, ok := L.Get(2).(lua.LString)
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	norm := strings.ReplaceAll(strings.ToLower(string(key)), "_", "-")
	if norm == string(key) {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(t.RawGetString(norm))
	return 1
}

func (vm *VM) reqGetMethod(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	L.Push(lua.LString(req.R.Method))
	return 1
}

func (vm *VM) reqSetMethod(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	num, isNum := L.Get(1).(lua.LNumber)
	if !isNum {
		raiseError(L, "bad method number")
	}
	m, ok := methodConstants[int(num)]
	if !ok {
		raiseError(L, "unsupported HTTP method: %s", FormatNumber(float64(num)))
	}
	req.R.Method = m
	return 0
}

func argMax(L *lua.LState, n int) int {
	max := int(L.OptNumber(n, 100))
	if max < 0 {
		max = 0
	}
	return max
}

func (vm *VM) reqGetHeaders(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	r := req.R
	hb := vm.newHeaderBuilder(L, argMax(L, 1), lua.LVAsBool(L.Get(2)), len(r.Header)+1)
	if r.Host != "" {
		hb.add("Host", r.Host)
	}
	for name, vals := range r.Header {
		for _, v := range vals {
			hb.add(name, v)
		}
	}
	return hb.push()
}

// headerBuilder builds the tables of ngx.req.get_headers and
// ngx.resp.get_headers: lower-case keys (unless raw) with a lookup
// metatable, repeated headers as arrays, at most max lines.
type headerBuilder struct {
	L         *lua.LState
	vm        *VM
	t         *lua.LTable
	max       int
	raw       bool
	count     int
	truncated bool
}

func (vm *VM) newHeaderBuilder(L *lua.LState, max int, raw bool, size int) *headerBuilder {
	return &headerBuilder{L: L, vm: vm, t: L.CreateTable(0, size), max: max, raw: raw}
}

func (hb *headerBuilder) add(name, value string) {
	if hb.max > 0 && hb.count >= hb.max {
		hb.truncated = true
		return
	}
	hb.count++
	if !hb.raw {
		name = strings.ToLower(name)
	}
	key := lua.LString(name)
	switch cur := hb.t.RawGetString(name).(type) {
	case *lua.LNilType:
		hb.t.RawSetH(key, lua.LString(value))
	case lua.LString:
		arr := hb.L.CreateTable(2, 0)
		arr.Append(cur)
		arr.Append(lua.LString(value))
		hb.t.RawSetH(key, arr)
	case *lua.LTable:
		cur.Append(lua.LString(value))
	}
}

func (hb *headerBuilder) push() int {
	if !hb.raw {
		hb.L.SetMetatable(hb.t, hb.vm.headersMT)
	}
	hb.L.Push(hb.t)
	if hb.truncated {
		hb.L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

// headerValues converts a Lua value given for a header into its values
// as lua-resty-core does: tostring of a scalar or of each item of an
// array table, escaped as lua-nginx-module escapes header values; nil or
// an empty table clears the header.
func headerValues(v lua.LValue) []string {
	switch lv := v.(type) {
	case *lua.LNilType:
		return nil
	case *lua.LTable:
		n := lv.Len()
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			out = append(out, escapeHeader(ToString(lv.RawGetInt(i)), false))
		}
		return out
	}
	return []string{escapeHeader(ToString(v), false)}
}

// luaHeaderKey is the header key for a name given from Lua: tostring'd,
// underscores as dashes, escaped as lua-nginx-module escapes header
// names; in canonical form unless escaping changed it (the escaped name
// goes out as it is).
func luaHeaderKey(name lua.LValue) string {
	s := ToString(name)
	if strings.IndexByte(s, '_') >= 0 {
		s = strings.ReplaceAll(s, "_", "-")
	}
	if e := escapeHeader(s, true); e != s {
		return e
	}
	return textproto.CanonicalMIMEHeaderKey(s)
}

func (vm *VM) reqSetHeader(L *lua.LState) int {
	req := vm.checkRequest(L, phasesReqWrite)
	if L.Get(1) == lua.LNil {
		raiseError(L, "bad 'name' argument: string expected, got nil")
	}
	setRequestHeader(req.R, luaHeaderKey(L.Get(1)), headerValues(L.Get(2)))
	return 0
}

func (vm *VM) reqClearHeader(L *lua.LState) int {
	req := vm.checkRequest(L, phasesReqWrite)
	setRequestHeader(req.R, luaHeaderKey(L.Get(1)), nil)
	return 0
}

func setRequestHeader(r *http.Request, key string, vals []string) {
	if key == "Host" {
		if len(vals) > 0 {
			r.Host = vals[0]
		}
		return
	}
	if len(vals) == 0 {
		delete(r.Header, key)
		if key == "Content-Length" {
			r.ContentLength = -1
		}
		return
	}
	r.Header[key] = vals
}

func (vm *VM) reqGetURIArgs(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	return pushArgs(L, req.R.URL.RawQuery, argMax(L, 1))
}

// pushArgs decodes an x-www-form-urlencoded string into a Lua table as
// lua-nginx-module does: repeated keys become arrays, bare keys are true,
// keys and values are unescaped ('+' is a space), pairs with an empty key
// are dropped; every pair ended by '&' counts toward max (0: no limit),
// and reaching it stops with "truncated".
func pushArgs(L *lua.LState, query string, max int) int {
	t := L.CreateTable(0, 4)
	count := 0
	for query != "" {
		pair, rest, more := strings.Cut(query, "&")
		query = rest
		k, v, hasEq := strings.Cut(pair, "=")
		if key := unescapeURI(k); key != "" {
			var val lua.LValue = lua.LTrue
			if hasEq {
				val = lua.LString(unescapeURI(v))
			}
			lk := lua.LString(key)
			switch cur := t.RawGetString(key).(type) {
			case *lua.LNilType:
				t.RawSetH(lk, val)
			case *lua.LTable:
				cur.Append(val)
			default:
				arr := L.CreateTable(2, 0)
				arr.Append(cur)
				arr.Append(val)
				t.RawSetH(lk, arr)
			}
		}
		if more {
			if count++; max > 0 && count == max {
				L.Push(t)
				L.Push(lua.LString("truncated"))
				return 2
			}
		}
	}
	L.Push(t)
	return 1
}

func (vm *VM) reqSetURIArgs(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseSet|PhaseRewrite|PhaseAccess|PhaseContent)
	var q string
	switch v := L.Get(1).(type) {
	case lua.LString:
		q = string(v)
	case lua.LNumber:
		q = FormatNumber(float64(v))
	case *lua.LTable:
		q = encodeArgs(L, v)
	default:
		argError(L, 1, "string, number, or table expected, but got "+typeName(v))
	}
	req.R.URL.RawQuery = q
	req.R.URL.ForceQuery = false
	req.R.RequestURI = req.R.URL.RequestURI()
	return 0
}

// reqSetURI is ngx.req.set_uri(uri, jump?, binary?): without jump it
// only changes the URI (in every phase, as in lua-nginx-module); a jump
// (an internal redirect) is not supported.
func (vm *VM) reqSetURI(L *lua.LState) int {
	n := L.GetTop()
	if n < 1 || n > 3 {
		raiseError(L, "expecting 1, 2 or 3 arguments but seen %d", n)
	}
	req := vm.checkRequest(L, PhasesRequest)
	uri := L.CheckString(1)
	if uri == "" {
		raiseError(L, "attempt to use zero-length uri")
	}
	binary := false
	if n >= 3 {
		binary = boolArg(L, 3)
	}
	if !binary {
		if c, bad := unsafeURIByte(uri); bad {
			raiseError(L, "unsafe byte \"0x%02x\" in uri \"%s\" (maybe you want to set the 'binary' argument?)", c, escapeLog(uri))
		}
	}
	if n >= 2 && boolArg(L, 2) {
		if req.Phase != PhaseRewrite {
			raiseError(L, "API disabled in the context of %s", req.Phase.Context())
		}
		raiseError(L, "ngx.req.set_uri with jump = true (an internal redirect) is not supported by caddy-resty")
	}
	u := req.R.URL
	u.Path = uri
	u.RawPath = ""
	req.R.RequestURI = u.RequestURI()
	return 0
}

// boolArg is luaL_checktype(L, n, LUA_TBOOLEAN).
func boolArg(L *lua.LState, n int) bool {
	b, ok := L.Get(n).(lua.LBool)
	if !ok {
		argError(L, n, "boolean expected, got "+typeName(L.Get(n)))
	}
	return bool(b)
}

// typeName is lua_typename's name of v's type ("no value" is not told
// apart from nil).
func typeName(v lua.LValue) string {
	if ud, ok := v.(*lua.LUserData); ok && ud == Null {
		return "userdata"
	}
	return v.Type().String()
}

func (vm *VM) reqGetBodyData(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseLog)
	if !req.bodyRead || req.bodyFile != "" || len(req.body) == 0 {
		L.Push(lua.LNil)
		return 1
	}
	body := req.body
	if max := int(L.OptNumber(1, 0)); max > 0 && max < len(body) {
		body = body[:max]
	}
	L.Push(lua.LString(body))
	return 1
}

// SetBody replaces the request body and fixes its length headers.
func (req *Request) SetBody(data []byte) {
	r := req.R
	if r.Body != nil && r.Body != http.NoBody && !req.bodyRead {
		r.Body.Close()
	}
	req.dropBodyFile()
	req.bodyRead, req.body = true, data
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
	r.Header.Set("Content-Length", strconv.Itoa(len(data)))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

func (vm *VM) reqSetBodyData(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if !req.bodyRead {
		raiseError(L, "request body not read yet")
	}
	req.SetBody([]byte(L.CheckString(1)))
	return 0
}

func (vm *VM) reqInitBody(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if !req.bodyRead {
		raiseError(L, "request body not read yet")
	}
	req.newBody = []byte{}
	return 0
}

func (vm *VM) reqAppendBody(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if req.newBody == nil {
		L.RaiseError("request body not initialized by ngx.req.init_body()")
	}
	data := L.CheckString(1)
	if len(req.newBody)+len(data) > vm.pool.cfg.MaxStringSize {
		L.RaiseError("request body too large (lua_max_string_size)")
	}
	req.newBody = append(req.newBody, data...)
	return 0
}

func (vm *VM) reqFinishBody(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if req.newBody == nil {
		L.RaiseError("request body not initialized by ngx.req.init_body()")
	}
	req.SetBody(req.newBody)
	req.newBody = nil
	return 0
}

func (vm *VM) reqGetPostArgs(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseHeaderFilter|PhaseBodyFilter|PhaseLog)
	max := argMax(L, 1)
	if !req.bodyRead {
		L.RaiseError("no request body found; maybe you should turn on lua_need_request_body?")
	}
	if req.bodyFile != "" {
		return PushFail(L, "request body in temp file not supported")
	}
	return pushArgs(L, string(req.body), max)
}

func (vm *VM) reqHTTPVersion(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	r := req.R
	L.Push(lua.LNumber(float64(r.ProtoMajor) + float64(r.ProtoMinor)/10))
	return 1
}

// reqIsInternal is ngx.req.is_internal: false (there are no internal
// redirects); lua-resty-core's errors, raised from its own code (no
// position of the caller), outside a request.
func (vm *VM) reqIsInternal(L *lua.LState) int {
	if vm.req == nil {
		L.Error(lua.LString("no request found"), 0)
	}
	if vm.req.Phase == PhaseTimer {
		L.Error(lua.LString(errFakeRequest), 0)
	}
	L.Push(lua.LFalse)
	return 1
}

// reqSocket is ngx.req.socket: not supported, after lua-nginx-module's
// context check (rewrite, access, content).
func (vm *VM) reqSocket(L *lua.LState) int {
	vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	L.RaiseError("ngx.req.socket is not supported by caddy-resty")
	return 0
}

func (vm *VM) reqStartTime(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesRequest|PhaseTimer)
	L.Push(lua.LNumber(float64(req.Start.UnixMilli()) / 1000))
	return 1
}

func (vm *VM) reqRawHeader(L *lua.LState) int {
	req := vm.checkRequest(L, PhasesRequest)
	r := req.R
	var b strings.Builder
	if !lua.LVAsBool(L.Get(1)) {
		uri, _ := Variable(req, "request_uri")
		b.WriteString(r.Method + " " + uri + " " + r.Proto + "\r\n")
	}
	if r.Host != "" {
		b.WriteString("Host: " + r.Host + "\r\n")
	}
	for name, vals := range r.Header {
		for _, v := range vals {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	L.Push(lua.LString(b.String()))
	return 1
}
