package luaplugin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Request bodies read into Lua (ngx.req.read_body) are bounded as nginx
// bounds them: a body up to lua_body_buffer_size (client_body_buffer_size)
// is kept in memory for get_body_data; a larger one, up to
// lua_max_body_size (client_max_body_size), is spooled to a temporary file
// for get_body_file; a larger one gets 413. Each read waits at most
// lua_body_timeout (client_body_timeout) for the client, and the read
// frees the Lua state for other requests while it waits.

// errBodyTooLarge is a body over MaxBodySize.
var errBodyTooLarge = errors.New("request body too large")

func (vm *VM) reqReadBody(L *lua.LState) int {
	req := vm.checkPhase(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if req.bodyRead {
		return 0
	}
	cfg := &vm.pool.cfg
	resume := vm.suspend()
	err := req.readBody(cfg.BodyBufferSize, cfg.MaxBodySize, cfg.BodyTimeout)
	resume()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.Is(err, errBodyTooLarge) || errors.As(err, &mbe) {
			vm.log(L, levelErr, "client intended to send too large body")
			vm.raiseExit(L, http.StatusRequestEntityTooLarge)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			vm.log(L, levelErr, "client timed out while reading the request body")
			vm.raiseExit(L, http.StatusRequestTimeout)
		}
		vm.log(L, levelErr, "failed to read request body: "+err.Error())
		vm.raiseExit(L, http.StatusBadRequest)
	}
	return 0
}

func (vm *VM) reqGetBodyFile(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	if req.bodyFile == "" {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(req.bodyFile))
	return 1
}

// readBody reads the request body (Go code only: the state is released),
// keeping up to buffer bytes in memory and spooling a larger body to a
// temporary file; over max it fails with errBodyTooLarge. The body is put
// back so the next handler (reverse_proxy) sends it on.
func (req *Request) readBody(buffer, max int64, timeout time.Duration) error {
	req.bodyRead = true
	r := req.R
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	if r.ContentLength > max {
		return errBodyTooLarge
	}
	src := &deadlineReader{r: r.Body, w: req.W, timeout: timeout}
	defer src.clear()
	buf, err := io.ReadAll(io.LimitReader(src, buffer+1))
	if err != nil {
		return err
	}
	if int64(len(buf)) <= buffer {
		r.Body.Close()
		req.body = buf
		r.Body = io.NopCloser(bytes.NewReader(buf))
		return nil
	}
	// Over the buffer: spool to a file, as nginx's client_body_temp.
	f, err := os.CreateTemp("", "caddy-resty-body-*")
	if err != nil {
		return fmt.Errorf("spooling request body: %w", err)
	}
	req.bodyFile = f.Name()
	n, err := f.Write(buf)
	if err == nil {
		var m int64
		m, err = io.Copy(f, io.LimitReader(src, max-int64(n)+1))
		if err == nil && int64(n)+m > max {
			err = errBodyTooLarge
		}
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return err
	}
	r.Body.Close()
	r.Body = f
	return nil
}

// dropBodyFile removes a spooled body file.
func (req *Request) dropBodyFile() {
	if req.bodyFile != "" {
		if c, ok := req.R.Body.(io.Closer); ok {
			_ = c.Close()
		}
		_ = os.Remove(req.bodyFile)
		req.bodyFile = ""
	}
}

// deadlineReader gives each read of the request body its own deadline
// (client_body_timeout counts between two reads, not for the whole body).
type deadlineReader struct {
	r       io.Reader
	w       Response
	timeout time.Duration
	set     bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.w != nil && d.w.SetReadDeadline(time.Now().Add(d.timeout)) == nil {
		d.set = true
	}
	return d.r.Read(p)
}

// clear removes the deadline once the body is read.
func (d *deadlineReader) clear() {
	if d.set {
		_ = d.w.SetReadDeadline(time.Time{})
	}
}

func (vm *VM) reqDiscardBody(L *lua.LState) int {
	req := vm.checkRequest(L, PhaseRewrite|PhaseAccess|PhaseContent)
	r := req.R
	if r.Body != nil && r.Body != http.NoBody && !req.bodyRead {
		// Drain a little so the connection can be reused, without waiting
		// long on a slow client (Go's server drains or closes the rest).
		resume := vm.suspend()
		src := &deadlineReader{r: r.Body, w: req.W, timeout: vm.pool.cfg.BodyTimeout}
		_, _ = io.Copy(io.Discard, io.LimitReader(src, 256<<10))
		src.clear()
		resume()
	}
	if r.Body != nil {
		r.Body.Close()
	}
	r.Body = http.NoBody
	r.ContentLength = 0
	r.Header.Del("Content-Length")
	r.Header.Del("Transfer-Encoding")
	req.dropBodyFile()
	req.bodyRead, req.body = true, nil
	return 0
}
