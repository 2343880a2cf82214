package luaplugin

import (
	"bytes"
	"io"
	"net/http"
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
		"is_internal":   func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"socket":        NotSupported("ngx.req.socket"),
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
	req := vm.checkPhase(L, PhasesRequest)
	L.Push(lua.LString(req.R.Method))
	return 1
}

func (vm *VM) reqSetMethod(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	m, ok := methodConstants[int(L.CheckNumber(1))]
	if !ok {
		L.ArgError(1, "unsupported HTTP method: "+L.Get(1).String())
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
	req := vm.checkPhase(L, PhasesRequest)
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

// escapeHeaderValue keeps CR and LF out of header values (header
// injection), escaping them as lua-nginx-module does.
func escapeHeaderValue(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		return strings.NewReplacer("\r", "%0D", "\n", "%0A").Replace(v)
	}
	return v
}

// headerValues converts a Lua value given for a header into its values;
// nil or an empty table clears the header.
func headerValues(L *lua.LState, v lua.LValue, argn int) []string {
	switch lv := v.(type) {
	case *lua.LNilType:
		return nil
	case lua.LString:
		return []string{escapeHeaderValue(string(lv))}
	case lua.LNumber:
		return []string{FormatNumber(float64(lv))}
	case lua.LBool:
		if lv {
			return []string{"true"}
		}
		return []string{"false"}
	case *lua.LTable:
		n := lv.Len()
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			item := lv.RawGetInt(i)
			switch iv := item.(type) {
			case lua.LString:
				out = append(out, escapeHeaderValue(string(iv)))
			case lua.LNumber:
				out = append(out, FormatNumber(float64(iv)))
			default:
				L.ArgError(argn, "bad header value type in table: "+item.Type().String())
			}
		}
		return out
	}
	L.ArgError(argn, "bad header value type: "+v.Type().String())
	return nil
}

func (vm *VM) reqSetHeader(L *lua.LState) int {
	req := vm.checkPhase(L, phasesReqWrite)
	name := L.CheckString(1)
	vals := headerValues(L, L.Get(2), 2)
	setRequestHeader(req.R, name, vals)
	return 0
}

func (vm *VM) reqClearHeader(L *lua.LState) int {
	req := vm.checkPhase(L, phasesReqWrite)
	setRequestHeader(req.R, L.CheckString(1), nil)
	return 0
}

func setRequestHeader(r *http.Request, name string, vals []string) {
	key := headerKey(name)
	if key == "Host" {
		if len(vals) > 0 {
			r.Host = vals[0]
		}
		return
	}
	if len(vals) == 0 {
		r.Header.Del(key)
		if key == "Content-Length" {
			r.ContentLength = -1
		}
		return
	}
	r.Header[key] = vals
}

func (vm *VM) reqGetURIArgs(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesRequest)
	return pushArgs(L, req.R.URL.RawQuery, argMax(L, 1))
}

// pushArgs decodes an x-www-form-urlencoded string into a Lua table as
// ngx.req.get_uri_args does: repeated keys become arrays, bare keys are
// true, keys and values are unescaped ('+' is a space).
func pushArgs(L *lua.LState, query string, max int) int {
	t := L.CreateTable(0, 4)
	count := 0
	truncated := false
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if pair == "" {
			continue
		}
		if max > 0 && count >= max {
			truncated = true
			break
		}
		k, v, hasEq := strings.Cut(pair, "=")
		key := unescapeURI(k)
		if key == "" {
			continue
		}
		count++
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
	L.Push(t)
	if truncated {
		L.Push(lua.LString("truncated"))
		return 2
	}
	return 1
}

func (vm *VM) reqSetURIArgs(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseSet|PhaseRewrite|PhaseAccess|PhaseContent)
	var q string
	switch v := L.Get(1).(type) {
	case lua.LString:
		q = string(v)
	case lua.LNumber:
		q = FormatNumber(float64(v))
	case *lua.LTable:
		q = encodeArgs(L, v)
	default:
		L.ArgError(1, "string or table expected, got "+v.Type().String())
	}
	req.R.URL.RawQuery = q
	req.R.URL.ForceQuery = false
	req.R.RequestURI = req.R.URL.RequestURI()
	return 0
}

func (vm *VM) reqSetURI(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseSet|PhaseRewrite|PhaseAccess|PhaseContent)
	uri := L.CheckString(1)
	if uri == "" {
		L.ArgError(1, "attempt to use zero-length uri")
	}
	if lua.LVAsBool(L.Get(2)) {
		if req.Phase == PhaseSet {
			L.RaiseError("API disabled in the context of %s", req.Phase.Context())
		}
		L.RaiseError("ngx.req.set_uri with jump = true (an internal redirect) is not supported by caddy-resty")
	}
	u := req.R.URL
	u.Path = uri
	u.RawPath = ""
	req.R.RequestURI = u.RequestURI()
	return 0
}

func (vm *VM) reqGetBodyData(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseLog)
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
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	req.SetBody([]byte(L.CheckString(1)))
	return 0
}

func (vm *VM) reqInitBody(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	req.newBody = []byte{}
	return 0
}

func (vm *VM) reqAppendBody(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
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
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if req.newBody == nil {
		L.RaiseError("request body not initialized by ngx.req.init_body()")
	}
	req.SetBody(req.newBody)
	req.newBody = nil
	return 0
}

func (vm *VM) reqGetPostArgs(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseHeaderFilter|PhaseBodyFilter|PhaseLog)
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
	req := vm.checkPhase(L, PhasesRequest)
	r := req.R
	L.Push(lua.LNumber(float64(r.ProtoMajor) + float64(r.ProtoMinor)/10))
	return 1
}

func (vm *VM) reqStartTime(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesRequest)
	L.Push(lua.LNumber(float64(req.Start.UnixMilli()) / 1000))
	return 1
}

func (vm *VM) reqRawHeader(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesRequest)
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
