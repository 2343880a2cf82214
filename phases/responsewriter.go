package phases

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	lua "github.com/yuin/gopher-lua"
	"go.uber.org/zap"

	"github.com/caddy-resty/caddy-resty/app"
	"github.com/caddy-resty/caddy-resty/luaplugin"
)

// errSeenEOF is what output after ngx.eof (or a truncating body_filter)
// gets, as in OpenResty.
var errSeenEOF = errors.New("seen eof")

// responseWriter passes the response through header_filter and body_filter
// and is the luaplugin.Response of the request's Lua code.
type responseWriter struct {
	caddyhttp.ResponseWriterWrapper
	rs *reqState

	// status is the status to send, then the one sent; 0 until set.
	status int
	// wroteHeader is true once the headers went downstream.
	wroteHeader bool
	// eof is true once the body ended (ngx.eof, body_filter truncation);
	// later writes are discarded.
	eof bool
	// discard is true when header_filter replaced the response: the
	// wrapped handler's body is dropped.
	discard bool
	// luaResponse is true when Lua makes the response: without a
	// Content-Type it gets text/plain (nginx's default_type).
	luaResponse bool
	// finished is true after finish ran.
	finished bool
	// aborted is true when a filter failed; the connection is cut.
	aborted bool
	// bytes counts body bytes sent.
	bytes int64
	// remaining is how much of the wrapped handler's body is still to come
	// when it declared a Content-Length (-1 otherwise): the chunk that
	// completes it reaches body_filter with eof set, as the last buffer of
	// a proxied response does in nginx, which saves a second call.
	remaining int64
	// clLeft is how much more body the Content-Length sent allows (-1
	// without one): a longer body is cut there, as nginx cuts output
	// past a Content-Length that Lua set lower.
	clLeft int64
}

func (rw *responseWriter) reset(w http.ResponseWriter) {
	rs := rw.rs
	*rw = responseWriter{rs: rs, remaining: -1, clLeft: -1}
	rw.ResponseWriter = w
}

// finalStatus is the status the log phase sees.
func (rw *responseWriter) finalStatus(err error) int {
	if err != nil {
		var he caddyhttp.HandlerError
		if errors.As(err, &he) && he.StatusCode != 0 {
			return he.StatusCode
		}
		if !rw.wroteHeader {
			return http.StatusInternalServerError
		}
	}
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

// Status implements luaplugin.Response.
func (rw *responseWriter) Status() int { return rw.status }

// SetStatus implements luaplugin.Response.
func (rw *responseWriter) SetStatus(code int) {
	if !rw.wroteHeader {
		rw.status = code
	}
}

// HeadersSent implements luaplugin.Response.
func (rw *responseWriter) HeadersSent() bool { return rw.wroteHeader }

// WriteHeader is called by the wrapped handler. Informational responses
// pass straight through; the final header runs header_filter.
func (rw *responseWriter) WriteHeader(code int) {
	if rw.wroteHeader {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.ResponseWriter.WriteHeader(code)
		return
	}
	rw.status = code
	rw.sendHeaders()
}

// SendHeaders implements luaplugin.Response (ngx.send_headers).
func (rw *responseWriter) SendHeaders() error {
	if rw.wroteHeader {
		return nil
	}
	rw.sendHeaders()
	if rw.aborted {
		return errors.New("header filter failed")
	}
	return nil
}

// clearForError drops the headers that described a body that will not be
// sent, before an error or exit response.
func (rw *responseWriter) clearForError() {
	h := rw.Header()
	for _, k := range []string{"Content-Length", "Content-Type", "Content-Encoding", "Content-Range",
		"Transfer-Encoding", "Etag", "Last-Modified", "Accept-Ranges"} {
		delete(h, k)
	}
}

// sendHeaders runs header_filter and sends the status line and headers.
func (rw *responseWriter) sendHeaders() {
	if rw.wroteHeader {
		return
	}
	rs := rw.rs
	h := rs.h
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	hdr := rw.Header()
	if _, set := hdr["Content-Type"]; rw.luaResponse && !set {
		// nginx's default_type, before the header filters see the
		// headers; a Content-Type Lua cleared stays absent.
		hdr.Set("Content-Type", "text/plain")
	}
	if rs.hasPhase(h.headerFilter, luaplugin.PhaseHeaderFilter) {
		rw.runHeaderFilter()
	}
	if rs.hasPhase(h.bodyFilter, luaplugin.PhaseBodyFilter) {
		if cl := hdr.Get("Content-Length"); cl != "" && !rw.luaResponse && !rw.discard {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n > 0 {
				rw.remaining = n
			}
		}
		// body_filter may change the length; nginx leaves clearing
		// Content-Length to the script, Go would fail the response.
		hdr.Del("Content-Length")
	}
	if cl := hdr.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			rw.clLeft = n
		}
	}
	rw.wroteHeader = true
	rw.ResponseWriter.WriteHeader(rw.status)
}

func (rw *responseWriter) runHeaderFilter() {
	rs := rw.rs
	vm, owned, err := rs.acquire()
	if err != nil {
		rs.h.logger.Error("header_filter skipped", zap.Error(err))
		return
	}
	defer rs.releaseVM(vm, owned)
	if rs.rt.phases&luaplugin.PhaseHeaderFilter != 0 {
		if rs.runPlugins(vm, luaplugin.PhaseHeaderFilter, func(_ *app.PluginRef, res luaplugin.Result) bool {
			return rw.onHeaderFilter(res)
		}) {
			return
		}
	}
	for _, c := range rs.h.headerFilter {
		if rw.onHeaderFilter(vm.Run(c, &rs.req, luaplugin.PhaseHeaderFilter)) {
			return
		}
	}
}

// onHeaderFilter acts on how one piece of header_filter ended; it
// reports whether the phase ends there.
func (rw *responseWriter) onHeaderFilter(res luaplugin.Result) bool {
	if res.Err != nil {
		rw.rs.logLuaError(luaplugin.PhaseHeaderFilter, res.Err)
		rw.aborted = true
		return true
	}
	if res.Exited && res.Code >= 200 {
		// The original response is replaced by this status, with an
		// empty body.
		rw.clearForError()
		rw.status = res.Code
		rw.discard = true
		rw.luaResponse = false
		return true
	}
	if res.Exited && res.Code == luaplugin.ExitError {
		rw.aborted = true
		return true
	}
	return false
}

// Write is called by the wrapped handler with body data.
func (rw *responseWriter) Write(p []byte) (int, error) {
	if !rw.wroteHeader {
		rw.sendHeaders()
	}
	if rw.aborted {
		panic(http.ErrAbortHandler)
	}
	if rw.discard || rw.eof {
		return len(p), nil
	}
	last := false
	if rw.remaining > 0 {
		rw.remaining -= int64(len(p))
		last = rw.remaining <= 0
	}
	if err := rw.writeBody(p, last); err != nil {
		return 0, err
	}
	if last {
		rw.eof = true
	}
	return len(p), nil
}

// Print implements luaplugin.Response: output from ngx.print/ngx.say,
// each call one body_filter chunk.
func (rw *responseWriter) Print(p []byte) error {
	if rw.eof || rw.finished {
		return errSeenEOF
	}
	if !rw.wroteHeader {
		rw.luaResponse = true
		rw.sendHeaders()
	}
	if rw.aborted {
		return errors.New("response aborted")
	}
	if rw.discard {
		return nil
	}
	return rw.writeBody(p, false)
}

// writeBody passes a chunk through body_filter and writes the result.
func (rw *responseWriter) writeBody(p []byte, last bool) error {
	rs := rw.rs
	if !rs.hasPhase(rs.h.bodyFilter, luaplugin.PhaseBodyFilter) {
		if len(p) == 0 {
			return nil
		}
		return rw.send(p)
	}
	out, eof, err := rw.runBodyFilter(p, last)
	if err != nil {
		rw.aborted = true
		panic(http.ErrAbortHandler)
	}
	if len(out) > 0 {
		if werr := rw.send(out); werr != nil {
			return werr
		}
	}
	if eof && !last {
		rw.eof = true
	}
	return nil
}

// send writes body bytes to the client. Output made by Lua is written with
// the request's Lua state released, so a slow client holds only its own
// request, never the state.
func (rw *responseWriter) send(p []byte) error {
	if rw.clLeft >= 0 {
		if int64(len(p)) > rw.clLeft {
			p = p[:rw.clLeft]
		}
		rw.clLeft -= int64(len(p))
		if len(p) == 0 {
			return nil
		}
	}
	if vm := rw.rs.held; vm != nil {
		resume := vm.SuspendOutput()
		defer resume()
	}
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return err
}

// runBodyFilter runs the body_filter scripts on one chunk.
func (rw *responseWriter) runBodyFilter(p []byte, last bool) (out []byte, eof bool, err error) {
	rs := rw.rs
	vm, owned, err := rs.acquire()
	if err != nil {
		return nil, false, err
	}
	defer rs.releaseVM(vm, owned)
	req := &rs.req
	orig := string(p)
	req.Arg1 = lua.LString(orig)
	req.Arg2 = last
	if rs.rt.phases&luaplugin.PhaseBodyFilter != 0 {
		rs.runPlugins(vm, luaplugin.PhaseBodyFilter, func(_ *app.PluginRef, res luaplugin.Result) bool {
			err = res.Err
			return err != nil
		})
		if err != nil {
			rs.logLuaError(luaplugin.PhaseBodyFilter, err)
			return nil, false, err
		}
	}
	for _, c := range rs.h.bodyFilter {
		res := vm.Run(c, req, luaplugin.PhaseBodyFilter)
		if res.Err != nil {
			rs.logLuaError(luaplugin.PhaseBodyFilter, res.Err)
			return nil, false, res.Err
		}
	}
	eof = req.Arg2
	s, _ := req.Arg1.(lua.LString)
	req.Arg1 = nil
	if string(s) == orig {
		return p, eof, nil
	}
	return []byte(s), eof, nil
}

// ReadFrom makes io.Copy go through Write (and so through body_filter)
// instead of the underlying writer's ReadFrom.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !rw.wroteHeader {
		rw.sendHeaders()
	}
	if !rw.rs.hasPhase(rw.rs.h.bodyFilter, luaplugin.PhaseBodyFilter) && !rw.discard && !rw.eof && !rw.aborted && rw.clLeft < 0 {
		n, err := rw.ResponseWriterWrapper.ReadFrom(src)
		rw.bytes += n
		return n, err
	}
	buf := make([]byte, 32<<10)
	return io.CopyBuffer(writerOnly{rw}, src, buf)
}

type writerOnly struct{ io.Writer }

// FlushError flushes the response (http.ResponseController), sending the
// headers first if needed.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.sendHeaders()
	}
	if vm := rw.rs.held; vm != nil {
		resume := vm.SuspendOutput()
		defer resume()
	}
	return http.NewResponseController(rw.ResponseWriter).Flush()
}

// SetReadDeadline implements luaplugin.Response: the request body's read
// deadline (ngx.req.read_body's lua_body_timeout).
func (rw *responseWriter) SetReadDeadline(t time.Time) error {
	return http.NewResponseController(rw.ResponseWriter).SetReadDeadline(t)
}

// Flush implements http.Flusher.
func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// Hijack hands the connection over (websocket upgrades).
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(rw.ResponseWriter).Hijack()
}

// EOF implements luaplugin.Response (ngx.eof): the body ends now.
func (rw *responseWriter) EOF() error {
	if rw.eof || rw.finished {
		return nil
	}
	err := rw.finish()
	rw.eof = true
	return err
}

// finish ends the response: headers if not sent, the last body_filter call
// with eof, and a flush.
func (rw *responseWriter) finish() error {
	if rw.finished {
		return nil
	}
	rw.finished = true
	if !rw.wroteHeader {
		rw.sendHeaders()
	}
	if rw.aborted {
		panic(http.ErrAbortHandler)
	}
	if rw.rs.hasPhase(rw.rs.h.bodyFilter, luaplugin.PhaseBodyFilter) && !rw.eof {
		if err := rw.writeBody(nil, true); err != nil {
			return err
		}
	}
	rw.eof = true
	return nil
}

// Interface guards.
var (
	_ luaplugin.Response  = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
	_ io.ReaderFrom       = (*responseWriter)(nil)
	_ http.ResponseWriter = (*responseWriter)(nil)
)
