package luaplugin

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// nginx constants exposed on ngx.
var ngxIntConstants = map[string]int{
	"OK": ExitOK, "ERROR": ExitError, "AGAIN": ExitAgain, "DONE": ExitDone, "DECLINED": ExitDeclined,

	"HTTP_GET": 2, "HTTP_HEAD": 4, "HTTP_POST": 8, "HTTP_PUT": 16, "HTTP_DELETE": 32,
	"HTTP_MKCOL": 64, "HTTP_COPY": 128, "HTTP_MOVE": 256, "HTTP_OPTIONS": 512,
	"HTTP_PROPFIND": 1024, "HTTP_PROPPATCH": 2048, "HTTP_LOCK": 4096, "HTTP_UNLOCK": 8192,
	"HTTP_PATCH": 16384, "HTTP_TRACE": 32768,

	"HTTP_CONTINUE": 100, "HTTP_SWITCHING_PROTOCOLS": 101,
	"HTTP_OK": 200, "HTTP_CREATED": 201, "HTTP_ACCEPTED": 202, "HTTP_NO_CONTENT": 204,
	"HTTP_PARTIAL_CONTENT": 206, "HTTP_SPECIAL_RESPONSE": 300,
	"HTTP_MOVED_PERMANENTLY": 301, "HTTP_MOVED_TEMPORARILY": 302, "HTTP_SEE_OTHER": 303,
	"HTTP_NOT_MODIFIED": 304, "HTTP_TEMPORARY_REDIRECT": 307, "HTTP_PERMANENT_REDIRECT": 308,
	"HTTP_BAD_REQUEST": 400, "HTTP_UNAUTHORIZED": 401, "HTTP_PAYMENT_REQUIRED": 402,
	"HTTP_FORBIDDEN": 403, "HTTP_NOT_FOUND": 404, "HTTP_NOT_ALLOWED": 405,
	"HTTP_NOT_ACCEPTABLE": 406, "HTTP_REQUEST_TIMEOUT": 408, "HTTP_CONFLICT": 409,
	"HTTP_GONE": 410, "HTTP_UPGRADE_REQUIRED": 426, "HTTP_TOO_MANY_REQUESTS": 429,
	"HTTP_CLOSE": ExitHTTPClose, "HTTP_ILLEGAL": 451, "HTTP_INTERNAL_SERVER_ERROR": 500,
	"HTTP_METHOD_NOT_IMPLEMENTED": 501, "HTTP_BAD_GATEWAY": 502,
	"HTTP_SERVICE_UNAVAILABLE": 503, "HTTP_GATEWAY_TIMEOUT": 504,
	"HTTP_NOT_IMPLEMENTED": 501, "HTTP_VERSION_NOT_SUPPORTED": 505, "HTTP_INSUFFICIENT_STORAGE": 507,

	"STDERR": levelStderr, "EMERG": levelEmerg, "ALERT": levelAlert, "CRIT": levelCrit,
	"ERR": levelErr, "WARN": levelWarn, "NOTICE": levelNotice, "INFO": levelInfo,
	"DEBUG": levelDebug,
}

// nginx log levels.
const (
	levelStderr = iota
	levelEmerg
	levelAlert
	levelCrit
	levelErr
	levelWarn
	levelNotice
	levelInfo
	levelDebug
)

// installNgx builds the ngx table of this state.
func (vm *VM) installNgx() {
	L := vm.L
	ngx := L.NewTable()
	vm.ngx = ngx
	for k, v := range ngxIntConstants {
		ngx.RawSetString(k, lua.LNumber(v))
	}
	ngx.RawSetString("null", Null)

	fns := map[string]lua.LGFunction{
		"get_phase":    vm.ngxGetPhase,
		"exit":         vm.ngxExit,
		"redirect":     vm.ngxRedirect,
		"say":          vm.ngxSay,
		"print":        vm.ngxPrint,
		"flush":        vm.ngxFlush,
		"eof":          vm.ngxEOF,
		"send_headers": vm.ngxSendHeaders,
		"sleep":        vm.ngxSleep,
		"log":          vm.ngxLog,
		"exec":         vm.notSupportedIn(PhaseRewrite|PhaseAccess|PhaseContent, "ngx.exec (internal redirects)"),
		"on_abort": func(L *lua.LState) int {
			vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
			return PushFail(L, "lua_check_client_abort is off")
		},
	}
	for k, fn := range fns {
		ngx.RawSetString(k, L.NewFunction(fn))
	}
	vm.installTime(ngx)
	vm.installEncoding(ngx)

	ngx.RawSetString("var", vm.newVarTable())
	ngx.RawSetString("req", vm.newReqTable())
	ngx.RawSetString("resp", vm.newRespTable())
	ngx.RawSetString("header", vm.newHeaderTable())
	vm.argTable = vm.newArgTable()
	ngx.RawSetString("arg", vm.argTable)
	ngx.RawSetString("timer", vm.newTimerTable())
	vm.re = vm.newReLib()
	ngx.RawSetString("re", vm.re.open(L))
	vm.shared = NewSharedTable(L, vm.pool.Dict)
	ngx.RawSetString("shared", vm.shared)

	loc := L.NewTable()
	loc.RawSetString("capture", L.NewFunction(vm.notSupportedIn(PhaseRewrite|PhaseAccess|PhaseContent, "ngx.location.capture (subrequests)")))
	loc.RawSetString("capture_multi", L.NewFunction(vm.notSupportedIn(PhaseRewrite|PhaseAccess|PhaseContent, "ngx.location.capture_multi (subrequests)")))
	ngx.RawSetString("location", loc)

	worker := L.NewTable()
	worker.RawSetString("id", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(0)); return 1 }))
	worker.RawSetString("count", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(runtime.GOMAXPROCS(0))); return 1 }))
	worker.RawSetString("pid", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(os.Getpid())); return 1 }))
	worker.RawSetString("exiting", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LFalse); return 1 }))
	ngx.RawSetString("worker", worker)

	cfg := L.NewTable()
	cfg.RawSetString("subsystem", lua.LString("http"))
	cfg.RawSetString("debug", lua.LFalse)
	cfg.RawSetString("nginx_version", lua.LNumber(1025000))
	cfg.RawSetString("ngx_lua_version", lua.LNumber(10025))
	cfg.RawSetString("prefix", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("")); return 1 }))
	cfg.RawSetString("nginx_configure", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LString("")); return 1 }))
	ngx.RawSetString("config", cfg)

	// status, ctx and headers_sent are computed per request.
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(vm.ngxIndex))
	mt.RawSetString("__newindex", L.NewFunction(vm.ngxNewIndex))
	L.SetMetatable(ngx, mt)

	L.SetGlobal("ngx", ngx)
	// ndk.set_var is not available; a table keeps `ndk` lookups from failing.
	L.SetGlobal("ndk", L.NewTable())
}

// NotSupported returns a function that raises "WHAT is not supported by
// caddy-resty".
func NotSupported(what string) lua.LGFunction {
	return func(L *lua.LState) int {
		L.RaiseError("%s is not supported by caddy-resty", what)
		return 0
	}
}

// notSupportedIn is NotSupported after OpenResty's context check: outside
// phases the API raises "API disabled in the context of …" first.
func (vm *VM) notSupportedIn(phases Phase, what string) lua.LGFunction {
	return func(L *lua.LState) int {
		vm.checkPhase(L, phases)
		L.RaiseError("%s is not supported by caddy-resty", what)
		return 0
	}
}

func (vm *VM) ngxIndex(L *lua.LState) int {
	key := L.CheckString(2)
	req := vm.req
	switch key {
	case "status":
		req = vm.checkRequest(L, PhasesRequest)
		if req.W == nil {
			L.Push(lua.LNumber(0))
			return 1
		}
		L.Push(lua.LNumber(req.W.Status()))
		return 1
	case "ctx":
		if req == nil {
			L.RaiseError("no request found")
		}
		if req.Ctx == nil {
			req.Ctx = L.CreateTable(0, 4)
		}
		L.Push(req.Ctx)
		return 1
	case "headers_sent":
		req = vm.checkRequest(L, PhasesRequest)
		L.Push(lua.LBool(req.W != nil && req.W.HeadersSent()))
		return 1
	case "is_subrequest":
		if req != nil && req.Phase == PhaseTimer {
			L.RaiseError(errFakeRequest)
		}
		L.Push(lua.LFalse)
		return 1
	}
	L.Push(lua.LNil)
	return 1
}

func (vm *VM) ngxNewIndex(L *lua.LState) int {
	key := L.CheckString(2)
	switch key {
	case "status":
		req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent|PhaseHeaderFilter|PhaseBodyFilter|PhaseLog)
		// lua-resty-core converts the value with tonumber and hands it to
		// C as an int.
		f, ok := sharedToNumber(L.Get(3))
		if !ok {
			raiseError(L, "bad argument #2 to 'ngx_http_lua_ffi_set_resp_status' (cannot convert 'nil' to 'int')")
		}
		code := int(f)
		if req.W == nil {
			return 0
		}
		if req.W.HeadersSent() {
			vm.log(L, levelErr, "attempt to set ngx.status after sending out response headers")
			return 0
		}
		if code < 100 || code > 999 {
			vm.log(L, levelErr, fmt.Sprintf("invalid HTTP status code %d", code))
			return 0
		}
		req.W.SetStatus(code)
		return 0
	case "ctx":
		if vm.req == nil {
			L.RaiseError("no request found")
		}
		t, ok := L.Get(3).(*lua.LTable)
		if !ok {
			L.RaiseError("ctx should be a table while getting a %s", L.Get(3).Type())
		}
		vm.req.Ctx = t
		return 0
	}
	L.RawSet(L.CheckTable(1), L.Get(2), L.Get(3))
	return 0
}

func (vm *VM) ngxGetPhase(L *lua.LState) int {
	if vm.req == nil {
		L.Push(lua.LString("init"))
		return 1
	}
	L.Push(lua.LString(vm.req.Phase.String()))
	return 1
}

func (vm *VM) ngxExit(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesOutput|PhaseHeaderFilter|PhaseTimer)
	code := int(L.CheckNumber(1))
	if code == ExitAgain || code == ExitDone {
		L.RaiseError("bad argument to 'ngx.exit': does not accept NGX_AGAIN or NGX_DONE")
	}
	if req.Phase == PhaseHeaderFilter && code != 0 && code < 200 && code != -1 {
		L.RaiseError("attempt to call ngx.exit with an invalid status %d in header_filter", code)
	}
	if req.W != nil && req.W.HeadersSent() && code >= 300 &&
		code != http.StatusRequestTimeout && code != statusClientClosed && code != ExitHTTPClose {
		// Too late for an error status: the request ends as it is (nginx
		// goes on with NGX_HTTP_OK; the code kept when it is the status
		// sent changes nothing a script can see).
		if sent := req.W.Status(); code != sent {
			vm.log(L, levelErr, fmt.Sprintf("attempt to set status %d via ngx.exit after sending out the response status %d", code, sent))
			code = http.StatusOK
		}
	}
	vm.raiseExit(L, code)
	return 0
}

// statusClientClosed is nginx's 499 (the client closed the connection).
const statusClientClosed = 499

func (vm *VM) ngxRedirect(L *lua.LState) int {
	n := L.GetTop()
	if n != 1 && n != 2 {
		raiseError(L, "expecting one or two arguments")
	}
	uri := L.CheckString(1)
	code := http.StatusFound
	if n == 2 {
		code = int(L.CheckNumber(2))
		switch code {
		case 301, 302, 303, 307, 308:
		default:
			raiseError(L, "only ngx.HTTP_MOVED_TEMPORARILY, ngx.HTTP_MOVED_PERMANENTLY, ngx.HTTP_PERMANENT_REDIRECT, ngx.HTTP_SEE_OTHER, and ngx.HTTP_TEMPORARY_REDIRECT are allowed")
		}
	}
	req := vm.checkPhase(L, PhasesOutput)
	if req.W.HeadersSent() {
		raiseError(L, "attempt to call ngx.redirect after sending out the headers")
	}
	if c, ok := unsafeURIByte(uri); ok {
		raiseError(L, "unsafe byte \"0x%02x\" in redirect uri \"%s\"", c, escapeLog(uri))
	}
	req.W.Header().Set("Location", uri)
	req.W.SetStatus(code)
	vm.raiseExit(L, code)
	return 0
}

func (vm *VM) ngxSay(L *lua.LState) int   { return vm.output(L, true) }
func (vm *VM) ngxPrint(L *lua.LState) int { return vm.output(L, false) }

func (vm *VM) output(L *lua.LState, newline bool) int {
	req := vm.checkPhase(L, PhasesOutput)
	n := L.GetTop()
	buf := make([]byte, 0, 64)
	for i := 1; i <= n; i++ {
		var msg string
		buf, msg = appendOutput(buf, L.Get(i), true)
		if msg != "" {
			argError(L, i, msg)
		}
	}
	if newline {
		buf = append(buf, '\n')
	}
	// Print runs the filters, then frees the state while it waits on the
	// client.
	return pushOK(L, req.W.Print(buf))
}

func (vm *VM) ngxFlush(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesOutput)
	if !req.W.HeadersSent() {
		return PushFail(L, "nothing to flush")
	}
	return pushOK(L, req.W.FlushError())
}

func (vm *VM) ngxEOF(L *lua.LState) int { return vm.respCall(L, Response.EOF) }

func (vm *VM) ngxSendHeaders(L *lua.LState) int { return vm.respCall(L, Response.SendHeaders) }

// respCall runs a response operation for ngx.flush/eof/send_headers and
// returns 1 or nil, err to Lua. The Response frees the state while it
// waits on the client.
func (vm *VM) respCall(L *lua.LState, op func(Response) error) int {
	req := vm.checkPhase(L, PhasesOutput)
	return pushOK(L, op(req.W))
}

// pushOK pushes 1, or nil and the error's text.
func pushOK(L *lua.LState, err error) int {
	if err != nil {
		return PushFail(L, err.Error())
	}
	L.Push(lua.LNumber(1))
	return 1
}

func (vm *VM) ngxSleep(L *lua.LState) int {
	req := vm.checkPhase(L, PhasesCosocket)
	secs := float64(L.CheckNumber(1))
	if secs < 0 {
		L.ArgError(1, "invalid sleep duration")
	}
	var done <-chan struct{}
	if req != nil && req.R != nil {
		done = req.R.Context().Done()
	}
	resume := vm.suspend()
	sleepCtx(done, time.Duration(secs*float64(time.Second)))
	resume()
	return 0
}

func sleepCtx(done <-chan struct{}, d time.Duration) {
	if d <= 0 {
		runtime.Gosched()
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

func (vm *VM) ngxLog(L *lua.LState) int {
	level := int(L.CheckNumber(1))
	if level < levelStderr || level > levelDebug {
		argError(L, 1, fmt.Sprintf("bad log level: %d", level))
	}
	// Argument numbers in errors count the message's values, as
	// lua-nginx-module's (print's arguments, ngx.log's after the level).
	var b strings.Builder
	for i := 2; i <= L.GetTop(); i++ {
		v := L.Get(i)
		switch t := v.(type) {
		case *lua.LTable:
			fn := L.GetMetaField(t, "__tostring")
			if fn == lua.LNil {
				argError(L, i-1, "expected table to have __tostring metamethod")
			}
			L.Push(fn)
			L.Push(t)
			L.Call(1, 1)
			v = L.Get(-1)
			L.Pop(1)
		case lua.LString, lua.LNumber, lua.LBool, *lua.LNilType:
		default:
			if v != Null {
				argError(L, i-1, "string, number, boolean, or nil expected, got "+v.Type().String())
			}
		}
		bs, msg := AppendValue(nil, v)
		if msg != "" {
			argError(L, i-1, msg)
		}
		b.Write(bs)
	}
	vm.log(L, level, b.String())
	return 0
}

// log writes a message from Lua to the zap logger with the chunk:line of
// the caller.
func (vm *VM) log(L *lua.LState, level int, msg string) {
	logger := vm.pool.Logger()
	var phase string
	if vm.req != nil {
		if vm.req.Logger != nil {
			logger = vm.req.Logger
		}
		phase = vm.req.Phase.String()
	} else {
		phase = "init"
	}
	var zl zapcore.Level
	switch {
	case level <= levelErr:
		zl = zapcore.ErrorLevel
	case level == levelWarn:
		zl = zapcore.WarnLevel
	case level <= levelInfo:
		zl = zapcore.InfoLevel
	default:
		zl = zapcore.DebugLevel
	}
	ce := logger.Check(zl, msg)
	if ce == nil {
		return
	}
	where := strings.TrimSuffix(strings.TrimSpace(L.Where(1)), ":")
	ce.Write(zap.String("source", where), zap.String("phase", phase))
}
